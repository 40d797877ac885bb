//! The `at_session` fuzz harness, shared by the libFuzzer target
//! (`fuzz/fuzz_targets/at_session.rs`) and the corpus replay test
//! (`crates/wsat-core/tests/fuzz_corpus.rs`), which both include this file
//! with `#[path = ...] mod at_session;`.
//!
//! An input is a sequence of operations on one [`Module`] driven by a fake
//! clock, with a scripted "runtime" on the other side of its WebSocket
//! links. Each operation starts with one byte; `byte % 16` selects it:
//!
//! | op      | bytes that follow         | what it does                                          |
//! |---------|---------------------------|-------------------------------------------------------|
//! | 0, 1, 2 | `n`, then n bytes         | `handle_serial` with those bytes in one burst         |
//! | 3       | `n`, then n bytes         | the same bytes, one `handle_serial` call per byte     |
//! | 4       | `v: u16` (LE)             | advance the clock, firing every deadline on the way   |
//! | 5       | -                         | jump to the next deadline, if any, and fire it        |
//! | 6       | -                         | `handle_host_detached`                                |
//! | 7       | `v: u16` (LE)             | `Event::ApLost { down_for: v * 10 ms }`; with bits 4-6 of the op byte set, another control-plane event, see below |
//! | 8       | -                         | a spurious `handle_timeout(now)`                      |
//! | 9       | -                         | power cycle: a new `Module` from the "flash"          |
//! | 10      | `b`                       | `handle_socket_event(link, kind)`, see below          |
//! | 11      | `b`                       | the server's handshake answer on link `b & 3`         |
//! | 12      | `l`, `n`, then n bytes    | `handle_socket_data(link, bytes)`: raw peer bytes     |
//! | 13      | `l`, `h`, `n`, n bytes    | one server frame on link `l & 3`, see below           |
//! | 14      | -                         | acknowledge every send waiting for `Written`          |
//! | 15      | -                         | every pending connect succeeds, every handshake is answered |
//!
//! Links are numbered 0-2 (WebSocket links 0-2), 3 (no such link), 4-8
//! (TCP/IP links 0-4) and 9-11 (no such link). Ops 10 and 12 address
//! WebSocket link `b & 3` (resp. `l & 3`) when bit 4 of the op byte is
//! clear, and TCP/IP link number `4 + ((b & 3) | (op >> 5 & 1) << 2)` when
//! it is set; data for a UDP link arrives from 127.0.0.1 port
//! 7000-7002. Resolve and ping actions are answered (loopback, 1 ms) when
//! the clock's millisecond count is even and left to time out otherwise.
//!
//! Op 7 with `k = (op >> 4) & 7` other than 0 is a control-plane event:
//! 1 `ApBack`, 2 `Rssi(-(v % 100))`, 3 `ClockSet(v * 1000 s)`, 4
//! `ClockSkew((v - 32768) s)`, 5 `ResetPin`, 6 `PowerOff`, 7 `PowerOn`.
//!
//! Op 4 advances by `v >> 1` milliseconds when `v` is even and by `v >> 1`
//! seconds when it is odd. Op 10's kind is `(b >> 2) & 3`: `Connected`,
//! `Failed`, `Eof`, or `Written(seq)` with the oldest unacknowledged
//! sequence number of that link (or `b >> 4` if there is none); if that
//! send was `immediate` and `b >> 4` is odd, `Refused(seq)` instead. Op 11's
//! answer is `(b >> 2) & 3`: a valid `101` (0), a valid one that also picks
//! the requested subprotocol (1), `200 OK` (2), a wrong accept key (3); the
//! key is the one of the last request sent on the link. Op 13 sends an
//! unmasked frame with first byte `h` (FIN, RSV, opcode) and an n-byte
//! payload; with `l & 4` it arrives in two pieces, split after `l >> 3`
//! bytes. Link 3 does not exist (events for it must be ignored). Every op
//! may arrive when it makes no sense (a `Connected` nobody asked for, data
//! on a closed link): the core must cope. A truncated operation at the end
//! of the input uses what is there (missing bytes are zero).
//!
//! Outputs are drained after every step, as a runtime would; persist
//! actions are remembered so that op 9 boots from what was stored, and
//! link actions are tracked so that ops 10, 11, 14 and 15 can answer them.
//!
//! Invariants (a violation panics):
//! - nothing in the core panics;
//! - no livelock: when a deadline is due, calling `handle_timeout(now)`
//!   again and again (at most [`TIMEOUT_RETRIES`] times) moves
//!   `poll_timeout()` past `now` (or to `None`);
//! - socket actions keep the runtime contract: a socket is only written
//!   to between its `Connect` and its `Close`; on a WebSocket socket every
//!   client frame is masked, well formed, and a control frame is final
//!   with at most 125 bytes of payload;
//! - the port always recovers: at the end the host detaches, deadlines are
//!   fired until the module is no longer busy (a reboot, `AT+CWJAP`,
//!   `AT+WSOPEN`, `AT+WSSEND` or `AT+WSCLOSE` finishes), then `\r\nAT\r\n`
//!   is sent and deadlines are fired (a streaming `+WS_DATA` report may own
//!   the port until its link times out) until it is answered; the output
//!   must then end with `\r\nOK\r\n` (other reports may come first).
//!   Both waits are bounded ([`SETTLE_STEPS`] deadlines; after
//!   [`SETTLE_EXACT`] of them each firing is at least a minute late, as a
//!   stalled runtime would be, so that hour-long timeouts end too).

