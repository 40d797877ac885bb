//! The WebSocket command forms that host drivers send, against scripted
//! Rust servers on loopback: every optional field given, empty or left
//! out; an Authorization value; the Host header's `host:port` form; empty
//! and zero-timeout sends; a report format with no optional field.
//!
//! Each test runs the real binary over `--tcp` and asserts the exact AT
//! port bytes. The servers are raw `std::net` listeners on 127.0.0.1 that
//! answer the HTTP upgrade by hand and decode the client's masked frames,
//! so what wsat put on the wire is checked too. Nothing waits without a
//! deadline: server reads time out after [`WAIT`], host reads after the
//! harness's patience.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use common::{escape, join_wifi, HostEnd, Wsat};
use sha1::{Digest, Sha1};

/// How long a server waits for the client's next bytes or connection.
const WAIT: Duration = Duration::from_secs(10);

const OP_TEXT: u8 = 0x1;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

// ---------------------------------------------------------------------------
// The scripted server
// ---------------------------------------------------------------------------

/// `base64(sha1(key + GUID))`, computed here independently of wsat.
fn accept_for(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    BASE64.encode(h.finalize())
}

/// A well-formed, unmasked server frame (payloads here are under 126 bytes).
fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126, "short frames only");
    let mut v = vec![u8::from(fin) << 7 | opcode, payload.len() as u8];
    v.extend_from_slice(payload);
    v
}

/// A listener on 127.0.0.1 with a free port.
struct WsServer {
    listener: TcpListener,
}

impl WsServer {
    fn new() -> WsServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener.set_nonblocking(true).expect("nonblocking listener");
        WsServer { listener }
    }

    fn port(&self) -> u16 {
        self.listener.local_addr().expect("local addr").port()
    }

    /// The next connection, or a panic after [`WAIT`].
    fn accept(&self) -> Peer {
        let end = Instant::now() + WAIT;
        loop {
            match self.listener.accept() {
                Ok((s, _)) => {
                    s.set_nonblocking(false).expect("blocking stream");
                    s.set_read_timeout(Some(WAIT)).expect("read timeout");
                    s.set_write_timeout(Some(WAIT)).expect("write timeout");
                    s.set_nodelay(true).expect("nodelay");
                    return Peer { s, buf: Vec::new() };
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    assert!(Instant::now() < end, "no connection from wsat within {WAIT:?}");
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
    }
}

/// The client's opening request head (request line and header lines).
struct Request {
    lines: Vec<String>,
}

impl Request {
    /// The value of the first header named `name` (case-insensitive), trimmed.
    fn header(&self, name: &str) -> Option<String> {
        self.lines.iter().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    fn key(&self) -> String {
        let key = self.header("Sec-WebSocket-Key").expect("Sec-WebSocket-Key in the request");
        let nonce = BASE64.decode(&key).unwrap_or_else(|e| panic!("key {key:?} is base64: {e}"));
        assert_eq!(nonce.len(), 16, "the key is a 16-byte nonce: {key:?}");
        key
    }

    fn text(&self) -> String {
        self.lines.join("\r\n")
    }
}

/// A frame the client sent, unmasked, with its first two bytes as sent.
#[derive(Debug)]
struct Frame {
    b0: u8,
    b1: u8,
    payload: Vec<u8>,
}

impl Frame {
    fn fin(&self) -> bool {
        self.b0 & 0x80 != 0
    }
    fn opcode(&self) -> u8 {
        self.b0 & 0x0f
    }
}

/// One accepted connection.
struct Peer {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Peer {
    /// Reads until `n` bytes are buffered; panics on EOF or timeout.
    fn fill(&mut self, n: usize, ctx: &str) {
        let mut b = [0u8; 16384];
        while self.buf.len() < n {
            match self.s.read(&mut b) {
                Ok(0) => panic!("{ctx}: wsat closed the connection; have {}", escape(&self.buf)),
                Ok(k) => self.buf.extend_from_slice(&b[..k]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    panic!("{ctx}: nothing from wsat within {WAIT:?}; have {}", escape(&self.buf))
                }
                Err(e) => panic!("{ctx}: read: {e}"),
            }
        }
    }

    /// Reads the opening request (up to the blank line).
    fn read_request(&mut self) -> Request {
        loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..i + 4).collect();
                let text = String::from_utf8(head).expect("request head is text");
                let lines: Vec<String> = text.trim_end_matches("\r\n").split("\r\n").map(str::to_string).collect();
                return Request { lines };
            }
            let want = self.buf.len() + 1;
            self.fill(want, "opening request");
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).expect("server write");
    }

    /// Reads the request and accepts it with a plain 101.
    fn handshake(&mut self) -> Request {
        let req = self.read_request();
        let resp = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            accept_for(&req.key())
        );
        self.send(resp.as_bytes());
        req
    }

    /// The client's next frame, which must be masked with no RSV bits and a
    /// 7-bit length (all client frames here are short).
    fn frame(&mut self, ctx: &str) -> Frame {
        self.fill(2, ctx);
        let (b0, b1) = (self.buf[0], self.buf[1]);
        assert_eq!(b1 & 0x80, 0x80, "{ctx}: client frames are masked: {}", escape(&self.buf));
        assert_eq!(b0 & 0x70, 0, "{ctx}: no RSV bits: {}", escape(&self.buf));
        let len = usize::from(b1 & 0x7f);
        assert!(len < 126, "{ctx}: a short frame: {}", escape(&self.buf));
        self.fill(6 + len, ctx);
        let key = [self.buf[2], self.buf[3], self.buf[4], self.buf[5]];
        let mut payload: Vec<u8> = self.buf[6..6 + len].to_vec();
        self.buf.drain(..6 + len);
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= key[i % 4];
        }
        Frame { b0, b1, payload }
    }

    /// The next frame that is not one of the client's own keep-alive pings
    /// (empty PING, every 10 s by default), which are answered.
    fn data_frame(&mut self, ctx: &str) -> Frame {
        loop {
            let f = self.frame(ctx);
            if f.opcode() == OP_PING && f.payload.is_empty() {
                self.send(&frame(true, OP_PONG, &[]));
                continue;
            }
            return f;
        }
    }
}

