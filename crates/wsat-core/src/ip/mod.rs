//! TCP, UDP and SSL links (AT+CIPSTART and friends): the module's state
//! for them and how transport news becomes AT messages.
//!
//! Each link runs on socket [`SocketId::ip`]`(id)` of the socket layer
//! ([`crate::net`]). [`link::IpLink`] holds one link's state and receive
//! buffer; this file turns what happens to it into `CONNECT`, `CLOSED`,
//! `+IPD` and the results of the commands waiting on it
//! (`crate::commands::tcpip`).

pub mod link;

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
#[derive(Debug, Clone, Default)]
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
    /// AT+CIPSTATUS's `<stat>`, kept as ESP-AT keeps it: 0 at boot, 1 after
    /// a mode change to one with a station, 2 with an address, 3 with a
    /// TCP/SSL link, 4 when the last one closed, 5 after a disconnection.
    pub sta_state: u8,
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
    pub(crate) fn ip_open(&mut self, id: usize, link: IpLink, transport: crate::net::Transport, timeout: Duration, now: Instant) -> Reply {
        let (host, port) = (link.host.clone(), link.port);
        self.ip.links[id] = Some(link);
        self.connect_socket(SocketId::ip(id), transport, host, port, timeout);
        // The runtime's own timeout answers first; this one is a backstop.
        self.busy_with_deadline(Job::IpConnect(id), now + timeout + Duration::from_millis(500))
    }

    pub(crate) fn ip_event(&mut self, id: usize, event: SocketEvent, _now: Instant) {
        let Some(l) = self.ip.links[id].as_mut() else { return };
        match event {
            SocketEvent::Connected { local_port, remote } => {
                if l.state != State::Connecting {
                    return;
                }
                l.state = State::Connected;
                l.local_port = local_port;
                if l.kind != Kind::Udp {
                    self.ip.sta_state = 3;
                }
                if let Some(r) = remote {
                    l.remote_ip = Some(r.ip());
                }
                let line = self.ip_connect_line(id);
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
                self.log_link(id, &format!("TCP/IP link failed: {why:?}"));
                if connecting && self.syslog {
                    if let Some(errno) = lwip_errno(why) {
                        let line = format!("+ERRNO:0x{errno:x}\r\n");
                        self.write(line.as_bytes());
                    }
                }
                self.ip_lost(id);
            }
            SocketEvent::Eof => self.ip_lost(id),
            SocketEvent::Written(seq) => {
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
    fn ip_lost(&mut self, id: usize) {
        self.close_socket(SocketId::ip(id), false);
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
        if self.ip.links[id].take().is_some() {
            self.close_socket(SocketId::ip(id), abort);
            let line = format!("{}CLOSED\r\n", self.ip_prefix(id));
            self.write(line.as_bytes());
            self.ip_status_after_close();
        }
    }

    /// Bytes from link `id`'s peer.
    pub(crate) fn ip_data(&mut self, id: usize, data: &[u8], from: Option<SocketAddr>, _now: Instant) {
        let passive = self.ip.opts[id].passive;
        let next_len = self.ip.opts[id].next_datagram_len;
        let Some(l) = self.ip.links[id].as_mut() else { return };
        if l.state != State::Connected {
            return;
        }
        let kind = l.kind;
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
    pub(crate) fn ip_network_down(&mut self) {
        for id in 0..LINKS {
            if self.ip.persist[id] {
                continue;
            }
            if self.ip.links[id].as_ref().is_some_and(|l| l.state != State::Draining) {
                self.ip_lost(id);
            }
        }
    }

    /// Drops every link at once (reboot): no reports, transports closed.
    pub(crate) fn ip_drop_all(&mut self) {
        for id in 0..LINKS {
            if self.ip.links[id].take().is_some() {
                self.close_socket(SocketId::ip(id), false);
            }
        }
        self.ip = IpState::default();
    }
}
