//! WebSocket links: the state machine of one esp_websocket_client, as
//! ESP-AT runs three of them, and how received data becomes `+WS_DATA`.
//!
//! States follow esp_websocket_client (and `AT+WSOPEN?`): 1 connecting,
//! 2 connected, 3 waiting to reconnect (after a read error, a lost TCP
//! connection or a pong timeout), 4 closing. A link that loses its
//! connection without a close frame prints `+WS_DISCONNECTED` and
//! reconnects by itself every [`RECONNECT`]; a close handshake (either side
//! starting it) prints `+WS_CLOSED` and frees the link.
//!
//! The link runs on socket [`SocketId::ws`]`(id)` of the socket layer
//! ([`crate::net`]): it asks for a transport, sends and closes through it,
//! and hears back through [`Module::handle_socket_event`] and
//! [`Module::handle_socket_data`].

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::frame::{self, Decoded, Decoder, FrameError};
use super::handshake::{self, RequestOptions, ResponseReader};
use super::uri::WsUri;
use crate::at::urc::Piece;
use crate::module::Module;
use crate::net::{SocketEvent, SocketId, Transport};
use crate::time::{Duration, Instant};

/// Links a module has.
pub const LINKS: usize = 3;
/// esp_websocket_client's reconnect_timeout_ms.
pub const RECONNECT: Duration = Duration::from_secs(10);
/// How long a closing link waits for the server's side of the close.
pub const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// How long AT+WSCLOSE waits for the server's close frame.
pub const WSCLOSE_WAIT: Duration = Duration::from_secs(2);
/// The largest fragmented message reassembled for message-level reports.
pub const MAX_MESSAGE: usize = 1 << 20;
/// Serial output (bytes not yet taken by the host) above which links stop
/// reading their sockets: the TCP window then slows the server.
pub const SERIAL_HIGH_WATER: usize = 64 * 1024;

/// AT+WSCFG's settings for a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkConfig {
    /// Seconds between pings (sent whatever else the link carries).
    pub ping_interval: u32,
    /// Seconds to wait for a pong.
    pub ping_timeout: u32,
    /// Receive/send buffer: the largest piece handed out or sent at once.
    pub buffer_size: usize,
    /// 0 none, 1 client certificate, 2 server verification, 3 both.
    pub auth_mode: u8,
    /// Which `wss_cert.N`/`wss_key.N`.
    pub pki_number: u8,
    /// Which `wss_ca.N`.
    pub ca_number: u8,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig { ping_interval: 10, ping_timeout: 120, buffer_size: 1024, auth_mode: 0, pki_number: 0, ca_number: 0 }
    }
}

/// AT+WSOPEN?'s numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// 1: connecting (or reconnecting).
    Connecting = 1,
    /// 2: connected.
    Connected = 2,
    /// 3: waiting to reconnect.
    WaitReconnect = 3,
    /// 4: closing.
    Closing = 4,
}

/// Where a connection attempt is.
#[derive(Debug, Clone)]
enum Phase {
    /// Waiting for TCP (and TLS).
    Transport,
    /// Request sent, reading the response.
    Handshake(ResponseReader),
    /// Frames flow.
    Open,
}

/// A message-level report in the making (fragmented messages are
/// reassembled so the report can say how long the message is).
#[derive(Debug, Clone, Default)]
struct Reassembly {
    opcode: u8,
    data: Vec<u8>,
}

/// An open link (esp_websocket_client instance).
#[derive(Debug, Clone)]
pub struct Session {
    /// The URI as given to AT+WSOPEN.
    pub uri_text: Vec<u8>,
    uri: WsUri,
    subprotocol: Option<Vec<u8>>,
    authorization: Option<Vec<u8>>,
    open_timeout: Duration,
    /// As AT+WSOPEN? reports it.
    pub state: LinkState,
    phase: Phase,
    decoder: Decoder,
    /// Connect + handshake deadline.
    open_deadline: Option<Instant>,
    ping_at: Option<Instant>,
    pong_deadline: Option<Instant>,
    reconnect_at: Option<Instant>,
    close_deadline: Option<Instant>,
    /// A close frame went out.
    close_sent: bool,
    /// The server broke the protocol: only its close is still of interest.
    failed: bool,
    /// The close handshake completed or the server closed: report sent.
    closed_reported: bool,
    /// AT+WSOPEN is waiting for this link.
    opening_command: bool,
    /// A level 1/2 report has printed its header and owes data.
    report_open: bool,
    reassembly: Option<Reassembly>,
    cfg: LinkConfig,
}

