//! TCP, UDP and SSL links (AT+CIPSTART and friends): the module's state
//! for them and how transport news becomes AT messages.
//!
//! Each link runs on socket [`SocketId::ip`]`(id)` of the socket layer
//! ([`crate::net`]). [`link::IpLink`] holds one link's state and receive
//! buffer; this file turns what happens to it into `CONNECT`, `CLOSED`,
//! `+IPD` and the results of the commands waiting on it
//! (`crate::commands::tcpip`).

pub mod link;
pub mod passthrough;
pub mod server;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::SocketAddr;

use crate::at::error::AtError;
use crate::at::reply::{self, Reply};
use crate::at::urc::Piece;
use crate::module::{Job, Module};
use crate::net::{SocketEvent, SocketId};
use crate::time::{Duration, Instant};
use link::{IpLink, Kind, Received, State, IPD_MAX, PASSIVE_WINDOW};
pub use passthrough::Passthrough;

/// Links in multiple-connection mode (single mode uses link 0).
pub const LINKS: usize = 5;
/// How long AT+CIPSTART waits when its `<timeout>` is 0 or omitted ("as
/// the network and lwIP decide": lwIP gives up on a SYN after about this).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long AT+CIPSEND waits for the socket to take its data when
/// AT+CIPTCPOPT set no SO_SNDTIMEO: then `SEND FAIL`.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Serial output above which active links stop reading their sockets.
const SERIAL_HIGH_WATER: usize = 64 * 1024;
/// Passthrough data the module holds for link 0 (packed, unsent, or in
/// the socket's queue) beyond which it stops reading the host.
pub const PASSTHROUGH_WINDOW: usize = 64 * 1024;

pub use crate::settings::TcpOptions;

/// The cipher suites wsat's TLS (rustls) can offer, by IANA number:
/// what AT+CIPSSLCCIPHER? lists and may choose from.
pub const SUPPORTED_CIPHERS: &[u32] = &[0x1302, 0x1301, 0x1303, 0xC02C, 0xC02B, 0xCCA9, 0xC030, 0xC02F, 0xCCA8];

/// AT+CIPSSLC* for one link (AT+CIPSSLCCONF's numbers are settings:
/// [`crate::settings::Settings::ssl_conf`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SslOptions {
    /// AT+CIPSSLCCN: the name the server certificate must carry.
    pub common_name: Option<String>,
    /// AT+CIPSSLCSNI.
    pub sni: Option<String>,
    /// AT+CIPSSLCALPN.
    pub alpn: Vec<Vec<u8>>,
    /// AT+CIPSSLCPSK / AT+CIPSSLCPSKHEX: identity and key.
    pub psk: Option<(Vec<u8>, Vec<u8>)>,
    /// AT+CIPSSLCCIPHER: the cipher suites asked for (empty: all).
    pub ciphers: Vec<u32>,
}

/// Per-link settings that outlive connections.
#[derive(Debug, Clone, Default)]
pub struct LinkOptions {
    /// AT+CIPRECVTYPE mode 1: passive receive.
    pub passive: bool,
    /// AT+CIPRECVTYPE `<data_len_report_mode>` 1: lengths of the next datagram.
    pub next_datagram_len: bool,
    /// AT+CIPSSLC*.
    pub ssl: SslOptions,
}

/// Everything the module keeps for its TCP/IP links.
#[derive(Debug, Clone)]
pub struct IpState {
    /// The links.
    pub links: [Option<IpLink>; LINKS],
    /// AT+CIPMUX=1.
    pub mux: bool,
    /// AT+CIPDINFO=1: `+IPD` names the sender.
    pub dinfo: bool,
    /// Per-link settings.
    pub opts: [LinkOptions; LINKS],
    /// AT+CIPCONNPERSIST per link (not saved).
    pub persist: [bool; LINKS],
    /// AT+CIPMODE=1: passthrough receiving mode (link 0's data goes to the
    /// host raw, and AT+CIPSEND enters passthrough).
    pub cipmode: bool,
    /// Passthrough data packed while link 0 reconnects.
    pub held: Vec<u8>,
    /// When link 0 tries again after losing its connection in passthrough.
    pub reconnect_at: Option<Instant>,
    /// AT+SAVETRANSLINK: open the saved link once the station has an address.
    pub boot_link: bool,
    /// The running AT+CIPSERVER, if any.
    pub server: Option<ServerState>,
    /// AT+CIPSERVERMAXCONN (1-5).
    pub max_conn: u8,
    /// AT+CIPSTO: seconds an accepted client may be idle (0: for ever).
    pub server_timeout: u16,
    /// AT+CIPSENDLCFG: report size and transmit block size.
    pub sendl_cfg: (u32, u32),
    /// AT+CIPSTATUS's `<stat>`, kept as ESP-AT keeps it: 0 at boot, 1 after
    /// a mode change to one with a station, 2 with an address, 3 with a
    /// TCP/SSL link, 4 when the last one closed, 5 after a disconnection.
    pub sta_state: u8,
}