// ---------------------------------------------------------------------------
// The host side
// ---------------------------------------------------------------------------

/// wsat booted, on Wi-Fi, echo off. The TempDir holds the state directory.
fn setup() -> (tempfile::TempDir, Wsat, HostEnd) {
    let dir = common::tempdir();
    let (w, mut h) = common::wsat_tcp(dir.path(), &[]);
    join_wifi(&mut h);
    common::echo_off(&mut h);
    (dir, w, h)
}

/// Sends a command line and expects exactly `want` back.
fn at(h: &mut HostEnd, cmd: &str, want: &[u8], ctx: &str) {
    h.send(format!("{cmd}\r\n").as_bytes());
    h.expect(want, ctx);
}

/// Sends `cmd` (an AT+WSOPEN for `link`), accepts the connection on `srv`
/// with a plain 101, expects `+WS_CONNECTED` and OK; returns the
/// connection and the request it carried.
fn open_with(h: &mut HostEnd, srv: &WsServer, link: u8, cmd: &str) -> (Peer, Request) {
    h.send(format!("{cmd}\r\n").as_bytes());
    let mut p = srv.accept();
    let req = p.handshake();
    h.expect(format!("+WS_CONNECTED:{link}\r\n\r\nOK\r\n").as_bytes(), cmd);
    (p, req)
}

/// The request head wsat sends for `resource` on `host` with key `key`,
/// then `extra` header lines (each without CR LF).
fn request_text(resource: &str, host: &str, key: &str, extra: &[&str]) -> String {
    let mut lines = vec![
        format!("GET {resource} HTTP/1.1"),
        format!("Host: {host}"),
        "User-Agent: ESP32 Websocket Client".to_string(),
        "Upgrade: websocket".to_string(),
        "Connection: Upgrade".to_string(),
        format!("Sec-WebSocket-Key: {key}"),
        "Sec-WebSocket-Version: 13".to_string(),
    ];
    lines.extend(extra.iter().map(|s| s.to_string()));
    lines.join("\r\n")
}

// ---------------------------------------------------------------------------
// 1. AT+WSCFG with the optional fields given, empty or left out
// ---------------------------------------------------------------------------

