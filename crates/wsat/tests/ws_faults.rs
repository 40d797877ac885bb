//! WebSocket links against scripted, impolite servers: what a well-behaved
//! server never does. Each server here is a raw `std::net` TCP listener on
//! loopback that answers the HTTP upgrade by hand and then writes frames
//! byte by byte, so every fault is exact. The client's (masked) frames are
//! read back and decoded to check what wsat put on the wire.
//!
//! Every test runs the real binary over `--tcp` and asserts the exact AT
//! port output and the link state (`AT+WSOPEN?`). Nothing waits without a
//! deadline: server reads time out after [`WAIT`], host reads after the
//! harness's patience (or an explicit longer one where a timer is slower).

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::ws_server::*;
use common::{escape, join_wifi, HostEnd, Wsat};

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

/// Stops wsat (bounded: see `Wsat::stop`).
fn finish(w: Wsat) {
    w.stop();
}


/// `AT+WSOPEN?` lists exactly `lines` (each `+WSOPEN:...` without CR LF).
fn links_are(h: &mut HostEnd, lines: &[String], ctx: &str) {
    let mut want = String::new();
    for l in lines {
        want.push_str(l);
        want.push_str("\r\n");
    }
    want.push_str("\r\nOK\r\n");
    h.at_as("AT+WSOPEN?", want.as_bytes(), ctx);
}

/// Opens link 0 to `srv` with a plain 101 and returns the connection.
fn open(h: &mut HostEnd, srv: &WsServer) -> Peer {
    h.send(format!("AT+WSOPEN=0,\"{}\"\r\n", srv.url()).as_bytes());
    let mut p = srv.accept();
    p.handshake();
    h.expect(b"+WS_CONNECTED:0\r\n\r\nOK\r\n", "WSOPEN");
    p
}

// ---------------------------------------------------------------------------
// 1. Fragmented messages with a ping in the middle
// ---------------------------------------------------------------------------

/// "Hello, " + "Web" + "Socket!" as TEXT(no FIN), CONT(no FIN), CONT(FIN),
/// with a PING between the first two fragments (allowed: RFC 6455 5.4).
fn fragmented_with_ping(p: &mut Peer, ping: &[u8]) {
    let mut bytes = frame(false, OP_TEXT, b"Hello, ");
    bytes.extend(frame(true, OP_PING, ping));
    bytes.extend(frame(false, OP_CONT, b"Web"));
    bytes.extend(frame(true, OP_CONT, b"Socket!"));
    p.send(&bytes);
    let pong = p.data_frame("pong for the ping between fragments");
    assert_eq!((pong.opcode, pong.fin), (OP_PONG, true), "a pong: {pong:?}");
    assert_eq!(pong.payload, ping, "the pong carries the ping's payload");
}

#[test]
fn fragmented_message_with_ping_between_fragments() {
    let srv = WsServer::new();
    let (_dir, w, mut h) = setup();
    // Message level, every field: one report for the whole message.
    h.at_as("AT+WSDATAFMT=0,2,63", b"\r\nOK\r\n", "level 2");
    let mut p = open(&mut h, &srv);
    fragmented_with_ping(&mut p, b"p1");
    h.expect(b"+WS_DATA:0,1,1,17,0,17,Hello, WebSocket!\r\n", "one report for the reassembled message");

    // Chunk level: every frame is its own report, with its own opcode/fin.
    h.at_as("AT+WSDATAFMT=0,0,63", b"\r\nOK\r\n", "level 0");
    fragmented_with_ping(&mut p, b"second ping");
    h.expect(
        b"+WS_DATA:0,1,0,7,0,7,Hello, \r\n+WS_DATA:0,0,0,3,0,3,Web\r\n+WS_DATA:0,0,1,7,0,7,Socket!\r\n",
        "one report per fragment",
    );

    // Default format (level 0, mask 48): data_len and CR LF only.
    h.at_as("AT+WSDATAFMT=0,,", b"\r\nOK\r\n", "defaults");
    fragmented_with_ping(&mut p, b"");
    h.expect(b"+WS_DATA:0,7,Hello, \r\n+WS_DATA:0,3,Web\r\n+WS_DATA:0,7,Socket!\r\n", "default format");

    // Nothing else came out, and the link is still up.
    links_are(&mut h, &[format!("+WSOPEN:0,2,\"{}\"", srv.url())], "still connected");
    finish(w);
}

/// Pings at the size limit and empty are answered with the same payload;
/// an unsolicited pong is ignored.
#[test]
fn pings_at_the_limits_and_unsolicited_pongs() {
    let srv = WsServer::new();
    let (_dir, w, mut h) = setup();
    let mut p = open(&mut h, &srv);
    let big: Vec<u8> = (0..125u8).collect();
    for payload in [&big[..], &[][..], &b"\x00\xff"[..]] {
        p.send_frame(true, OP_PING, payload);
        let f = p.frame("pong");
        assert_eq!((f.opcode, f.fin, &f.payload[..]), (OP_PONG, true, payload), "{f:?}");
    }
    p.send_frame(true, OP_PONG, b"unasked");
    p.send_frame(true, OP_TEXT, b"after");
    h.expect(b"+WS_DATA:0,5,after\r\n", "only the data is reported");
    links_are(&mut h, &[format!("+WSOPEN:0,2,\"{}\"", srv.url())], "connected");
    finish(w);
}

/// The 101 answer, data and the server's close all in one write: each is
/// taken in order.
#[test]
fn handshake_answer_data_and_close_in_one_write() {
    let srv = WsServer::new();
    let (_dir, w, mut h) = setup();
    h.send(format!("AT+WSOPEN=0,\"{}\"\r\n", srv.url()).as_bytes());
    let mut p = srv.accept();
    let req = p.read_request();
    let mut all = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        accept_for(&req.key())
    )
    .into_bytes();
    all.extend(frame(true, OP_TEXT, b"first"));
    all.extend(frame(true, OP_BINARY, b"\x01\x02"));
    all.extend(frame(true, OP_CLOSE, &4000u16.to_be_bytes()));
    p.send(&all);
    p.expect_close(4000, "close echo");
    p.shutdown_write();
    h.expect(
        b"+WS_CONNECTED:0\r\n\r\nOK\r\n+WS_DATA:0,5,first\r\n+WS_DATA:0,2,\x01\x02\r\n+WS_CLOSED:0\r\n",
        "connected, two reports, closed",
    );
    p.expect_eof("closed");
    links_are(&mut h, &[], "link freed");
    finish(w);
}

