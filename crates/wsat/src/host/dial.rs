//! The AT port dialling out (`--connect HOST:PORT`): for Renode's server
//! socket terminal and `qemu -serial tcp::PORT,server`, which expect the
//! module's side to connect. When the peer goes away (or is not there
//! yet), the port tries again every second; output produced meanwhile
//! waits for the next connection, as on the TCP listener.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Input, PortEvent};

/// How long to wait between attempts.
const RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// A port that connects to `addr`.
pub struct DialPort {
    addr: String,
    stream: Option<TcpStream>,
    /// After a failed attempt or a lost peer: no attempt before then
    /// (kept across cancelled waits, so the driver's other events do not
    /// turn the retry into a busy loop).
    retry_at: Option<tokio::time::Instant>,
}

impl DialPort {
    /// A port for `addr` (`host:port`); it connects on first use.
    pub fn new(addr: &str) -> DialPort {
        DialPort { addr: addr.to_string(), stream: None, retry_at: None }
    }

    pub(super) fn attached(&self) -> bool {
        self.stream.is_some()
    }

    pub(super) async fn next(&mut self, buf: &mut [u8], read: bool, out: &[u8]) -> io::Result<PortEvent> {
        loop {
            let Some(stream) = &mut self.stream else {
                if let Some(at) = self.retry_at {
                    tokio::time::sleep_until(at).await;
                }
                match TcpStream::connect(&self.addr).await {
                    Ok(s) => {
                        s.set_nodelay(true)?;
                        tracing::info!(addr = %self.addr, "AT port connected");
                        self.stream = Some(s);
                        self.retry_at = None;
                        return Ok(PortEvent::Input(Input::Attached));
                    }
                    Err(e) => {
                        tracing::debug!(addr = %self.addr, error = %e, "AT port cannot connect yet");
                        self.retry_at = Some(tokio::time::Instant::now() + RETRY);
                        continue;
                    }
                }
            };
            let (mut rd, mut wr) = stream.split();
            let gone = tokio::select! {
                r = rd.read(buf), if read => match r {
                    Ok(n) if n > 0 => return Ok(PortEvent::Input(Input::Data(n))),
                    _ => true,
                },
                w = wr.write(out), if !out.is_empty() => match w {
                    Ok(n) if n > 0 => return Ok(PortEvent::Wrote(n)),
                    _ => true,
                },
                else => std::future::pending::<bool>().await,
            };
            if gone {
                tracing::info!(addr = %self.addr, "AT peer went away; connecting again");
                self.stream = None;
                self.retry_at = Some(tokio::time::Instant::now() + RETRY);
                return Ok(PortEvent::Input(Input::Detached));
            }
        }
    }
}
