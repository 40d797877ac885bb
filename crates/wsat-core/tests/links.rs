//! The WebSocket link state machine on a fake clock with a scripted server:
//! timers that take minutes in real time (ping interval, pong timeout,
//! reconnect) run here in microseconds.

use wsat_core::mfg::MfgNvs;
use wsat_core::wifi::radio::Radio;
use wsat_core::ws::frame::{FrameHeader, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT};
use wsat_core::ws::handshake::accept_for;
use wsat_core::net::{SocketEvent, SocketId};
use wsat_core::ws::mask;
use wsat_core::{Action, Config, Duration, Instant, Module, VersionInfo};

/// A module, a fake clock and one scripted server per link.
struct Rig {
    m: Module,
    now: Instant,
    out: Vec<u8>,
    /// Frames the client sent, per link: (opcode, fin, payload).
    sent: [Vec<(u8, bool, Vec<u8>)>; 3],
    connects: [u32; 3],
    closes: [u32; 3],
    /// Sends waiting to be acknowledged (the "socket" is slow when false).
    ack_sends: bool,
    unacked: Vec<(u8, u32)>,
}

impl Rig {
    fn new() -> Rig {
        let config = Config {
            version: VersionInfo { version: "t".into(), build: "t".into() },
            settings: None,
            mfg: MfgNvs::new(),
            radio: Radio::Permissive,
            seed: 1,
            clock_source: Default::default(),
            flash: None,
            regex: None,
        };
        let now = Instant::from_millis(1000);
        let mut r = Rig {
            m: Module::new(config, now),
            now,
            out: Vec::new(),
            sent: Default::default(),
            connects: [0; 3],
            closes: [0; 3],
            ack_sends: true,
            unacked: Vec::new(),
        };
        r.pump();
        r.send(b"ATE0\r\n");
        r.send(b"AT+CWJAP=\"espressif\",\"1234567890\"\r\n");
        r.run_for(1000);
        r.take();
        r
    }

    /// Carries out actions like a runtime whose servers always accept.
    fn pump(&mut self) {
        loop {
            let mut buf = [0u8; 4096];
            loop {
                let n = self.m.poll_serial(&mut buf);
                if n == 0 {
                    break;
                }
                self.out.extend_from_slice(&buf[..n]);
            }
            let Some(a) = self.m.poll_action() else { break };
            match a {
                Action::Connect { socket, .. } => {
                    let link = socket.index() as u8;
                    self.connects[link as usize] += 1;
                    self.m.handle_socket_event(socket, SocketEvent::CONNECTED, self.now);
                }
                Action::Send { socket, data, seq, .. } => {
                    let link = socket.index() as u8;
                    if data.starts_with(b"GET ") {
                        self.answer_handshake(link, &data);
                    } else {
                        self.record_frames(link, &data);
                    }
                    if let Some(seq) = seq {
                        if self.ack_sends {
                            self.m.handle_socket_event(SocketId::ws(link as usize), SocketEvent::Written(seq), self.now);
                        } else {
                            self.unacked.push((link, seq));
                        }
                    }
                }
                Action::Close { socket, .. } => self.closes[socket.index()] += 1,
                _ => {}
            }
        }
    }

