//! The network side of the socket layer: one task per open socket
//! (WebSocket, TCP, SSL or UDP) owns its transport; the core decides
//! everything else.
//!
//! Each socket is full duplex: its task reads and writes at the same time,
//! so a write blocked on a peer that does not read never stops the reading
//! (and the other way round). Reads follow the core's read window
//! ([`wsat_core::Module::read_window`]): with a window of 0 the task stops
//! reading, the socket's receive buffer fills and TCP flow control slows
//! the peer; nothing is dropped or reordered. A close ends the task: the
//! bytes queued before it are written (bounded by [`CLOSE_FLUSH`]), then
//! the socket is shut down and dropped. An abort (SO_LINGER 0) and the
//! control plane's reset and close act on the socket at once, never behind
//! a write blocked on a peer that does not read. A peer that does not
//! read also stops being read once [`WRITE_BACKLOG_MAX`] bytes wait for
//! it, so the replies it provokes (pongs) stay bounded; and a task never
//! hands the driver more than the read window, counting what the driver
//! has not taken yet. News carries the socket's
//! generation, so news from a connection the core has already replaced is
//! ignored.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, WriteHalf};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use wsat_core::net::{Endpoint, FailReason, SocketEvent, SocketId, Transport, SOCKETS};

use crate::faults::{LinkFaults, SharedLink, SharedNet};

/// How long a closing socket may take to write what was queued before the
/// close (a close frame to a peer that stopped reading).
pub const CLOSE_FLUSH: Duration = Duration::from_secs(2);
/// The largest read handed to the core at once.
const READ_CHUNK: usize = 64 * 1024;

/// A socket's byte stream: TCP, or TLS over TCP.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// What a socket task tells the driver.
#[derive(Debug)]
pub enum News {
    /// A transport event.
    Event(SocketEvent),
    /// Bytes from the peer (for UDP, with the sender).
    Data(Vec<u8>, Option<SocketAddr>),
    /// A client reached the listening socket.
    Accepted(TcpStream, SocketAddr),
}

/// A socket task's message, tagged with its socket and generation.
#[derive(Debug)]
pub struct Tagged {
    /// Which socket.
    pub socket: SocketId,
    /// Which connection of that socket.
    pub generation: u64,
    /// What happened.
    pub news: News,
}

/// Bytes, the number to acknowledge them with, whether the socket must
/// take them at once (or refuse them all), and a UDP destination. (An
/// abort or a fault does not queue behind sends: the driver acts on the
/// socket at once, see [`Sockets::close`] and [`Sockets::fault_end`].)
struct Command(Vec<u8>, Option<u32>, bool, Option<Endpoint>);

/// The most bytes of sends a connection may have waiting for a peer that
/// does not read before its task stops reading from that peer too: the
/// untracked sends (pongs, close frames) it provokes stay bounded.
const WRITE_BACKLOG_MAX: usize = 256 * 1024;

struct Running {
    tx: mpsc::UnboundedSender<Command>,
    task: JoinHandle<()>,
    conn: Arc<Conn>,
}

/// What a connection's task and the driver share.
#[derive(Default)]
struct Conn {
    /// Commands queued or being written: a writer with any is busy, so
    /// its socket cannot take an immediate send now.
    queued: AtomicUsize,
    /// Bytes of those commands not yet written (see [`WRITE_BACKLOG_MAX`]).
    backlog: AtomicUsize,
    /// Told when the backlog falls back to the limit.
    drained: tokio::sync::Notify,
    /// Bytes read and handed to the driver that it has not taken yet: the
    /// task reads no more than the read window leaves beyond them.
    unread: AtomicUsize,
    /// The connected stream's write half: when the task has nothing
    /// queued, the driver writes a send itself at once (see
    /// [`Sockets::send`]), so a stop-and-wait send's `SEND OK` does not
    /// wait for a trip through the task and back.
    writer: std::sync::Mutex<Option<StreamWriter>>,
    /// A duplicate of the connected socket's descriptor: a reset or close
    /// acts on it at once, even while a write is blocked.
    fd: std::sync::Mutex<Option<OwnedFd>>,
}

/// The write half of a connected stream.
type StreamWriter = WriteHalf<Box<dyn Stream>>;

