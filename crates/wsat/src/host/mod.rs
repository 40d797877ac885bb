//! The AT port's transports: where the host's bytes come from and go to.
//!
//! Every transport looks the same to the driver: [`Port::next`] waits for
//! host bytes, attach/detach news or room for module output, whichever
//! comes first, so output to a host that is not reading never stops the
//! module; [`Port::set_uart`] follows AT+UART_CUR/DEF. `next` is
//! cancel-safe (a write either happened and is reported, or did not), so
//! the driver can race it against its timers.

pub mod dial;
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

/// What [`Port::next`] saw first.
#[derive(Debug, PartialEq, Eq)]
pub enum PortEvent {
    /// Input news.
    Input(Input),
    /// `n` bytes of the offered output were written.
    Wrote(usize),
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
    /// A TCP connection wsat makes (`--connect`).
    Dial(dial::DialPort),
}

impl Port {
    /// Waits for input (when `read`) or for room to write some of `out`
    /// (when not empty), whichever comes first. Cancel-safe.
    pub async fn next(&mut self, buf: &mut [u8], read: bool, out: &[u8]) -> io::Result<PortEvent> {
        match self {
            Port::Stdio(p) => p.next(buf, read, out).await,
            Port::Tcp(p) => p.next(buf, read, out).await,
            Port::Pty(p) => p.next(buf, read, out).await,
            Port::Serial(p) => p.next(buf, read, out).await,
            Port::Dial(p) => p.next(buf, read, out).await,
        }
    }

    /// True when output has somewhere to go (a TCP port may have no
    /// client; the output then waits in the module).
    pub fn attached(&self) -> bool {
        match self {
            Port::Tcp(p) => p.attached(),
            Port::Dial(p) => p.attached(),
            Port::Stdio(_) | Port::Pty(_) | Port::Serial(_) => true,
        }
    }

    /// Waits until output already handed to the port has gone out (before
    /// the process exits).
    pub async fn finish(&mut self) {
        if let Port::Stdio(p) = self {
            p.finish().await;
        }
    }

    /// Applies new UART settings (only a real UART has any to apply).
    pub fn set_uart(&mut self, uart: UartConfig) -> io::Result<()> {
        match self {
            Port::Serial(p) => p.set_uart(uart),
            Port::Stdio(_) | Port::Tcp(_) | Port::Pty(_) | Port::Dial(_) => Ok(()),
        }
    }
}
