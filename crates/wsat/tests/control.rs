//! The control plane against the real binary: `--control` (JSON lines and
//! `wsat ctl`), faults on demand at the edge, `watch`, `--trace` and its
//! transcript, and an AT port that dials out (`--connect`).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::Duration;

use common::{arg, ctl, ctl_ok as ok, echo_off, join_wifi, HostEnd, Wsat};
use common::ws_server::WsServer;
use serde_json::{json, Value};

/// wsat on TCP with a control socket; the socket's path.
fn start(dir: &Path, extra: &[&str]) -> (Wsat, HostEnd, std::path::PathBuf) {
    let control = dir.join("ctl.sock");
    let state = arg(dir, "state");
    let c = control.to_string_lossy().into_owned();
    let mut args = vec!["--tcp", "127.0.0.1:0", "--state", &state, "--no-factory-pki", "--control", &c];
    args.extend_from_slice(extra);
    let w = Wsat::start(&args);
    let mut h = HostEnd::tcp(&w.tcp_addr());
    h.expect(b"ready\r\n", "boot");
    (w, h, control)
}

#[test]
fn status_faults_and_the_radio() {
    let dir = common::tempdir();
    let (w, mut h, control) = start(dir.path(), &[]);
    let mode = std::fs::metadata(&control).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the control socket is the user's alone");
    join_wifi(&mut h);
    echo_off(&mut h);
    let echo = common::tcp_echo_server();
    h.at(&format!("AT+CIPSTART=\"TCP\",\"127.0.0.1\",{echo}"), "CONNECT\r\n\r\nOK\r\n");
    let st = ok(&control, "status", &[]);
    assert_eq!(st["wifi"]["ap"], json!("espressif"));
    assert_eq!(st["wifi"]["ip"], json!("192.168.4.2"));
    assert_eq!(st["links"][0]["link"], json!("ip0"));
    assert_eq!(st["links"][0]["kind"], json!("TCP"));
    assert_eq!(st["links"][0]["remote_port"], json!(echo));
    assert_eq!(st["port"]["echo"], json!(false));

    // A stalled link: nothing moves until it resumes.
    ok(&control, "link", &["ip0", "stall"]);
    h.at("AT+CIPSEND=4", "\r\nOK\r\n\r\n>");
    h.send(b"ping");
    h.expect(b"\r\nRecv 4 bytes\r\n", "taken by the module");
    assert_eq!(common::escape(&h.quiet_for(Duration::from_millis(400))), "", "nothing moves while stalled");
    ok(&control, "link", &["ip0", "resume"]);
    h.expect(b"\r\nSEND OK\r\n\r\n+IPD,4:ping\r\n", "after resume");
    // Lost bytes: the next 2 received are dropped.
    ok(&control, "link", &["ip0", "drop-next", "2"]);
    h.at("AT+CIPSEND=4", "\r\nOK\r\n\r\n>");
    h.send(b"abcd");
    h.expect(b"\r\nRecv 4 bytes\r\n\r\nSEND OK\r\n\r\n+IPD,2:cd\r\n", "two bytes lost on the way in");
    // Latency each way: the echo comes back no sooner than twice the delay.
    ok(&control, "link", &["ip0", "delay", "250"]);
    let sent = std::time::Instant::now();
    h.at("AT+CIPSEND=2", "\r\nOK\r\n\r\n>");
    h.send(b"hi");
    h.expect(b"\r\nRecv 2 bytes\r\n\r\nSEND OK\r\n\r\n+IPD,2:hi\r\n", "delayed echo");
    assert!(sent.elapsed() >= Duration::from_millis(500), "{:?}", sent.elapsed());
    ok(&control, "link", &["all", "resume"]);
    // A rate limit: 2000 bytes at 4000 bytes/s each way take about a second.
    ok(&control, "link", &["ip0", "rate", "4000"]);
    let sent = std::time::Instant::now();
    h.at("AT+CIPSEND=2000", "\r\nOK\r\n\r\n>");
    h.send(&[b'r'; 2000]);
    h.expect(b"\r\nRecv 2000 bytes\r\n\r\nSEND OK\r\n", "sent under a rate limit");
    let mut echoed = 0;
    while echoed < 2000 {
        h.until(b"\r\n+IPD,");
        let head = String::from_utf8_lossy(&h.until(b":")).into_owned();
        let n: usize = head.trim_end_matches(':').parse().unwrap();
        h.fill(n + 2, Duration::from_secs(5));
        h.buf.drain(..n + 2);
        echoed += n;
    }
    assert!(sent.elapsed() >= Duration::from_millis(900), "{:?}", sent.elapsed());
    ok(&control, "link", &["ip0", "resume"]);
    // An orderly close from the network: the module sees the end of it.
    ok(&control, "link", &["ip0", "close"]);
    h.expect(b"CLOSED\r\n", "closed in order");
    h.at(&format!("AT+CIPSTART=\"TCP\",\"127.0.0.1\",{echo}"), "CONNECT\r\n\r\nOK\r\n");
    // A reset from the network.
    ok(&control, "link", &["ip0", "reset"]);
    h.expect(b"CLOSED\r\n", "reset");
    assert_eq!(ctl(&control, "link", &["ip0", "reset"])["ok"], json!(false), "no connection left");
    // DNS and connection faults.
    ok(&control, "dns", &["fail", "localhost"]);
    h.at(&format!("AT+CIPSTART=\"TCP\",\"localhost\",{echo}"), "\r\nERROR\r\n");
    ok(&control, "dns", &["ok"]);
    ok(&control, "connect", &["refuse", "*"]);
    h.at(&format!("AT+CIPSTART=\"TCP\",\"127.0.0.1\",{echo}"), "\r\nERROR\r\n");
    ok(&control, "connect", &["ok"]);
    h.at(&format!("AT+CIPSTART=\"TCP\",\"localhost\",{echo}"), "CONNECT\r\n\r\nOK\r\n");
    h.at("AT+CIPCLOSE", "CLOSED\r\n\r\nOK\r\n");

    // The AP leaves and comes back.
    ok(&control, "ap", &["down"]);
    h.expect(b"WIFI DISCONNECT\r\n", "AP gone");
    h.at("AT+CWSTATE?", "+CWSTATE:3,\"espressif\"\r\n\r\nOK\r\n");
    ok(&control, "ap", &["rssi", "-80"]);
    ok(&control, "ap", &["up"]);
    h.expect(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n", "AP back");
    h.send(b"AT+CWJAP?\r\n");
    let j = String::from_utf8_lossy(&h.until(b"\r\nOK\r\n")).into_owned();
    assert!(j.contains(",-80,"), "{j}");

    // Down for a while only: the station comes back by itself.
    ok(&control, "ap", &["down", "--for", "1500"]);
    h.expect(b"WIFI DISCONNECT\r\n", "AP gone for 1.5 s");
    h.fill(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n".len(), Duration::from_secs(10));
    h.expect(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n", "AP back by itself");

    // The clock.
    ok(&control, "clock", &["set", "1700000000"]);
    h.send(b"AT+SYSTIMESTAMP?\r\n");
    let t = String::from_utf8_lossy(&h.until(b"\r\nOK\r\n")).into_owned();
    assert!(t.starts_with("+SYSTIMESTAMP:170000000"), "{t}");
    ok(&control, "clock", &["skew", "-100"]);

    // The reset pin, then power.
    ok(&control, "reboot", &[]);
    h.expect(b"ready\r\n", "reset pin: no OK, just ready");
    ok(&control, "power", &["off"]);
    h.send(b"AT\r\n");
    assert_eq!(common::escape(&h.quiet_for(Duration::from_millis(500))), "", "powered off: silent");
    assert_eq!(ok(&control, "status", &[])["port"]["powered_off"], json!(true));
    ok(&control, "power", &["on"]);
    h.expect(b"ready\r\n", "power on");
    h.at("AT", "AT\r\n\r\nOK\r\n");

    // Bad requests are answered, not fatal.
    assert_eq!(ctl(&control, "frobnicate", &[])["ok"], json!(false));
    assert_eq!(ctl(&control, "link", &["ip9", "reset"])["ok"], json!(false));
    w.stop();
    assert!(!control.exists(), "the socket is removed on exit");
}

/// `link 0` names WebSocket link 0 when it has a connection: a reset gives
/// `+WS_DISCONNECTED:0` at once and the link reconnects by itself; a stall
/// with a 1 s ping and a 2 s pong timeout ends in `+WS_DISCONNECTED:0`
/// after about 3 s.
#[test]
fn websocket_link_reset_and_stall() {
    let dir = common::tempdir();
    let (w, mut h, control) = start(dir.path(), &[]);
    join_wifi(&mut h);
    echo_off(&mut h);
    let srv = WsServer::new();
    h.at("AT+WSCFG=0,1,2", "\r\nOK\r\n");
    h.send(format!("AT+WSOPEN=0,\"{}\"\r\n", srv.url()).as_bytes());
    let mut p = srv.accept();
    p.handshake();
    h.expect(b"+WS_CONNECTED:0\r\n\r\nOK\r\n", "open");
    let answered = std::time::Instant::now();
    ok(&control, "link", &["0", "reset"]);
    h.expect(b"+WS_DISCONNECTED:0\r\n", "reset");
    assert!(answered.elapsed() < Duration::from_millis(100), "{:?}", answered.elapsed());
    // It reconnects by itself (esp_websocket_client: every 10 s).
    let mut p = srv.accept_within(Duration::from_secs(15));
    p.handshake();
    h.fill(b"+WS_CONNECTED:0\r\n".len(), Duration::from_secs(15));
    h.expect(b"+WS_CONNECTED:0\r\n", "reconnected");
    let st = ok(&control, "status", &[]);
    assert_eq!(st["links"][0]["link"], json!("ws0"));
    assert_eq!(st["links"][0]["state"], json!("2"));
    // Stalled: pings go unanswered, the pong timeout ends the link.
    thread::spawn(move || while p.read_frame("client frames").is_some() {});
    let stalled = std::time::Instant::now();
    ok(&control, "link", &["0", "stall"]);
    h.fill(b"+WS_DISCONNECTED:0\r\n".len(), Duration::from_secs(10));
    h.expect(b"+WS_DISCONNECTED:0\r\n", "pong timeout");
    let took = stalled.elapsed();
    assert!(took >= Duration::from_millis(1900) && took <= Duration::from_millis(4500), "{took:?}");
    w.stop();
}

#[test]
fn ctl_client_watch_and_trace() {
    let dir = common::tempdir();
    let trace = dir.path().join("at.trace");
    let t = trace.to_string_lossy().into_owned();
    let (w, mut h, control) = start(dir.path(), &["--trace", &t]);
    // `wsat ctl`: exit status and the JSON answer.
    let out = Command::new(env!("CARGO_BIN_EXE_wsat")).arg("ctl").arg(&control).arg("status").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], json!(true));
    let out = Command::new(env!("CARGO_BIN_EXE_wsat")).arg("ctl").arg(&control).args(["ap", "sideways"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown ap verb"), "{}", String::from_utf8_lossy(&out.stderr));

    // `watch` streams the AT line both ways.
    let mut watch = UnixStream::connect(&control).unwrap();
    watch.write_all(b"{\"verb\":\"watch\"}\n").unwrap();
    let mut lines = BufReader::new(watch.try_clone().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "{\"ok\":true}");
    h.at("AT", "AT\r\n\r\nOK\r\n");
    let mut seen_in = false;
    let mut seen_out = false;
    for line in lines.by_ref().take(10) {
        let v: Value = serde_json::from_str(&line.unwrap()).unwrap();
        if v["event"] == json!("at") && v["dir"] == json!("in") && v["bytes"].as_str().unwrap().contains("AT") {
            seen_in = true;
        }
        if v["event"] == json!("at") && v["dir"] == json!("out") && v["bytes"].as_str().unwrap().contains("OK") {
            seen_out = true;
        }
        if seen_in && seen_out {
            break;
        }
    }
    assert!(seen_in && seen_out);
    drop(watch);
    h.at("AT+GMR", "");
    let _ = h.until(b"\r\nOK\r\n");
    w.stop();

    // The trace becomes a transcript that the transcript runner accepts.
    let out = Command::new(env!("CARGO_BIN_EXE_wsat")).args(["trace", &t, "--to-transcript"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let transcript = String::from_utf8(out.stdout).unwrap();
    assert!(transcript.contains("< ready\\r\\n\n"), "{transcript}");
    assert!(transcript.contains("> AT\\r\\n\n< AT\\r\\n\\r\\nOK\\r\\n\n"), "{transcript}");
    assert!(transcript.contains("{VERSION}"), "the version is a placeholder: {transcript}");
    let steps = common::transcript_format::parse(&transcript, env!("CARGO_PKG_VERSION"));
    assert!(steps.len() >= 5, "{steps:?}");
}

/// The seed's first walkthrough, recorded with `--trace` against the
/// seed's WebSocket echo server, converted with `wsat trace
/// --to-transcript`, replays green in the transcript runner.
#[test]
fn a_recorded_walkthrough_replays_as_a_transcript() {
    let server = common::Server::python("ws-server.py", &["127.0.0.1", "0"]);
    let dir = common::tempdir();
    let trace = dir.path().join("walkthrough.trace");
    let t = trace.to_string_lossy().into_owned();
    let state = arg(dir.path(), "state");
    let w = Wsat::start(&["--tcp", "127.0.0.1:0", "--state", &state, "--no-factory-pki", "--trace", &t]);
    let mut h = HostEnd::tcp(&w.tcp_addr());
    h.expect(b"ready\r\n", "boot");
    join_wifi(&mut h);
    let open = format!("AT+WSOPEN=0,\"ws://127.0.0.1:{}\"\r\n", server.port());
    h.send(open.as_bytes());
    h.expect(format!("{open}+WS_CONNECTED:0\r\n\r\nOK\r\n").as_bytes(), "WSOPEN");
    h.send(b"AT+WSSEND=0,4\r\n");
    h.expect(b"AT+WSSEND=0,4\r\n\r\nOK\r\n\r\n>", "prompt");
    h.send(b"test");
    h.expect(b"\r\nSEND OK\r\n+WS_DATA:0,4,test\r\n", "echo");
    h.send(b"AT+WSCLOSE=0\r\n");
    h.expect(b"AT+WSCLOSE=0\r\n+WS_CLOSED:0\r\n\r\nOK\r\n", "close");
    drop(h);
    w.stop();
    let out = Command::new(env!("CARGO_BIN_EXE_wsat")).args(["trace", &t, "--to-transcript"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let transcript = String::from_utf8(out.stdout).unwrap();
    common::replay::run(common::replay::Transport::Tcp, "the recorded walkthrough", &transcript);
}

#[test]
fn the_at_port_dials_out_and_again_when_the_peer_leaves() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let dir = common::tempdir();
    let state = arg(dir.path(), "state");
    let w = Wsat::start(&["--connect", &addr, "--state", &state, "--no-factory-pki"]);
    let (mut s, _) = l.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut b = [0u8; 7];
    s.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"ready\r\n");
    s.write_all(b"AT\r\n").unwrap();
    let mut b = [0u8; 10];
    s.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"AT\r\n\r\nOK\r\n");
    drop(s);
    // The peer went away: wsat connects again.
    let (mut s, _) = l.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"AT\r\n").unwrap();
    let mut b = [0u8; 10];
    s.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"AT\r\n\r\nOK\r\n");
    thread::sleep(Duration::from_millis(50));
    w.stop();
}

/// A reset from the control plane acts at once even while a send is stuck
/// on a peer that never reads; bad arguments change nothing; a second wsat
/// cannot take a control socket that answers.
#[test]
fn reset_beats_a_blocked_write_and_bad_requests_are_refused() {
    // A peer that accepts and never reads.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    nix::sys::socket::setsockopt(&l, nix::sys::socket::sockopt::RcvBuf, &4096).unwrap();
    let port = l.local_addr().unwrap().port();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let keep = thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let _ = done_rx.recv_timeout(Duration::from_secs(60));
        drop(s);
    });
    let dir = common::tempdir();
    let (w, mut h, control) = start(dir.path(), &[]);
    join_wifi(&mut h);
    echo_off(&mut h);
    h.at(&format!("AT+CIPSTART=\"TCP\",\"127.0.0.1\",{port}"), "CONNECT\r\n\r\nOK\r\n");
    // Fill the socket buffers until a send cannot be written.
    let block = vec![b'x'; 8192];
    for n in 0.. {
        assert!(n < 4000, "the socket buffers never filled");
        h.at("AT+CIPSEND=8192", "\r\nOK\r\n\r\n>");
        h.send(&block);
        h.expect(b"\r\nRecv 8192 bytes\r\n", "data taken");
        h.fill(11, Duration::from_millis(200));
        let rest = h.quiet_for(Duration::from_millis(1));
        if rest.is_empty() {
            break; // this send waits on the peer
        }
        assert_eq!(common::escape(&rest), "\\r\\nSEND OK\\r\\n");
    }
    let t = std::time::Instant::now();
    ok(&control, "link", &["ip0", "reset"]);
    let got = h.until(b"CLOSED\r\n");
    assert!(t.elapsed() < Duration::from_secs(1), "the reset waited {:?}: {}", t.elapsed(), common::escape(&got));
    assert!(got.windows(9).any(|w| w == b"SEND FAIL"), "{}", common::escape(&got));

    // Bad requests: errors, and nothing changes.
    for bad in [&["clock", "set", "99999999999999"][..], &["clock", "skew", "-99999999999999"], &["link", "all", "frobnicate"], &["link", "ip0", "delay", "soon"]] {
        let v = ctl(&control, bad[0], &bad[1..]);
        assert_eq!(v["ok"], json!(false), "{bad:?}: {v}");
    }
    h.at("AT", "\r\nOK\r\n");

    // The socket answers, so a second wsat may not replace it.
    let state2 = arg(dir.path(), "state2");
    let out = Command::new(env!("CARGO_BIN_EXE_wsat"))
        .args(["--tcp", "127.0.0.1:0", "--state", &state2, "--no-factory-pki", "--control"])
        .arg(&control)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("running wsat"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(ok(&control, "status", &[])["port"]["echo"], json!(false), "the first wsat still answers");
    w.stop();
    let _ = done_tx.send(());
    keep.join().unwrap();
}