/// [`Conn`]'s writer as an `AsyncWrite` (for the task).
#[derive(Clone)]
struct SharedWriter(Arc<Conn>);

impl SharedWriter {
    fn with<R>(&self, f: impl FnOnce(Pin<&mut StreamWriter>) -> Poll<std::io::Result<R>>) -> Poll<std::io::Result<R>> {
        match self.0.writer.lock() {
            Ok(mut g) => match g.as_mut() {
                Some(w) => f(Pin::new(w)),
                None => Poll::Ready(Err(std::io::ErrorKind::NotConnected.into())),
            },
            Err(_) => Poll::Ready(Err(std::io::Error::other("writer poisoned"))),
        }
    }

    fn is_connected(&self) -> bool {
        self.0.writer.lock().is_ok_and(|g| g.is_some())
    }

    /// Writes `data` and flushes it without waiting: how much the socket
    /// took, and whether all of it is on its way (flushed).
    fn try_write(&self, data: &[u8]) -> (usize, bool) {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut n = 0;
        while n < data.len() {
            match self.with(|w| w.poll_write(&mut cx, &data[n..])) {
                Poll::Ready(Ok(k)) if k > 0 => n += k,
                _ => return (n, false),
            }
        }
        let flushed = matches!(self.with(|w| w.poll_flush(&mut cx)), Poll::Ready(Ok(())));
        (n, flushed)
    }
}

impl AsyncWrite for SharedWriter {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.with(|w| w.poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.with(|w| w.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.with(|w| w.poll_shutdown(cx))
    }
}

/// The runtime's socket slots, one per [`SocketId`].
pub struct Sockets {
    running: Vec<Option<Running>>,
    generation: [u64; SOCKETS],
    news_tx: mpsc::Sender<Tagged>,
    /// Per socket: how many bytes its task may read now.
    window: Vec<watch::Sender<usize>>,
    /// Per listening socket: the TLS acceptor of an SSL server.
    acceptors: Vec<Option<tokio_rustls::TlsAcceptor>>,
    /// Per listening socket: a duplicate of its descriptor, to stop it
    /// synchronously (aborting the accept task drops it only later).
    listeners: Vec<Option<OwnedFd>>,
    /// Per socket: the faults on its current connection.
    link_faults: Vec<SharedLink>,
    /// Faults of the network as a whole.
    net: SharedNet,
}

impl Sockets {
    /// Slots with nothing running; news arrives on the returned receiver.
    pub fn new() -> (Sockets, mpsc::Receiver<Tagged>) {
        // A small queue: socket tasks wait (and stop reading) when the
        // driver is behind.
        let (news_tx, news_rx) = mpsc::channel(16);
        let window = (0..SOCKETS).map(|_| watch::channel(READ_CHUNK).0).collect();
        let running = (0..SOCKETS).map(|_| None).collect();
        let acceptors = (0..SOCKETS).map(|_| None).collect();
        let listeners = (0..SOCKETS).map(|_| None).collect();
        let link_faults = (0..SOCKETS).map(|_| SharedLink::default()).collect();
        let net = SharedNet::default();
        (Sockets { running, generation: [0; SOCKETS], news_tx, window, acceptors, listeners, link_faults, net }, news_rx)
    }

    /// True if `t` is news from the current connection of its socket.
    pub fn is_current(&self, t: &Tagged) -> bool {
        self.generation[t.socket.index()] == t.generation
    }

    /// Sets how many bytes `socket`'s task may read now (0: hold).
    pub fn set_read_window(&self, socket: SocketId, window: usize) {
        let w = window.min(READ_CHUNK);
        self.window[socket.index()].send_if_modified(|old| std::mem::replace(old, w) != w);
    }

    /// Starts a transport for `socket`, replacing any it had.
    pub fn connect(&mut self, socket: SocketId, transport: Transport, host: String, port: u16, timeout: Duration) {
        let i = socket.index();
        self.close(socket, false);
        self.generation[i] += 1;
        let generation = self.generation[i];
        let news = Teller { socket, generation, tx: self.news_tx.clone() };
        self.spawn(socket, |inbox| async move {
            match transport {
                Transport::Udp { local_port } => run_udp(news, host, port, local_port, inbox).await,
                stream => run_stream(news, host, port, stream, timeout, inbox).await,
            }
        });
    }