    fn answer_handshake(&mut self, link: u8, req: &[u8]) {
        let text = String::from_utf8_lossy(req);
        let key = text
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .expect("key header")
            .trim()
            .to_string();
        let resp = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            accept_for(&key)
        );
        self.m.handle_socket_data(SocketId::ws(link as usize), resp.as_bytes(), None, self.now);
    }

    fn record_frames(&mut self, link: u8, mut data: &[u8]) {
        while !data.is_empty() {
            let (h, n) = FrameHeader::parse(data).unwrap().expect("whole frames");
            let key = h.mask.expect("client frames are masked");
            let mut payload = data[n..n + h.payload_len as usize].to_vec();
            mask::apply(&mut payload, key, 0);
            self.sent[link as usize].push((h.opcode, h.fin, payload));
            data = &data[n + h.payload_len as usize..];
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.m.handle_serial(bytes, self.now);
        self.pump();
    }

    fn server_frame(&mut self, link: u8, fin: bool, opcode: u8, payload: &[u8]) {
        let mut f = Vec::new();
        FrameHeader { fin, rsv: 0, opcode, mask: None, payload_len: payload.len() as u64 }.emit(&mut f);
        f.extend_from_slice(payload);
        self.m.handle_socket_data(SocketId::ws(link as usize), &f, None, self.now);
        self.pump();
    }

    fn run_for(&mut self, ms: u64) {
        let end = self.now + Duration::from_millis(ms);
        while let Some(t) = self.m.poll_timeout().filter(|t| *t <= end) {
            self.now = t.max(self.now);
            self.m.handle_timeout(self.now);
            self.pump();
        }
        self.now = end;
        self.m.handle_timeout(self.now);
        self.pump();
    }

    fn take(&mut self) -> String {
        String::from_utf8_lossy(&std::mem::take(&mut self.out)).into_owned()
    }

    fn open(&mut self, link: u8) {
        self.send(format!("AT+WSOPEN={link},\"ws://127.0.0.1:9/\"\r\n").as_bytes());
        assert_eq!(self.take(), format!("+WS_CONNECTED:{link}\r\n\r\nOK\r\n"));
    }

    fn state(&mut self) -> String {
        self.send(b"AT+WSOPEN?\r\n");
        self.take()
    }
}

#[test]
fn keepalive_pong_timeout_and_reconnect() {
    let mut r = Rig::new();
    r.open(0);
    // Nothing for 10 s: a ping.
    r.run_for(9_999);
    assert!(r.sent[0].is_empty());
    r.run_for(1);
    assert_eq!(r.sent[0], [(OP_PING, true, vec![])]);
    // Incoming data does not move the next ping (esp_websocket_client pings
    // every interval, whatever the link carries).
    r.run_for(5_000);
    r.server_frame(0, true, OP_TEXT, b"x");
    assert_eq!(r.take(), "+WS_DATA:0,1,x\r\n");
    r.run_for(4_999);
    assert_eq!(r.sent[0].len(), 1);
    r.run_for(1);
    assert_eq!(r.sent[0].len(), 2);
    // No pong for 120 s after the first ping: the link is lost.
    r.run_for(109_999);
    assert_eq!(r.take(), "");
    r.run_for(2);
    assert_eq!(r.take(), "+WS_DISCONNECTED:0\r\n");
    assert_eq!(r.closes[0], 1);
    assert_eq!(r.state(), "+WSOPEN:0,3,\"ws://127.0.0.1:9/\"\r\n\r\nOK\r\n");
    // 10 s later it reconnects on its own.
    r.run_for(10_000);
    assert_eq!(r.connects[0], 2);
    assert_eq!(r.take(), "+WS_CONNECTED:0\r\n");
    assert_eq!(r.state(), "+WSOPEN:0,2,\"ws://127.0.0.1:9/\"\r\n\r\nOK\r\n");
}

#[test]
fn pongs_keep_the_link_alive_and_pings_are_answered() {
    let mut r = Rig::new();
    r.send(b"AT+WSCFG=0,1,2\r\n");
    assert_eq!(r.take(), "\r\nOK\r\n");
    r.open(0);
    for _ in 0..10 {
        r.run_for(1_000);
        let last = r.sent[0].last().cloned().expect("a ping each second");
        assert_eq!(last.0, OP_PING);
        r.server_frame(0, true, OP_PONG, b"");
    }
    assert_eq!(r.take(), "");
    r.server_frame(0, true, OP_PING, b"are you there");
    assert_eq!(r.sent[0].last().unwrap(), &(OP_PONG, true, b"are you there".to_vec()));
    // Without pongs: lost after the 2 s timeout.
    r.run_for(3_100);
    assert_eq!(r.take(), "+WS_DISCONNECTED:0\r\n");
}

