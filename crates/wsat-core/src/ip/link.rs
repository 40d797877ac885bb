//! One TCP, UDP or SSL link (AT+CIPSTART's link ids 0-4): its state and
//! its receive buffer. The link knows nothing of the AT port: it takes
//! transport events and data and says what happened ([`Received`]); the
//! module turns that into `+IPD`, `CONNECT` and `CLOSED`.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};

/// ESP-AT's socket receive window: the most a passive link buffers
/// before the socket is back-pressured (TCP) or datagrams are lost (UDP).
pub const PASSIVE_WINDOW: usize = 5760;
/// The most data one active-mode `+IPD` carries.
pub const IPD_MAX: usize = 2920;

/// The link's protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// TLS over TCP.
    Ssl,
}

impl Kind {
    /// The `<"type">` text (`TCPv6` etc. on an IPv6 link).
    pub fn name(self, v6: bool) -> &'static str {
        match (self, v6) {
            (Kind::Tcp, false) => "TCP",
            (Kind::Tcp, true) => "TCPv6",
            (Kind::Udp, false) => "UDP",
            (Kind::Udp, true) => "UDPv6",
            (Kind::Ssl, false) => "SSL",
            (Kind::Ssl, true) => "SSLv6",
        }
    }

    /// Parses a `<"type">` field: the kind and whether it is IPv6.
    pub fn parse(text: &[u8]) -> Option<(Kind, bool)> {
        Some(match text {
            b"TCP" => (Kind::Tcp, false),
            b"TCPv6" => (Kind::Tcp, true),
            b"UDP" => (Kind::Udp, false),
            b"UDPv6" => (Kind::Udp, true),
            b"SSL" => (Kind::Ssl, false),
            b"SSLv6" => (Kind::Ssl, true),
            _ => return None,
        })
    }
}

/// Where the link is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Waiting for the transport.
    Connecting,
    /// Data flows.
    Connected,
    /// The peer is gone, but passive data is still to be read: `CLOSED`
    /// waits until it is (or until AT+CIPCLOSE).
    Draining,
}

/// One link.
#[derive(Debug, Clone)]
pub struct IpLink {
    /// TCP, UDP or SSL.
    pub kind: Kind,
    /// An IPv6 link (`TCPv6`...).
    pub v6: bool,
    /// The remote host as given to AT+CIPSTART.
    pub host: String,
    /// The remote port (UDP: the current destination's).
    pub port: u16,
    /// The remote address once resolved (UDP: the current destination).
    pub remote_ip: Option<IpAddr>,
    /// The local port.
    pub local_port: u16,
    /// UDP: 0 keep the destination, 1 follow the first other sender once,
    /// 2 follow every sender.
    pub udp_mode: u8,
    /// UDP mode 1: the destination has changed once already.
    pub udp_moved: bool,
    /// Where the link is.
    pub state: State,
    /// 0 client, 1 server side (AT+CIPSERVER).
    pub tetype: u8,
    /// Passive receive: data waiting for AT+CIPRECVDATA, one entry per
    /// datagram (UDP) or read (TCP), with its sender.
    pub rx: VecDeque<(Option<SocketAddr>, Vec<u8>)>,
    /// Bytes in `rx`.
    pub rx_len: usize,
    /// A passive `+IPD` notice is out and unanswered by a read.
    pub notified: bool,
    /// How the link was opened, to open it again (passthrough reconnects).
    pub transport: Option<crate::net::Transport>,
    /// Its connect timeout.
    pub timeout: crate::time::Duration,
    /// When data last moved either way (AT+CIPSTO's idle clock).
    pub last_activity: crate::time::Instant,
}

/// What a piece of received data became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// Active mode: report it now.
    Report,
    /// Passive mode: kept; `notify` if the host must hear of it (no
    /// notice is outstanding), with the buffered length.
    Kept {
        /// Send a `+IPD` notice.
        notify: bool,
    },
    /// Passive UDP with a full buffer: the datagram is lost.
    Dropped,
}

impl IpLink {
    /// A link being opened.
    pub fn new(kind: Kind, v6: bool, host: String, port: u16) -> IpLink {
        IpLink {
            kind,
            v6,
            host,
            port,
            remote_ip: None,
            local_port: 0,
            udp_mode: 0,
            udp_moved: false,
            state: State::Connecting,
            tetype: 0,
            rx: VecDeque::new(),
            rx_len: 0,
            notified: false,
            transport: None,
            timeout: super::DEFAULT_CONNECT_TIMEOUT,
            last_activity: crate::time::Instant::from_millis(0),
        }
    }