/// A server that writes one byte at a time (handshake and frames, 16-bit
/// length included): the same result as one write, at frame level.
#[test]
fn server_writing_one_byte_at_a_time() {
    let srv = WsServer::new();
    let (_dir, w, mut h) = setup();
    h.at_as("AT+WSDATAFMT=0,1,63", b"\r\nOK\r\n", "frame level");
    h.send(format!("AT+WSOPEN=0,\"{}\"\r\n", srv.url()).as_bytes());
    let mut p = srv.accept();
    let req = p.read_request();
    let mut all = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        accept_for(&req.key())
    )
    .into_bytes();
    let long: Vec<u8> = (0..200u32).map(|i| b'A' + (i % 26) as u8).collect();
    all.extend(frame(true, OP_TEXT, "h\u{e9}llo".as_bytes()));
    all.extend(frame(true, OP_TEXT, &long));
    for b in all {
        p.send(&[b]);
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut want = b"+WS_CONNECTED:0\r\n\r\nOK\r\n+WS_DATA:0,1,1,6,0,6,h\xc3\xa9llo\r\n+WS_DATA:0,1,1,200,0,200,".to_vec();
    want.extend_from_slice(&long);
    want.extend_from_slice(b"\r\n");
    h.expect(&want, "reassembled from single bytes");
    finish(w);
}

// ---------------------------------------------------------------------------
// 2, 3. Protocol violations: the client fails the connection with a code
// ---------------------------------------------------------------------------

/// Opens a link, checks a good frame gets through, then sends `bad`. The
/// client must answer with a close frame carrying `code`, report
/// `+WS_CLOSED:0` and free the link. With `reply`, the server answers the
/// close politely; without, it stays silent and the client gives up waiting.
fn violation(bad: &[u8], code: u16, reply: bool, what: &str) {
    let srv = WsServer::new();
    let (_dir, w, mut h) = setup();
    let mut p = open(&mut h, &srv);
    p.send_frame(true, OP_TEXT, b"ok");
    h.expect(b"+WS_DATA:0,2,ok\r\n", &format!("{what}: a good frame first"));
    p.send(bad);
    p.expect_close(code, what);
    if reply {
        p.send_frame(true, OP_CLOSE, &code.to_be_bytes());
        p.shutdown_write();
    }
    // Exactly this, no +WS_DATA for the bad frame and no +WS_DISCONNECTED.
    h.expect(b"+WS_CLOSED:0\r\n", what);
    p.expect_eof(what);
    links_are(&mut h, &[], &format!("{what}: link freed"));
    // The link can be opened again.
    drop(p);
    let _p2 = open(&mut h, &srv);
    finish(w);
}

#[test]
fn control_frame_too_long_is_1002() {
    // A ping with 126 bytes (16-bit length form); the server never answers
    // the client's close, so the client stops waiting by itself.
    violation(&raw_frame(0x80 | OP_PING, &[b'x'; 126]), 1002, false, "ping with 126 bytes");
}

#[test]
fn control_frame_too_long_with_close_reply_is_1002() {
    violation(&raw_frame(0x80 | OP_PING, &[b'x'; 126]), 1002, true, "ping with 126 bytes, close answered");
}

#[test]
fn invalid_utf8_text_is_1007() {
    violation(&frame(true, OP_TEXT, b"ab\xff\xfecd"), 1007, true, "bad UTF-8 in a text frame");
}

#[test]
fn invalid_utf8_across_fragments_is_1007() {
    // A 3-byte sequence started in one fragment and broken in the next.
    let mut bad = frame(false, OP_TEXT, b"ok \xe2\x82");
    bad.extend(frame(true, OP_CONT, b"X"));
    let srv = WsServer::new();
    let (_dir, w, mut h) = setup();
    h.at_as("AT+WSDATAFMT=0,2,63", b"\r\nOK\r\n", "message level: no partial report");
    let mut p = open(&mut h, &srv);
    p.send(&bad);
    p.expect_close(1007, "broken UTF-8 across fragments");
    p.send_frame(true, OP_CLOSE, &1007u16.to_be_bytes());
    p.shutdown_write();
    h.expect(b"+WS_CLOSED:0\r\n", "closed, nothing of the message reported");
    p.expect_eof("closed");
    links_are(&mut h, &[], "link freed");
    finish(w);
}

#[test]
fn invalid_utf8_in_close_reason_is_1007() {
    let mut payload = 1000u16.to_be_bytes().to_vec();
    payload.extend_from_slice(b"bye\xc0");
    violation(&frame(true, OP_CLOSE, &payload), 1007, true, "bad UTF-8 in a close reason");
}

#[test]
fn reserved_bit_rsv1_is_1002() {
    violation(&raw_frame(0x80 | 0x40 | OP_TEXT, b"hi"), 1002, true, "RSV1 set");
}

#[test]
fn reserved_opcode_3_is_1002() {
    violation(&raw_frame(0x80 | 0x3, b"hi"), 1002, true, "opcode 0x3");
}

#[test]
fn masked_server_frame_is_1002() {
    let key = [0x11, 0x22, 0x33, 0x44];
    let mut bad = vec![0x80 | OP_TEXT, 0x80 | 2, key[0], key[1], key[2], key[3]];
    bad.extend(b"hi".iter().zip(key).map(|(b, k)| b ^ k));
    violation(&bad, 1002, true, "masked frame from the server");
}

#[test]
fn continuation_without_start_is_1002() {
    violation(&frame(true, OP_CONT, b"orphan"), 1002, true, "continuation without a message");
}

#[test]
fn new_message_inside_fragmented_message_is_1002() {
    let mut bad = frame(false, OP_TEXT, b"first ");
    bad.extend(frame(true, OP_TEXT, b"second"));
    // Level 0 reports the first fragment before the violation is seen.
    let srv = WsServer::new();
    let (_dir, w, mut h) = setup();
    let mut p = open(&mut h, &srv);
    p.send(&bad);
    p.expect_close(1002, "TEXT while a message is open");
    p.send_frame(true, OP_CLOSE, &1002u16.to_be_bytes());
    p.shutdown_write();
    h.expect(b"+WS_DATA:0,6,first \r\n+WS_CLOSED:0\r\n", "first fragment, then closed");
    p.expect_eof("closed");
    links_are(&mut h, &[], "link freed");
    finish(w);
}