#[test]
fn server_close_is_echoed_and_frees_the_link() {
    let mut r = Rig::new();
    r.open(1);
    r.server_frame(1, true, OP_CLOSE, &[0x03, 0xe9, b'b', b'y', b'e']);
    assert_eq!(r.sent[1], [(OP_CLOSE, true, vec![0x03, 0xe9])]);
    assert_eq!(r.take(), "+WS_CLOSED:1\r\n");
    // Free at once, as ESP-AT frees it; the transport closes after the reply.
    assert_eq!(r.state(), "\r\nOK\r\n");
    assert_eq!(r.closes[1], 1);
    r.open(1);
}

#[test]
fn wsclose_while_closing_shows_state_4() {
    let mut r = Rig::new();
    r.open(0);
    r.send(b"AT+WSSEND=0,2,8\r\n");
    r.take();
    r.send(&[0x03, 0xe8]);
    assert_eq!(r.take(), "\r\nSEND OK\r\n");
    assert_eq!(r.state(), "+WSOPEN:0,4,\"ws://127.0.0.1:9/\"\r\n\r\nOK\r\n");
    r.server_frame(0, true, OP_CLOSE, &[0x03, 0xe8]);
    assert_eq!(r.take(), "+WS_CLOSED:0\r\n");
    assert_eq!(r.state(), "\r\nOK\r\n");
}

#[test]
fn wsclose_waits_for_the_server_then_gives_up() {
    let mut r = Rig::new();
    r.open(2);
    r.send(b"AT+WSCLOSE=2\r\n");
    assert_eq!(r.sent[2], [(OP_CLOSE, true, vec![0x03, 0xe8])]);
    assert_eq!(r.take(), "");
    r.send(b"AT\r\n");
    assert_eq!(r.take(), "\r\nbusy p...\r\n");
    r.run_for(2_000);
    assert_eq!(r.take(), "+WS_CLOSED:2\r\n\r\nOK\r\n");
    assert_eq!(r.state(), "\r\nOK\r\n");
}

#[test]
fn protocol_errors_close_with_their_code() {
    for (frame, code) in [
        (vec![0xc1, 0x00], 1002u16),          // RSV1
        (vec![0x83, 0x00], 1002),             // reserved opcode
        (vec![0x81, 0x01, 0xff], 1007),       // bad UTF-8
        (vec![0x80, 0x01, b'x'], 1002),       // continuation without start
        ([&[0x89, 0x7e, 0x00, 0x7e][..], &[0; 126]].concat(), 1002), // a 126-byte ping
        (vec![0x01, 0x01, b'a', 0x82, 0x00], 1002), // new message inside a fragmented one
    ] {
        // At chunk level, a first fragment is reported before the error.
        let before = if frame[0] == 0x01 { "+WS_DATA:0,1,a\r\n" } else { "" };
        let mut r = Rig::new();
        r.open(0);
        r.m.handle_socket_data(SocketId::ws(0), &frame, None, r.now);
        r.pump();
        assert_eq!(r.sent[0], [(OP_CLOSE, true, code.to_be_bytes().to_vec())], "{frame:02x?}");
        r.server_frame(0, true, OP_CLOSE, &code.to_be_bytes());
        assert_eq!(r.take(), format!("{before}+WS_CLOSED:0\r\n"), "{frame:02x?}");
        assert_eq!(r.state(), "\r\nOK\r\n");
    }
}

#[test]
fn wssend_frames_and_times_out_on_a_stuck_socket() {
    let mut r = Rig::new();
    r.send(b"AT+WSCFG=0,10,120,4\r\n");
    r.take();
    r.open(0);
    r.send(b"AT+WSSEND=0,10,2\r\n");
    assert_eq!(r.take(), "\r\nOK\r\n\r\n>");
    r.send(b"0123456789");
    assert_eq!(r.take(), "\r\nSEND OK\r\n");
    assert_eq!(
        r.sent[0],
        [(OP_BINARY, false, b"0123".to_vec()), (0, false, b"4567".to_vec()), (0, true, b"89".to_vec())]
    );
    // A control frame larger than 125 bytes is refused after its data.
    r.send(b"AT+WSSEND=0,126,9\r\n");
    r.take();
    r.send(&[b'p'; 126]);
    assert_eq!(r.take(), "\r\nERROR\r\n");
    // The socket stops taking data: ERROR after timeout_ms.
    r.ack_sends = false;
    r.send(b"AT+WSSEND=0,1,1,500\r\n");
    r.take();
    r.send(b"z");
    r.run_for(499);
    assert_eq!(r.take(), "");
    r.run_for(1);
    assert_eq!(r.take(), "\r\nERROR\r\n");
}

