//! The network side of WebSocket links: one task per link owns its TCP
//! stream; the core decides everything else.
//!
//! A task reads only while the core allows it (`link_read_allowed`): when
//! the host reads the AT port slowly, reads stop, the socket's receive
//! buffer fills and TCP flow control slows the server; nothing is dropped
//! or reordered. Events carry the link's generation, so news from a
//! connection the core has already replaced is ignored.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::io::{AsyncRead, AsyncWrite};
use wsat_core::ws::link::{LinkEvent, LINKS};
use wsat_core::TlsParams;

/// A link's byte stream: TCP, or TLS over TCP.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// What a link task tells the driver.
#[derive(Debug)]
pub enum LinkNews {
    /// A transport event.
    Event(LinkEvent),
    /// Bytes from the server.
    Data(Vec<u8>),
}

/// A link task's message, tagged with its link and generation.
#[derive(Debug)]
pub struct Tagged {
    /// Link 0-2.
    pub link: u8,
    /// Which connection of that link.
    pub generation: u64,
    /// What happened.
    pub news: LinkNews,
}

enum Command {
    /// Bytes, the number to acknowledge them with, and whether the socket
    /// must take them at once (or refuse them all).
    Send(Vec<u8>, Option<u32>, bool),
}

struct Running {
    tx: mpsc::UnboundedSender<Command>,
    task: JoinHandle<()>,
}

/// The runtime's three link slots.
pub struct Links {
    running: [Option<Running>; LINKS],
    generation: [u64; LINKS],
    news_tx: mpsc::Sender<Tagged>,
    /// Per link: may its task read its socket?
    allowed: [watch::Sender<bool>; LINKS],
}

impl Links {
    /// Slots with nothing running; news arrives on the returned receiver.
    pub fn new() -> (Links, mpsc::Receiver<Tagged>) {
        // A small queue: link tasks wait (and stop reading) when the
        // driver is behind.
        let (news_tx, news_rx) = mpsc::channel(8);
        let allowed = [(); LINKS].map(|()| watch::channel(true).0);
        (Links { running: [None, None, None], generation: [0; LINKS], news_tx, allowed }, news_rx)
    }

    /// True if `t` is news from the current connection of its link.
    pub fn is_current(&self, t: &Tagged) -> bool {
        usize::from(t.link) < LINKS && self.generation[usize::from(t.link)] == t.generation
    }

    /// Lets `link`'s task read, or holds it (host behind on its data).
    pub fn set_read_allowed(&self, link: usize, allowed: bool) {
        self.allowed[link].send_if_modified(|a| std::mem::replace(a, allowed) != allowed);
    }

    /// Starts a connection for `link`, replacing any it had.
    pub fn connect(&mut self, link: u8, host: String, port: u16, tls: Option<TlsParams>, timeout: Duration) {
        let i = usize::from(link);
        self.close(link);
        self.generation[i] += 1;
        let generation = self.generation[i];
        let (tx, rx) = mpsc::unbounded_channel();
        let news = self.news_tx.clone();
        let allowed = self.allowed[i].subscribe();
        let task = tokio::spawn(async move {
            run(link, generation, host, port, tls, timeout, rx, news, allowed).await;
        });
        self.running[i] = Some(Running { tx, task });
    }

    /// Queues bytes for `link`'s socket.
    pub fn send(&mut self, link: u8, data: Vec<u8>, seq: Option<u32>, immediate: bool) {
        if let Some(r) = &self.running[usize::from(link)] {
            let _ = r.tx.send(Command::Send(data, seq, immediate));
        }
    }

    /// Closes `link`'s connection, after writing what was queued for it
    /// (a close frame, typically).
    pub fn close(&mut self, link: u8) {
        let i = usize::from(link);
        if let Some(r) = self.running[i].take() {
            // Dropping the sender ends the task once its queue is written;
            // the task is not aborted so the last frames still go out.
            drop(r.tx);
            drop(r.task);
        }
        self.generation[i] += 1;
    }
}