/// One of the module's three links.
#[derive(Debug, Clone, Default)]
pub struct Link {
    /// AT+WSCFG (reset when the link is freed, as ESP-AT does).
    pub cfg: LinkConfig,
    /// AT+WSDATAFMT level (kept across opens).
    pub level: u8,
    /// AT+WSDATAFMT mask (kept across opens).
    pub mask: u8,
    /// The client, while it exists.
    pub session: Option<Session>,
}

impl Link {
    /// A fresh link with ESP-AT's defaults.
    pub fn new() -> Link {
        Link { mask: 48, ..Link::default() }
    }
}

/// Why a link went down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Loss {
    /// Transport failure or EOF without a close frame.
    Transport,
    /// No pong in time.
    PongTimeout,
    /// Connect or handshake did not finish in time.
    Timeout,
    /// The server's handshake answer was wrong.
    Handshake,
}

/// What opening a link needs.
pub struct OpenRequest {
    /// The URI as typed.
    pub uri_text: Vec<u8>,
    /// The parsed URI.
    pub uri: WsUri,
    /// Sec-WebSocket-Protocol to ask for.
    pub subprotocol: Option<Vec<u8>>,
    /// Authorization header value.
    pub authorization: Option<Vec<u8>>,
    /// Connect + handshake timeout.
    pub timeout: Duration,
}

impl Module {
    /// The TLS credentials AT+WSCFG selected, read from the manufacturing
    /// NVS now (so AT+SYSMFG changes apply at the next connection).
    fn tls_params(&self, cfg: LinkConfig, now: Instant) -> Result<crate::module::TlsParams, String> {
        self.client_tls(["wss_cert", "wss_key", "wss_ca"], [cfg.auth_mode, cfg.pki_number, cfg.ca_number], now)
    }

    /// A TLS client's credentials, read from the manufacturing NVS now
    /// (so AT+SYSMFG changes apply at the next connection): namespaces
    /// `[cert, key, ca]`, chosen by `[auth_mode, pki_number, ca_number]`
    /// (bit 0 of auth_mode: present a certificate; bit 1: check the
    /// server). The error names the missing key.
    pub(crate) fn client_tls(&self, ns: [&str; 3], [auth_mode, pki_number, ca_number]: [u8; 3], now: Instant) -> Result<crate::module::TlsParams, String> {
        let get = |ns: &str, n: u8| -> Result<Vec<u8>, String> {
            let key = format!("{ns}.{n}");
            self.mfg.get(ns, &key).and_then(|v| v.as_bytes()).map(<[u8]>::to_vec).ok_or(key)
        };
        let (client_cert, client_key) = if auth_mode & 1 != 0 {
            (Some(get(ns[0], pki_number)?), Some(get(ns[1], pki_number)?))
        } else {
            (None, None)
        };
        let ca = if auth_mode & 2 != 0 { Some(get(ns[2], ca_number)?) } else { None };
        Ok(crate::module::TlsParams {
            client_cert,
            client_key,
            ca,
            now_unix: self.clock.unix_secs(now),
            sni: None,
            alpn: Vec::new(),
            common_name: None,
            ciphers: Vec::new(),
        })
    }

    /// Starts a link (AT+WSOPEN has checked everything).
    pub(crate) fn ws_open(&mut self, id: usize, req: OpenRequest, now: Instant) {
        let cfg = self.links[id].cfg;
        let session = Session {
            uri_text: req.uri_text,
            uri: req.uri,
            subprotocol: req.subprotocol,
            authorization: req.authorization,
            open_timeout: req.timeout,
            state: LinkState::Connecting,
            phase: Phase::Transport,
            decoder: Decoder::new(cfg.buffer_size),
            open_deadline: None,
            ping_at: None,
            pong_deadline: None,
            reconnect_at: None,
            close_deadline: None,
            close_sent: false,
            failed: false,
            closed_reported: false,
            opening_command: true,
            report_open: false,
            reassembly: None,
            cfg,
        };
        self.links[id].session = Some(session);
        self.ws_connect(id, now);
    }

