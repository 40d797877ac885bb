//! The servers `wsat-bench` measures against, run as a separate process
//! (`wsat-bench --serve`) so each process's CPU time is its own.
//!
//! One tokio-tungstenite WebSocket server whose behaviour the URL path
//! picks, a plain TCP echo (the machine's floor: the cost of one round
//! trip between two processes; AT+CIPSEND and passthrough echoes) and a
//! plain TCP sink (AT+CIPSEND with no echo).
//!
//! - `/echo`: sends every data message back.
//! - `/sink`: reads and discards.
//! - `/flood/<size>/<count>`: sends `count` binary messages of `size` bytes,
//!   then reads until the client leaves.

use std::net::SocketAddr;

use anyhow::Result;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::Message;

/// Runs the servers until killed; prints `ws <addr>`, `tcp <addr>` and
/// `sink <addr>`.
pub fn serve() -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let ws = TcpListener::bind("127.0.0.1:0").await?;
        let tcp = TcpListener::bind("127.0.0.1:0").await?;
        println!("ws {}", ws.local_addr()?);
        let sink = TcpListener::bind("127.0.0.1:0").await?;
        println!("tcp {}", tcp.local_addr()?);
        println!("sink {}", sink.local_addr()?);
        tokio::spawn(tcp_echo(tcp));
        tokio::spawn(tcp_sink(sink));
        loop {
            let (stream, _) = ws.accept().await?;
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let mut path = String::new();
                // The error type is tungstenite's; it is never built here.
                #[allow(clippy::result_large_err)]
                let callback = |req: &Request, resp: Response| {
                    path = req.uri().path().to_string();
                    Ok(resp)
                };
                let Ok(ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else { return };
                let _ = behave(ws, &path).await;
            });
        }
    })
}

async fn behave(mut ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>, path: &str) -> Result<()> {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["", "flood", size, count] => {
            let (size, count): (usize, usize) = (size.parse()?, count.parse()?);
            for seq in 0..count {
                ws.feed(Message::binary(crate::payload(size, seq))).await?;
            }
            ws.flush().await?;
            while let Some(Ok(_)) = ws.next().await {}
        }
        ["", "sink"] => while let Some(Ok(_)) = ws.next().await {},
        _ => {
            while let Some(Ok(m)) = ws.next().await {
                if m.is_binary() || m.is_text() {
                    ws.send(m).await?;
                }
            }
        }
    }
    Ok(())
}

async fn tcp_echo(listener: TcpListener) {
    while let Ok((mut s, _)) = listener.accept().await {
        let _ = s.set_nodelay(true);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        });
    }
}

async fn tcp_sink(listener: TcpListener) {
    while let Ok((mut s, _)) = listener.accept().await {
        tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0 {
                    return;
                }
            }
        });
    }
}

/// The server process, seen from the bench.
pub struct Servers {
    child: std::process::Child,
    /// The WebSocket server.
    pub ws: SocketAddr,
    /// The plain TCP echo.
    pub tcp: SocketAddr,
    /// The plain TCP sink.
    pub sink: SocketAddr,
    /// Its pid, for /proc.
    pub pid: String,
}

impl Servers {
    /// Starts `wsat-bench --serve`.
    pub fn start() -> Result<Servers> {
        use std::io::BufRead;
        let mut child = std::process::Command::new(std::env::current_exe()?)
            .arg("--serve")
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        let mut lines = std::io::BufReader::new(child.stdout.take().expect("piped")).lines();
        let mut next = |tag: &str| -> Result<SocketAddr> {
            let line = lines.next().ok_or_else(|| anyhow::anyhow!("server exited"))??;
            Ok(line.strip_prefix(tag).ok_or_else(|| anyhow::anyhow!("unexpected {line:?}"))?.trim().parse()?)
        };
        let ws = next("ws ")?;
        let tcp = next("tcp ")?;
        let sink = next("sink ")?;
        let pid = child.id().to_string();
        Ok(Servers { child, ws, tcp, sink, pid })
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