#![allow(dead_code)]

use wsat_core::mfg::MfgNvs;
use wsat_core::settings::Settings;
use wsat_core::wifi::radio::Radio;
use wsat_core::ws::handshake::accept_for;
use wsat_core::net::{FailReason, SocketEvent, SocketId, Transport as Kind};
use wsat_core::{Action, Config, Duration, Event, Instant, Module, Store, VersionInfo};

/// Most deadlines one advance (op 4) fires before it just moves the clock.
pub const ADVANCE_STEPS: usize = 256;
/// Most deadlines fired at the end while waiting for the port to be free
/// (and again while waiting for the answer to the final `AT`).
pub const SETTLE_STEPS: usize = 600;
/// Deadlines fired on time at the end, before firing them late.
pub const SETTLE_EXACT: usize = 200;
/// `handle_timeout(now)` calls allowed before the deadline must move on.
pub const TIMEOUT_RETRIES: usize = 16;
/// Link numbers the harness addresses (see the module docs).
pub const LINK_IDS: usize = 12;

/// The socket behind harness link number `link`, if it exists.
pub fn socket_of(link: u8) -> Option<SocketId> {
    match link {
        0..=2 => Some(SocketId::ws(usize::from(link))),
        4..=8 => Some(SocketId::ip(usize::from(link - 4))),
        _ => None,
    }
}

/// The harness link number of a socket.
fn link_of(socket: SocketId) -> u8 {
    match socket.family() {
        wsat_core::net::socket::Family::WebSocket(l) => l as u8,
        wsat_core::net::socket::Family::Ip(l) => 4 + l as u8,
        // The server's listening socket: a slot of its own, never served.
        wsat_core::net::socket::Family::Listener => 3,
    }
}

/// The link an op 10/12 addresses: its op byte and link byte.
fn link_from(op: u8, b: u8) -> u8 {
    if op & 0x10 == 0 {
        b & 3
    } else {
        4 + ((b & 3) | ((op >> 5) & 1) << 2)
    }
}

/// The op byte and link bits that encode `link` for op `code`.
fn link_to(code: u8, link: u8) -> (u8, u8) {
    if link < 4 {
        (code, link & 3)
    } else {
        let n = (link - 4) & 7;
        (code | 0x10 | ((n >> 2) & 1) << 5, n & 3)
    }
}

/// The operations, decoded (for the replay test's messages and debugging).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Ops 0-2.
    Serial(Vec<u8>),
    /// Op 3.
    SerialBytewise(Vec<u8>),
    /// Op 4, in milliseconds.
    Advance(u64),
    /// Op 5.
    Step,
    /// Op 6.
    Detach,
    /// Op 7, radio down time in milliseconds.
    ApLost(u64),
    /// Op 7 with a control-plane event kind (1-7) and its value.
    Control(u8, u16),
    /// Op 8.
    SpuriousTimeout,
    /// Op 9.
    PowerCycle,
    /// Op 10: link, kind (0-3), seq used when none is pending.
    LinkEvent(u8, u8, u32),
    /// Op 11: link, answer (0-3).
    Handshake(u8, u8),
    /// Op 12: link, bytes.
    LinkData(u8, Vec<u8>),
    /// Op 13: link byte (id, split flag and offset), first header byte, payload.
    Frame(u8, u8, Vec<u8>),
    /// Op 14.
    AckAll,
    /// Op 15.
    ServeAll,
}