    /// Asks the runtime for a transport.
    fn ws_connect(&mut self, id: usize, now: Instant) {
        let Some(s) = self.links[id].session.as_mut() else { return };
        s.state = LinkState::Connecting;
        s.phase = Phase::Transport;
        s.decoder = Decoder::new(s.cfg.buffer_size);
        s.open_deadline = Some(now + s.open_timeout);
        s.reconnect_at = None;
        s.ping_at = None;
        s.pong_deadline = None;
        s.report_open = false;
        s.reassembly = None;
        s.failed = false;
        s.close_sent = false;
        s.closed_reported = false;
        let (host, port, tls_wanted, timeout, cfg) = (s.uri.host.clone(), s.uri.port, s.uri.tls, s.open_timeout, s.cfg);
        let tls = if tls_wanted {
            match self.tls_params(cfg, now) {
                Ok(p) => Some(p),
                Err(missing) => {
                    self.log_link(id, &format!("{missing} is not in the manufacturing NVS"));
                    self.ws_lost(id, Loss::Transport, now);
                    return;
                }
            }
        } else {
            None
        };
        let keep_alive = Duration::from_secs(0);
        let transport = match tls {
            Some(params) => Transport::Tls { params, keep_alive },
            None => Transport::Tcp { keep_alive, nodelay: true },
        };
        if self.station.has_ip() {
            self.connect_socket(SocketId::ws(id), transport, host, port, timeout);
        } else {
            // No network: the attempt fails at once, as on a module
            // without an IP address.
            self.ws_lost(id, Loss::Transport, now);
        }
    }

    pub(crate) fn ws_event(&mut self, id: usize, event: SocketEvent, now: Instant) {
        let Some(s) = self.links[id].session.as_mut() else { return };
        match event {
            SocketEvent::Connected { .. } => {
                if !matches!(s.phase, Phase::Transport) || s.state != LinkState::Connecting {
                    return;
                }
                let mut nonce = [0u8; 16];
                self.rng.fill(&mut nonce);
                let Some(s) = self.links[id].session.as_mut() else { return };
                let key = handshake::key_for(nonce);
                let opts = RequestOptions {
                    subprotocol: s.subprotocol.as_deref(),
                    authorization: s.authorization.as_deref(),
                    headers: &self.ws_headers,
                };
                let request = handshake::request(&s.uri, &key, &opts);
                if request.len() > crate::commands::websocket::MAX_REQUEST {
                    // esp_websocket_client cannot build a request longer
                    // than its buffer: the attempt fails.
                    self.log_link(id, &format!("opening request of {} bytes exceeds the client's 1024-byte buffer", request.len()));
                    self.ws_lost(id, Loss::Handshake, now);
                    return;
                }
                s.phase = Phase::Handshake(ResponseReader::new(&key, s.subprotocol.as_deref()));
                self.send_socket(SocketId::ws(id), request);
            }
            SocketEvent::Failed(_) | SocketEvent::Eof => {
                if s.state == LinkState::Closing {
                    self.ws_finish_close(id);
                } else if s.state != LinkState::WaitReconnect {
                    self.ws_lost(id, Loss::Transport, now);
                }
            }
            SocketEvent::Written(seq) => self.ws_written(id, seq),
            SocketEvent::Refused(seq) => self.ws_refused(id, seq),
        }
    }

    /// False while the host is behind on link `id`'s data: the runtime
    /// stops reading that link's socket. Each link is judged by its own
    /// queued reports (plus the output already on its way to the host), so
    /// a link whose report owns the port keeps reading while the others
    /// wait behind it; one global limit would starve that report and
    /// wedge the port.
    pub(crate) fn ws_read_window(&self, id: usize) -> usize {
        let backlog = self.serial_pending().max(self.urcs.link_bytes(SocketId::ws(id)));
        SERIAL_HIGH_WATER.saturating_sub(backlog)
    }

