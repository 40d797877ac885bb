//! The module as a TCP or SSL server (AT+CIPSERVER): accepted clients
//! become TCP/IP links with `<tetype>` 1, within AT+CIPSERVERMAXCONN, and
//! are closed after AT+CIPSTO seconds without traffic.

use alloc::format;
use core::net::SocketAddr;

use super::link::{IpLink, Kind, State};
use super::LINKS;
use crate::at::error::AtError;
use crate::at::reply::Reply;
use crate::module::{Job, Module};
use crate::net::{SocketEvent, SocketId};
use crate::time::{Duration, Instant};

impl Module {
    /// A client reached the listening socket: the link id it gets, if the
    /// server has room for it.
    pub(crate) fn server_accept(&mut self, remote: SocketAddr, now: Instant) -> Option<usize> {
        let server = self.ip.server.clone()?;
        let clients = self.ip.links.iter().flatten().filter(|l| l.tetype == 1).count();
        if clients >= usize::from(self.ip.max_conn) {
            self.log_link(0, &format!("server: {remote} refused, {clients} clients already (AT+CIPSERVERMAXCONN)"));
            return None;
        }
        let id = (0..LINKS).find(|&i| self.ip.links[i].is_none())?;
        let kind = if server.kind.starts_with("SSL") { Kind::Ssl } else { Kind::Tcp };
        let mut link = IpLink::new(kind, server.kind.ends_with("v6"), format!("{}", remote.ip()), remote.port());
        link.remote_ip = Some(remote.ip());
        link.tetype = 1;
        link.last_activity = now;
        self.ip.links[id] = Some(link);
        Some(id)
    }

    /// News of the listening socket itself.
    pub(crate) fn server_event(&mut self, event: SocketEvent, _now: Instant) {
        if let SocketEvent::Failed(why) = event {
            self.log_link(0, &format!("server: the listening socket failed ({why:?})"));
        }
    }

    /// The runtime's answer to [`crate::Action::Listen`]: the listening
    /// socket is bound (or could not be).
    pub fn handle_listen(&mut self, listener: SocketId, bound: bool, now: Instant) {
        if listener == SocketId::listener() && self.running(&Job::Listen) {
            if bound {
                self.complete(Job::Listen, Reply::Ok);
            } else {
                self.ip.server = None;
                self.close_socket(listener, false);
                self.complete(Job::Listen, Reply::Error(AtError::ExecFailed));
            }
        }
        self.after_input(now);
    }

    /// Stops listening; with `close_all`, every accepted client closes too.
    pub(crate) fn server_stop(&mut self, close_all: bool) {
        self.ip.server = None;
        self.close_socket(SocketId::listener(), false);
        if close_all {
            for id in 0..LINKS {
                if self.ip.links[id].as_ref().is_some_and(|l| l.tetype == 1) {
                    self.ip_close(id);
                }
            }
        }
    }

    /// Closes accepted clients idle for AT+CIPSTO seconds.
    pub(crate) fn server_timers(&mut self, now: Instant) {
        let Some(limit) = self.server_idle_limit() else { return };
        for id in 0..LINKS {
            let idle = self.ip.links[id]
                .as_ref()
                .is_some_and(|l| l.tetype == 1 && l.state == State::Connected && now >= l.last_activity + limit);
            if idle {
                self.log_link(id, "server: idle for AT+CIPSTO, closed");
                self.ip_free(id, true);
            }
        }
    }

    /// When the next idle client times out.
    pub(crate) fn server_next_deadline(&self) -> Option<Instant> {
        let limit = self.server_idle_limit()?;
        self.ip.links.iter().flatten().filter(|l| l.tetype == 1 && l.state == State::Connected).map(|l| l.last_activity + limit).min()
    }

    fn server_idle_limit(&self) -> Option<Duration> {
        (self.ip.server.is_some() && self.ip.server_timeout > 0).then(|| Duration::from_secs(u64::from(self.ip.server_timeout)))
    }
}