#[test]
fn reports_wait_for_data_mode_and_back_pressure_engages() {
    let mut r = Rig::new();
    r.open(0);
    r.send(b"AT+WSSEND=0,2\r\n");
    assert_eq!(r.take(), "\r\nOK\r\n\r\n>");
    // Data arrives while the host is typing its payload: held back.
    r.server_frame(0, true, OP_TEXT, b"early");
    assert_eq!(r.take(), "");
    r.send(b"hi");
    assert_eq!(r.take(), "\r\nSEND OK\r\n+WS_DATA:0,5,early\r\n");
    // A host that does not read: reads stop above the high-water mark.
    assert!(r.m.read_window(SocketId::ws(0)) > 0);
    let big = vec![b'a'; 40_000];
    r.server_frame(0, true, OP_BINARY, &big[..16_000]);
    r.server_frame(0, true, OP_BINARY, &big[..16_000]);
    r.server_frame(0, true, OP_BINARY, &big);
    // pump() drains output like a fast host; refill without draining.
    for _ in 0..2 {
        r.m.handle_socket_data(SocketId::ws(0), &[0x82, 0x7e, 0x9c, 0x40], None, r.now);
        r.m.handle_socket_data(SocketId::ws(0), &big, None, r.now);
    }
    assert_eq!(r.m.read_window(SocketId::ws(0)), 0, "backlog {}", r.m.serial_backlog());
    r.pump();
    assert!(r.m.read_window(SocketId::ws(0)) > 0);
}

#[test]
fn back_pressure_never_starves_the_report_that_owns_the_port() {
    let mut r = Rig::new();
    r.open(0);
    r.open(1);
    r.send(b"AT+WSDATAFMT=0,1,48\r\n");
    r.take();
    // Link 0's 100 000-byte frame starts: its report owns the port.
    r.m.handle_socket_data(SocketId::ws(0), &[0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0x86, 0xa0, b'x'], None, r.now);
    r.pump();
    assert!(r.take().starts_with("+WS_DATA:0,100000,x"));
    // Link 1 floods: its reports queue behind link 0's, and link 1 stops
    // reading once its queue passes the high-water mark.
    let frame: Vec<u8> = [&[0x82u8, 0x7e, 0x3a, 0x98][..], &[b'y'; 15_000][..]].concat();
    for _ in 0..5 {
        r.m.handle_socket_data(SocketId::ws(1), &frame, None, r.now);
    }
    r.pump();
    assert_eq!(r.take(), "");
    assert_eq!(r.m.read_window(SocketId::ws(1)), 0);
    // Link 0 must keep reading, or its report could never end (this
    // wedged the port when one limit covered all links).
    assert!(r.m.read_window(SocketId::ws(0)) > 0);
    r.m.handle_socket_data(SocketId::ws(0), &vec![b'x'; 99_999], None, r.now);
    r.pump();
    let out = r.take();
    assert!(out.starts_with(&"x".repeat(99_999)), "link 0's report ends first");
    // Then link 1's data, all of it (in reports of its 1024-byte buffer).
    assert!(out[99_999..].starts_with("\r\n+WS_DATA:1,1024,"));
    assert_eq!(out[99_999..].matches('y').count(), 75_000);
    assert!(r.m.read_window(SocketId::ws(1)) > 0);
}