    pub(crate) fn ws_data(&mut self, id: usize, buf: &mut [u8], now: Instant) {
        let mut at = 0;
        while at < buf.len() {
            let Some(s) = self.links[id].session.as_mut() else { return };
            match &mut s.phase {
                Phase::Transport => return,
                Phase::Handshake(reader) => match reader.feed(&buf[at..]) {
                    Ok(None) => return,
                    Ok(Some((_accepted, n))) => {
                        at += n;
                        self.ws_established(id, now);
                    }
                    Err(e) => {
                        self.log_link(id, &format!("handshake failed: {e:?}"));
                        self.ws_lost(id, Loss::Handshake, now);
                        return;
                    }
                },
                Phase::Open => {
                    if s.state == LinkState::Closing && s.closed_reported {
                        // Only the server's TCP close is awaited now.
                        return;
                    }
                    // Incoming data does not move the keep-alive: as in
                    // esp_websocket_client, a ping goes out every interval.
                    let (n, item) = s.decoder.decode(&mut buf[at..]);
                    at += n;
                    let item = match item {
                        Ok(item) => item,
                        Err(e) => {
                            if !s.failed {
                                self.ws_protocol_error(id, e, now);
                            }
                            // Keep reading (the server's close may follow),
                            // as long as the decoder makes progress.
                            if n == 0 {
                                return;
                            }
                            continue;
                        }
                    };
                    match item {
                        Some(item) => {
                            // `item` borrows `buf`; copy what the report needs.
                            let owned = OwnedItem::from(item);
                            self.ws_item(id, owned, now);
                        }
                        None if n == 0 => return,
                        None => {}
                    }
                }
            }
        }
    }

    fn ws_established(&mut self, id: usize, now: Instant) {
        let Some(s) = self.links[id].session.as_mut() else { return };
        s.phase = Phase::Open;
        s.state = LinkState::Connected;
        s.open_deadline = None;
        s.ping_at = Some(now + Duration::from_secs(u64::from(s.cfg.ping_interval)));
        let line = format!("+WS_CONNECTED:{id}");
        if core::mem::take(&mut s.opening_command) {
            self.write(line.as_bytes());
            self.write(b"\r\n");
            self.complete(crate::module::Job::WsOpen(id), crate::at::reply::Reply::Ok);
        } else {
            self.urc(line.as_bytes());
        }
    }

    /// The link went down without a close handshake.
    fn ws_lost(&mut self, id: usize, why: Loss, now: Instant) {
        if self.links[id].session.is_none() {
            return;
        }
        self.log_link(id, &format!("connection lost: {why:?}"));
        let Some(s) = self.links[id].session.as_mut() else { return };
        let opening = core::mem::take(&mut s.opening_command);
        self.close_socket(SocketId::ws(id), false);
        // A send in progress cannot finish on a lost transport.
        self.fail_send_on(id);
        if opening {
            // AT+WSOPEN fails and the link is freed, as ESP-AT cleans it.
            self.ws_free(id);
            self.complete(
                crate::module::Job::WsOpen(id),
                crate::at::reply::Reply::Error(crate::at::error::AtError::ExecFailed),
            );
            return;
        }
        let Some(s) = self.links[id].session.as_mut() else { return };
        s.state = LinkState::WaitReconnect;
        s.phase = Phase::Transport;
        s.open_deadline = None;
        s.ping_at = None;
        s.pong_deadline = None;
        s.reconnect_at = Some(now + RECONNECT);
        self.ws_cut_report(id);
        self.urc(format!("+WS_DISCONNECTED:{id}").as_bytes());
    }

    /// Ends a streaming report that will get no more data (its line still
    /// ends, and the port is free again).
    pub(crate) fn ws_cut_report(&mut self, id: usize) {
        let Some(s) = self.links[id].session.as_mut() else { return };
        if core::mem::take(&mut s.report_open) {
            let crlf = self.links[id].mask & 32 != 0;
            self.urc_report(SocketId::ws(id), Piece::End, &[], &[], crlf);
        }
    }

    /// The server broke the protocol: close with the matching code.
    fn ws_protocol_error(&mut self, id: usize, e: FrameError, now: Instant) {
        self.log_link(id, &format!("protocol error {e:?}, closing with {}", e.close_code()));
        let Some(s) = self.links[id].session.as_mut() else { return };
        s.failed = true;
        s.reassembly = None;
        self.ws_cut_report(id);
        let code = e.close_code().to_be_bytes();
        self.ws_send_close(id, &code, now);
    }

    /// Sends a close frame and waits for the server's.
    fn ws_send_close(&mut self, id: usize, payload: &[u8], now: Instant) {
        let Some(s) = self.links[id].session.as_ref() else { return };
        if s.close_sent {
            return;
        }
        let frame = self.client_frame(frame::OP_CLOSE, true, payload);
        let Some(s) = self.links[id].session.as_mut() else { return };
        s.close_sent = true;
        s.state = LinkState::Closing;
        s.close_deadline = Some(now + CLOSE_WAIT);
        // No keep-alive while closing (a due ping would never be sent).
        s.ping_at = None;
        s.pong_deadline = None;
        self.send_socket(SocketId::ws(id), frame);
    }