/// Reads an input front to back; missing bytes read as zero.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (a, b) = self.0.split_at(n.min(self.0.len()));
        self.0 = b;
        a
    }
    fn u8(&mut self) -> u8 {
        self.bytes(1).first().copied().unwrap_or(0)
    }
    fn u16(&mut self) -> u64 {
        u64::from(self.u8()) | u64::from(self.u8()) << 8
    }
}

/// Splits an input into operations.
pub fn decode(data: &[u8]) -> Vec<Op> {
    let mut r = Reader(data);
    let mut ops = Vec::new();
    while !r.0.is_empty() {
        let byte = r.u8();
        let op = byte % 16;
        ops.push(match op {
            0..=3 => {
                let n = usize::from(r.u8());
                let bytes = r.bytes(n).to_vec();
                if op == 3 {
                    Op::SerialBytewise(bytes)
                } else {
                    Op::Serial(bytes)
                }
            }
            4 => {
                let v = r.u16();
                Op::Advance(if v & 1 == 1 { (v >> 1) * 1000 } else { v >> 1 })
            }
            5 => Op::Step,
            6 => Op::Detach,
            7 => match (byte >> 4) & 7 {
                0 => Op::ApLost(r.u16() * 10),
                k => Op::Control(k, r.u16() as u16),
            },
            8 => Op::SpuriousTimeout,
            9 => Op::PowerCycle,
            10 => {
                let b = r.u8();
                Op::LinkEvent(link_from(byte, b), (b >> 2) & 3, u32::from(b >> 4))
            }
            11 => {
                let b = r.u8();
                Op::Handshake(b & 3, (b >> 2) & 3)
            }
            12 => {
                let l = link_from(byte, r.u8());
                let n = usize::from(r.u8());
                Op::LinkData(l, r.bytes(n).to_vec())
            }
            13 => {
                let l = r.u8();
                let h = r.u8();
                let n = usize::from(r.u8());
                Op::Frame(l, h, r.bytes(n).to_vec())
            }
            14 => Op::AckAll,
            _ => Op::ServeAll,
        });
    }
    ops
}

/// Encodes operations (the inverse of [`decode`] for what it can express:
/// serial data longer than 255 bytes is split over several ops, an advance
/// of 32.768 s or more is rounded down to whole seconds, radio down times
/// to tens of milliseconds). Used to write seed inputs.
pub fn encode(ops: &[Op]) -> Vec<u8> {
    let mut out = Vec::new();
    for op in ops {
        match op {
            Op::Serial(b) | Op::SerialBytewise(b) => {
                let code = if matches!(op, Op::Serial(_)) { 0 } else { 3 };
                if b.is_empty() {
                    out.extend_from_slice(&[code, 0]);
                }
                for chunk in b.chunks(255) {
                    out.push(code);
                    out.push(chunk.len() as u8);
                    out.extend_from_slice(chunk);
                }
            }
            Op::Advance(ms) => {
                let v = if *ms < 0x8000 { (*ms as u16) << 1 } else { (((*ms / 1000).min(0x7fff) as u16) << 1) | 1 };
                out.push(4);
                out.extend_from_slice(&v.to_le_bytes());
            }
            Op::Step => out.push(5),
            Op::Detach => out.push(6),
            Op::ApLost(ms) => {
                out.push(7);
                out.extend_from_slice(&((*ms / 10).min(0xffff) as u16).to_le_bytes());
            }
            Op::Control(k, v) => {
                out.push(7 | (k & 7) << 4);
                out.extend_from_slice(&v.to_le_bytes());
            }
            Op::SpuriousTimeout => out.push(8),
            Op::PowerCycle => out.push(9),
            Op::LinkEvent(l, kind, seq) => {
                let (code, bits) = link_to(10, *l);
                out.extend_from_slice(&[code, bits | (kind & 3) << 2 | ((*seq as u8) << 4)]);
            }
            Op::Handshake(l, answer) => out.extend_from_slice(&[11, (l & 3) | (answer & 3) << 2]),
            Op::LinkData(l, b) => {
                let (code, bits) = link_to(12, *l);
                for chunk in b.chunks(255) {
                    out.extend_from_slice(&[code, bits, chunk.len() as u8]);
                    out.extend_from_slice(chunk);
                }
            }
            Op::Frame(l, h, payload) => {
                let p = &payload[..payload.len().min(255)];
                out.extend_from_slice(&[13, *l, *h, p.len() as u8]);
                out.extend_from_slice(p);
            }
            Op::AckAll => out.push(14),
            Op::ServeAll => out.push(15),
        }
    }
    out
}

