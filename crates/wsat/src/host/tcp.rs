//! The AT port over TCP, like ser2net: one client at a time.
//!
//! While a client is attached, a second one is told the port is busy and
//! closed. When the client leaves, the module keeps running; output it
//! produces meanwhile waits in the module for the next client, so a host
//! that reconnects misses nothing.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{Input, PortEvent};

/// A listening AT port.
pub struct TcpPort {
    listener: TcpListener,
    client: Option<(TcpStream, SocketAddr)>,
}

impl TcpPort {
    /// Listens on `addr`.
    pub async fn bind(addr: SocketAddr) -> io::Result<TcpPort> {
        Ok(TcpPort { listener: TcpListener::bind(addr).await?, client: None })
    }

    /// The address actually bound (port 0 picks one).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub(super) fn attached(&self) -> bool {
        self.client.is_some()
    }

    pub(super) async fn next(&mut self, buf: &mut [u8], read: bool, out: &[u8]) -> io::Result<PortEvent> {
        loop {
            let Some((stream, peer)) = &mut self.client else {
                let (stream, peer) = self.listener.accept().await?;
                // AT traffic is small request/response lines: no Nagle delay.
                stream.set_nodelay(true)?;
                tracing::info!(%peer, "AT client attached");
                self.client = Some((stream, peer));
                return Ok(PortEvent::Input(Input::Attached));
            };
            let peer = *peer;
            let (mut rd, mut wr) = stream.split();
            tokio::select! {
                r = rd.read(buf), if read => {
                    return match r {
                        Ok(n) if n > 0 => Ok(PortEvent::Input(Input::Data(n))),
                        r => {
                            tracing::info!(%peer, result = ?r, "AT client detached");
                            self.client = None;
                            Ok(PortEvent::Input(Input::Detached))
                        }
                    };
                }
                w = wr.write(out), if !out.is_empty() => {
                    return match w {
                        Ok(n) if n > 0 => Ok(PortEvent::Wrote(n)),
                        r => {
                            tracing::info!(%peer, result = ?r, "AT client gone while writing");
                            self.client = None;
                            Ok(PortEvent::Input(Input::Detached))
                        }
                    };
                }
                accepted = self.listener.accept() => {
                    let (mut other, who) = accepted?;
                    tracing::warn!(%who, "refused a second AT client");
                    let _ = other.write_all(b"wsat: the AT port is in use by another client\r\n").await;
                }
            }
        }
    }
}