#[test]
fn message_level_reassembles_fragments() {
    let mut r = Rig::new();
    r.open(0);
    r.send(b"AT+WSDATAFMT=0,2,63\r\n");
    r.take();
    r.server_frame(0, false, OP_TEXT, b"Hel");
    r.server_frame(0, true, OP_PING, b"p");
    r.server_frame(0, false, 0, b"lo, ");
    r.server_frame(0, true, 0, b"world");
    assert_eq!(r.take(), "+WS_DATA:0,1,1,12,0,12,Hello, world\r\n");
    assert_eq!(r.sent[0], [(OP_PONG, true, b"p".to_vec())]);
    // Frame level: one report per frame.
    r.send(b"AT+WSDATAFMT=0,1,31\r\n");
    r.take();
    r.server_frame(0, false, OP_BINARY, b"ab");
    r.server_frame(0, true, 0, b"c");
    assert_eq!(r.take(), "+WS_DATA:0,2,0,2,0,2,ab+WS_DATA:0,0,1,1,0,1,c");
}

#[test]
fn a_streaming_report_is_never_split() {
    let mut r = Rig::new();
    r.open(0);
    r.open(1);
    r.send(b"AT+WSDATAFMT=0,1,48\r\n");
    r.take();
    // Link 0: a 10-byte frame, of which 4 bytes arrive.
    r.m.handle_socket_data(SocketId::ws(0), &[0x82, 0x0a, b'0', b'1', b'2', b'3'], None, r.now);
    r.pump();
    assert_eq!(r.take(), "+WS_DATA:0,10,0123");
    // Meanwhile: a command from the host, and data on link 1.
    r.send(b"AT\r\n");
    r.server_frame(1, true, OP_TEXT, b"other");
    assert_eq!(r.take(), "");
    // The rest of the frame: the report ends, then the rest goes out.
    r.m.handle_socket_data(SocketId::ws(0), b"456789", None, r.now);
    r.pump();
    assert_eq!(r.take(), "456789\r\n+WS_DATA:1,5,other\r\n\r\nOK\r\n");
    // A report cut short by a lost link still ends its line.
    r.m.handle_socket_data(SocketId::ws(0), &[0x82, 0x0a, b'a'], None, r.now);
    r.pump();
    r.m.handle_socket_event(SocketId::ws(0), SocketEvent::Eof, r.now);
    r.pump();
    assert_eq!(r.take(), "+WS_DATA:0,10,a\r\n+WS_DISCONNECTED:0\r\n");
}

#[test]
fn an_unskippable_header_ends_the_link_without_hanging() {
    // A 64-bit length with its top bit set (found by the fuzzer: it used to
    // stall the link's read loop for good).
    let mut r = Rig::new();
    r.open(0);
    let mut f = vec![0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0];
    f.extend_from_slice(&[0x88, 0x02, 0x03, 0xe8]);
    r.m.handle_socket_data(SocketId::ws(0), &f, None, r.now);
    r.pump();
    assert_eq!(r.sent[0], [(OP_CLOSE, true, 1002u16.to_be_bytes().to_vec())]);
    // The stream is lost: the close reply cannot be read; the wait ends it.
    r.run_for(1_000);
    assert_eq!(r.take(), "+WS_CLOSED:0\r\n");
    assert_eq!(r.state(), "\r\nOK\r\n");
}

#[test]
fn a_stalled_report_lets_the_host_through_after_two_seconds() {
    let mut r = Rig::new();
    r.open(0);
    r.send(b"AT+WSDATAFMT=0,1,63\r\n");
    r.take();
    r.m.handle_socket_data(SocketId::ws(0), &[0x82, 0x0a, b'0', b'1', b'2'], None, r.now);
    r.pump();
    assert_eq!(r.take(), "+WS_DATA:0,2,1,10,0,10,012");
    r.send(b"AT\r\n");
    r.run_for(1_999);
    assert_eq!(r.take(), "");
    r.run_for(1);
    assert_eq!(r.take(), "\r\n\r\nOK\r\n");
    // The rest of the frame: a report of its own, from offset 3.
    r.m.handle_socket_data(SocketId::ws(0), b"3456789", None, r.now);
    r.pump();
    assert_eq!(r.take(), "+WS_DATA:0,2,1,10,3,7,3456789\r\n");
}