#[test]
fn length_with_top_bit_set_is_1002() {
    // A 64-bit length with its most significant bit set (RFC 6455 5.2),
    // followed by more bytes in the same write.
    let mut bad = vec![0x80 | OP_BINARY, 127, 0x80, 0, 0, 0, 0, 0, 0, 5];
    bad.extend_from_slice(b"hello, more bytes");
    violation(&bad, 1002, true, "64-bit length with the top bit set");
}

/// At message level fragments are reassembled up to 1 MiB; a longer
/// message closes the link with 1009.
#[test]
fn message_over_1_mib_at_message_level_is_1009() {
    let srv = WsServer::new();
    let (_dir, w, mut h) = setup();
    h.at_as("AT+WSDATAFMT=0,2,63", b"\r\nOK\r\n", "message level");
    let mut p = open(&mut h, &srv);
    let half = vec![b'm'; 512 * 1024];
    let mut all = frame(false, OP_BINARY, &half);
    all.extend(frame(false, OP_CONT, &half));
    all.extend(frame(true, OP_CONT, b"!"));
    p.send(&all);
    p.expect_close(1009, "message too big");
    p.send_frame(true, OP_CLOSE, &1009u16.to_be_bytes());
    p.shutdown_write();
    h.expect(b"+WS_CLOSED:0\r\n", "closed, nothing reported");
    p.expect_eof("closed");
    links_are(&mut h, &[], "link freed");
    finish(w);
}

#[test]
fn fragmented_ping_is_1002() {
    violation(&raw_frame(OP_PING, b"p"), 1002, true, "ping without FIN");
}

#[test]
fn close_with_one_byte_is_1002() {
    violation(&frame(true, OP_CLOSE, &[0x03]), 1002, true, "close with a 1-byte body");
}

#[test]
fn close_with_reserved_code_1005_is_1002() {
    violation(&frame(true, OP_CLOSE, &1005u16.to_be_bytes()), 1002, true, "close code 1005 on the wire");
}

/// After failing the connection, the client still reads the server's
/// close reply (the rest of the bad frame is skipped, the frames after it
/// are parsed): the closing handshake completes at once, without waiting
/// out the 1 s close wait.
#[test]
fn close_reply_after_violation_is_read() {
    for (bad, code, what) in [
        (raw_frame(0x80 | 0x40 | OP_TEXT, b"hi"), 1002u16, "RSV1"),
        (raw_frame(0x80 | OP_PING, &[b'x'; 126]), 1002, "ping with 126 bytes"),
        (frame(true, OP_TEXT, b"ab\xffcdef"), 1007, "bad UTF-8"),
    ] {
        let srv = WsServer::new();
        let (_dir, w, mut h) = setup();
        let mut p = open(&mut h, &srv);
        p.send(&bad);
        p.expect_close(code, what);
        // Answer the close but keep TCP open: only the close frame itself
        // can end the handshake early.
        let t = Instant::now();
        p.send_frame(true, OP_CLOSE, &code.to_be_bytes());
        h.expect(b"+WS_CLOSED:0\r\n", what);
        let took = t.elapsed();
        assert!(took < Duration::from_millis(600), "{what}: +WS_CLOSED {took:?} after the server's close reply");
        p.shutdown_write();
        p.expect_eof(what);
        links_are(&mut h, &[], what);
        finish(w);
    }
}

/// Bad UTF-8 found in the middle of a frame whose report has started (frame
/// level, the frame larger than the buffer): the report still ends its
/// line, then the link closes with 1007.
#[test]
fn invalid_utf8_inside_a_streaming_report() {
    let srv = WsServer::new();
    let (_dir, w, mut h) = setup();
    h.at_as("AT+WSDATAFMT=0,1,63", b"\r\nOK\r\n", "frame level");
    let mut p = open(&mut h, &srv);
    let mut payload = vec![b'v'; 2000];
    payload[1500] = 0xff;
    p.send_frame(true, OP_TEXT, &payload);
    p.expect_close(1007, "bad UTF-8 at byte 1500");
    p.send_frame(true, OP_CLOSE, &1007u16.to_be_bytes());
    p.shutdown_write();
    let out = h.until(b"+WS_CLOSED:0\r\n");
    let head = b"+WS_DATA:0,1,1,2000,0,2000,";
    assert!(out.starts_with(head), "report header: {}", escape(&out[..out.len().min(60)]));
    let rest = &out[head.len()..];
    let tail = b"\r\n+WS_CLOSED:0\r\n";
    assert!(rest.ends_with(tail), "cut report ends its line before +WS_CLOSED: {}", escape(&rest[rest.len().saturating_sub(40)..]));
    let data = &rest[..rest.len() - tail.len()];
    assert!(data.len() <= 1500 && data.iter().all(|&b| b == b'v'), "only valid text before the error ({} bytes)", data.len());
    p.expect_eof("closed");
    links_are(&mut h, &[], "link freed");
    finish(w);
}

/// A close frame with no body is echoed with no body.
#[test]
fn empty_server_close_is_echoed_empty() {
    let srv = WsServer::new();
    let (_dir, w, mut h) = setup();
    let mut p = open(&mut h, &srv);
    p.send_frame(true, OP_CLOSE, &[]);
    let f = p.frame("close echo");
    assert_eq!((f.opcode, f.fin, f.payload.len()), (OP_CLOSE, true, 0), "an empty close: {f:?}");
    p.shutdown_write();
    h.expect(b"+WS_CLOSED:0\r\n", "closed");
    p.expect_eof("closed");
    links_are(&mut h, &[], "link freed");
    finish(w);
}

/// The server sends its close and drops TCP at once (no wait for the
/// echo): `+WS_CLOSED` only, never `+WS_DISCONNECTED`.
#[test]
fn server_close_then_immediate_tcp_close() {
    let srv = WsServer::new();
    let (_dir, w, mut h) = setup();
    let mut p = open(&mut h, &srv);
    p.send_frame(true, OP_CLOSE, &1000u16.to_be_bytes());
    drop(p);
    h.expect(b"+WS_CLOSED:0\r\n", "closed");
    let more = h.quiet_for(Duration::from_millis(500));
    assert!(more.is_empty(), "nothing after +WS_CLOSED: {}", escape(&more));
    links_are(&mut h, &[], "link freed");
    finish(w);
}

// ---------------------------------------------------------------------------
// 4. The connection drops without a close frame
// ---------------------------------------------------------------------------

