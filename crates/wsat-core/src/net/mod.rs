//! The socket layer: every transport the module holds, whatever protocol
//! runs on it.
//!
//! A [`SocketId`] names one transport; its range says the family (three
//! WebSocket links, then five TCP/UDP/SSL links). The core asks the runtime
//! for transports with [`crate::Action::Connect`], [`crate::Action::Send`]
//! and [`crate::Action::Close`], and hears back through
//! [`crate::Module::handle_socket_event`] and
//! [`crate::Module::handle_socket_data`]. The [`Sockets`] table keeps what
//! is common to every family (send numbering, counters, endpoints); the
//! protocol of each family lives beside it (`crate::ws`, `crate::ip`), as
//! smoltcp keeps its sockets apart from the interface that carries them.

pub mod socket;

pub use socket::{Endpoint, FailReason, SocketEvent, SocketId, Sockets, Transport, SOCKETS};

use alloc::string::String;
use alloc::vec::Vec;
use core::net::SocketAddr;

use crate::module::{Action, Module};
use crate::time::{Duration, Instant};
use socket::Family;

impl Module {
    /// An event from the runtime about `socket`'s transport.
    pub fn handle_socket_event(&mut self, socket: SocketId, event: SocketEvent, now: Instant) {
        if !self.sockets.get(socket).open {
            // News of a transport the core has already let go.
            return;
        }
        match &event {
            SocketEvent::Written(seq) | SocketEvent::Refused(seq) => self.sockets.acked(socket, *seq),
            SocketEvent::Connected { local_port, remote } => {
                self.sockets.connected(socket, *local_port, remote.map(|r| r.ip()));
            }
            SocketEvent::Failed(_) | SocketEvent::Eof => {}
        }
        match socket.family() {
            Family::WebSocket(link) => self.ws_event(link, event, now),
            Family::Ip(link) => self.ip_event(link, event, now),
            Family::Listener => self.server_event(event, now),
        }
        self.after_input(now);
    }

    /// Bytes from `socket`'s peer; for UDP, `from` says who sent them.
    pub fn handle_socket_data(&mut self, socket: SocketId, data: &[u8], from: Option<SocketAddr>, now: Instant) {
        if !self.sockets.get(socket).open {
            return;
        }
        self.sockets.count_in(socket, data.len());
        match socket.family() {
            Family::WebSocket(link) => {
                let mut buf = data.to_vec();
                self.ws_data(link, &mut buf, now);
            }
            Family::Ip(link) => self.ip_data(link, data, from, now),
            Family::Listener => {}
        }
        self.after_input(now);
    }

    /// How many bytes the runtime may read from `socket` now. 0 while the
    /// host is behind on its data (or, in passive receive, the link's
    /// buffer is full): the runtime stops reading that socket, and TCP flow
    /// control slows its peer.
    pub fn read_window(&self, socket: SocketId) -> usize {
        match socket.family() {
            Family::WebSocket(link) => self.ws_read_window(link),
            Family::Ip(link) => self.ip_read_window(link),
            Family::Listener => 0,
        }
    }

    /// The transport table.
    pub fn sockets(&self) -> &Sockets {
        &self.sockets
    }

    /// Asks the runtime for a transport for `socket`.
    pub(crate) fn connect_socket(&mut self, socket: SocketId, transport: Transport, host: String, port: u16, timeout: Duration) {
        self.sockets.opened(socket);
        self.act(Action::Connect { socket, transport, host, port, timeout });
    }

    /// Sends bytes nobody waits for (control frames, a handshake request).
    pub(crate) fn send_socket(&mut self, socket: SocketId, data: Vec<u8>) {
        self.sockets.count_out(socket, data.len());
        self.act(Action::Send { socket, data, seq: None, immediate: false, to: None });
    }

    /// Sends bytes the runtime acknowledges with the returned number.
    pub(crate) fn send_tracked(&mut self, socket: SocketId, data: Vec<u8>, immediate: bool, to: Option<Endpoint>) -> u32 {
        let seq = self.sockets.track(socket, data.len());
        self.act(Action::Send { socket, data, seq: Some(seq), immediate, to });
        seq
    }

    /// A client connected to the server's listening socket (from
    /// `remote`): the link id it gets, or `None` if it is refused (the
    /// runtime closes it). The runtime then runs the connection on that
    /// socket and reports [`SocketEvent::Connected`] once it is up (after
    /// the TLS handshake on an SSL server).
    pub fn handle_accept(&mut self, listener: SocketId, remote: SocketAddr, now: Instant) -> Option<SocketId> {
        if listener != SocketId::listener() || !self.sockets.get(listener).open {
            return None;
        }
        let id = self.server_accept(remote, now)?;
        self.sockets.opened(SocketId::ip(id));
        self.after_input(now);
        Some(SocketId::ip(id))
    }

    /// Lets go of `socket`'s transport (nothing more is heard from it).
    pub(crate) fn close_socket(&mut self, socket: SocketId, abort: bool) {
        if self.sockets.get(socket).open {
            self.sockets.closed(socket);
            self.act(Action::Close { socket, abort });
        }
    }
}