/// D5: a server that trickles a frame (one byte every 0.8 s) does not
/// deafen the port: the host's input runs 2 s after it arrived, however
/// the report moves; and what the host sends meanwhile is bounded.
#[test]
fn a_trickling_report_lets_the_host_through_and_held_input_is_bounded() {
    let mut r = Rig::new();
    r.open(0);
    r.send(b"AT+WSDATAFMT=0,1,63\r\n");
    r.take();
    let mut head = vec![0x82, 0x7f];
    head.extend_from_slice(&(1u64 << 20).to_be_bytes());
    r.m.handle_socket_data(SocketId::ws(0), &head, None, r.now);
    r.m.handle_socket_data(SocketId::ws(0), b"a", None, r.now);
    r.pump();
    assert_eq!(r.take(), "+WS_DATA:0,2,1,1048576,0,1048576,a");
    r.send(b"AT\r\n");
    // One byte every 0.8 s: the report keeps moving.
    for _ in 0..2 {
        r.run_for(800);
        r.m.handle_socket_data(SocketId::ws(0), b"b", None, r.now);
        r.pump();
    }
    assert_eq!(r.take(), "bb");
    r.run_for(399);
    assert_eq!(r.take(), "");
    r.run_for(1);
    assert_eq!(r.take(), "\r\n\r\nOK\r\n", "AT answered 2 s after it arrived");
    // The next trickled byte starts a report of its own, from its offset.
    r.m.handle_socket_data(SocketId::ws(0), b"c", None, r.now);
    r.pump();
    assert_eq!(r.take(), "+WS_DATA:0,2,1,1048576,3,1048573,c");
    // While it owns the port, 20 KB of input: 8 KiB are kept (one AT runs),
    // the rest gets busy p... once the port is free.
    let mut noise = b"AT\r\n".to_vec();
    noise.extend(std::iter::repeat_n(b'x', 20_000));
    r.send(&noise);
    r.run_for(2_000);
    // The cut report's line end, busy p... for what was dropped, then the
    // kept AT's answer.
    assert_eq!(r.take(), "\r\n\r\nbusy p...\r\n\r\nOK\r\n");
}

/// D6: AT+WSHEAD's headers fit esp_websocket_client's 1024-byte request
/// buffer, or are refused; an opening request longer than the buffer fails
/// the open. A free link's AT+WSCLOSE resets its AT+WSCFG.
#[test]
fn wshead_is_bounded_by_the_request_buffer_and_wsclose_resets_a_free_link() {
    let mut r = Rig::new();
    let big = format!("X-Big:{}", "v".repeat(900));
    r.send(format!("AT+WSHEAD={}\r\n", big.len()).as_bytes());
    r.send(big.as_bytes());
    assert_eq!(r.take(), "\r\nOK\r\n\r\n>\r\nOK\r\n");
    let more = format!("X-More:{}", "w".repeat(200));
    r.send(format!("AT+WSHEAD={}\r\n", more.len()).as_bytes());
    r.send(more.as_bytes());
    assert_eq!(r.take(), "\r\nOK\r\n\r\n>\r\nERROR\r\n");
    // 906 bytes of headers fit the limit, but not the request with them.
    r.send(b"AT+WSOPEN=0,\"ws://127.0.0.1:9/a/long/path/to/make/the/request/longer\"\r\n");
    assert_eq!(r.take(), "\r\nERROR\r\n");
    r.send(b"AT+WSHEAD=0\r\n");
    assert_eq!(r.take(), "\r\nOK\r\n");
    // AT+WSCLOSE on a free link resets its configuration.
    r.send(b"AT+WSCFG=0,1,2\r\n");
    r.send(b"AT+WSCLOSE=0\r\n");
    assert_eq!(r.take(), "\r\nOK\r\n\r\nOK\r\n");
    r.open(0);
    r.sent[0].clear();
    r.run_for(9_999);
    assert!(r.sent[0].is_empty(), "pings every 10 s again, not every second");
    r.run_for(1);
    assert_eq!(r.sent[0].len(), 1);
}