impl Default for IpState {
    fn default() -> Self {
        IpState {
            links: Default::default(),
            mux: false,
            dinfo: false,
            opts: Default::default(),
            persist: [false; LINKS],
            cipmode: false,
            held: Vec::new(),
            reconnect_at: None,
            boot_link: false,
            server: None,
            max_conn: LINKS as u8,
            server_timeout: 0,
            sendl_cfg: (crate::commands::sendl::DEFAULT_REPORT, crate::commands::sendl::DEFAULT_TRANSMIT),
            sta_state: 0,
        }
    }
}

/// A running AT+CIPSERVER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerState {
    /// The module's port.
    pub port: u16,
    /// `"TCP"`, `"SSL"` (or v6).
    pub kind: &'static str,
    /// SSL: clients must present a certificate chaining to `server_ca`.
    pub ca: bool,
    /// AT+CIPSERVER's `<netif>`.
    pub netif: u8,
}

/// lwIP's errno for a failure (what `+ERRNO:` prints under AT+SYSLOG=1).
fn lwip_errno(why: crate::net::FailReason) -> Option<u32> {
    use crate::net::FailReason as F;
    match why {
        F::Refused => Some(111),
        F::Timeout => Some(110),
        F::Reset => Some(104),
        F::Io => Some(5),
        F::Dns | F::Tls => None,
    }
}

impl Module {
    /// The `<link ID>,` prefix of messages in multiple-connection mode.
    pub(crate) fn ip_prefix(&self, id: usize) -> String {
        if self.ip.mux {
            format!("{id},")
        } else {
            String::new()
        }
    }

    /// Opens link `id` (the command has checked everything); AT+CIPSTART
    /// waits for it as `job` until `timeout`.
    pub(crate) fn ip_open(&mut self, id: usize, mut link: IpLink, transport: crate::net::Transport, timeout: Duration, now: Instant) -> Reply {
        let (host, port) = (link.host.clone(), link.port);
        link.transport = Some(transport.clone());
        link.timeout = timeout;
        self.ip.links[id] = Some(link);
        self.connect_socket(SocketId::ip(id), transport, host, port, timeout);
        // The runtime's own timeout answers first; this one is a backstop.
        self.busy_with_deadline(Job::IpConnect(id), now + timeout + Duration::from_millis(500))
    }

    pub(crate) fn ip_event(&mut self, id: usize, event: SocketEvent, now: Instant) {
        let Some(l) = self.ip.links[id].as_mut() else { return };
        match event {
            SocketEvent::Connected { local_port, remote } => {
                if l.state != State::Connecting {
                    return;
                }
                l.state = State::Connected;
                l.local_port = local_port;
                l.last_activity = now;
                if l.tetype == 1 {
                    // The module's own port, whatever host port the
                    // runtime listens on for it.
                    if let Some(s) = &self.ip.server {
                        l.local_port = s.port;
                    }
                }
                if l.kind != Kind::Udp {
                    self.ip.sta_state = 3;
                }
                if let Some(r) = remote {
                    l.remote_ip = Some(r.ip());
                }
                let line = self.ip_connect_line(id);
                if self.in_passthrough() || (id == 0 && core::mem::take(&mut self.ip.boot_link)) {
                    // Passthrough's own link (back, or up after boot):
                    // news only under AT+SYSMSG bit 2, and the data flows.
                    if self.current.sysmsg & 4 != 0 {
                        self.urc(line.as_bytes());
                    }
                    if !self.in_passthrough() {
                        self.pt_start(now);
                    }
                    let held = core::mem::take(&mut self.ip.held);
                    for chunk in held.chunks(passthrough::PACKET) {
                        self.send_tracked(SocketId::ip(0), chunk.to_vec(), false, None);
                    }
                    return;
                }
                if self.running(&Job::IpConnect(id)) {
                    self.write(line.as_bytes());
                    self.write(b"\r\n");
                    self.complete(Job::IpConnect(id), Reply::Ok);
                } else {
                    self.urc(line.as_bytes());
                }
            }
            SocketEvent::Failed(why) => {
                let connecting = l.state == State::Connecting;
                let pump = !connecting;
                self.log_link(id, &format!("TCP/IP link failed: {why:?}"));
                // Only as part of AT+CIPSTART's answer (an accepted
                // client's failed handshake prints nothing).
                if connecting && self.syslog && self.running(&Job::IpConnect(id)) {
                    if let Some(errno) = lwip_errno(why) {
                        let line = format!("+ERRNO:0x{errno:x}\r\n");
                        self.write(line.as_bytes());
                    }
                }
                self.ip_lost(id, now);
                if pump {
                    self.sendl_pump(now);
                }
            }
            SocketEvent::Eof => {
                self.ip_lost(id, now);
                self.sendl_pump(now);
            }
            SocketEvent::Written(seq) => {
                self.sendl_pump(now);
                let job = Job::IpSend { link: id, seq };
                if self.running(&job) {
                    self.write(reply::SEND_OK);
                    self.complete(job, Reply::Done);
                }
            }
            SocketEvent::Refused(_) => {}
        }
    }