/// A TCP reset while connected: `+WS_DISCONNECTED`, state 3, and ten
/// seconds later the link reconnects by itself (unsolicited
/// `+WS_CONNECTED`).
#[test]
fn tcp_reset_disconnects_then_reconnects_after_10_s() {
    let srv = WsServer::new();
    let (_dir, w, mut h) = setup();
    let mut p = open(&mut h, &srv);
    // Leave the client's frame unread, so closing the socket sends a RST.
    h.at_as("AT+WSSEND=0,4", b"\r\nOK\r\n\r\n>", "prompt");
    h.send(b"test");
    h.expect(b"\r\nSEND OK\r\n", "SEND OK");
    std::thread::sleep(Duration::from_millis(200));
    drop(p);
    h.expect(b"+WS_DISCONNECTED:0\r\n", "reset seen");
    let lost = Instant::now();
    links_are(&mut h, &[format!("+WSOPEN:0,3,\"{}\"", srv.url())], "waiting to reconnect");
    // No report while it waits.
    let idle = h.quiet_for(Duration::from_secs(2));
    assert!(idle.is_empty(), "nothing while waiting: {}", escape(&idle));

    p = srv.accept_within(Duration::from_secs(15));
    let after = lost.elapsed();
    assert!(
        after >= Duration::from_millis(9000) && after <= Duration::from_millis(12_000),
        "reconnect after {after:?}, expected about 10 s"
    );
    p.handshake();
    h.expect(b"+WS_CONNECTED:0\r\n", "unsolicited reconnect report");
    links_are(&mut h, &[format!("+WSOPEN:0,2,\"{}\"", srv.url())], "connected again");
    p.send_frame(true, OP_TEXT, b"again");
    h.expect(b"+WS_DATA:0,5,again\r\n", "the new connection carries data");
    finish(w);
}

/// The server ends TCP (FIN) with no close frame: the same as a reset.
#[test]
fn tcp_fin_without_close_frame_disconnects() {
    let srv = WsServer::new();
    let (_dir, w, mut h) = setup();
    let mut p = open(&mut h, &srv);
    p.shutdown_write();
    h.expect(b"+WS_DISCONNECTED:0\r\n", "EOF seen");
    p.expect_eof("wsat closes its side too");
    links_are(&mut h, &[format!("+WSOPEN:0,3,\"{}\"", srv.url())], "waiting to reconnect");
    // The link exists but is not connected: WSOPEN is refused, WSSEND
    // prompts and then fails.
    h.at_as(&format!("AT+WSOPEN=0,\"{}\"", srv.url()), b"\r\nERROR\r\n", "link still taken");
    h.at_as("AT+WSSEND=0,4", b"\r\nOK\r\n\r\n>", "prompt while disconnected");
    h.send(b"lost");
    h.expect(b"\r\nERROR\r\n", "send while disconnected");
    let idle = h.quiet_for(Duration::from_millis(500));
    assert!(idle.is_empty(), "nothing more: {}", escape(&idle));
    // AT+WSCLOSE frees a waiting link at once.
    h.at_as("AT+WSCLOSE=0", b"+WS_CLOSED:0\r\n\r\nOK\r\n", "close while waiting");
    links_are(&mut h, &[], "link freed");
    finish(w);
}

/// A reconnect attempt that fails (the server refuses the handshake)
/// reports `+WS_DISCONNECTED` again and keeps waiting.
#[test]
fn failed_reconnect_reports_disconnected_again() {
    let srv = WsServer::new();
    let (_dir, w, mut h) = setup();
    let p = open(&mut h, &srv);
    p.shutdown_write();
    h.expect(b"+WS_DISCONNECTED:0\r\n", "EOF seen");
    let lost = Instant::now();
    let mut p = srv.accept_within(Duration::from_secs(15));
    let after = lost.elapsed();
    assert!(after >= Duration::from_millis(9000), "reconnect after {after:?}, expected about 10 s");
    p.read_request();
    p.send(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
    h.expect(b"+WS_DISCONNECTED:0\r\n", "the attempt failed");
    p.expect_eof("wsat drops the failed attempt");
    links_are(&mut h, &[format!("+WSOPEN:0,3,\"{}\"", srv.url())], "still waiting to reconnect");
    h.at_as("AT+WSCLOSE=0", b"+WS_CLOSED:0\r\n\r\nOK\r\n", "close while waiting");
    links_are(&mut h, &[], "link freed");
    finish(w);
}

/// A frame cut off by the connection's end: a report left open ends its
/// line, then `+WS_DISCONNECTED`.
#[test]
fn connection_lost_mid_frame() {
    let srv = WsServer::new();
    let (_dir, w, mut h) = setup();
    h.at_as("AT+WSDATAFMT=0,1,63", b"\r\nOK\r\n", "frame level");
    let mut p = open(&mut h, &srv);
    // A 10-byte frame of which only 4 bytes ever come.
    let mut part = frame(true, OP_BINARY, b"0123456789");
    part.truncate(part.len() - 6);
    p.send(&part);
    std::thread::sleep(Duration::from_millis(200));
    p.shutdown_write();
    h.expect(b"+WS_DATA:0,2,1,10,0,10,0123\r\n+WS_DISCONNECTED:0\r\n", "cut report, then disconnected");
    links_are(&mut h, &[format!("+WSOPEN:0,3,\"{}\"", srv.url())], "waiting to reconnect");
    finish(w);
}

/// A server that stops in the middle of a frame: at frame level the report
/// owns the AT port until it ends (docs/compatibility.md, "Reports and the
/// port"), so a command typed meanwhile is answered only once the link
/// gives up on the silent server (ping after 1 s, no pong for 2 s), after
/// the cut report's CR LF and `+WS_DISCONNECTED`.
#[test]
fn stalled_frame_releases_the_port_after_two_seconds() {
    let srv = WsServer::new();
    let (_dir, w, mut h) = setup();
    h.at_as("AT+WSDATAFMT=0,1,63", b"\r\nOK\r\n", "frame level");
    h.at_as("AT+WSCFG=0,1,2", b"\r\nOK\r\n", "WSCFG");
    let mut p = open(&mut h, &srv);
    let mut part = frame(true, OP_BINARY, b"0123456789");
    part.truncate(part.len() - 6);
    p.send(&part);
    h.expect(b"+WS_DATA:0,2,1,10,0,10,0123", "the report starts");
    let t = Instant::now();
    h.send(b"AT\r\n");
    // After 2 s without progress the report is cut (its line ends) and the
    // held command runs; the pong timeout (1 s + 2 s) drops the link later.
    h.expect(b"\r\n\r\nOK\r\n", "report cut, then the held command");
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(1900), "the command was held for {took:?} only");
    h.expect(b"+WS_DISCONNECTED:0\r\n", "then the pong timeout");
    p.expect_eof_after_pings("wsat drops the connection");
    links_are(&mut h, &[format!("+WSOPEN:0,3,\"{}\"", srv.url())], "waiting to reconnect");
    finish(w);
}

