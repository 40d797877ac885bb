//! A scripted WebSocket server for the tests: a raw `std::net` TCP
//! listener on loopback that answers the HTTP upgrade by hand, writes
//! frames exactly as a test asks (well-formed or not) and reads the
//! client's masked frames back, so what wsat put on the wire is checked.
//! Nothing waits without a deadline: reads time out after [`WAIT`].

#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use sha1::{Digest, Sha1};

use super::escape;

/// How long a server waits for the client's next bytes or connection.
pub const WAIT: Duration = Duration::from_secs(10);

pub const OP_CONT: u8 = 0x0;
pub const OP_TEXT: u8 = 0x1;
pub const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

/// `base64(sha1(key + GUID))`, computed here independently of wsat.
pub fn accept_for(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    BASE64.encode(h.finalize())
}

/// A server frame (never masked): first byte as given, then the length.
pub fn raw_frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![b0];
    match payload.len() {
        n @ 0..=125 => v.push(n as u8),
        n @ 126..=0xffff => {
            v.push(126);
            v.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            v.push(127);
            v.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    v.extend_from_slice(payload);
    v
}

/// A well-formed server frame.
pub fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    raw_frame(u8::from(fin) << 7 | opcode, payload)
}

/// A listener on 127.0.0.1 with a free port.
pub struct WsServer {
    pub listener: TcpListener,
}