    /// One complete item from the decoder.
    fn ws_item(&mut self, id: usize, item: OwnedItem, now: Instant) {
        let failed = self.links[id].session.as_ref().is_some_and(|s| s.failed);
        if failed && !matches!(item, OwnedItem::Close(_)) {
            return;
        }
        match item {
            OwnedItem::Ping(p) => {
                let frame = self.client_frame(frame::OP_PONG, true, &p);
                self.send_socket(SocketId::ws(id), frame);
            }
            OwnedItem::Pong => {
                if let Some(s) = self.links[id].session.as_mut() {
                    s.pong_deadline = None;
                }
            }
            OwnedItem::Close(code) => {
                // Echo the server's code (RFC 6455 5.5.1), then report.
                let payload = code.map(|c| c.to_be_bytes().to_vec()).unwrap_or_default();
                self.ws_send_close(id, &payload, now);
                // Done: `+WS_CLOSED`, and the link is free at once (as ESP-AT
                // frees it); the transport closes after our close reply.
                self.ws_finish_close(id);
            }
            OwnedItem::Data(d) => self.ws_report(id, d, now),
        }
    }

    /// The transport of a closing link is gone: free it.
    fn ws_finish_close(&mut self, id: usize) {
        let reported = self.links[id].session.as_ref().is_some_and(|s| s.closed_reported);
        if !reported {
            let line = format!("+WS_CLOSED:{id}");
            if self.closing_command(id) {
                self.write(line.as_bytes());
                self.write(b"\r\n");
                self.complete(crate::module::Job::WsClose(id), crate::at::reply::Reply::Ok);
            } else {
                self.urc(line.as_bytes());
            }
        }
        self.close_socket(SocketId::ws(id), false);
        self.ws_free(id);
    }

    /// Frees a link: the client and its WSCFG go, WSDATAFMT stays. A report
    /// it was streaming ends here, so the port is never left owned.
    pub(crate) fn ws_free(&mut self, id: usize) {
        self.ws_cut_report(id);
        let l = &mut self.links[id];
        l.session = None;
        l.cfg = LinkConfig::default();
    }

    /// Drops every link at once (reboot): no reports, transports closed.
    pub(crate) fn ws_drop_all(&mut self) {
        for id in 0..LINKS {
            if self.links[id].session.is_some() {
                self.close_socket(SocketId::ws(id), false);
            }
            self.links[id] = Link::new();
        }
    }

    /// Wi-Fi went away: every live link loses its connection.
    pub(crate) fn ws_network_down(&mut self, now: Instant) {
        for id in 0..LINKS {
            let live = self.links[id]
                .session
                .as_ref()
                .is_some_and(|s| matches!(s.state, LinkState::Connected | LinkState::Connecting));
            if live {
                self.ws_lost(id, Loss::Transport, now);
            }
        }
    }

    /// AT+WSCLOSE: close handshake if connected; otherwise free at once.
    pub(crate) fn ws_close_command(&mut self, id: usize, now: Instant) -> crate::at::reply::Reply {
        use crate::at::reply::Reply;
        let Some(s) = self.links[id].session.as_ref() else {
            // A free link: its configuration goes back to the defaults, as
            // the docs say AT+WSCLOSE does.
            self.links[id].cfg = LinkConfig::default();
            return Reply::Ok;
        };
        match s.state {
            LinkState::Connected => {
                self.ws_send_close(id, &1000u16.to_be_bytes(), now);
                if let Some(s) = self.links[id].session.as_mut() {
                    s.close_deadline = Some(now + WSCLOSE_WAIT);
                }
                self.busy_with(crate::module::Job::WsClose(id))
            }
            LinkState::Closing => self.busy_with(crate::module::Job::WsClose(id)),
            LinkState::Connecting | LinkState::WaitReconnect => {
                self.close_socket(SocketId::ws(id), false);
                self.ws_free(id);
                self.write(format!("+WS_CLOSED:{id}\r\n").as_bytes());
                Reply::Ok
            }
        }
    }