// ---------------------------------------------------------------------------
// 5. A server that never answers pings
// ---------------------------------------------------------------------------

#[test]
fn no_pong_disconnects() {
    let srv = WsServer::new();
    let (_dir, w, mut h) = setup();
    // Ping after 1 s without traffic, give up 2 s later.
    h.at_as("AT+WSCFG=0,1,2", b"\r\nOK\r\n", "WSCFG");
    let mut p = open(&mut h, &srv);
    let opened = Instant::now();
    let ping = p.frame("the first keep-alive ping");
    assert_eq!((ping.opcode, ping.fin, ping.payload.len()), (OP_PING, true, 0), "an empty ping: {ping:?}");
    let first_ping = opened.elapsed();
    assert!(first_ping >= Duration::from_millis(800), "first ping after {first_ping:?}, expected about 1 s");
    // Never answered.
    h.expect(b"+WS_DISCONNECTED:0\r\n", "pong timeout");
    let lost = opened.elapsed();
    assert!(
        lost >= Duration::from_millis(2500) && lost <= Duration::from_millis(6000),
        "disconnected after {lost:?}, expected about 3 s (1 s + 2 s)"
    );
    // Any further pings, then wsat drops the connection.
    p.expect_eof_after_pings("after the pong timeout");
    links_are(&mut h, &[format!("+WSOPEN:0,3,\"{}\"", srv.url())], "waiting to reconnect");
    finish(w);
}

/// The same server answering its pongs keeps the link.
#[test]
fn answered_pings_keep_the_link() {
    let srv = WsServer::new();
    let (_dir, w, mut h) = setup();
    h.at_as("AT+WSCFG=0,1,2", b"\r\nOK\r\n", "WSCFG");
    let mut p = open(&mut h, &srv);
    let start = Instant::now();
    let mut pings = 0;
    while start.elapsed() < Duration::from_millis(4500) {
        let f = p.frame("keep-alive");
        assert_eq!((f.opcode, f.payload.len()), (OP_PING, 0), "{f:?}");
        p.send_frame(true, OP_PONG, &[]);
        pings += 1;
    }
    assert!(pings >= 3, "a ping about every second: {pings} in {:?}", start.elapsed());
    let out = h.quiet_for(Duration::from_millis(100));
    assert!(out.is_empty(), "no reports: {}", escape(&out));
    links_are(&mut h, &[format!("+WSOPEN:0,2,\"{}\"", srv.url())], "still connected");
    finish(w);
}

// ---------------------------------------------------------------------------
// 6. The server closes in the middle of a fragmented message
// ---------------------------------------------------------------------------

fn close_mid_message(level_cmd: &str, want: &[u8]) {
    let srv = WsServer::new();
    let (_dir, w, mut h) = setup();
    h.at_as(level_cmd, b"\r\nOK\r\n", "WSDATAFMT");
    let mut p = open(&mut h, &srv);
    p.send_frame(false, OP_TEXT, b"hel");
    let mut close = 1001u16.to_be_bytes().to_vec();
    close.extend_from_slice(b"going away");
    p.send_frame(true, OP_CLOSE, &close);
    // The client echoes the status code (RFC 6455 5.5.1).
    p.expect_close(1001, "close echo");
    p.shutdown_write();
    h.expect(want, "fragment (by level), then closed");
    p.expect_eof("closed");
    links_are(&mut h, &[], "link freed");
    finish(w);
}

#[test]
fn server_close_during_fragmented_message() {
    close_mid_message("AT+WSDATAFMT=0,,", b"+WS_DATA:0,3,hel\r\n+WS_CLOSED:0\r\n");
}

#[test]
fn server_close_during_fragmented_message_at_message_level() {
    // The unfinished message is never reported.
    close_mid_message("AT+WSDATAFMT=0,2,63", b"+WS_CLOSED:0\r\n");
}

/// AT+WSCLOSE against a server that ignores the close frame: the command
/// waits 2 s for the reply, then reports and frees the link.
#[test]
fn wsclose_with_a_server_that_never_answers_the_close() {
    let srv = WsServer::new();
    let (_dir, w, mut h) = setup();
    let mut p = open(&mut h, &srv);
    let t = Instant::now();
    h.send(b"AT+WSCLOSE=0\r\n");
    p.expect_close(1000, "WSCLOSE's close frame");
    h.expect(b"+WS_CLOSED:0\r\n\r\nOK\r\n", "closed after the wait");
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(1800) && took <= Duration::from_millis(4000),
        "WSCLOSE took {took:?}, expected about 2 s"
    );
    p.expect_eof("wsat drops the connection");
    links_are(&mut h, &[], "link freed");
    finish(w);
}

// ---------------------------------------------------------------------------
// 7. Handshake failures
// ---------------------------------------------------------------------------

/// AT+WSOPEN against a server that answers `respond(request)` (None: no
/// answer at all) must give exactly ERROR within `limit`, close the
/// connection, and leave the link free.
fn bad_handshake(respond: impl Fn(&Request) -> Option<String>, open_args: &str, limit: Duration, what: &str) {
    let srv = WsServer::new();
    let (_dir, w, mut h) = setup();
    let t = Instant::now();
    h.send(format!("AT+WSOPEN=0,\"{}\"{open_args}\r\n", srv.url()).as_bytes());
    let mut p = srv.accept();
    let req = p.read_request();
    if let Some(r) = respond(&req) {
        p.send(r.as_bytes());
    }
    h.expect(b"\r\nERROR\r\n", what);
    let took = t.elapsed();
    assert!(took <= limit, "{what}: ERROR after {took:?}, limit {limit:?}");
    p.expect_eof(what);
    links_are(&mut h, &[], &format!("{what}: link free"));
    // And usable: a proper server is accepted on the same link.
    let _ok = open(&mut h, &srv);
    finish(w);
}

fn good_head(req: &Request) -> String {
    format!("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n", accept_for(&req.key()))
}

#[test]
fn handshake_status_200() {
    bad_handshake(
        |r| Some(format!("HTTP/1.1 200 OK\r\n{}Content-Length: 0\r\n\r\n", good_head(r))),
        "",
        Duration::from_secs(3),
        "status 200",
    );
}