    /// Runs `task` (given its inbox) as `socket`'s connection.
    fn spawn<F: std::future::Future<Output = ()> + Send + 'static>(&mut self, socket: SocketId, task: impl FnOnce(Inbox) -> F) {
        let i = socket.index();
        let (tx, rx) = mpsc::unbounded_channel();
        let conn = Arc::new(Conn::default());
        let inbox = Inbox { rx, window: self.window[i].subscribe(), faults: self.new_faults(i), net: self.net.clone(), conn: conn.clone() };
        let task = tokio::spawn(task(inbox));
        self.running[i] = Some(Running { tx, task, conn });
    }

    /// Listens on `addr` for the server's `socket`; accepted clients come
    /// as [`News::Accepted`].
    pub fn listen(&mut self, socket: SocketId, addr: SocketAddr, tls: Option<tokio_rustls::TlsAcceptor>) -> std::io::Result<()> {
        let i = socket.index();
        self.close(socket, false);
        let std_listener = std::net::TcpListener::bind(addr)?;
        std_listener.set_nonblocking(true)?;
        self.listeners[i] = Some(std_listener.as_fd().try_clone_to_owned()?);
        let listener = tokio::net::TcpListener::from_std(std_listener)?;
        self.generation[i] += 1;
        self.acceptors[i] = tls;
        let news = Teller { socket, generation: self.generation[i], tx: self.news_tx.clone() };
        let (tx, _rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) => news.tell(News::Accepted(stream, peer)).await,
                    Err(e) => {
                        tracing::warn!(error = %e, "server: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        });
        self.running[i] = Some(Running { tx, task, conn: Arc::default() });
        Ok(())
    }

    /// Runs a client the core took (`socket`) on its accepted `stream`,
    /// with TLS if `listener` is an SSL server.
    pub fn attach(&mut self, socket: SocketId, listener: SocketId, stream: TcpStream) {
        let i = socket.index();
        self.close(socket, false);
        self.generation[i] += 1;
        let news = Teller { socket, generation: self.generation[i], tx: self.news_tx.clone() };
        let tls = self.acceptors[listener.index()].clone();
        self.spawn(socket, |inbox| async move { run_accepted(news, stream, tls, inbox).await });
    }

    /// Sends bytes on `socket`. An immediate send finding the writer
    /// busy (a write blocked on a full socket, a ping queued before it) is
    /// refused at once: the socket cannot take it now.
    ///
    /// A send to a connected stream with nothing queued before it and no
    /// fault set is written here and now, as lwIP takes a send into its
    /// buffer within the call: true means all of it was written (the core
    /// hears `Written` from the caller, not from the task). What the
    /// socket cannot take at once goes to the task, behind nothing.
    pub fn send(&mut self, socket: SocketId, data: Vec<u8>, seq: Option<u32>, immediate: bool, to: Option<Endpoint>) -> bool {
        let i = socket.index();
        let Some(r) = &self.running[i] else { return false };
        let writer = SharedWriter(r.conn.clone());
        let idle = r.conn.queued.load(Ordering::Acquire) == 0;
        if immediate && !idle {
            if let Some(seq) = seq {
                let news = Teller { socket, generation: self.generation[i], tx: self.news_tx.clone() };
                tokio::spawn(async move { news.event(SocketEvent::Refused(seq)).await });
            }
            return false;
        }
        let mut data = data;
        if idle && !immediate && to.is_none() && LinkFaults::is_clear(&self.link_faults[i]) && writer.is_connected() {
            let (n, flushed) = writer.try_write(&data);
            if n == data.len() && flushed {
                return true;
            }
            // The rest (possibly nothing but a flush) is the task's.
            data.drain(..n);
        }
        r.conn.queued.fetch_add(1, Ordering::AcqRel);
        r.conn.backlog.fetch_add(data.len(), Ordering::AcqRel);
        let _ = r.tx.send(Command(data, seq, immediate, to));
        false
    }

    /// Closes `socket`'s transport: after writing what was queued for it,
    /// or at once with a reset (`abort`). Either way the task ends.
    pub fn close(&mut self, socket: SocketId, abort: bool) {
        let i = socket.index();
        if let Some(r) = self.running[i].take() {
            if matches!(socket.family(), wsat_core::net::socket::Family::Listener) {
                // A listener has nothing to flush: it stops at once (no new
                // client is taken from this moment on).
                if let Some(fd) = self.listeners[i].take() {
                    let _ = nix::sys::socket::shutdown(std::os::fd::AsRawFd::as_raw_fd(&fd), nix::sys::socket::Shutdown::Both);
                }
                r.task.abort();
                self.acceptors[i] = None;
                self.generation[i] += 1;
                return;
            }
            if abort {
                // A reset at once, not behind a write blocked on the peer.
                r.conn.linger_zero();
                r.task.abort();
                self.generation[i] += 1;
                return;
            }
            // Dropping the sender ends the task once its queue is written;
            // it is not aborted so the last frames still go out, but a peer
            // that never reads cannot keep it beyond CLOSE_FLUSH.
            drop(r.tx);
            let task = r.task;
            tokio::spawn(async move {
                let abort = task.abort_handle();
                if tokio::time::timeout(CLOSE_FLUSH + Duration::from_secs(1), task).await.is_err() {
                    abort.abort();
                }
            });
        }
        self.generation[i] += 1;
    }

    /// A new connection of slot `i` starts without faults.
    fn new_faults(&mut self, i: usize) -> SharedLink {
        self.link_faults[i] = SharedLink::default();
        self.link_faults[i].clone()
    }

    /// The faults of `socket`'s current connection (control plane).
    pub fn faults(&self, socket: SocketId) -> SharedLink {
        self.link_faults[socket.index()].clone()
    }

    /// The network's faults (control plane).
    pub fn net_faults(&self) -> SharedNet {
        self.net.clone()
    }

    /// True if `socket` has a running transport.
    pub fn is_running(&self, socket: SocketId) -> bool {
        self.running[socket.index()].is_some()
    }

    /// Fault: `socket`'s connection is reset (`close`: closed in order)
    /// by the network; the core hears it as from a peer.
    /// It acts at once, whatever the task is doing (a write blocked on a
    /// peer that does not read included): the task ends, nothing more is
    /// written, and the core hears `Eof` or `Failed(Reset)`.
    pub fn fault_end(&mut self, socket: SocketId, close: bool) -> bool {
        let i = socket.index();
        let Some(r) = &self.running[i] else { return false };
        if r.task.is_finished() {
            return false;
        }
        if let Ok(mut w) = r.conn.writer.lock() {
            // Nothing is written directly past the fault.
            w.take();
        }
        let fd = r.conn.fd.lock().ok().and_then(|mut f| f.take());
        let event = if close {
            tracing::warn!(%socket, "fault injected: connection closed");
            if let Some(fd) = &fd {
                let _ = nix::sys::socket::shutdown(std::os::fd::AsRawFd::as_raw_fd(fd), nix::sys::socket::Shutdown::Write);
            }
            SocketEvent::Eof
        } else {
            tracing::warn!(%socket, "fault injected: connection reset");
            if let Some(fd) = &fd {
                set_linger_zero(fd);
            }
            SocketEvent::Failed(FailReason::Reset)
        };
        r.task.abort();
        let news = Teller { socket, generation: self.generation[i], tx: self.news_tx.clone() };
        tokio::spawn(async move { news.event(event).await });
        true
    }

    /// The driver took `n` bytes of `socket`'s data: its task may read
    /// that much more.
    pub fn consumed(&mut self, socket: SocketId, n: usize) {
        let i = socket.index();
        if let Some(r) = &self.running[i] {
            r.conn.unread.fetch_sub(n.min(r.conn.unread.load(Ordering::Acquire)), Ordering::AcqRel);
            self.window[i].send_modify(|_| {});
        }
    }

    /// Closes every socket at once (reboot).
    pub fn close_all(&mut self) {
        for id in SocketId::all() {
            self.close(id, false);
        }
    }
}

/// What a socket task hears from the driver: commands, its read window,
/// and the count of commands not yet done.
struct Inbox {
    rx: mpsc::UnboundedReceiver<Command>,
    window: watch::Receiver<usize>,
    faults: SharedLink,
    net: SharedNet,
    /// What the task shares with the driver.
    conn: Arc<Conn>,
}

impl Conn {
    /// Makes the coming close a reset (TCP RST).
    fn linger_zero(&self) {
        if let Some(fd) = self.fd.lock().ok().and_then(|mut f| f.take()) {
            set_linger_zero(&fd);
        }
    }

    /// A command's bytes are written (or given up).
    fn done(&self, bytes: usize) {
        self.queued.fetch_sub(1, Ordering::AcqRel);
        let left = self.backlog.fetch_sub(bytes, Ordering::AcqRel).saturating_sub(bytes);
        if left <= WRITE_BACKLOG_MAX {
            self.drained.notify_waiters();
        }
    }

    /// Waits while sends wait for a peer that does not read.
    async fn wait_backlog(&self) {
        while self.backlog.load(Ordering::Acquire) > WRITE_BACKLOG_MAX {
            let drained = self.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            if self.backlog.load(Ordering::Acquire) <= WRITE_BACKLOG_MAX {
                break;
            }
            drained.await;
        }
    }

    /// Waits until the read window leaves room beyond the bytes the driver
    /// has not taken yet; how much (None: the slot is gone).
    async fn room(&self, window: &mut watch::Receiver<usize>) -> Option<usize> {
        loop {
            let w = *window.borrow_and_update();
            let room = w.saturating_sub(self.unread.load(Ordering::Acquire));
            if room > 0 {
                return Some(room);
            }
            window.changed().await.ok()?;
        }
    }
}

/// SO_LINGER 0: closing the socket resets the connection.
fn set_linger_zero(fd: &OwnedFd) {
    use nix::sys::socket::{setsockopt, sockopt};
    let _ = setsockopt(fd, sockopt::Linger, &nix::libc::linger { l_onoff: 1, l_linger: 0 });
}

/// Sends a task's news to the driver.
#[derive(Clone)]
struct Teller {
    socket: SocketId,
    generation: u64,
    tx: mpsc::Sender<Tagged>,
}

impl Teller {
    async fn tell(&self, news: News) {
        let _ = self.tx.send(Tagged { socket: self.socket, generation: self.generation, news }).await;
    }

    async fn event(&self, e: SocketEvent) {
        self.tell(News::Event(e)).await;
    }
}

/// Why an I/O error ended a transport, in the core's terms.
fn reason(e: &std::io::Error) -> FailReason {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => FailReason::Refused,
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => FailReason::Reset,
        K::TimedOut => FailReason::Timeout,
        _ => FailReason::Io,
    }
}

/// Sets SO_KEEPALIVE as AT+CIPSTART's keep_alive asks: idle `secs`,
/// interval 1 s, 3 probes.
fn keep_alive(fd: &impl AsFd, secs: u64) {
    use nix::sys::socket::{setsockopt, sockopt};
    if secs == 0 {
        return;
    }
    let idle = u32::try_from(secs).unwrap_or(u32::MAX);
    let r = setsockopt(fd, sockopt::KeepAlive, &true)
        .and_then(|()| setsockopt(fd, sockopt::TcpKeepIdle, &idle))
        .and_then(|()| setsockopt(fd, sockopt::TcpKeepInterval, &1))
        .and_then(|()| setsockopt(fd, sockopt::TcpKeepCount, &3));
    if let Err(e) = r {
        tracing::warn!(error = %e, "cannot set TCP keep-alive");
    }
}

/// Connects TCP, and TLS on top when asked; returns the stream, a
/// duplicate of its descriptor (for a reset) and its endpoints.
async fn open(host: &str, port: u16, transport: Transport, net: &SharedNet) -> Result<(Box<dyn Stream>, OwnedFd, u16, SocketAddr), (FailReason, String)> {
    if crate::faults::dns_fails(net, host) {
        return Err((FailReason::Dns, format!("DNS: {host} fails (control plane)")));
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| (FailReason::Dns, format!("DNS: {e}")))?
        .collect();
    if addrs.is_empty() {
        return Err((FailReason::Dns, format!("DNS: {host} has no address")));
    }
    if crate::faults::refused(net, host, port, addrs.first().copied()) {
        return Err((FailReason::Refused, format!("TCP: {host}:{port} refuses (control plane)")));
    }
    let mut last = None;
    let mut tcp = None;
    for a in &addrs {
        match TcpStream::connect(a).await {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let tcp = match tcp {
        Some(t) => t,
        None => {
            let e = last.unwrap_or_else(|| std::io::Error::other("no address"));
            return Err((reason(&e), format!("TCP: {e}")));
        }
    };
    let local = tcp.local_addr().map_or(0, |a| a.port());
    let remote = tcp.peer_addr().unwrap_or(addrs[0]);
    let fd = tcp.as_fd().try_clone_to_owned().map_err(|e| (FailReason::Io, format!("dup: {e}")))?;
    match transport {
        Transport::Tcp { keep_alive: ka, nodelay } => {
            let _ = tcp.set_nodelay(nodelay);
            keep_alive(&fd, ka.millis() / 1000);
            Ok((Box::new(tcp), fd, local, remote))
        }
        Transport::Tls { params, keep_alive: ka } => {
            let _ = tcp.set_nodelay(true);
            keep_alive(&fd, ka.millis() / 1000);
            let connector = crate::tls::connector(&params).map_err(|e| (FailReason::Tls, e))?;
            let name = crate::tls::server_name(params.sni.as_deref().unwrap_or(host)).map_err(|e| (FailReason::Tls, e))?;
            let stream = connector
                .connect(name, tcp)
                .await
                .map_err(|e| (FailReason::Tls, format!("TLS handshake: {e}")))?;
            Ok((Box::new(stream), fd, local, remote))
        }
        Transport::Udp { .. } => Err((FailReason::Io, "not a stream".into())),
    }
}

/// A TCP or TLS socket's life.
async fn run_stream(
    news: Teller,
    host: String,
    port: u16,
    transport: Transport,
    timeout: Duration,
    inbox: Inbox,
) {
    let socket = news.socket;
    // TCP and TLS together must finish within the open timeout.
    let (stream, fd, local_port, remote) = match tokio::time::timeout(timeout, open(&host, port, transport, &inbox.net)).await {
        Ok(Ok(s)) => s,
        Ok(Err((why, text))) => {
            tracing::warn!(%socket, %host, port, "connection failed: {text}");
            news.event(SocketEvent::Failed(why)).await;
            return;
        }
        Err(_) => {
            tracing::warn!(%socket, %host, port, "connection timed out ({} ms)", timeout.as_millis());
            news.event(SocketEvent::Failed(FailReason::Timeout)).await;
            return;
        }
    };
    tracing::info!(%socket, %host, port, %remote, local_port, "connected");
    news.event(SocketEvent::Connected { local_port, remote: Some(remote) }).await;
    duplex(news, stream, fd, inbox).await;
}

/// A client the server accepted: TLS first on an SSL server, then as any
/// connected stream.
async fn run_accepted(news: Teller, tcp: TcpStream, tls: Option<tokio_rustls::TlsAcceptor>, inbox: Inbox) {
    let socket = news.socket;
    let _ = tcp.set_nodelay(true);
    let local_port = tcp.local_addr().map_or(0, |a| a.port());
    let remote = tcp.peer_addr().ok();
    let fd = match tcp.as_fd().try_clone_to_owned() {
        Ok(fd) => fd,
        Err(e) => {
            news.event(SocketEvent::Failed(reason(&e))).await;
            return;
        }
    };
    let stream: Box<dyn Stream> = match tls {
        None => Box::new(tcp),
        Some(acceptor) => match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
            Ok(Ok(s)) => Box::new(s),
            Ok(Err(e)) => {
                tracing::info!(%socket, error = %e, "server: TLS handshake with a client failed");
                news.event(SocketEvent::Failed(FailReason::Tls)).await;
                return;
            }
            Err(_) => {
                news.event(SocketEvent::Failed(FailReason::Timeout)).await;
                return;
            }
        },
    };
    tracing::info!(%socket, ?remote, "server: client connected");
    news.event(SocketEvent::Connected { local_port, remote }).await;
    duplex(news, stream, fd, inbox).await;
}

/// A connected stream, full duplex, until the core closes it or it fails.
async fn duplex(news: Teller, stream: Box<dyn Stream>, fd: OwnedFd, inbox: Inbox) {
    let socket = news.socket;
    let Inbox { mut rx, mut window, faults, net: _, conn } = inbox;
    let (mut rd, wr) = tokio::io::split(stream);
    if let Ok(mut slot) = conn.writer.lock() {
        *slot = Some(wr);
    }
    if let Ok(mut slot) = conn.fd.lock() {
        *slot = fd.try_clone().ok();
    }
    let mut wr = SharedWriter(conn.clone());
    let reader = {
        let news = news.clone();
        let faults = faults.clone();
        let conn = conn.clone();
        async move {
            loop {
                LinkFaults::wait_unstalled(&faults).await;
                conn.wait_backlog().await;
                let Some(w) = conn.room(&mut window).await else { return };
                // Read straight into the buffer the core will be handed.
                let mut data = Vec::with_capacity(w);
                match (&mut rd).take(w as u64).read_buf(&mut data).await {
                    Ok(0) => {
                        news.event(SocketEvent::Eof).await;
                        // Keep writing (a close reply) until the core closes us.
                        std::future::pending::<()>().await;
                    }
                    Ok(n) => {
                        if n < w / 2 {
                            // Do not keep a large allocation queued for a few bytes.
                            data.shrink_to_fit();
                        }
                        // Faults on the way in: latency, a rate, lost bytes,
                        // a stall that holds what just came.
                        LinkFaults::delay(&faults, n).await;
                        LinkFaults::drop_received(&faults, &mut data);
                        LinkFaults::wait_unstalled(&faults).await;
                        if !data.is_empty() {
                            conn.unread.fetch_add(data.len(), Ordering::AcqRel);
                            news.tell(News::Data(data, None)).await;
                        }
                    }
                    Err(e) => {
                        tracing::info!(%socket, error = %e, "read failed");
                        news.event(SocketEvent::Failed(reason(&e))).await;
                        return;
                    }
                }
            }
        }
    };
    let writer = {
        let conn = conn.clone();
        async move {
            while let Some(Command(data, seq, immediate, _)) = rx.recv().await {
                tracing::trace!(%socket, bytes = data.len(), "socket <- module");
                // Faults on the way out.
                LinkFaults::wait_unstalled(&faults).await;
                LinkFaults::delay(&faults, data.len()).await;
                let r = write(&mut wr, &data, seq, immediate, &news).await;
                conn.done(data.len());
                if let Err(e) = r {
                    tracing::info!(%socket, error = %e, "write failed");
                    news.event(SocketEvent::Failed(reason(&e))).await;
                    return;
                }
            }
            // Closed by the core: what was queued is written; end TCP.
            let _ = tokio::time::timeout(CLOSE_FLUSH, wr.shutdown()).await;
        }
    };
    // Either half ending ends the socket: the writer when the core closes
    // it (or a write fails), the reader on a read error.
    tokio::select! {
        () = reader => {}
        () = writer => {}
    }
    // The driver must not write to a socket whose task has ended.
    let taken = conn.writer.lock().map(|mut slot| slot.take());
    drop(taken);
    // Nor keep the connection open through a duplicate descriptor.
    let taken = conn.fd.lock().map(|mut slot| slot.take());
    drop(taken);
    drop(fd);
}

/// Writes one send; `immediate` sends are taken whole at once or refused.
async fn write(wr: &mut (impl AsyncWrite + Unpin), data: &[u8], seq: Option<u32>, immediate: bool, news: &Teller) -> std::io::Result<()> {
    let mut from = 0;
    if immediate {
        // One poll, no waiting: a socket that takes none of the bytes now
        // refuses the send whole.
        let polled = std::future::poll_fn(|cx| std::task::Poll::Ready(std::pin::Pin::new(&mut *wr).poll_write(cx, data))).await;
        match polled {
            std::task::Poll::Ready(Ok(n)) if n == data.len() => from = n,
            std::task::Poll::Ready(Ok(n)) if n > 0 => {
                // Part of a frame went out and the rest would have to wait:
                // esp_websocket_client drops the connection in that case,
                // and so does wsat (the send ends in ERROR, the link
                // reconnects).
                tracing::info!(socket = %news.socket, written = n, of = data.len(), "immediate send only partly taken; dropping the connection");
                return Err(std::io::ErrorKind::WouldBlock.into());
            }
            std::task::Poll::Ready(Err(e)) => return Err(e),
            _ => {
                if let Some(seq) = seq {
                    news.event(SocketEvent::Refused(seq)).await;
                }
                return Ok(());
            }
        }
    }
    // A deadline here would lose the bytes already written: a send the
    // core gave up on (its command timed out) still finishes, as lwIP
    // still sends what it accepted.
    wr.write_all(&data[from..]).await?;
    // TLS may hold the last record back when the socket was full.
    wr.flush().await?;
    if let Some(seq) = seq {
        news.event(SocketEvent::Written(seq)).await;
    }
    Ok(())
}

/// The first address of `host:port`, unless the control plane makes the
/// name fail.
async fn lookup_unless_failed(net: &SharedNet, host: &str, port: u16) -> std::io::Result<Option<SocketAddr>> {
    if crate::faults::dns_fails(net, host) {
        return Ok(None);
    }
    tokio::net::lookup_host((host, port)).await.map(|mut a| a.next())
}

/// A UDP socket's life: bound, with `host:port` as its default peer.
async fn run_udp(
    news: Teller,
    host: String,
    port: u16,
    local_port: u16,
    inbox: Inbox,
) {
    let Inbox { mut rx, mut window, faults, net, conn } = inbox;
    let socket = news.socket;
    let resolved = lookup_unless_failed(&net, &host, port).await;
    let remote = match resolved {
        Ok(Some(a)) => a,
        Ok(None) | Err(_) => {
            tracing::warn!(%socket, %host, "DNS failed");
            news.event(SocketEvent::Failed(FailReason::Dns)).await;
            return;
        }
    };
    // A virtual module must not open the host to the network unless asked:
    // a link to a loopback peer binds loopback; only a link to another
    // host binds the unspecified address (it must be reachable from there).
    let bind_ip: std::net::IpAddr = match (remote.ip().is_loopback(), remote.is_ipv6()) {
        (true, false) => std::net::Ipv4Addr::LOCALHOST.into(),
        (true, true) => std::net::Ipv6Addr::LOCALHOST.into(),
        (false, false) => std::net::Ipv4Addr::UNSPECIFIED.into(),
        (false, true) => std::net::Ipv6Addr::UNSPECIFIED.into(),
    };
    let udp = match UdpSocket::bind((bind_ip, local_port)).await {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!(%socket, local_port, error = %e, "cannot bind UDP");
            news.event(SocketEvent::Failed(reason(&e))).await;
            return;
        }
    };
    let _ = udp.set_broadcast(true);
    let local = udp.local_addr().map_or(0, |a| a.port());
    tracing::info!(%socket, %remote, local, "UDP bound");
    news.event(SocketEvent::Connected { local_port: local, remote: Some(remote) }).await;
    let mut buf = vec![0u8; 65536];
    loop {
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(Command(data, seq, _, to)) => {
                    LinkFaults::wait_unstalled(&faults).await;
                    LinkFaults::delay(&faults, data.len()).await;
                    let dest = match to {
                        Some(ep) => match lookup_unless_failed(&net, &ep.host, ep.port).await {
                            Ok(Some(a)) => Some(a),
                            _ => {
                                tracing::info!(%socket, host = %ep.host, "UDP destination does not resolve; datagram dropped");
                                None
                            }
                        },
                        None => Some(remote),
                    };
                    if let Some(dest) = dest {
                        if let Err(e) = udp.send_to(&data, dest).await {
                            // UDP has no connection to lose: the datagram is gone.
                            tracing::info!(%socket, error = %e, "UDP send failed");
                        }
                    }
                    conn.done(data.len());
                    if let Some(seq) = seq {
                        news.event(SocketEvent::Written(seq)).await;
                    }
                }
                None => return,
            },
            r = async {
                // A datagram comes whole: the window only says whether to
                // take one now.
                conn.room(&mut window).await?;
                Some(udp.recv_from(&mut buf).await)
            } => match r {
                None => return,
                Some(r) => match r {
                Ok((n, from)) => {
                    LinkFaults::delay(&faults, n).await;
                    let mut data = buf[..n].to_vec();
                    LinkFaults::drop_received(&faults, &mut data);
                    LinkFaults::wait_unstalled(&faults).await;
                    if !data.is_empty() {
                        conn.unread.fetch_add(data.len(), Ordering::AcqRel);
                        news.tell(News::Data(data, Some(from))).await;
                    }
                }
                // ICMP port unreachable from an earlier send: not fatal.
                Err(e) => tracing::debug!(%socket, error = %e, "UDP receive error"),
                },
            },
        }
    }
}