    /// `<id>,CONNECT`, or `+LINK_CONN:...` under AT+SYSMSG bit 1.
    fn ip_connect_line(&self, id: usize) -> String {
        let Some(l) = self.ip.links[id].as_ref() else { return String::new() };
        if self.current.sysmsg & 2 != 0 {
            let ip = l.remote_ip.map_or_else(|| l.host.clone(), |a| format!("{a}"));
            format!("+LINK_CONN:0,{id},\"{}\",{},\"{ip}\",{},{}", l.kind.name(l.v6), l.tetype, l.port, l.local_port)
        } else {
            format!("{}CONNECT", self.ip_prefix(id))
        }
    }

    /// The transport of link `id` is gone (failure or the peer's close).
    fn ip_lost(&mut self, id: usize, now: Instant) {
        self.close_socket(SocketId::ip(id), false);
        if id == 0 && self.in_passthrough() {
            // Passthrough keeps its link: it connects again every
            // AT+CIPRECONNINTV, and the host's data waits meanwhile.
            if let Some(l) = self.ip.links[0].as_mut() {
                let was_up = l.state == State::Connected;
                l.state = State::Connecting;
                if was_up && self.current.sysmsg & 4 != 0 {
                    self.urc(b"CLOSED");
                }
                self.ip.reconnect_at = Some(now + Duration::from_millis(100 * u64::from(self.current.reconn_intv)));
                return;
            }
        }
        let Some(l) = self.ip.links[id].as_mut() else { return };
        if l.state == State::Connecting {
            // A link that never came up ends with the command's ERROR and
            // no CLOSED (ESP-AT just closes the socket).
            self.ip.links[id] = None;
            if self.running(&Job::IpConnect(id)) {
                self.complete(Job::IpConnect(id), Reply::Error(AtError::ExecFailed));
            }
            return;
        }
        if l.rx_len > 0 {
            // Passive data still to be read: CLOSED waits for it.
            l.state = State::Draining;
        }
        if let Some(seq) = self.running_ip_send(id) {
            self.write(reply::SEND_FAIL);
            self.complete(Job::IpSend { link: id, seq }, Reply::Done);
        }
        if self.ip.links[id].as_ref().is_some_and(|l| l.state != State::Draining) {
            self.ip_free(id, true);
        }
    }

    /// Frees link `id`; `report`: print `CLOSED` as a report.
    pub(crate) fn ip_free(&mut self, id: usize, report: bool) {
        if id == 0 {
            // Passthrough data held for a reconnection dies with the link.
            self.ip.held.clear();
        }
        if self.ip.links[id].take().is_some() {
            self.close_socket(SocketId::ip(id), false);
            if report {
                let line = format!("{}CLOSED", self.ip_prefix(id));
                self.urc(line.as_bytes());
            }
            self.ip_status_after_close();
        }
    }

    /// AT+CIPSTATUS's state once a link is gone: 4 when no TCP/SSL link
    /// remains (ESP-AT's rule; UDP links never count).
    fn ip_status_after_close(&mut self) {
        let tcp_left = self.ip.links.iter().flatten().any(|l| l.kind != Kind::Udp && l.state == State::Connected);
        if !tcp_left && self.ip.sta_state == 3 {
            self.ip.sta_state = 4;
        }
    }

    /// Closes link `id` at the host's request: what AT+CIPCLOSE prints.
    pub(crate) fn ip_close(&mut self, id: usize) {
        let abort = self.current.tcpopt[id].so_linger == 0;
        if id == 0 {
            self.ip.held.clear();
        }
        if self.ip.links[id].take().is_some() {
            self.close_socket(SocketId::ip(id), abort);
            let line = format!("{}CLOSED\r\n", self.ip_prefix(id));
            self.write(line.as_bytes());
            self.ip_status_after_close();
        }
    }