#[test]
fn handshake_wrong_accept() {
    bad_handshake(
        |r| {
            let wrong = accept_for(&format!("{}x", r.key()));
            Some(format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {wrong}\r\n\r\n"
            ))
        },
        "",
        Duration::from_secs(3),
        "wrong Sec-WebSocket-Accept",
    );
}

#[test]
fn handshake_missing_upgrade() {
    bad_handshake(
        |r| {
            Some(format!(
                "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
                accept_for(&r.key())
            ))
        },
        "",
        Duration::from_secs(3),
        "no Upgrade header",
    );
}

#[test]
fn handshake_never_answered_times_out() {
    // AT+WSOPEN's timeout is 1000 ms.
    bad_handshake(|_| None, ",,1000", Duration::from_millis(2500), "no answer, 1000 ms timeout");
}

#[test]
fn handshake_never_answered_takes_its_timeout() {
    let srv = WsServer::new();
    let (_dir, w, mut h) = setup();
    let t = Instant::now();
    h.send(format!("AT+WSOPEN=0,\"{}\",,1000\r\n", srv.url()).as_bytes());
    let mut p = srv.accept();
    p.read_request();
    // Nothing before the timeout.
    let early = h.quiet_for(Duration::from_millis(700));
    assert!(early.is_empty(), "nothing before the timeout: {}", escape(&early));
    h.expect(b"\r\nERROR\r\n", "timeout");
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(950), "ERROR after {took:?}, before the 1000 ms timeout");
    p.expect_eof("wsat gives up the connection");
    links_are(&mut h, &[], "link free");
    finish(w);
}

#[test]
fn handshake_response_head_too_large() {
    bad_handshake(
        |r| {
            let filler = "x".repeat(9000);
            Some(format!("HTTP/1.1 101 Switching Protocols\r\n{}X-Filler: {filler}\r\n\r\n", good_head(r)))
        },
        "",
        Duration::from_secs(3),
        "response head over 8 KiB",
    );
}

#[test]
fn handshake_not_http() {
    bad_handshake(|_| Some("SSH-2.0-OpenSSH_9.6\r\n\r\n".to_string()), "", Duration::from_secs(3), "not HTTP");
}

/// The server drops the connection instead of answering: ERROR at once.
#[test]
fn handshake_connection_closed_by_server() {
    let srv = WsServer::new();
    let (_dir, w, mut h) = setup();
    let t = Instant::now();
    h.send(format!("AT+WSOPEN=0,\"{}\"\r\n", srv.url()).as_bytes());
    let mut p = srv.accept();
    p.read_request();
    drop(p);
    h.expect(b"\r\nERROR\r\n", "EOF during the handshake");
    assert!(t.elapsed() < Duration::from_secs(3), "ERROR after {:?}", t.elapsed());
    links_are(&mut h, &[], "link free");
    finish(w);
}

// ---------------------------------------------------------------------------
// 8. AT+WSSEND variants, as the server sees them
// ---------------------------------------------------------------------------

#[test]
fn wssend_variants_on_the_wire() {
    let srv = WsServer::new();
    let (_dir, w, mut h) = setup();
    // Buffer 512: larger sends are cut into frames of 512.
    h.at_as("AT+WSCFG=0,10,120,512", b"\r\nOK\r\n", "WSCFG");
    let mut p = open(&mut h, &srv);

    // Opcode 2: binary.
    h.at_as("AT+WSSEND=0,3,2", b"\r\nOK\r\n\r\n>", "binary prompt");
    h.send(b"\x00\xff\x10");
    h.expect(b"\r\nSEND OK\r\n", "binary sent");
    let f = p.data_frame("binary");
    assert_eq!((f.opcode, f.fin, &f.payload[..]), (OP_BINARY, true, &b"\x00\xff\x10"[..]), "{f:?}");

    // Opcode 9: a ping with a payload; the server answers it.
    h.at_as("AT+WSSEND=0,4,9", b"\r\nOK\r\n\r\n>", "ping prompt");
    h.send(b"png!");
    h.expect(b"\r\nSEND OK\r\n", "ping sent");
    let f = p.data_frame("ping");
    assert_eq!((f.opcode, f.fin, &f.payload[..]), (OP_PING, true, &b"png!"[..]), "{f:?}");
    p.send_frame(true, OP_PONG, b"png!");

    // fin=0, then a continuation with fin=1.
    h.at_as("AT+WSSEND=0,6,1,10000,0", b"\r\nOK\r\n\r\n>", "partial prompt");
    h.send(b"Hello ");
    h.expect(b"\r\nSEND OK\r\n", "partial sent");
    h.at_as("AT+WSSEND=0,5,0,10000,1", b"\r\nOK\r\n\r\n>", "continuation prompt");
    h.send(b"World");
    h.expect(b"\r\nSEND OK\r\n", "continuation sent");
    let f = p.data_frame("first fragment");
    assert_eq!((f.opcode, f.fin, &f.payload[..]), (OP_TEXT, false, &b"Hello "[..]), "{f:?}");
    let f = p.data_frame("last fragment");
    assert_eq!((f.opcode, f.fin, &f.payload[..]), (OP_CONT, true, &b"World"[..]), "{f:?}");

    // Longer than the buffer: 512 + 512 + 276.
    let big: Vec<u8> = (0..1300u32).map(|i| b'a' + (i % 26) as u8).collect();
    h.at_as("AT+WSSEND=0,1300", b"\r\nOK\r\n\r\n>", "big prompt");
    h.send(&big);
    h.expect(b"\r\nSEND OK\r\n", "big sent");
    let frames: Vec<Frame> = (0..3).map(|i| p.data_frame(&format!("big frame {i}"))).collect();
    let shape: Vec<(u8, bool, usize)> = frames.iter().map(|f| (f.opcode, f.fin, f.payload.len())).collect();
    assert_eq!(shape, [(OP_TEXT, false, 512), (OP_CONT, false, 512), (OP_CONT, true, 276)]);
    let joined: Vec<u8> = frames.iter().flat_map(|f| f.payload.iter().copied()).collect();
    assert!(joined == big, "the three frames carry the data in order");

    // Refused after the data: a control frame over 125 bytes, a control
    // opcode without FIN. Nothing goes on the wire.
    h.at_as("AT+WSSEND=0,126,9", b"\r\nOK\r\n\r\n>", "long ping prompt");
    h.send(&[b'p'; 126]);
    h.expect(b"\r\nERROR\r\n", "control frame too long");
    h.at_as("AT+WSSEND=0,1,9,10000,0", b"\r\nOK\r\n\r\n>", "ping fin=0 prompt");
    h.send(b"p");
    h.expect(b"\r\nERROR\r\n", "control frame without FIN");
    // Zero bytes still get the prompt (drivers wait for `>`), then SEND OK.
    h.at_as("AT+WSSEND=0,0,9", b"\r\nOK\r\n\r\n>\r\nSEND OK\r\n", "empty ping: prompt, then SEND OK");
    let f = p.frame("empty ping");
    assert_eq!((f.opcode, f.fin, f.payload.len()), (OP_PING, true, 0), "only the empty ping went out: {f:?}");
    p.send_frame(true, OP_PONG, &[]);

    // Nothing arrived for the host meanwhile.
    let out = h.quiet_for(Duration::from_millis(200));
    assert!(out.is_empty(), "no reports: {}", escape(&out));
    links_are(&mut h, &[format!("+WSOPEN:0,2,\"{}\"", srv.url())], "connected");

    // Opcode 8 with status 1000: the host starts the close; the server's
    // reply ends it.
    h.at_as("AT+WSSEND=0,2,8", b"\r\nOK\r\n\r\n>", "close prompt");
    h.send(b"\x03\xe8");
    h.expect(b"\r\nSEND OK\r\n", "close sent");
    p.expect_close(1000, "host's close");
    p.send_frame(true, OP_CLOSE, &1000u16.to_be_bytes());
    p.shutdown_write();
    h.expect(b"+WS_CLOSED:0\r\n", "closed");
    p.expect_eof("closed");
    links_are(&mut h, &[], "link freed");
    finish(w);
}