    /// A datagram or stream piece arrived from `from`. UDP links follow
    /// the sender as their mode says.
    pub fn receive(&mut self, data: &[u8], from: Option<SocketAddr>, passive: bool) -> Received {
        if self.kind == Kind::Udp {
            if let Some(f) = from {
                let other = Some(f.ip()) != self.remote_ip || f.port() != self.port;
                let follow = match self.udp_mode {
                    // Only the first sender other than the one set moves it.
                    1 => other && !self.udp_moved,
                    2 => true,
                    _ => false,
                };
                if follow && other {
                    self.udp_moved = true;
                }
                if follow {
                    self.remote_ip = Some(f.ip());
                    self.port = f.port();
                    self.host = alloc::format!("{}", f.ip());
                }
            }
        }
        if !passive {
            return Received::Report;
        }
        if self.kind == Kind::Udp && self.rx_len + data.len() > PASSIVE_WINDOW {
            return Received::Dropped;
        }
        self.rx_len += data.len();
        self.rx.push_back((from, data.to_vec()));
        Received::Kept { notify: !core::mem::replace(&mut self.notified, true) }
    }

    /// Takes up to `max` buffered bytes (AT+CIPRECVDATA). With `whole`
    /// (or on UDP), only complete datagrams, at least one if any fits;
    /// returns the bytes and the sender of the first.
    pub fn take(&mut self, max: usize, whole: bool) -> (Vec<u8>, Option<SocketAddr>) {
        let mut out = Vec::new();
        let from = self.rx.front().and_then(|(f, _)| *f);
        let datagrams = whole || self.kind == Kind::Udp;
        while let Some((_, chunk)) = self.rx.front_mut() {
            let room = max - out.len();
            if room == 0 {
                break;
            }
            if datagrams {
                if chunk.len() > room {
                    if out.is_empty() && self.kind == Kind::Udp && !whole {
                        // A datagram longer than asked: the rest of it is lost, as
                        // recvfrom() into a short buffer loses it.
                        out.extend_from_slice(&chunk[..room]);
                        self.rx_len -= chunk.len();
                        self.rx.pop_front();
                    }
                    break;
                }
                out.extend_from_slice(chunk);
                self.rx_len -= chunk.len();
                self.rx.pop_front();
                if self.kind == Kind::Udp {
                    // One datagram per read.
                    break;
                }
            } else if chunk.len() <= room {
                out.extend_from_slice(chunk);
                self.rx_len -= chunk.len();
                self.rx.pop_front();
            } else {
                out.extend_from_slice(&chunk[..room]);
                chunk.drain(..room);
                self.rx_len -= room;
            }
        }
        // The next arrival is news again.
        self.notified = false;
        (out, from)
    }

    /// The length the next `+IPD` notice or AT+CIPRECVLEN reports:
    /// everything buffered, or (report mode 1) the next datagram.
    pub fn report_len(&self, next_datagram: bool) -> usize {
        if next_datagram {
            self.rx.front().map_or(0, |(_, d)| d.len())
        } else {
            self.rx_len
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(port: u16) -> Option<SocketAddr> {
        Some(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    #[test]
    fn passive_tcp_reads_split_and_join_pieces() {
        let mut l = IpLink::new(Kind::Tcp, false, "h".into(), 1);
        assert_eq!(l.receive(b"hello", None, true), Received::Kept { notify: true });
        assert_eq!(l.receive(b"world", None, true), Received::Kept { notify: false });
        assert_eq!(l.take(3, false).0, b"hel");
        assert_eq!(l.take(100, false).0, b"loworld");
        assert_eq!(l.rx_len, 0);
        assert_eq!(l.receive(b"x", None, true), Received::Kept { notify: true });
    }

    #[test]
    fn udp_modes_follow_the_sender() {
        for (mode, after_two) in [(0u8, 7000u16), (1, 7001), (2, 7002)] {
            let mut l = IpLink::new(Kind::Udp, false, "127.0.0.1".into(), 7000);
            l.remote_ip = Some([127, 0, 0, 1].into());
            l.udp_mode = mode;
            l.receive(b"a", sa(7001), false);
            l.receive(b"b", sa(7002), false);
            assert_eq!(l.port, after_two, "mode {mode}");
        }
    }

    #[test]
    fn passive_udp_keeps_datagrams_whole_and_drops_past_the_window() {
        let mut l = IpLink::new(Kind::Udp, false, "h".into(), 1);
        l.receive(&[1; 4000], sa(1), true);
        assert_eq!(l.receive(&[2; 2000], sa(1), true), Received::Dropped);
        l.receive(&[3; 100], sa(2), true);
        assert_eq!(l.report_len(true), 4000);
        assert_eq!(l.take(5000, false).0.len(), 4000);
        let (d, from) = l.take(5000, false);
        assert_eq!((d.len(), from), (100, sa(2)));
    }
}