    /// Bytes from link `id`'s peer.
    pub(crate) fn ip_data(&mut self, id: usize, data: &[u8], from: Option<SocketAddr>, now: Instant) {
        let passive = self.ip.opts[id].passive;
        let next_len = self.ip.opts[id].next_datagram_len;
        let Some(l) = self.ip.links[id].as_mut() else { return };
        if l.state != State::Connected {
            return;
        }
        let kind = l.kind;
        l.last_activity = now;
        if self.ip.cipmode && id == 0 && !self.ip.mux {
            // Passthrough receiving mode: the data itself, no +IPD.
            if self.in_passthrough() {
                self.write_unfiltered(data);
            } else {
                self.urc_report(SocketId::ip(0), Piece::Whole, &[], data, false);
            }
            return;
        }
        match l.receive(data, from, passive) {
            Received::Report => {
                // UDP: one datagram, one +IPD; a stream is cut to IPD_MAX.
                let piece = if kind == Kind::Udp { data.len().max(1) } else { IPD_MAX };
                for chunk in data.chunks(piece) {
                    let head = self.ipd_head(id, chunk.len(), from, true);
                    self.urc_report(SocketId::ip(id), Piece::Whole, &head, chunk, true);
                }
            }
            Received::Kept { notify: true } => {
                let len = l.report_len(next_len);
                let head = self.ipd_head(id, len, None, false);
                self.urc_report(SocketId::ip(id), Piece::Whole, &head, &[], true);
            }
            Received::Kept { notify: false } => {}
            Received::Dropped => self.log_link(id, "passive UDP buffer full: datagram lost"),
        }
    }

    /// `\r\n+IPD,[<id>,]<len>[,"<ip>",<port>]` and, with data, the `:`
    /// (ESP-AT starts every `+IPD` on a line of its own).
    pub(crate) fn ipd_head(&self, id: usize, len: usize, from: Option<SocketAddr>, with_data: bool) -> Vec<u8> {
        let mut h = format!("\r\n+IPD,{}{len}", self.ip_prefix(id));
        if with_data && self.ip.dinfo {
            let (ip, port) = self.ip_sender(id, from);
            h.push_str(&format!(",\"{ip}\",{port}"));
        }
        if with_data {
            h.push(':');
        }
        h.into_bytes()
    }

    /// Who sent data to link `id`: the datagram's sender, else the peer.
    pub(crate) fn ip_sender(&self, id: usize, from: Option<SocketAddr>) -> (String, u16) {
        match (from, self.ip.links[id].as_ref()) {
            (Some(f), _) => (format!("{}", f.ip()), f.port()),
            (None, Some(l)) => (l.remote_ip.map_or_else(|| l.host.clone(), |a| format!("{a}")), l.port),
            (None, None) => (String::new(), 0),
        }
    }

    /// How much the runtime may read from link `id`'s socket now.
    pub(crate) fn ip_read_window(&self, id: usize) -> usize {
        let socket = SocketId::ip(id);
        match self.ip.links[id].as_ref() {
            Some(l) if self.ip.opts[id].passive => {
                if l.kind == Kind::Udp {
                    // Datagrams beyond the buffer are lost, as on the module.
                    usize::MAX
                } else {
                    PASSIVE_WINDOW.saturating_sub(l.rx_len)
                }
            }
            _ => SERIAL_HIGH_WATER.saturating_sub(self.serial_pending().max(self.urcs.link_bytes(socket))),
        }
    }

    /// Every link loses its transport (Wi-Fi went away), except those
    /// AT+CIPCONNPERSIST keeps.
    pub(crate) fn ip_network_down(&mut self, now: Instant) {
        for id in 0..LINKS {
            if self.ip.persist[id] {
                continue;
            }
            if self.ip.links[id].as_ref().is_some_and(|l| l.state != State::Draining) {
                self.ip_lost(id, now);
            }
        }
    }

    /// Enters passthrough: host bytes are link 0's data from now on.
    pub(crate) fn pt_start(&mut self, now: Instant) {
        self.state = crate::module::PortState::Passthrough(passthrough::Passthrough::new(now));
    }

    /// Passthrough data the module holds for link 0 beyond the packer.
    pub(crate) fn pt_backlog(&self) -> usize {
        self.sockets.in_flight(SocketId::ip(0)) + self.ip.held.len()
    }