    /// A client frame with a fresh mask.
    pub(crate) fn client_frame(&mut self, opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
        let mut key = [0u8; 4];
        self.rng.fill(&mut key);
        let mut out = Vec::new();
        frame::encode_client_frame(&mut out, opcode, fin, key, payload);
        out
    }

    /// Queues a send with a sequence number the runtime will acknowledge.
    pub(crate) fn ws_send_tracked(&mut self, id: usize, data: Vec<u8>, immediate: bool) -> u32 {
        self.send_tracked(SocketId::ws(id), data, immediate, None)
    }

    /// True while a tracked send of link `id` is not yet acknowledged: its
    /// socket has not taken everything it was given.
    pub(crate) fn ws_send_pending(&self, id: usize) -> bool {
        self.sockets.send_pending(SocketId::ws(id))
    }

    /// True if the link can carry data frames now.
    pub(crate) fn ws_connected(&self, id: usize) -> bool {
        self.links[id].session.as_ref().is_some_and(|s| s.state == LinkState::Connected)
    }

    /// The buffer size sends are cut to.
    pub(crate) fn ws_buffer(&self, id: usize) -> usize {
        self.links[id].session.as_ref().map_or(self.links[id].cfg.buffer_size, |s| s.cfg.buffer_size)
    }

    /// Marks that the host started a close with AT+WSSEND opcode 8.
    pub(crate) fn ws_close_sent_by_host(&mut self, id: usize, now: Instant) {
        if let Some(s) = self.links[id].session.as_mut() {
            s.close_sent = true;
            s.state = LinkState::Closing;
            s.close_deadline = Some(now + WSCLOSE_WAIT);
            s.ping_at = None;
            s.pong_deadline = None;
        }
    }

    /// The earliest deadline of any link.
    pub(crate) fn ws_next_deadline(&self) -> Option<Instant> {
        self.links
            .iter()
            .filter_map(|l| l.session.as_ref())
            .flat_map(|s| {
                // A ping is only ever sent on a connected link.
                let ping = s.ping_at.filter(|_| s.state == LinkState::Connected);
                [s.open_deadline, ping, s.pong_deadline, s.reconnect_at, s.close_deadline]
            })
            .flatten()
            .min()
    }

    /// Runs every link timer that is due.
    pub(crate) fn ws_timers(&mut self, now: Instant) {
        for id in 0..LINKS {
            let Some(s) = self.links[id].session.as_mut() else { continue };
            if s.close_deadline.is_some_and(|t| t <= now) {
                s.close_deadline = None;
                self.ws_finish_close(id);
                continue;
            }
            if s.open_deadline.is_some_and(|t| t <= now) {
                s.open_deadline = None;
                self.ws_lost(id, Loss::Timeout, now);
                continue;
            }
            if s.reconnect_at.is_some_and(|t| t <= now) {
                s.reconnect_at = None;
                self.ws_connect(id, now);
                continue;
            }
            if s.pong_deadline.is_some_and(|t| t <= now) {
                let timeout = Duration::from_secs(u64::from(s.cfg.ping_timeout));
                if self.ws_read_window(id) == 0 {
                    // The module itself stopped reading (the host is behind
                    // on this link's data): the pong may be waiting in the
                    // socket. That time does not count; the wait starts
                    // again once reading may resume.
                    if let Some(s) = self.links[id].session.as_mut() {
                        s.pong_deadline = Some(now + timeout);
                    }
                    continue;
                }
                if let Some(s) = self.links[id].session.as_mut() {
                    s.pong_deadline = None;
                }
                self.ws_lost(id, Loss::PongTimeout, now);
                continue;
            }
            if s.ping_at.is_some_and(|t| t <= now) && s.state == LinkState::Connected {
                s.ping_at = Some(now + Duration::from_secs(u64::from(s.cfg.ping_interval)));
                if s.pong_deadline.is_none() {
                    s.pong_deadline = Some(now + Duration::from_secs(u64::from(s.cfg.ping_timeout)));
                }
                let ping = self.client_frame(frame::OP_PING, true, &[]);
                self.send_socket(SocketId::ws(id), ping);
            }
        }
    }

