//! A snapshot of the module's state for the control plane (`wsat ctl
//! status`): Wi-Fi, every link, the port and the clock, as the AT
//! commands would report them.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::ip::link::State;
use crate::module::{Module, PortState};
use crate::net::SocketId;
use crate::time::Instant;
use crate::ws::link::LINKS as WS_LINKS;

/// The module as the control plane shows it.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// AT+CWMODE.
    pub wifi_mode: u8,
    /// AT+CWSTATE's `<state>`.
    pub station_state: u8,
    /// The AP the station uses or tries.
    pub ssid: String,
    /// The station's address, when it has one.
    pub ip: Option<[u8; 4]>,
    /// Every link that exists.
    pub links: Vec<LinkSnapshot>,
    /// ATE1.
    pub echo: bool,
    /// A command is running.
    pub busy: bool,
    /// Collecting data after `>`.
    pub data_mode: bool,
    /// In passthrough.
    pub passthrough: bool,
    /// The UART rate in effect.
    pub baud: u32,
    /// The module clock, Unix milliseconds.
    pub clock_unix_ms: u64,
    /// Powered off by the control plane.
    pub powered_off: bool,
}

/// One link.
#[derive(Debug, Clone)]
pub struct LinkSnapshot {
    /// Its socket (`ws0`, `ip3`, `server`).
    pub socket: SocketId,
    /// `WebSocket`, `TCP`, `UDP`, `SSL` (v6 forms), or `server`.
    pub kind: String,
    /// As AT+WSOPEN? numbers it for WebSocket links (1-4); for TCP/IP
    /// links `connecting`, `connected` or `closed` (data still unread).
    pub state: String,
    /// 0 client, 1 accepted by the server.
    pub tetype: u8,
    /// Remote host (or URI for WebSocket links).
    pub remote: String,
    /// Remote port.
    pub remote_port: u16,
    /// Local port.
    pub local_port: u16,
    /// Bytes from the peer.
    pub bytes_in: u64,
    /// Bytes to the peer.
    pub bytes_out: u64,
    /// Bytes handed to the transport it has not taken yet.
    pub queued: usize,
}

impl Module {
    /// The state the control plane reports.
    pub fn snapshot(&self, now: Instant) -> Snapshot {
        let mut links = Vec::new();
        for id in 0..WS_LINKS {
            if let Some(s) = &self.links[id].session {
                let socket = SocketId::ws(id);
                let e = self.sockets.get(socket);
                links.push(LinkSnapshot {
                    socket,
                    kind: String::from("WebSocket"),
                    state: format!("{}", s.state as u8),
                    tetype: 0,
                    remote: String::from_utf8_lossy(&s.uri_text).into_owned(),
                    remote_port: 0,
                    local_port: e.local_port,
                    bytes_in: e.bytes_in,
                    bytes_out: e.bytes_out,
                    queued: self.sockets.in_flight(socket),
                });
            }
        }
        for (id, l) in self.ip.links.iter().enumerate() {
            let Some(l) = l else { continue };
            let socket = SocketId::ip(id);
            let e = self.sockets.get(socket);
            let state = match l.state {
                State::Connecting => "connecting",
                State::Connected => "connected",
                State::Draining => "closed",
            };
            links.push(LinkSnapshot {
                socket,
                kind: String::from(l.kind.name(l.v6)),
                state: String::from(state),
                tetype: l.tetype,
                remote: l.remote_ip.map_or_else(|| l.host.clone(), |a| format!("{a}")),
                remote_port: l.port,
                local_port: l.local_port,
                bytes_in: e.bytes_in,
                bytes_out: e.bytes_out,
                queued: self.sockets.in_flight(socket),
            });
        }
        if let Some(s) = &self.ip.server {
            links.push(LinkSnapshot {
                socket: SocketId::listener(),
                kind: String::from("server"),
                state: String::from("listening"),
                tetype: 1,
                remote: String::new(),
                remote_port: 0,
                local_port: s.port,
                bytes_in: 0,
                bytes_out: 0,
                queued: 0,
            });
        }
        Snapshot {
            wifi_mode: self.current.wifi_mode,
            station_state: self.station.state as u8,
            ssid: String::from_utf8_lossy(&self.station.target).into_owned(),
            ip: self.station.has_ip().then(|| self.station.addresses()[0]),
            links,
            echo: self.echo,
            busy: self.is_busy(),
            data_mode: matches!(self.state, PortState::Data { .. } | PortState::SendL(_)),
            passthrough: self.in_passthrough(),
            baud: self.current.uart.baud,
            clock_unix_ms: self.clock.unix_ms(now),
            powered_off: self.is_powered_off(),
        }
    }

    /// True while powered off by the control plane.
    pub fn is_powered_off(&self) -> bool {
        self.powered_off
    }
}