/// auth_mode 0 with pki/ca numbers given (drivers that always send seven
/// fields), with only a pki number, with an empty buffer size, and with
/// only the three required fields: all OK.
#[test]
fn wscfg_optional_field_forms() {
    let dir = common::tempdir();
    let (w, mut h) = common::wsat_tcp(dir.path(), &[]);
    common::echo_off(&mut h);
    for cmd in ["AT+WSCFG=0,30,60,4096,0,0,0", "AT+WSCFG=0,30,60,4096,0,0", "AT+WSCFG=0,30,60,,0", "AT+WSCFG=0,30,60"] {
        at(&mut h, cmd, b"\r\nOK\r\n", cmd);
    }
    // The same forms on the other links.
    at(&mut h, "AT+WSCFG=1,30,60,4096,0,0,0", b"\r\nOK\r\n", "link 1, seven fields");
    at(&mut h, "AT+WSCFG=2,30,60,,0", b"\r\nOK\r\n", "link 2, empty buffer size");
    w.stop();
}

// ---------------------------------------------------------------------------
// 2. AT+WSOPEN with empty subprotocol/timeout fields and an Authorization
// ---------------------------------------------------------------------------

/// `,,,"Basic eA=="`: empty subprotocol and timeout, then the auth value,
/// which goes out as `Authorization:` (and no Sec-WebSocket-Protocol);
/// `,,` (two trailing empty fields) opens with neither header.
#[test]
fn wsopen_with_empty_fields_and_authorization() {
    let srv = WsServer::new();
    let port = srv.port();
    let (_dir, w, mut h) = setup();

    let cmd = format!("AT+WSOPEN=0,\"ws://127.0.0.1:{port}/echo\",,,\"Basic eA==\"");
    let (mut p0, req) = open_with(&mut h, &srv, 0, &cmd);
    assert_eq!(req.header("Authorization").as_deref(), Some("Basic eA=="), "{}", req.text());
    assert_eq!(
        req.text(),
        request_text("/echo", &format!("127.0.0.1:{port}"), &req.key(), &["Authorization: Basic eA=="]),
        "the whole request head"
    );

    let cmd = format!("AT+WSOPEN=1,\"ws://127.0.0.1:{port}/\",,");
    let (mut p1, req) = open_with(&mut h, &srv, 1, &cmd);
    assert_eq!(req.text(), request_text("/", &format!("127.0.0.1:{port}"), &req.key(), &[]), "no optional headers");

    // Both links are up and carry data.
    at(
        &mut h,
        "AT+WSOPEN?",
        format!("+WSOPEN:0,2,\"ws://127.0.0.1:{port}/echo\"\r\n+WSOPEN:1,2,\"ws://127.0.0.1:{port}/\"\r\n\r\nOK\r\n").as_bytes(),
        "two links",
    );
    p0.send(&frame(true, OP_TEXT, b"zero"));
    h.expect(b"+WS_DATA:0,4,zero\r\n", "link 0 data");
    p1.send(&frame(true, OP_TEXT, b"one"));
    h.expect(b"+WS_DATA:1,3,one\r\n", "link 1 data");
    w.stop();
}

// ---------------------------------------------------------------------------
// 3. The Host header is host:port
// ---------------------------------------------------------------------------

/// `ws://127.0.0.1:P` and `ws://localhost:P` (no path) give
/// `Host: 127.0.0.1:P` and `Host: localhost:P`.
#[test]
fn host_header_is_host_colon_port() {
    let srv = WsServer::new();
    let port = srv.port();
    let (_dir, w, mut h) = setup();

    let cmd = format!("AT+WSOPEN=0,\"ws://127.0.0.1:{port}\"");
    let (_p0, req) = open_with(&mut h, &srv, 0, &cmd);
    assert_eq!(req.header("Host"), Some(format!("127.0.0.1:{port}")), "{}", req.text());
    assert_eq!(req.lines[1], format!("Host: 127.0.0.1:{port}"), "Host right after the request line");
    assert_eq!(req.lines[0], "GET / HTTP/1.1", "no path is /");

    // A name, not an address: localhost resolves (maybe ::1 first, which
    // refuses; then 127.0.0.1) and the Host header keeps the name.
    let cmd = format!("AT+WSOPEN=1,\"ws://localhost:{port}\"");
    let (_p1, req) = open_with(&mut h, &srv, 1, &cmd);
    assert_eq!(req.header("Host"), Some(format!("localhost:{port}")), "{}", req.text());
    assert_eq!(req.lines[1], format!("Host: localhost:{port}"), "Host right after the request line");
    w.stop();
}

// ---------------------------------------------------------------------------
// 4. AT+WSSEND of zero bytes
// ---------------------------------------------------------------------------