fn config(settings: Option<Settings>, mfg: MfgNvs) -> Config {
    Config {
        version: VersionInfo { version: "0.0.0-fuzz".into(), build: "fuzz".into() },
        settings,
        mfg,
        radio: Radio::Permissive,
        seed: 0x5eed,
        clock_source: Default::default(),
        flash: None,
        regex: None,
    }
}

/// What the scripted runtime knows about one link's transport.
#[derive(Debug, Clone, Default)]
struct Transport {
    /// Between `LinkConnect` and `LinkClose`.
    open: bool,
    /// A `LinkConnect` not yet answered by op 15.
    connect_pending: bool,
    /// The last handshake request: its key and requested subprotocol,
    /// until op 11 or 15 answers it.
    request: Option<(String, Option<Vec<u8>>)>,
    /// Tracked sends not yet acknowledged, oldest first.
    unacked: Vec<(u32, bool)>,
    /// A UDP socket (its data comes with a sender).
    udp: bool,
}

/// A module, its "flash", its links' transports and a fake clock.
pub struct Session {
    module: Module,
    now: Instant,
    /// Output since the last [`Session::take_output`].
    out: Vec<u8>,
    flash_settings: Option<Settings>,
    flash_mfg: MfgNvs,
    links: [Transport; LINK_IDS],
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}

/// Checks that `data` is a sequence of well-formed, masked client frames.
fn check_client_frames(link: u8, data: &[u8]) {
    let mut rest = data;
    assert!(!rest.is_empty(), "link {link}: empty LinkSend");
    while !rest.is_empty() {
        assert!(rest.len() >= 2, "link {link}: truncated frame header in {data:02x?}");
        let (b0, b1) = (rest[0], rest[1]);
        assert_eq!(b0 & 0x70, 0, "link {link}: RSV bits set in a client frame {data:02x?}");
        assert!(b1 & 0x80 != 0, "link {link}: unmasked client frame {data:02x?}");
        let (len, head) = match b1 & 0x7f {
            126 => {
                assert!(rest.len() >= 4, "link {link}: truncated length in {data:02x?}");
                (u64::from(u16::from_be_bytes([rest[2], rest[3]])), 4)
            }
            127 => {
                assert!(rest.len() >= 10, "link {link}: truncated length in {data:02x?}");
                (u64::from_be_bytes(rest[2..10].try_into().unwrap()), 10)
            }
            n => (u64::from(n), 2),
        };
        let opcode = b0 & 0x0f;
        if opcode & 0x8 != 0 {
            assert!(b0 & 0x80 != 0, "link {link}: fragmented control frame {data:02x?}");
            assert!(len <= 125, "link {link}: control frame with {len} bytes");
        }
        let total = head as u64 + 4 + len;
        assert!(total <= rest.len() as u64, "link {link}: frame longer than its LinkSend ({total} > {})", rest.len());
        rest = &rest[total as usize..];
    }
}

/// The `Sec-WebSocket-Key` and `Sec-WebSocket-Protocol` of a request.
fn parse_request(data: &[u8]) -> (String, Option<Vec<u8>>) {
    let text = String::from_utf8_lossy(data);
    let header = |name: &str| {
        text.split("\r\n")
            .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_string()))
    };
    let key = header("Sec-WebSocket-Key").expect("a handshake request has a Sec-WebSocket-Key");
    (key, header("Sec-WebSocket-Protocol").map(String::into_bytes))
}

/// The server's answer to a handshake (op 11's `answer`).
fn handshake_response(key: &str, subprotocol: Option<&[u8]>, answer: u8) -> Vec<u8> {
    let (status, accept) = match answer {
        2 => ("200 OK", accept_for(key)),
        3 => ("101 Switching Protocols", accept_for("not the key")),
        _ => ("101 Switching Protocols", accept_for(key)),
    };
    let mut r = format!("HTTP/1.1 {status}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n").into_bytes();
    if let (1, Some(p)) = (answer, subprotocol) {
        // Pick the first offered protocol.
        let first = p.split(|&b| b == b',').next().unwrap_or_default();
        r.extend_from_slice(b"Sec-WebSocket-Protocol: ");
        r.extend_from_slice(first.trim_ascii());
        r.extend_from_slice(b"\r\n");
    }
    r.extend_from_slice(b"\r\n");
    r
}