    /// Formats received data as `+WS_DATA` per AT+WSDATAFMT.
    fn ws_report(&mut self, id: usize, d: DataPiece, now: Instant) {
        let (level, mask) = (self.links[id].level, self.links[id].mask);
        let Some(s) = self.links[id].session.as_mut() else { return };
        let frame_end = d.offset + d.data.len() as u64 == d.payload_len;
        match level {
            0 => {
                let head = header(id, mask, d.opcode, d.fin, d.payload_len, d.offset, d.data.len() as u64);
                self.urc_report(SocketId::ws(id), Piece::Whole, &head, &d.data, mask & 32 != 0);
            }
            1 => self.ws_stream(id, mask, &d, d.opcode, d.fin, frame_end),
            _ => {
                // Message level: whole single-frame messages stream like
                // frames; fragmented ones are reassembled first.
                let single = d.opcode != frame::OP_CONTINUATION && d.fin && s.reassembly.is_none();
                if single {
                    return self.ws_stream(id, mask, &d, d.opcode, true, frame_end);
                }
                let r = s.reassembly.get_or_insert_with(|| Reassembly { opcode: d.message_opcode, data: Vec::new() });
                if r.data.len() + d.data.len() > MAX_MESSAGE {
                    s.reassembly = None;
                    self.ws_protocol_error(id, FrameError::MessageTooBig, now);
                    return;
                }
                r.data.extend_from_slice(&d.data);
                if d.fin && frame_end {
                    let r = s.reassembly.take().unwrap_or_default();
                    let len = r.data.len() as u64;
                    let head = header(id, mask, r.opcode, true, len, 0, len);
                    self.urc_report(SocketId::ws(id), Piece::Whole, &head, &r.data, mask & 32 != 0);
                }
            }
        }
    }

    /// A frame (or single-frame message) streamed under one header.
    fn ws_stream(&mut self, id: usize, mask: u8, d: &DataPiece, opcode: u8, fin: bool, frame_end: bool) {
        let Some(s) = self.links[id].session.as_mut() else { return };
        // A header starts each frame, and resumes one whose report was cut
        // (the host stalled behind it): its offset says where.
        let resume = !s.report_open;
        let head = if resume {
            s.report_open = !frame_end;
            header(id, mask, opcode, fin, d.payload_len, d.offset, d.payload_len - d.offset)
        } else {
            Vec::new()
        };
        if frame_end {
            s.report_open = false;
        }
        let piece = match (resume, frame_end) {
            (true, true) => Piece::Whole,
            (true, false) => Piece::Start,
            (false, false) => Piece::Middle,
            (false, true) => Piece::End,
        };
        self.urc_report(SocketId::ws(id), piece, &head, &d.data, frame_end && mask & 32 != 0);
    }
}

/// `+WS_DATA:<id>[,<opcode>][,<fin>][,<payload_len>][,<offset>][,<data_len>],`
fn header(id: usize, mask: u8, opcode: u8, fin: bool, payload_len: u64, offset: u64, data_len: u64) -> Vec<u8> {
    let mut h = format!("+WS_DATA:{id},");
    let fields = [u64::from(opcode), u64::from(fin), payload_len, offset, data_len];
    for (bit, v) in fields.iter().enumerate() {
        if mask & (1 << bit) != 0 {
            h.push_str(&format!("{v},"));
        }
    }
    h.into_bytes()
}

/// A data piece, copied out of the receive buffer.
#[derive(Debug, Clone)]
struct DataPiece {
    opcode: u8,
    message_opcode: u8,
    fin: bool,
    payload_len: u64,
    offset: u64,
    data: Vec<u8>,
}

#[derive(Debug, Clone)]
enum OwnedItem {
    Data(DataPiece),
    Ping(Vec<u8>),
    Pong,
    Close(Option<u16>),
}

impl From<Decoded<'_>> for OwnedItem {
    fn from(d: Decoded<'_>) -> OwnedItem {
        match d {
            Decoded::Data { opcode, message_opcode, fin, payload_len, offset, data } => {
                OwnedItem::Data(DataPiece { opcode, message_opcode, fin, payload_len, offset, data: data.to_vec() })
            }
            Decoded::Ping(p) => OwnedItem::Ping(p),
            Decoded::Pong(_) => OwnedItem::Pong,
            Decoded::Close(code, _) => OwnedItem::Close(code),
        }
    }
}

/// A small, fast generator for masking keys and handshake nonces, seeded
/// by the runtime from the OS. (Masking needs unpredictability against
/// in-browser attackers, not cryptographic strength; a module has no
/// browser, and the seed is fresh per start.)
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x6a09_e667_f3bc_c908)
    }

    /// Fills `out` (splitmix64).
    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
}
