//! The AT port on a real UART (tokio-serial).

use std::io;
use std::path::Path;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_serial::{DataBits, FlowControl, Parity, SerialPortBuilderExt, SerialStream, StopBits};
use wsat_core::settings::UartConfig;

use super::{Input, PortEvent};

/// An open serial device.
pub struct SerialPort {
    stream: SerialStream,
}

impl SerialPort {
    /// Opens `dev` with `uart`'s settings.
    pub fn open(dev: &Path, uart: UartConfig) -> io::Result<SerialPort> {
        let stream = tokio_serial::new(dev.to_string_lossy(), uart.baud).open_native_async()?;
        let mut port = SerialPort { stream };
        port.set_uart(uart)?;
        Ok(port)
    }

    pub(super) async fn next(&mut self, buf: &mut [u8], read: bool, out: &[u8]) -> io::Result<PortEvent> {
        let (mut rd, mut wr) = tokio::io::split(&mut self.stream);
        loop {
            tokio::select! {
                r = rd.read(buf), if read => match r {
                    // A UART has no end of file; a hang-up (e.g. a pty
                    // peer closing) just means nobody is talking now.
                    Ok(0) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
                    Ok(n) => return Ok(PortEvent::Input(Input::Data(n))),
                    Err(e) if e.raw_os_error() == Some(nix::libc::EIO) => {
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                    Err(e) => return Err(e),
                },
                w = wr.write(out), if !out.is_empty() => return w.map(PortEvent::Wrote),
                else => std::future::pending::<()>().await,
            }
        }
    }

    pub(super) fn set_uart(&mut self, u: UartConfig) -> io::Result<()> {
        use tokio_serial::SerialPort as _;
        let s = &mut self.stream;
        s.set_baud_rate(u.baud)?;
        s.set_data_bits(match u.data_bits {
            5 => DataBits::Five,
            6 => DataBits::Six,
            7 => DataBits::Seven,
            _ => DataBits::Eight,
        })?;
        // termios has no 1.5 stop bits; it rounds to 2, as Linux drivers do.
        s.set_stop_bits(if u.stop_bits == 1 { StopBits::One } else { StopBits::Two })?;
        s.set_parity(match u.parity {
            1 => Parity::Odd,
            2 => Parity::Even,
            _ => Parity::None,
        })?;
        s.set_flow_control(if u.flow_control == 0 { FlowControl::None } else { FlowControl::Hardware })?;
        Ok(())
    }
}