/// A server that stops reading: sends fill the TCP window, then AT+WSSEND
/// answers ERROR after its timeout_ms. Whatever reaches the server stays
/// well-formed: whole messages, never a cut frame.
#[test]
fn wssend_times_out_when_the_server_stops_reading() {
    let srv = WsServer::new();
    let (_dir, w, mut h) = setup();
    let mut p = open(&mut h, &srv);
    let data = vec![b'z'; 16384];
    let mut ok = 0;
    loop {
        assert!(ok < 4000, "64 MiB went into a server that reads nothing");
        h.at_as("AT+WSSEND=0,16384,2,1000", b"\r\nOK\r\n\r\n>", "prompt");
        h.send(&data);
        let t = Instant::now();
        // "\r\nERROR\r\n" is shorter than "\r\nSEND OK\r\n".
        h.fill(b"\r\nERROR\r\n".len(), Duration::from_secs(5));
        if h.buf.starts_with(b"\r\nSEND") {
            h.fill(b"\r\nSEND OK\r\n".len(), Duration::from_secs(1));
        }
        let got: Vec<u8> = h.buf.drain(..).collect();
        if got == b"\r\nSEND OK\r\n" {
            ok += 1;
            continue;
        }
        assert_eq!(escape(&got), escape(b"\r\nERROR\r\n"), "after {ok} sends");
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(900) && took <= Duration::from_millis(3000),
            "ERROR {took:?} after the data, timeout 1000 ms"
        );
        break;
    }
    links_are(&mut h, &[format!("+WSOPEN:0,2,\"{}\"", srv.url())], "still connected");
    // The server reads again: complete messages of 16 frames (1024 each).
    p.s.set_read_timeout(Some(Duration::from_secs(2))).expect("read timeout");
    let mut messages = 0;
    let mut in_message = 0;
    loop {
        if p.buf.is_empty() {
            let mut b = [0u8; 1];
            match p.s.peek(&mut b) {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
        let f = p.frame("queued data");
        if f.opcode == OP_PING && f.payload.is_empty() {
            continue;
        }
        let want_op = if in_message == 0 { OP_BINARY } else { OP_CONT };
        assert_eq!((f.opcode, f.fin, f.payload.len()), (want_op, in_message == 15, 1024), "message {messages} frame {in_message}");
        in_message = (in_message + 1) % 16;
        if in_message == 0 {
            messages += 1;
        }
    }
    assert_eq!(in_message, 0, "the stream ends on a message boundary");
    assert!(messages >= ok, "{messages} messages arrived, {ok} were SEND OK");
    finish(w);
}

// ---------------------------------------------------------------------------
// 9. Request headers: AT+WSHEAD, subprotocol, authorization
// ---------------------------------------------------------------------------

#[test]
fn wshead_subprotocol_and_auth_in_the_request() {
    let srv = WsServer::new();
    let (_dir, w, mut h) = setup();
    h.at_as("AT+WSHEAD=12", b"\r\nOK\r\n\r\n>", "WSHEAD prompt");
    h.send(b"X-Token: abc");
    h.expect(b"\r\nOK\r\n", "header stored");
    h.at_as("AT+WSHEAD=7", b"\r\nOK\r\n\r\n>", "second header");
    h.send(b"X-Two:2");
    h.expect(b"\r\nOK\r\n", "second stored");
    h.at_as("AT+WSHEAD?", b"+WSHEAD:0,\"X-Two:2\"\r\n+WSHEAD:1,\"X-Token: abc\"\r\n\r\nOK\r\n", "newest first");

    let url = format!("ws://127.0.0.1:{}/chat?room=1", srv.port());
    h.send(format!("AT+WSOPEN=0,\"{url}\",\"chat\",5000,\"Basic dXNlcjpwYXNz\"\r\n").as_bytes());
    let mut p = srv.accept();
    let req = p.read_request();
    let text = req.text();
    assert_eq!(req.lines[0], "GET /chat?room=1 HTTP/1.1", "{text}");
    assert_eq!(req.header("Host").as_deref(), Some(&*format!("127.0.0.1:{}", srv.port())), "{text}");
    assert_eq!(req.header("Sec-WebSocket-Version").as_deref(), Some("13"), "{text}");
    assert_eq!(req.header("Sec-WebSocket-Protocol").as_deref(), Some("chat"), "{text}");
    assert_eq!(req.header("Authorization").as_deref(), Some("Basic dXNlcjpwYXNz"), "{text}");
    // key + ": " + the value as typed (which starts with a space).
    let token = req.lines.iter().position(|l| l == "X-Token:  abc");
    let two = req.lines.iter().position(|l| l == "X-Two: 2");
    assert!(token.is_some() && two.is_some(), "header lines as ESP-AT writes them:\n{text}");
    assert!(two < token, "headers in list order (newest first):\n{text}");
    p.answer_101(&req, "Sec-WebSocket-Protocol: chat\r\n");
    h.expect(b"+WS_CONNECTED:0\r\n\r\nOK\r\n", "WSOPEN with subprotocol and auth");
    links_are(&mut h, &[format!("+WSOPEN:0,2,\"{url}\"")], "connected");

    // Length 0 clears the list.
    h.at_as("AT+WSHEAD=0", b"\r\nOK\r\n", "clear");
    h.at_as("AT+WSHEAD?", b"\r\nOK\r\n", "no headers");
    finish(w);
}

#[test]
fn subprotocol_not_asked_for_fails_the_open() {
    // The server picks a subprotocol the client never offered.
    bad_handshake(
        |r| Some(format!("HTTP/1.1 101 Switching Protocols\r\n{}Sec-WebSocket-Protocol: mqtt\r\n\r\n", good_head(r))),
        "",
        Duration::from_secs(3),
        "unrequested subprotocol",
    );
}

// ---------------------------------------------------------------------------
// 10. A slow host: back-pressure, no loss
// ---------------------------------------------------------------------------

/// A host end that reads only when asked (the harness's HostEnd reads on
/// a thread all the time).
struct RawHost {
    s: TcpStream,
    buf: Vec<u8>,
}

impl RawHost {
    fn connect(addr: &str) -> RawHost {
        let s = TcpStream::connect(addr).expect("connect to the AT port");
        s.set_nodelay(true).expect("nodelay");
        RawHost { s, buf: Vec::new() }
    }

    fn send(&mut self, b: &[u8]) {
        self.s.write_all(b).expect("write to the AT port");
    }

    /// Reads until `n` bytes are buffered or `patience` is over.
    fn fill(&mut self, n: usize, patience: Duration) {
        let end = Instant::now() + patience;
        let mut b = vec![0u8; 256 * 1024];
        while self.buf.len() < n {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            self.s.set_read_timeout(Some(left)).expect("read timeout");
            match self.s.read(&mut b) {
                Ok(0) => break,
                Ok(k) => self.buf.extend_from_slice(&b[..k]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }

    fn expect(&mut self, want: &[u8], ctx: &str) {
        self.fill(want.len(), common::PATIENCE);
        let n = want.len().min(self.buf.len());
        let got: Vec<u8> = self.buf.drain(..n).collect();
        assert_eq!(escape(&got), escape(want), "{ctx}");
    }
}

const MESSAGES: u32 = 64;
const MESSAGE_LEN: usize = 32 * 1024;

/// Message `seq`: its number, then a pattern that depends on it.
fn message(seq: u32) -> Vec<u8> {
    let mut m = seq.to_be_bytes().to_vec();
    m.extend((4..MESSAGE_LEN).map(|i| (i as u32).wrapping_mul(31).wrapping_add(seq.wrapping_mul(7)) as u8));
    m
}

#[test]
fn slow_host_loses_nothing() {
    let srv = WsServer::new();
    let dir = common::tempdir();
    let w = Wsat::start(&["--tcp", "127.0.0.1:0", "--state", &common::arg(dir.path(), "state")]);
    let mut h = RawHost::connect(&w.tcp_addr());
    h.expect(b"ready\r\n", "boot");
    h.send(b"ATE0\r\n");
    h.expect(b"ATE0\r\n\r\nOK\r\n", "ATE0");
    h.send(b"AT+CWMODE=1\r\n");
    h.expect(b"\r\nOK\r\n", "CWMODE");
    h.send(b"AT+CWJAP=\"espressif\",\"1234567890\"\r\n");
    h.expect(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n", "CWJAP");
    h.send(b"AT+WSDATAFMT=0,1,63\r\n");
    h.expect(b"\r\nOK\r\n", "frame level, every field");

    h.send(format!("AT+WSOPEN=0,\"{}\"\r\n", srv.url()).as_bytes());
    let mut p = srv.accept();
    p.handshake();
    h.expect(b"+WS_CONNECTED:0\r\n\r\nOK\r\n", "WSOPEN");

    // 2 MiB as fast as the connection takes it, from another thread.
    let server = std::thread::spawn(move || {
        let t = Instant::now();
        let mut all = Vec::with_capacity(MESSAGES as usize * (MESSAGE_LEN + 4));
        for seq in 0..MESSAGES {
            all.extend(frame(true, OP_BINARY, &message(seq)));
        }
        p.send(&all);
        (p, t.elapsed())
    });

    // The host looks away for 2 s, then reads everything.
    std::thread::sleep(Duration::from_secs(2));
    let head = format!("+WS_DATA:0,{OP_BINARY},1,{MESSAGE_LEN},0,{MESSAGE_LEN},");
    let per = head.len() + MESSAGE_LEN + 2;
    let total = MESSAGES as usize * per;
    h.fill(total, Duration::from_secs(30));
    assert!(h.buf.len() >= total, "only {} of {total} bytes arrived", h.buf.len());
    for seq in 0..MESSAGES {
        let r: Vec<u8> = h.buf.drain(..per).collect();
        assert!(
            r.starts_with(head.as_bytes()),
            "report {seq}: header {} (want {head})",
            escape(&r[..head.len().min(r.len()).min(60)])
        );
        let data = &r[head.len()..head.len() + MESSAGE_LEN];
        let got_seq = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
        assert_eq!(got_seq, seq, "messages in order");
        let want = message(seq);
        if let Some(i) = (0..MESSAGE_LEN).find(|&i| data[i] != want[i]) {
            panic!("message {seq}: first wrong byte at {i}");
        }
        assert_eq!(&r[head.len() + MESSAGE_LEN..], b"\r\n", "report {seq} ends its line");
    }
    let (mut p, sent_in) = server.join().expect("server thread");
    eprintln!("server wrote 2 MiB in {sent_in:?}");
    // Nothing more, and the link is fine.
    h.fill(1, Duration::from_millis(300));
    assert!(h.buf.is_empty(), "nothing after the data: {}", escape(&h.buf[..h.buf.len().min(80)]));
    h.send(b"AT+WSOPEN?\r\n");
    h.expect(format!("+WSOPEN:0,2,\"{}\"\r\n\r\nOK\r\n", srv.url()).as_bytes(), "still connected");
    p.send_frame(true, OP_TEXT, b"end");
    h.expect(b"+WS_DATA:0,1,1,3,0,3,end\r\n", "and carries data");
    finish(w);
}