/// An unmasked server frame.
fn server_frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![first];
    match payload.len() {
        n @ 0..=125 => f.push(n as u8),
        n => {
            f.push(126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    f.extend_from_slice(payload);
    f
}

impl Session {
    /// A module that has just powered on, with factory settings.
    pub fn new() -> Session {
        let now = Instant::from_millis(1_000);
        let module = Module::new(config(None, MfgNvs::new()), now);
        let mut s = Session {
            module,
            now,
            out: Vec::new(),
            flash_settings: None,
            flash_mfg: MfgNvs::new(),
            links: Default::default(),
        };
        s.drain();
        s
    }

    /// The module under test.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// Output since the last call.
    pub fn take_output(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.out)
    }

    fn drain(&mut self) {
        // Answering an action (the host clock) may produce more output.
        loop {
            self.drain_serial();
            let Some(a) = self.module.poll_action() else { break };
            self.action(a);
        }
    }

    fn drain_serial(&mut self) {
        // An odd size, so replies are split across calls.
        let mut buf = [0u8; 37];
        loop {
            let n = self.module.poll_serial(&mut buf);
            assert!(n <= buf.len(), "poll_serial returned {n} for a {}-byte buffer", buf.len());
            if n == 0 {
                break;
            }
            // Only the tail matters to the checks; keep memory bounded.
            if self.out.len() > 64 * 1024 {
                self.out.drain(..32 * 1024);
            }
            self.out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(self.module.serial_pending(), 0, "poll_serial returned 0 with bytes pending");
    }

    /// What a runtime does with an action (and the checks on it).
    fn action(&mut self, a: Action) {
        match a {
            Action::Persist(Store::Settings) => self.flash_settings = Some(self.module.stored_settings().clone()),
            Action::Persist(Store::Mfg) => self.flash_mfg = self.module.mfg().clone(),
            Action::SetUart(_) | Action::Log(_) => {}
            // The host's clock: a fixed Unix time plus the fake clock.
            Action::ReadHostClock => {
                self.module.handle_host_clock(1_700_000_000_000 + self.now.millis(), self.now);
            }
            Action::Rebooted => self.links = Default::default(),
            Action::Connect { socket, transport, .. } => {
                let link = link_of(socket);
                // Any transport the link had is dropped first.
                let udp = matches!(transport, Kind::Udp { .. });
                self.links[usize::from(link)] = Transport { open: true, connect_pending: true, udp, ..Transport::default() };
            }
            Action::Send { socket, data, seq, immediate, to } => {
                let link = link_of(socket);
                let t = &mut self.links[usize::from(link)];
                assert!(t.open, "link {link}: Send without a transport (after Close or before Connect)");
                if link < 3 {
                    assert!(to.is_none(), "link {link}: a WebSocket send with a UDP destination");
                    if data.starts_with(b"GET ") {
                        t.request = Some(parse_request(&data));
                    } else {
                        check_client_frames(link, &data);
                    }
                } else {
                    assert!(!data.is_empty(), "link {link}: empty send");
                    assert!(to.is_none() || t.udp, "link {link}: a destination on a stream socket");
                }
                if let Some(seq) = seq {
                    t.unacked.push((seq, immediate));
                }
            }
            Action::Close { socket, .. } => {
                self.links[usize::from(link_of(socket))] = Transport::default();
            }
            Action::Resolve { .. } if self.now.millis() % 2 == 0 => {
                self.module.handle_resolved(&[core::net::IpAddr::from([127, 0, 0, 1])], self.now);
            }
            Action::Ping { .. } if self.now.millis() % 2 == 0 => self.module.handle_ping(Some(1), self.now),
            // The server's port binds, except on odd milliseconds.
            Action::Listen { socket, .. } => {
                let bound = self.now.millis() % 2 == 0;
                self.module.handle_listen(socket, bound, self.now);
                if bound {
                    // A client from outside, as soon as it listens.
                    let peer = core::net::SocketAddr::from(([127, 0, 0, 1], 50_000));
                    if let Some(id) = self.module.handle_accept(socket, peer, self.now) {
                        let link = link_of(id);
                        self.links[usize::from(link)] = Transport { open: true, connect_pending: true, ..Transport::default() };
                    }
                }
            }
            // SNTP requests go unanswered (the servers are unreachable);
            // actions added to the core later are ignored until the
            // harness knows them.
            #[allow(unreachable_patterns)]
            _ => {}
        }
    }

    /// Fires what is due at `t` (or `now`, if that is later): calls
    /// `handle_timeout` until the next deadline is in the future.
    fn fire(&mut self, t: Instant) {
        self.now = self.now.max(t);
        for _ in 0..TIMEOUT_RETRIES {
            self.module.handle_timeout(self.now);
            self.drain();
            match self.module.poll_timeout() {
                Some(next) if next <= self.now => {}
                _ => return,
            }
        }
        panic!(
            "livelock: after {TIMEOUT_RETRIES} calls of handle_timeout({} ms) the next deadline is still {:?}",
            self.now.millis(),
            self.module.poll_timeout().map(Instant::millis)
        );
    }

    /// Moves the clock forward by `ms`, firing the deadlines on the way.
    pub fn advance(&mut self, ms: u64) {
        let end = self.now + Duration::from_millis(ms);
        for _ in 0..ADVANCE_STEPS {
            match self.module.poll_timeout() {
                Some(t) if t <= end => self.fire(t),
                _ => break,
            }
        }
        // Deadlines still due (more than ADVANCE_STEPS of them) are late,
        // which handle_timeout must cope with; the next firing catches up.
        self.now = self.now.max(end);
    }

    fn link_data(&mut self, link: u8, data: &[u8]) {
        let Some(socket) = socket_of(link) else { return };
        let t = &self.links[usize::from(link)];
        let from = t.udp.then(|| core::net::SocketAddr::from(([127, 0, 0, 1], 7000 + (data.len() % 3) as u16)));
        self.module.handle_socket_data(socket, data, from, self.now);
        self.drain();
    }

    fn link_event(&mut self, link: u8, event: SocketEvent) {
        let Some(socket) = socket_of(link) else { return };
        self.module.handle_socket_event(socket, event, self.now);
        self.drain();
    }

    /// Applies one operation.
    pub fn apply(&mut self, op: &Op) {
        match op {
            Op::Serial(bytes) => {
                self.module.handle_serial(bytes, self.now);
                self.drain();
            }
            Op::SerialBytewise(bytes) => {
                for b in bytes {
                    self.module.handle_serial(core::slice::from_ref(b), self.now);
                    self.drain();
                }
            }
            Op::Advance(ms) => self.advance(*ms),
            Op::Step => {
                if let Some(t) = self.module.poll_timeout() {
                    self.fire(t);
                }
            }
            Op::Detach => {
                self.module.handle_host_detached(self.now);
                self.drain();
            }
            Op::ApLost(ms) => {
                self.module.handle_event(Event::ApLost { down_for: Duration::from_millis(*ms) }, self.now);
                self.drain();
            }
            Op::Control(k, v) => {
                let v = *v;
                let event = match k {
                    1 => Event::ApBack,
                    2 => Event::Rssi(-((v % 100) as i8)),
                    3 => Event::ClockSet(u64::from(v) * 1_000_000),
                    4 => Event::ClockSkew((i64::from(v) - 32_768) * 1000),
                    5 => Event::ResetPin,
                    6 => Event::PowerOff,
                    _ => Event::PowerOn,
                };
                self.module.handle_event(event, self.now);
                self.drain();
            }
            Op::SpuriousTimeout => {
                self.module.handle_timeout(self.now);
                self.drain();
            }
            Op::PowerCycle => {
                self.module = Module::new(config(self.flash_settings.clone(), self.flash_mfg.clone()), self.now);
                self.links = Default::default();
                self.drain();
            }
            Op::LinkEvent(link, kind, seq) => {
                let t = &mut self.links[usize::from(*link)];
                let event = match kind {
                    0 => {
                        t.connect_pending = false;
                        SocketEvent::Connected { local_port: 40000, remote: Some(core::net::SocketAddr::from(([127, 0, 0, 1], 7000))) }
                    }
                    1 => SocketEvent::Failed(FailReason::Reset),
                    2 => SocketEvent::Eof,
                    // An immediate send may be refused (odd `b >> 4`): the
                    // socket took none of it.
                    _ => match t.unacked.first().copied() {
                        None => SocketEvent::Written(*seq),
                        Some((oldest, immediate)) => {
                            t.unacked.remove(0);
                            if immediate && *seq & 1 == 1 {
                                SocketEvent::Refused(oldest)
                            } else {
                                SocketEvent::Written(oldest)
                            }
                        }
                    },
                };
                if matches!(event, SocketEvent::Failed(_) | SocketEvent::Eof) {
                    // The transport is gone; the core closes it (again).
                    t.connect_pending = false;
                }
                self.link_event(*link, event);
            }
            Op::Handshake(link, answer) => {
                let (key, sub) = self.links[usize::from(*link)].request.take().unwrap_or_else(|| ("x".into(), None));
                let r = handshake_response(&key, sub.as_deref(), *answer);
                self.link_data(*link, &r);
            }
            Op::LinkData(link, bytes) => self.link_data(*link, bytes),
            Op::Frame(l, first, payload) => {
                let link = l & 3;
                let f = server_frame(*first, payload);
                if l & 4 != 0 {
                    let at = usize::from(l >> 3).min(f.len());
                    self.link_data(link, &f[..at]);
                    self.link_data(link, &f[at..]);
                } else {
                    self.link_data(link, &f);
                }
            }
            Op::AckAll => {
                for link in (0..LINK_IDS as u8).filter(|&l| socket_of(l).is_some()) {
                    while !self.links[usize::from(link)].unacked.is_empty() {
                        let (seq, _) = self.links[usize::from(link)].unacked.remove(0);
                        self.link_event(link, SocketEvent::Written(seq));
                    }
                }
            }
            Op::ServeAll => {
                for link in (0..LINK_IDS as u8).filter(|&l| socket_of(l).is_some()) {
                    if core::mem::take(&mut self.links[usize::from(link)].connect_pending) {
                        self.link_event(link, SocketEvent::CONNECTED);
                    }
                    if let Some((key, sub)) = self.links[usize::from(link)].request.take() {
                        let r = handshake_response(&key, sub.as_deref(), 0);
                        self.link_data(link, &r);
                    }
                }
            }
        }
    }

    /// Fires the next deadline at the end of a session: on time for the
    /// first [`SETTLE_EXACT`] steps, then at least a minute late. False if
    /// there is no deadline.
    fn settle_step(&mut self, step: usize) -> bool {
        match self.module.poll_timeout() {
            Some(t) if step < SETTLE_EXACT => self.fire(t),
            Some(t) => self.fire(t.max(self.now + Duration::from_secs(60))),
            None => return false,
        }
        true
    }

    /// The end-of-session check: a new host must get a working port.
    pub fn check_recovers(&mut self) {
        if self.module.is_powered_off() {
            // Whoever powered it off powers it on again.
            self.module.handle_event(Event::PowerOn, self.now);
            self.drain();
        }
        self.module.handle_host_detached(self.now);
        self.drain();
        if self.module.in_passthrough() {
            // Passthrough outlives the host: the next one leaves it with
            // `+++` between two silences.
            self.advance(1_000);
            self.module.handle_serial(b"+++", self.now);
            self.drain();
            self.advance(1_000);
            assert!(!self.module.in_passthrough(), "+++ with a second of silence around it did not leave passthrough");
        }
        let mut step = 0;
        while self.module.is_busy() && step < SETTLE_STEPS && self.settle_step(step) {
            step += 1;
        }
        assert!(
            !self.module.is_busy(),
            "stuck: still busy after the host detached and {step} deadlines (next deadline: {:?})",
            self.module.poll_timeout()
        );
        self.out.clear();
        self.module.handle_serial(b"\r\nAT\r\n", self.now);
        self.drain();
        let mut step = 0;
        while !self.out.ends_with(b"\r\nOK\r\n") && step < SETTLE_STEPS && self.settle_step(step) {
            step += 1;
        }
        let got = self.take_output();
        assert!(
            got.ends_with(b"\r\nOK\r\n"),
            "a fresh AT after detach was not answered OK ({step} deadlines later): {:?}",
            String::from_utf8_lossy(&got[got.len().saturating_sub(300)..])
        );
    }
}

/// Runs one input: every operation, then the recovery check.
pub fn run(data: &[u8]) {
    let mut s = Session::new();
    for op in decode(data) {
        s.apply(&op);
    }
    s.check_recovers();
}
