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

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use common::ws_server::*;
use common::{join_wifi, HostEnd, Wsat};

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
        h.at_as(cmd, b"\r\nOK\r\n", cmd);
    }
    // The same forms on the other links.
    h.at_as("AT+WSCFG=1,30,60,4096,0,0,0", b"\r\nOK\r\n", "link 1, seven fields");
    h.at_as("AT+WSCFG=2,30,60,,0", b"\r\nOK\r\n", "link 2, empty buffer size");
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
    let nonce = BASE64.decode(req.key()).expect("the key is base64");
    assert_eq!(nonce.len(), 16, "the key is a 16-byte nonce");
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
    h.at_as(
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

    h.at_as("AT+WSSEND=0,0", b"\r\nOK\r\n\r\n>", "prompt for zero bytes");
    h.expect(b"\r\nSEND OK\r\n", "SEND OK without data");
    let f = p.data_frame("the empty frame");
    assert_eq!((f.fin, f.opcode, f.masked, f.payload.len()), (true, OP_TEXT, true, 0), "FIN + TEXT, masked, length 0: {f:?}");

    // Exactly one frame: the next thing on the wire is the next send.
    h.at_as("AT+WSSEND=0,2", b"\r\nOK\r\n\r\n>", "prompt");
    h.send(b"ok");
    h.expect(b"\r\nSEND OK\r\n", "SEND OK");
    let f = p.data_frame("the next frame");
    assert_eq!((f.fin, f.opcode, &f.payload[..]), (true, OP_TEXT, &b"ok"[..]), "{f:?}");

    // Nothing else was said on the AT port.
    h.at_as("AT+WSOPEN?", format!("+WSOPEN:0,2,\"ws://127.0.0.1:{port}/\"\r\n\r\nOK\r\n").as_bytes(), "connected");
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
        h.at_as("AT+WSSEND=0,4,1,0", b"\r\nOK\r\n\r\n>", &format!("prompt {i}"));
        h.send(b"test");
        h.expect(b"\r\nSEND OK\r\n", &format!("SEND OK {i}"));
        let f = p.data_frame(&format!("frame {i}"));
        assert_eq!((f.fin, f.opcode, &f.payload[..]), (true, OP_TEXT, &b"test"[..]), "frame {i}: {f:?}");
    }
    h.at_as("AT+WSOPEN?", format!("+WSOPEN:0,2,\"ws://127.0.0.1:{port}/\"\r\n\r\nOK\r\n").as_bytes(), "connected");
    w.stop();
}

/// `AT+WSSEND=...,0` to a server that never reads: each send answers at
/// once, `SEND OK` while the socket takes the frame whole; the first that
/// it does not take ends in ERROR, and then either nothing of it went out
/// and the link is still up (refused), or the socket took part of it and
/// the connection is dropped (`+WS_DISCONNECTED`), as esp_websocket_client
/// does. Either way the server gets exactly the frames that had SEND OK,
/// and nothing after an ERROR.
#[test]
fn wssend_timeout_zero_to_a_server_that_stops_reading() {
    let srv = WsServer::new();
    let port = srv.port();
    let (_dir, w, mut h) = setup();
    // No keep-alive ping may queue behind the full socket during the test.
    h.at_as("AT+WSCFG=0,7200,7200,16384", b"\r\nOK\r\n", "no pings");
    let (mut p, _) = open_with(&mut h, &srv, 0, &format!("AT+WSOPEN=0,\"ws://127.0.0.1:{port}/\""));

    let chunk = vec![b'x'; 16384];
    let mut sent = 0;
    let outcome = loop {
        assert!(sent < 4000, "the socket never filled after {sent} sends");
        h.at_as("AT+WSSEND=0,16384,2,0", b"\r\nOK\r\n\r\n>", &format!("prompt {sent}"));
        h.send(&chunk);
        h.expect(b"\r\n", &format!("result {sent}"));
        let result = h.until(b"\r\n");
        match &result[..] {
            b"SEND OK\r\n" => sent += 1,
            b"ERROR\r\n" => break result,
            other => panic!("send {sent}: {}", common::escape(other)),
        }
    };
    assert_eq!(outcome, b"ERROR\r\n");
    // Refused (the link is up) or dropped (+WS_DISCONNECTED comes next).
    h.send(b"AT+WSOPEN?\r\n");
    let state = h.until(b"OK\r\n");
    let dropped = state.starts_with(b"+WS_DISCONNECTED:0\r\n");
    if !dropped {
        assert_eq!(state, format!("+WSOPEN:0,2,\"ws://127.0.0.1:{port}/\"\r\n\r\nOK\r\n").into_bytes(), "refused: still connected");
    }
    eprintln!("{sent} sends went out whole, then {}", if dropped { "a partial write dropped the link" } else { "a refusal" });
    // The server now reads: exactly the frames that had SEND OK.
    for i in 0..sent {
        let f = p.data_frame(&format!("frame {i} of {sent}"));
        assert_eq!((f.fin, f.opcode, f.payload.len()), (true, OP_BINARY, 16384), "frame {i}");
    }
    if dropped {
        // Part of the refused frame, then the connection's end.
        let mut rest = Vec::new();
        let _ = std::io::Read::read_to_end(&mut p.s, &mut rest);
        assert!(p.buf.len() + rest.len() < 16384 + 14, "less than the whole frame went out");
    } else {
        // Nothing more: the refused send never goes out.
        p.s.set_read_timeout(Some(std::time::Duration::from_millis(500))).unwrap();
        let mut b = [0u8; 64];
        let more = std::io::Read::read(&mut p.s, &mut b);
        assert!(p.buf.is_empty() && more.is_err(), "bytes after the refused send: {more:?}");
    }
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

    h.at_as("AT+WSDATAFMT=0,0,0", b"\r\nOK\r\n", "level 0, mask 0");
    p.send(&frame(true, OP_TEXT, b"hi"));
    h.expect(b"+WS_DATA:0,hi", "no fields, no CR LF");
    // The next report and the next reply follow with nothing in between.
    p.send(&frame(true, OP_TEXT, b"yo"));
    h.expect(b"+WS_DATA:0,yo", "second report");
    h.at_as("AT+WSOPEN?", format!("+WSOPEN:0,2,\"ws://127.0.0.1:{port}/\"\r\n\r\nOK\r\n").as_bytes(), "reply after bare data");
    w.stop();
}