/// Length 0 still prompts, needs no data, and sends one empty final text
/// frame (`81 80` and a masking key); the next send follows it directly.
#[test]
fn wssend_zero_length_sends_one_empty_text_frame() {
    let srv = WsServer::new();
    let port = srv.port();
    let (_dir, w, mut h) = setup();
    let (mut p, _) = open_with(&mut h, &srv, 0, &format!("AT+WSOPEN=0,\"ws://127.0.0.1:{port}/\""));

    at(&mut h, "AT+WSSEND=0,0", b"\r\nOK\r\n\r\n>", "prompt for zero bytes");
    h.expect(b"\r\nSEND OK\r\n", "SEND OK without data");
    let f = p.data_frame("the empty frame");
    assert_eq!((f.b0, f.b1), (0x81, 0x80), "FIN + TEXT, masked, length 0: {f:?}");
    assert!(f.payload.is_empty(), "{f:?}");
    assert_eq!((f.opcode(), f.fin()), (OP_TEXT, true));

    // Exactly one frame: the next thing on the wire is the next send.
    at(&mut h, "AT+WSSEND=0,2", b"\r\nOK\r\n\r\n>", "prompt");
    h.send(b"ok");
    h.expect(b"\r\nSEND OK\r\n", "SEND OK");
    let f = p.data_frame("the next frame");
    assert_eq!((f.b0, f.b1 & 0x7f, &f.payload[..]), (0x81, 2, &b"ok"[..]), "{f:?}");

    // Nothing else was said on the AT port.
    at(&mut h, "AT+WSOPEN?", format!("+WSOPEN:0,2,\"ws://127.0.0.1:{port}/\"\r\n\r\nOK\r\n").as_bytes(), "connected");
    w.stop();
}

// ---------------------------------------------------------------------------
// 5. AT+WSSEND with timeout 0
// ---------------------------------------------------------------------------

/// `AT+WSSEND=0,4,1,0` to a server that keeps reading: always SEND OK,
/// never ERROR, fifty times over; every frame arrives.
#[test]
fn wssend_timeout_zero_to_a_reading_server() {
    let srv = WsServer::new();
    let port = srv.port();
    let (_dir, w, mut h) = setup();
    let (mut p, _) = open_with(&mut h, &srv, 0, &format!("AT+WSOPEN=0,\"ws://127.0.0.1:{port}/\""));

    for i in 0..50 {
        at(&mut h, "AT+WSSEND=0,4,1,0", b"\r\nOK\r\n\r\n>", &format!("prompt {i}"));
        h.send(b"test");
        h.expect(b"\r\nSEND OK\r\n", &format!("SEND OK {i}"));
        let f = p.data_frame(&format!("frame {i}"));
        assert_eq!((f.b0, f.b1 & 0x7f, &f.payload[..]), (0x81, 4, &b"test"[..]), "frame {i}: {f:?}");
    }
    at(&mut h, "AT+WSOPEN?", format!("+WSOPEN:0,2,\"ws://127.0.0.1:{port}/\"\r\n\r\nOK\r\n").as_bytes(), "connected");
    w.stop();
}

// ---------------------------------------------------------------------------
// 6. AT+WSDATAFMT with mask 0
// ---------------------------------------------------------------------------

/// Mask 0 prints no optional field and (bit 5 off) no CR LF: the header
/// is `+WS_DATA:<link>,` and the data follows it, then the next output.
#[test]
fn wsdatafmt_mask_zero_reports_bare_data() {
    let srv = WsServer::new();
    let port = srv.port();
    let (_dir, w, mut h) = setup();
    let (mut p, _) = open_with(&mut h, &srv, 0, &format!("AT+WSOPEN=0,\"ws://127.0.0.1:{port}/\""));

    at(&mut h, "AT+WSDATAFMT=0,0,0", b"\r\nOK\r\n", "level 0, mask 0");
    p.send(&frame(true, OP_TEXT, b"hi"));
    h.expect(b"+WS_DATA:0,hi", "no fields, no CR LF");
    // The next report and the next reply follow with nothing in between.
    p.send(&frame(true, OP_TEXT, b"yo"));
    h.expect(b"+WS_DATA:0,yo", "second report");
    at(&mut h, "AT+WSOPEN?", format!("+WSOPEN:0,2,\"ws://127.0.0.1:{port}/\"\r\n\r\nOK\r\n").as_bytes(), "reply after bare data");
    w.stop();
}
