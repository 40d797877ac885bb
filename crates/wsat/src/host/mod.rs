//! The AT port's transports: where the host's bytes come from and go to.
//!
//! Every transport looks the same to the driver: [`Port::next_input`]
//! yields host bytes or attach/detach news, [`Port::write_all`] sends
//! module output, [`Port::set_uart`] follows AT+UART_CUR/DEF. Reads are
//! cancel-safe, so the driver can race them against its timer.

pub mod pty;
pub mod serial;
pub mod stdio;
pub mod tcp;

use std::io;

use wsat_core::settings::UartConfig;

/// What happened on the port.
#[derive(Debug, PartialEq, Eq)]
pub enum Input {
    /// `n` bytes arrived in the buffer.
    Data(usize),
    /// A host attached (TCP client connected).
    Attached,
    /// The host went away (TCP client closed or failed).
    Detached,
    /// The input ended for good (stdin reached end of file).
    Eof,
}

/// An open AT port.
pub enum Port {
    /// stdin/stdout.
    Stdio(stdio::StdioPort),
    /// A TCP server with at most one client.
    Tcp(tcp::TcpPort),
    /// A pseudo-terminal.
    Pty(pty::PtyPort),
    /// A real UART.
    Serial(serial::SerialPort),
}

impl Port {
    /// Waits for input. Cancel-safe.
    pub async fn next_input(&mut self, buf: &mut [u8]) -> io::Result<Input> {
        match self {
            Port::Stdio(p) => p.next_input(buf).await,
            Port::Tcp(p) => p.next_input(buf).await,
            Port::Pty(p) => p.next_input(buf).await,
            Port::Serial(p) => p.next_input(buf).await,
        }
    }

    /// True when output has somewhere to go.
    pub fn attached(&self) -> bool {
        match self {
            Port::Tcp(p) => p.attached(),
            Port::Stdio(_) | Port::Pty(_) | Port::Serial(_) => true,
        }
    }

    /// Sends module output to the host. An error means the host is gone
    /// (for TCP, the port is then detached).
    pub async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Port::Stdio(p) => p.write_all(bytes).await,
            Port::Tcp(p) => p.write_all(bytes).await,
            Port::Pty(p) => p.write_all(bytes).await,
            Port::Serial(p) => p.write_all(bytes).await,
        }
    }

    /// Applies new UART settings (only a real UART has any to apply).
    pub fn set_uart(&mut self, uart: UartConfig) -> io::Result<()> {
        match self {
            Port::Serial(p) => p.set_uart(uart),
            Port::Stdio(_) | Port::Tcp(_) | Port::Pty(_) => Ok(()),
        }
    }
}
