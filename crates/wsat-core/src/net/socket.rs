//! Socket ids, transport kinds, transport events and the transport table.

use alloc::collections::VecDeque;
use alloc::string::String;
use core::net::{IpAddr, SocketAddr};

use crate::module::TlsParams;
use crate::time::Duration;

/// WebSocket links (AT+WSOPEN's link ids 0-2).
pub const WS_SOCKETS: usize = 3;
/// TCP/UDP/SSL links (AT+CIPSTART's link ids 0-4).
pub const IP_SOCKETS: usize = 5;
/// The listening socket of AT+CIPSERVER.
pub const LISTENERS: usize = 1;
/// Every socket the module can hold at once.
pub const SOCKETS: usize = WS_SOCKETS + IP_SOCKETS + LISTENERS;

/// One transport slot. Ids 0-2 are the WebSocket links 0-2; ids 3-7 are
/// the TCP/IP links 0-4 (client or accepted); id 8 is AT+CIPSERVER's
/// listening socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SocketId(u8);

/// Which protocol family a socket belongs to, and its link id there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// WebSocket link 0-2.
    WebSocket(usize),
    /// TCP/UDP/SSL link 0-4.
    Ip(usize),
    /// The server's listening socket.
    Listener,
}

impl SocketId {
    /// WebSocket link `link` (0-2).
    pub const fn ws(link: usize) -> SocketId {
        assert!(link < WS_SOCKETS);
        SocketId(link as u8)
    }

    /// TCP/IP link `link` (0-4).
    pub const fn ip(link: usize) -> SocketId {
        assert!(link < IP_SOCKETS);
        SocketId((WS_SOCKETS + link) as u8)
    }

    /// The socket at table position `index`, if there is one.
    pub fn from_index(index: usize) -> Option<SocketId> {
        (index < SOCKETS).then_some(SocketId(index as u8))
    }

    /// AT+CIPSERVER's listening socket.
    pub const fn listener() -> SocketId {
        SocketId((WS_SOCKETS + IP_SOCKETS) as u8)
    }

    /// Its position in tables of [`SOCKETS`] entries.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }

    /// Its family and link id.
    pub fn family(self) -> Family {
        let i = self.index();
        if i < WS_SOCKETS {
            Family::WebSocket(i)
        } else if i < WS_SOCKETS + IP_SOCKETS {
            Family::Ip(i - WS_SOCKETS)
        } else {
            Family::Listener
        }
    }

    /// Every socket id.
    pub fn all() -> impl Iterator<Item = SocketId> {
        (0..SOCKETS as u8).map(SocketId)
    }
}

impl core::fmt::Display for SocketId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.family() {
            Family::WebSocket(l) => write!(f, "ws{l}"),
            Family::Ip(l) => write!(f, "ip{l}"),
            Family::Listener => f.write_str("server"),
        }
    }
}

/// What kind of transport to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// A TCP connection (SO_KEEPALIVE after `keep_alive` idle, 0: off).
    Tcp {
        /// Keep-alive idle time (0: none).
        keep_alive: Duration,
        /// TCP_NODELAY (no Nagle delay).
        nodelay: bool,
    },
    /// TLS over TCP.
    Tls {
        /// Credentials and verification rules.
        params: TlsParams,
        /// Keep-alive idle time (0: none).
        keep_alive: Duration,
    },
    /// A UDP socket bound to `local_port` (0: any) on the module's side,
    /// with `host:port` as the default destination.
    Udp {
        /// Local port (0: the system picks).
        local_port: u16,
    },
}

/// An address on the network: where a datagram came from or goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or address text, as the host gave it.
    pub host: String,
    /// Port.
    pub port: u16,
}

/// Why a transport failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailReason {
    /// The host name did not resolve.
    Dns,
    /// The peer refused the connection (RST to SYN).
    Refused,
    /// No answer in time.
    Timeout,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// The connection was reset.
    Reset,
    /// Any other I/O error.
    Io,
}

/// What happened to a socket's transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketEvent {
    /// TCP (and TLS) is up, or the UDP socket is bound.
    Connected {
        /// The local port the socket got.
        local_port: u16,
        /// The peer's address, as resolved.
        remote: Option<SocketAddr>,
    },
    /// The transport failed or was lost.
    Failed(FailReason),
    /// The peer closed its side (EOF).
    Eof,
    /// Every byte of the send numbered `seq` has been handed to the socket.
    Written(u32),
    /// The `immediate` send numbered `seq` was refused: the socket took
    /// none of it at once, and none of it will go out.
    Refused(u32),
}

impl SocketEvent {
    /// `Connected` with nothing known of the endpoints (tests, fuzzing).
    pub const CONNECTED: SocketEvent = SocketEvent::Connected { local_port: 0, remote: None };
}