/// Connects TCP, and TLS on top when asked.
async fn open(host: &str, port: u16, tls: Option<TlsParams>) -> Result<Box<dyn Stream>, String> {
    let tcp = TcpStream::connect((host, port)).await.map_err(|e| format!("TCP: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let Some(params) = tls else { return Ok(Box::new(tcp)) };
    let connector = crate::tls::connector(&params)?;
    let name = crate::tls::server_name(host)?;
    let stream = connector.connect(name, tcp).await.map_err(|e| format!("TLS handshake: {e}"))?;
    Ok(Box::new(stream))
}

#[allow(clippy::too_many_arguments)]
async fn run(
    link: u8,
    generation: u64,
    host: String,
    port: u16,
    tls: Option<TlsParams>,
    timeout: Duration,
    mut rx: mpsc::UnboundedReceiver<Command>,
    news: mpsc::Sender<Tagged>,
    mut allowed: watch::Receiver<bool>,
) {
    let tell = |n: LinkNews| {
        let news = news.clone();
        async move {
            let _ = news.send(Tagged { link, generation, news: n }).await;
        }
    };
    // TCP and TLS together must finish within the open timeout.
    let stream = match tokio::time::timeout(timeout, open(&host, port, tls)).await {
        Ok(Ok(s)) => s,
        Ok(Err(why)) => {
            tracing::warn!(link, %host, port, "connection failed: {why}");
            tell(LinkNews::Event(LinkEvent::Failed)).await;
            return;
        }
        Err(_) => {
            tracing::warn!(link, %host, port, "connection timed out ({} ms)", timeout.as_millis());
            tell(LinkNews::Event(LinkEvent::Failed)).await;
            return;
        }
    };
    tracing::info!(link, %host, port, "connected");
    tell(LinkNews::Event(LinkEvent::Connected)).await;
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut buf = vec![0u8; 16 * 1024];
    let mut reading = true;
    loop {
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(Command::Send(data, seq, immediate)) => {
                    let mut from = 0;
                    if immediate {
                        // One poll, no waiting: a socket that takes none of
                        // the bytes now refuses the send whole.
                        let polled = std::future::poll_fn(|cx| {
                            std::task::Poll::Ready(std::pin::Pin::new(&mut wr).poll_write(cx, &data))
                        })
                        .await;
                        match polled {
                            std::task::Poll::Ready(Ok(n)) if n == data.len() => from = n,
                            std::task::Poll::Ready(Ok(n)) if n > 0 => {
                                // Part of a frame went out and the rest would
                                // have to wait: esp_websocket_client drops the
                                // connection in that case, and so does wsat
                                // (the send ends in ERROR, the link reconnects).
                                tracing::info!(link, written = n, of = data.len(), "immediate send only partly taken; dropping the connection");
                                tell(LinkNews::Event(LinkEvent::Failed)).await;
                                return;
                            }
                            std::task::Poll::Ready(Err(e)) => {
                                tracing::info!(link, error = %e, "write failed");
                                tell(LinkNews::Event(LinkEvent::Failed)).await;
                                return;
                            }
                            _ => {
                                if let Some(seq) = seq {
                                    tell(LinkNews::Event(LinkEvent::Refused(seq))).await;
                                }
                                continue;
                            }
                        }
                    }
                    if let Err(e) = wr.write_all(&data[from..]).await {
                        tracing::info!(link, error = %e, "write failed");
                        tell(LinkNews::Event(LinkEvent::Failed)).await;
                        return;
                    }
                    if let Some(seq) = seq {
                        tell(LinkNews::Event(LinkEvent::Written(seq))).await;
                    }
                }
                None => {
                    // Closed by the core: queued bytes are written; end TCP.
                    let _ = wr.shutdown().await;
                    return;
                }
            },
            r = async {
                let _ = allowed.wait_for(|a| *a).await;
                rd.read(&mut buf).await
            }, if reading => match r {
                Ok(0) => {
                    tell(LinkNews::Event(LinkEvent::Eof)).await;
                    // Keep writing (a close reply) until the core closes us.
                    reading = false;
                }
                Ok(n) => tell(LinkNews::Data(buf[..n].to_vec())).await,
                Err(e) => {
                    tracing::info!(link, error = %e, "read failed");
                    tell(LinkNews::Event(LinkEvent::Failed)).await;
                    return;
                }
            },
        }
    }
}