impl WsServer {
    pub fn new() -> WsServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener.set_nonblocking(true).expect("nonblocking listener");
        WsServer { listener }
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().expect("local addr").port()
    }

    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/", self.port())
    }

    /// The next connection, or a panic after `patience`.
    pub fn accept_within(&self, patience: Duration) -> Peer {
        let end = Instant::now() + patience;
        loop {
            match self.listener.accept() {
                Ok((s, _)) => {
                    s.set_nonblocking(false).expect("blocking stream");
                    s.set_read_timeout(Some(WAIT)).expect("read timeout");
                    s.set_write_timeout(Some(Duration::from_secs(30))).expect("write timeout");
                    s.set_nodelay(true).expect("nodelay");
                    return Peer { s, buf: Vec::new() };
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    assert!(Instant::now() < end, "no connection from wsat within {patience:?}");
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
    }

    pub fn accept(&self) -> Peer {
        self.accept_within(WAIT)
    }
}

/// The client's opening request.
pub struct Request {
    /// The request head as text (request line and header lines).
    pub lines: Vec<String>,
}

impl Request {
    /// The value of the first header named `name` (case-insensitive), trimmed.
    pub fn header(&self, name: &str) -> Option<String> {
        self.lines.iter().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    pub fn key(&self) -> String {
        self.header("Sec-WebSocket-Key").expect("Sec-WebSocket-Key in the request")
    }

    pub fn text(&self) -> String {
        self.lines.join("\r\n")
    }
}

/// A frame the client sent, unmasked.
#[derive(Debug)]
pub struct Frame {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: u8,
    pub masked: bool,
    pub payload: Vec<u8>,
}

/// One accepted connection.
pub struct Peer {
    pub s: TcpStream,
    pub buf: Vec<u8>,
}

impl Peer {
    /// Reads until `n` bytes are buffered. False on EOF (or reset) first.
    pub fn fill(&mut self, n: usize, ctx: &str) -> bool {
        let mut b = [0u8; 16384];
        while self.buf.len() < n {
            match self.s.read(&mut b) {
                Ok(0) => return false,
                Ok(k) => self.buf.extend_from_slice(&b[..k]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    panic!("{ctx}: nothing from wsat within {WAIT:?}; have {}", escape(&self.buf))
                }
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return false,
                Err(e) => panic!("{ctx}: read: {e}"),
            }
        }
        true
    }

    /// Reads the opening request (up to the blank line).
    pub fn read_request(&mut self) -> Request {
        loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..i + 4).collect();
                let text = String::from_utf8(head).expect("request head is text");
                let lines: Vec<String> = text.trim_end_matches("\r\n").split("\r\n").map(str::to_string).collect();
                return Request { lines };
            }
            let want = self.buf.len() + 1;
            assert!(self.fill(want, "opening request"), "wsat closed before its request was complete");
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).expect("server write");
    }

    /// A well-formed frame.
    pub fn send_frame(&mut self, fin: bool, opcode: u8, payload: &[u8]) {
        self.send(&frame(fin, opcode, payload));
    }

    /// The usual 101 answer for `req`, plus `extra` header lines.
    pub fn answer_101(&mut self, req: &Request, extra: &str) {
        let resp = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n{extra}\r\n",
            accept_for(&req.key())
        );
        self.send(resp.as_bytes());
    }

    /// Reads the request and accepts it.
    pub fn handshake(&mut self) -> Request {
        let req = self.read_request();
        assert!(req.lines[0].starts_with("GET "), "request line: {}", req.lines[0]);
        self.answer_101(&req, "");
        req
    }

    /// The client's next frame; None on EOF at a frame boundary.
    pub fn read_frame(&mut self, ctx: &str) -> Option<Frame> {
        if !self.fill(2, ctx) {
            assert!(self.buf.is_empty(), "{ctx}: EOF inside a frame header: {}", escape(&self.buf));
            return None;
        }
        let (b0, b1) = (self.buf[0], self.buf[1]);
        let (len, mut at) = match b1 & 0x7f {
            126 => {
                assert!(self.fill(4, ctx), "{ctx}: EOF in a frame length");
                (usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]])), 4)
            }
            127 => {
                assert!(self.fill(10, ctx), "{ctx}: EOF in a frame length");
                let mut a = [0u8; 8];
                a.copy_from_slice(&self.buf[2..10]);
                (u64::from_be_bytes(a) as usize, 10)
            }
            n => (usize::from(n), 2),
        };
        let masked = b1 & 0x80 != 0;
        let key = if masked {
            assert!(self.fill(at + 4, ctx), "{ctx}: EOF in a masking key");
            let k = [self.buf[at], self.buf[at + 1], self.buf[at + 2], self.buf[at + 3]];
            at += 4;
            Some(k)
        } else {
            None
        };
        assert!(self.fill(at + len, ctx), "{ctx}: EOF inside a frame payload");
        let mut payload: Vec<u8> = self.buf[at..at + len].to_vec();
        self.buf.drain(..at + len);
        if let Some(k) = key {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= k[i % 4];
            }
        }
        Some(Frame { fin: b0 & 0x80 != 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0xf, masked, payload })
    }

    /// The client's next frame, which must be there and properly masked.
    pub fn frame(&mut self, ctx: &str) -> Frame {
        let f = self.read_frame(ctx).unwrap_or_else(|| panic!("{ctx}: wsat closed instead of sending a frame"));
        assert!(f.masked, "{ctx}: client frames are masked: {f:?}");
        assert_eq!(f.rsv, 0, "{ctx}: no RSV bits: {f:?}");
        f
    }

    /// The next frame that is not one of the client's own keep-alive pings
    /// (empty PING), which are answered.
    pub fn data_frame(&mut self, ctx: &str) -> Frame {
        loop {
            let f = self.frame(ctx);
            if f.opcode == OP_PING && f.payload.is_empty() {
                self.send_frame(true, OP_PONG, &[]);
                continue;
            }
            return f;
        }
    }

    /// The client's close frame, carrying exactly `code`.
    pub fn expect_close(&mut self, code: u16, ctx: &str) {
        let f = self.data_frame(ctx);
        assert_eq!((f.opcode, f.fin), (OP_CLOSE, true), "{ctx}: a close frame: {f:?}");
        assert_eq!(f.payload, code.to_be_bytes(), "{ctx}: close payload is the status code {code}");
    }

    /// wsat closes its side: EOF (or a reset) with no further frames.
    pub fn expect_eof(&mut self, ctx: &str) {
        if let Some(f) = self.read_frame(ctx) {
            panic!("{ctx}: expected wsat to close the TCP connection, got a frame {f:?}");
        }
    }

    /// Like `expect_eof`, allowing the client's keep-alive pings first.
    pub fn expect_eof_after_pings(&mut self, ctx: &str) {
        while let Some(f) = self.read_frame(ctx) {
            assert_eq!((f.opcode, f.payload.len()), (OP_PING, 0), "{ctx}: only keep-alive pings before the drop: {f:?}");
        }
    }

    pub fn shutdown_write(&self) {
        let _ = self.s.shutdown(Shutdown::Write);
    }
}