/// What the core keeps of one transport, whatever its family.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    /// A transport was asked for and not closed since.
    pub open: bool,
    /// The newest tracked send's number.
    next_seq: u32,
    /// Bytes handed to the transport, and received from it.
    pub bytes_out: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// The local port, once connected.
    pub local_port: u16,
    /// The peer, once connected (as resolved).
    pub remote: Option<IpAddr>,
    /// Tracked sends not yet acknowledged: their numbers and sizes.
    unacked: VecDeque<(u32, usize)>,
}

/// The transport table.
#[derive(Debug, Clone, Default)]
pub struct Sockets {
    entries: [Entry; SOCKETS],
}

impl Sockets {
    /// The entry of `id`.
    pub fn get(&self, id: SocketId) -> &Entry {
        &self.entries[id.index()]
    }

    /// A new transport for `id`: it owes no acknowledgement for the old
    /// one's sends, and its counters start again.
    pub(crate) fn opened(&mut self, id: SocketId) {
        let e = &mut self.entries[id.index()];
        let seq = e.next_seq;
        *e = Entry { open: true, next_seq: seq, ..Entry::default() };
        e.unacked.clear();
    }

    /// The transport of `id` is gone.
    pub(crate) fn closed(&mut self, id: SocketId) {
        let e = &mut self.entries[id.index()];
        e.open = false;
        e.unacked.clear();
    }

    /// Numbers a tracked send of `len` bytes.
    pub(crate) fn track(&mut self, id: SocketId, len: usize) -> u32 {
        let e = &mut self.entries[id.index()];
        e.next_seq = e.next_seq.wrapping_add(1);
        e.bytes_out += len as u64;
        e.unacked.push_back((e.next_seq, len));
        e.next_seq
    }

    /// Counts an untracked send.
    pub(crate) fn count_out(&mut self, id: SocketId, len: usize) {
        self.entries[id.index()].bytes_out += len as u64;
    }

    /// Counts received bytes.
    pub(crate) fn count_in(&mut self, id: SocketId, len: usize) {
        self.entries[id.index()].bytes_in += len as u64;
    }

    /// The runtime acknowledged send `seq` (written or refused).
    ///
    /// Sends go out in order, so everything up to `seq` is done. The
    /// acknowledgements may not come in order: the runtime writes a send
    /// itself once the ones before it are written, and the acknowledgement
    /// of an earlier one may still be on its way. A late one, for a send
    /// already counted as done, changes nothing.
    pub(crate) fn acked(&mut self, id: SocketId, seq: u32) {
        let e = &mut self.entries[id.index()];
        let Some(at) = e.unacked.iter().position(|&(s, _)| s == seq) else { return };
        e.unacked.drain(..=at);
    }

    /// Bytes of tracked sends the socket has not taken yet.
    pub fn in_flight(&self, id: SocketId) -> usize {
        self.entries[id.index()].unacked.iter().map(|&(_, n)| n).sum()
    }

    /// True while a tracked send is not yet acknowledged.
    pub fn send_pending(&self, id: SocketId) -> bool {
        !self.entries[id.index()].unacked.is_empty()
    }

    /// Records the endpoints of a connected transport.
    pub(crate) fn connected(&mut self, id: SocketId, local_port: u16, remote: Option<IpAddr>) {
        let e = &mut self.entries[id.index()];
        e.local_port = local_port;
        e.remote = remote;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_say_their_family() {
        assert_eq!(SocketId::ws(2).family(), Family::WebSocket(2));
        assert_eq!(SocketId::ip(0).family(), Family::Ip(0));
        assert_eq!(SocketId::ip(4).index(), 7);
        assert_eq!(SocketId::from_index(8), Some(SocketId::listener()));
        assert_eq!(SocketId::listener().family(), Family::Listener);
        assert_eq!(SocketId::from_index(9), None);
        assert_eq!(SocketId::all().count(), SOCKETS);
    }

    #[test]
    fn a_new_transport_owes_nothing() {
        let mut t = Sockets::default();
        let id = SocketId::ip(1);
        t.opened(id);
        let seq = t.track(id, 10);
        assert!(t.send_pending(id));
        t.opened(id);
        assert!(!t.send_pending(id));
        t.acked(id, seq);
        assert!(!t.send_pending(id));
    }

    #[test]
    fn a_late_acknowledgement_changes_nothing() {
        let mut t = Sockets::default();
        let id = SocketId::ip(0);
        t.opened(id);
        let (a, b, c) = (t.track(id, 1), t.track(id, 2), t.track(id, 4));
        // `b` was written directly after `a`; `a`'s acknowledgement is late.
        t.acked(id, b);
        assert_eq!(t.in_flight(id), 4);
        t.acked(id, a);
        assert_eq!(t.in_flight(id), 4, "the late acknowledgement of a does not take c");
        assert!(t.send_pending(id));
        t.acked(id, c);
        assert_eq!(t.in_flight(id), 0);
        assert!(!t.send_pending(id));
    }
}