    /// Hands due packets to link 0; leaves passthrough after `+++`.
    pub(crate) fn pt_pump(&mut self, now: Instant) {
        let interval = Duration::from_millis(u64::from(self.current.transintvl));
        let datagrams = self.ip.links[0].as_ref().is_some_and(|l| matches!(l.transport, Some(crate::net::Transport::Udp { .. })));
        let crate::module::PortState::Passthrough(pt) = &mut self.state else { return };
        let quit = pt.quit_due(now);
        let packets = pt.packets(now, interval, quit, datagrams);
        let up = self.ip.links[0].as_ref().is_some_and(|l| l.state == State::Connected);
        for p in packets {
            if up {
                self.send_tracked(SocketId::ip(0), p, false, None);
            } else {
                // Link 0 is reconnecting: the data waits for it.
                self.ip.held.extend_from_slice(&p);
            }
        }
        if quit {
            self.state = crate::module::PortState::Idle;
            self.ip.reconnect_at = None;
            // Data held for a link that is not up is not sent after leaving.
            self.ip.held.clear();
            if self.current.sysmsg & 1 != 0 {
                self.write(b"+QUITT\r\n");
            }
            if self.ip.links[0].as_ref().is_some_and(|l| l.state == State::Connecting) {
                // Left while reconnecting: the link is gone.
                self.ip_free(0, true);
            }
        }
    }

    /// Passthrough, long-send, reconnection and server timers.
    pub(crate) fn ip_timers(&mut self, now: Instant) {
        self.server_timers(now);
        self.sendl_pump(now);
        if self.in_passthrough() {
            self.pt_pump(now);
        }
        if self.ip.reconnect_at.is_some_and(|t| t <= now) {
            if !crate::commands::tcpip::network_up(self) {
                // No Wi-Fi: try again after the interval (a real module's
                // connect fails the same way until the AP is back).
                self.ip.reconnect_at = Some(now + Duration::from_millis(100 * u64::from(self.current.reconn_intv.max(1))));
                return;
            }
            self.ip.reconnect_at = None;
            if let Some(l) = self.ip.links[0].as_ref() {
                if let Some(t) = l.transport.clone() {
                    let (host, port, timeout) = (l.host.clone(), l.port, l.timeout);
                    self.connect_socket(SocketId::ip(0), t, host, port, timeout);
                }
            }
        }
    }

    /// The next passthrough or reconnection deadline.
    pub(crate) fn ip_next_deadline(&self) -> Option<Instant> {
        let interval = Duration::from_millis(u64::from(self.current.transintvl));
        let pt = match &self.state {
            crate::module::PortState::Passthrough(pt) => pt.deadline(interval),
            _ => None,
        };
        [pt, self.ip.reconnect_at, self.server_next_deadline(), self.sendl_deadline()].into_iter().flatten().min()
    }

    /// The station has an address: a link saved with AT+SAVETRANSLINK
    /// opens now, and passthrough starts once it is up.
    pub(crate) fn ip_on_got_ip(&mut self, now: Instant) {
        let Some(saved) = self.current.savetranslink.clone() else { return };
        if self.ip.links[0].is_some() || !self.ip.boot_link {
            return;
        }
        let Some((kind, v6)) = Kind::parse(saved.kind.as_bytes()) else { return };
        let mut link = IpLink::new(kind, v6, saved.host.clone(), saved.port);
        let keep_alive = Duration::from_secs(u64::from(saved.keep_alive));
        let transport = match kind {
            Kind::Tcp => crate::net::Transport::Tcp { keep_alive, nodelay: self.current.tcpopt[0].nodelay },
            Kind::Udp => {
                link.local_port = saved.local_port;
                crate::net::Transport::Udp { local_port: saved.local_port }
            }
            Kind::Ssl => match crate::commands::tcpip::ssl_params(self, 0, now) {
                Ok(params) => crate::net::Transport::Tls { params, keep_alive },
                Err(missing) => {
                    self.log_link(0, &format!("saved SSL link: {missing} is not in the manufacturing NVS"));
                    return;
                }
            },
        };
        link.transport = Some(transport.clone());
        let (host, port, timeout) = (link.host.clone(), link.port, link.timeout);
        self.ip.links[0] = Some(link);
        self.connect_socket(SocketId::ip(0), transport, host, port, timeout);
    }

    /// Drops every link at once (reboot): no reports, transports closed.
    pub(crate) fn ip_drop_all(&mut self) {
        self.close_socket(SocketId::listener(), false);
        for id in 0..LINKS {
            if self.ip.links[id].take().is_some() {
                self.close_socket(SocketId::ip(id), false);
            }
        }
        self.ip = IpState::default();
    }
}
