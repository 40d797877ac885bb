//! wss:// with mutual TLS: the seed's second walkthrough with the seed's own
//! server, certificate and CA, and every way TLS must refuse.

mod common;

use std::path::PathBuf;

use common::{join_wifi, wsat_tcp, HostEnd, Server};

fn shared_pki() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/pki");
    assert!(p.is_dir(), "the shared PKI is missing at {} (CI has shared/ beside the checkout)", p.display());
    p
}

/// The seed's wss server (requires a client certificate signed by its CA).
fn seed_wss_server() -> Server {
    let pki = shared_pki().join("seed-server");
    let f = |n: &str| pki.join(n).to_string_lossy().into_owned();
    Server::python("wss-server.py", &["127.0.0.1", "0", &f("server_ca.crt"), &f("server.crt"), &f("server.key")])
}

fn esp_at_pki() -> String {
    shared_pki().join("esp-at-default").to_string_lossy().into_owned()
}

fn open(h: &mut HostEnd, port: u16) {
    h.send(format!("AT+WSOPEN=0,\"wss://127.0.0.1:{port}\"\r\n").as_bytes());
}

/// The seed's second walkthrough, as a new user would run it.
#[test]
fn seed_walkthrough_over_mutual_tls() {
    let server = seed_wss_server();
    let dir = common::tempdir();
    let pki = esp_at_pki();
    let (w, mut h) = wsat_tcp(dir.path(), &["--pki", &pki]);
    join_wifi(&mut h);
    h.send(b"AT+CIPSNTPCFG=1,8,\"cn.ntp.org.cn\",\"ntp.sjtu.edu.cn\"\r\n");
    h.expect(b"AT+CIPSNTPCFG=1,8,\"cn.ntp.org.cn\",\"ntp.sjtu.edu.cn\"\r\n\r\nOK\r\n", "CIPSNTPCFG");
    h.expect(b"+TIME_UPDATED\r\n", "host clock synced, no packet sent");
    h.send(b"AT+CIPSNTPTIME?\r\n");
    h.expect(b"AT+CIPSNTPTIME?\r\n+CIPSNTPTIME:", "time");
    let t = h.until(b"\r\nOK\r\n");
    let year = format!("{}", 1970 + std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 31_556_952);
    assert!(String::from_utf8_lossy(&t).contains(&year), "{}", common::escape(&t));
    h.send(b"AT+WSCFG=0,30,60,4096,3,0,0\r\n");
    h.expect(b"AT+WSCFG=0,30,60,4096,3,0,0\r\n\r\nOK\r\n", "WSCFG");
    let cmd = format!("AT+WSOPEN=0,\"wss://127.0.0.1:{}\"\r\n", server.port());
    h.send(cmd.as_bytes());
    h.expect(format!("{cmd}+WS_CONNECTED:0\r\n\r\nOK\r\n").as_bytes(), "WSOPEN");
    h.send(b"AT+WSSEND=0,4\r\n");
    h.expect(b"AT+WSSEND=0,4\r\n\r\nOK\r\n\r\n>", "prompt");
    h.send(b"test");
    h.expect(b"\r\nSEND OK\r\n+WS_DATA:0,4,test\r\n", "SEND OK and the echo");
    w.stop();
}

/// Every refusal ends in ERROR on AT+WSOPEN, never a link that looks alive.
#[test]
fn tls_refusals() {
    let server = seed_wss_server();
    let port = server.port();
    let dir = common::tempdir();
    let pki = esp_at_pki();
    let (w, mut h) = wsat_tcp(dir.path(), &["--pki", &pki]);
    join_wifi(&mut h);
    common::echo_off(&mut h);
    h.send(b"AT+CIPSNTPCFG=1,0\r\n");
    h.expect(b"\r\nOK\r\n+TIME_UPDATED\r\n", "clock");

    // The wrong CA set: the server does not chain to wss_ca.1.
    h.send(b"AT+WSCFG=0,30,60,4096,3,0,1\r\n");
    h.expect(b"\r\nOK\r\n", "WSCFG ca 1");
    open(&mut h, port);
    h.expect(b"\r\nERROR\r\n", "unknown CA");

    // Valid certificates, but the module clock is past their end (2034).
    h.send(b"AT+SYSTIMESTAMP=2100000000\r\n");
    h.expect(b"\r\nOK\r\n", "clock in 2036");
    h.send(b"AT+WSCFG=0,30,60,4096,3,0,0\r\n");
    h.expect(b"\r\nOK\r\n", "WSCFG");
    open(&mut h, port);
    h.expect(b"\r\nERROR\r\n", "expired at the module clock");

    // Before their start (a module clock in 2020).
    h.send(b"AT+SYSTIMESTAMP=1600000000\r\n");
    h.expect(b"\r\nOK\r\n", "clock in 2020");
    h.send(b"AT+WSCFG=0,30,60,4096,3,0,0\r\n");
    h.expect(b"\r\nOK\r\n", "WSCFG");
    open(&mut h, port);
    h.expect(b"\r\nERROR\r\n", "not yet valid at the module clock");
    h.send(b"AT+CIPSNTPCFG=1,0\r\n");
    h.expect(b"\r\nOK\r\n+TIME_UPDATED\r\n", "clock back to now");

    // Server verification only: the server wants a client certificate.
    h.send(b"AT+WSCFG=0,30,60,4096,2,0,0\r\n");
    h.expect(b"\r\nOK\r\n", "WSCFG auth 2");
    open(&mut h, port);
    let got = h.until(b"ERROR\r\n");
    assert!(!got.windows(13).any(|w| w == b"+WS_CONNECTED"), "{}", common::escape(&got));

    // A CA that is not in the NVS is refused by AT+WSCFG itself.
    h.send(b"AT+WSCFG=0,30,60,4096,3,0,7\r\n");
    h.expect(b"NO CA FOUND\r\n\r\nERROR\r\n", "no such CA");

    // Everything right: connected.
    h.send(b"AT+WSCFG=0,30,60,4096,3,0,0\r\n");
    h.expect(b"\r\nOK\r\n", "WSCFG");
    open(&mut h, port);
    h.expect(b"+WS_CONNECTED:0\r\n\r\nOK\r\n", "mutual TLS");
    h.send(b"AT+WSCLOSE=0\r\n");
    h.expect(b"+WS_CLOSED:0\r\n\r\nOK\r\n", "close");
    w.stop();
}

/// auth_mode 0 accepts any server (here one whose CA the module does not
/// have, with a module clock at 1970); auth_mode 1 presents the client
/// certificate without checking the server.
#[test]
fn no_server_verification_accepts_any_server() {
    let server = seed_wss_server();
    let dir = common::tempdir();
    let pki = esp_at_pki();
    let (w, mut h) = wsat_tcp(dir.path(), &["--pki", &pki, "--clock", "sntp"]);
    join_wifi(&mut h);
    common::echo_off(&mut h);
    // Server verification in sntp mode before any sync: 1970 refuses all.
    h.send(b"AT+WSCFG=0,30,60,4096,3,0,0\r\n");
    h.expect(b"\r\nOK\r\n", "WSCFG");
    open(&mut h, server.port());
    h.expect(b"\r\nERROR\r\n", "1970");
    // auth_mode 1: client certificate only; the server is not checked.
    h.send(b"AT+WSCFG=0,30,60,4096,1,0,0\r\n");
    h.expect(b"\r\nOK\r\n", "WSCFG auth 1");
    open(&mut h, server.port());
    h.expect(b"+WS_CONNECTED:0\r\n\r\nOK\r\n", "auth 1");
    h.send(b"AT+WSCLOSE=0\r\n");
    h.expect(b"+WS_CLOSED:0\r\n\r\nOK\r\n", "close");
    w.stop();
}

/// A bad key (replaced at run time with AT+SYSMFG) and a server that never
/// finishes the TLS handshake: ERROR within the open timeout, never a hang.
#[test]
fn bad_key_and_stalled_handshake() {
    let server = seed_wss_server();
    let dir = common::tempdir();
    let pki = esp_at_pki();
    let (w, mut h) = wsat_tcp(dir.path(), &["--pki", &pki]);
    join_wifi(&mut h);
    common::echo_off(&mut h);
    h.send(b"AT+CIPSNTPCFG=1,0\r\n");
    h.expect(b"\r\nOK\r\n+TIME_UPDATED\r\n", "clock");
    // Key set 1 becomes garbage.
    let junk = b"-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n";
    h.send(format!("AT+SYSMFG=2,\"wss_key\",\"wss_key.1\",8,{}\r\n", junk.len()).as_bytes());
    h.expect(b"\r\nOK\r\n\r\n>", "prompt");
    h.send(junk);
    h.expect(b"\r\nOK\r\n", "written");
    h.send(b"AT+WSCFG=0,30,60,4096,1,1,0\r\n");
    h.expect(b"\r\nOK\r\n", "WSCFG pki 1");
    open(&mut h, server.port());
    h.expect(b"\r\nERROR\r\n", "bad key");

    // TCP is accepted, TLS never answered.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let holder = std::thread::spawn(move || {
        let (conn, _) = silent.accept().unwrap();
        std::thread::sleep(std::time::Duration::from_secs(4));
        drop(conn);
    });
    h.send(b"AT+WSCFG=0,30,60,4096,3,0,0\r\n");
    h.expect(b"\r\nOK\r\n", "WSCFG");
    let started = std::time::Instant::now();
    h.send(format!("AT+WSOPEN=0,\"wss://127.0.0.1:{port}\",,1500\r\n").as_bytes());
    h.expect(b"\r\nERROR\r\n", "handshake timeout");
    let took = started.elapsed();
    assert!(took >= std::time::Duration::from_millis(1400), "{took:?}");
    holder.join().unwrap();
    // The link is free again (a failed open also reset its WSCFG, as on
    // ESP-AT, so the credentials are selected again).
    h.send(b"AT+WSCFG=0,30,60,4096,3,0,0\r\n");
    h.expect(b"\r\nOK\r\n", "WSCFG again");
    open(&mut h, server.port());
    h.expect(b"+WS_CONNECTED:0\r\n\r\nOK\r\n", "usable after the failures");
    w.stop();
}

/// auth_mode 0: no verification and no client certificate; any server is
/// accepted, even with the module clock still in 1970.
#[test]
fn auth_mode_0_accepts_any_server() {
    let pki = shared_pki().join("seed-server");
    let f = |n: &str| pki.join(n).to_string_lossy().into_owned();
    let server = Server::python("wss-echo-server.py", &["127.0.0.1", "0", &f("server.crt"), &f("server.key")]);
    let dir = common::tempdir();
    let (w, mut h) = wsat_tcp(dir.path(), &["--clock", "sntp"]);
    join_wifi(&mut h);
    common::echo_off(&mut h);
    h.send(b"AT+WSCFG=0,30,60,4096,0\r\n");
    h.expect(b"\r\nOK\r\n", "WSCFG auth 0");
    open(&mut h, server.port());
    h.expect(b"+WS_CONNECTED:0\r\n\r\nOK\r\n", "auth 0");
    h.send(b"AT+WSSEND=0,3\r\n");
    h.expect(b"\r\nOK\r\n\r\n>", "prompt");
    h.send(b"wss");
    h.expect(b"\r\nSEND OK\r\n+WS_DATA:0,3,wss\r\n", "echo over TLS");
    w.stop();
}

/// The control plane's `clock set` moves the module clock that TLS checks
/// certificates against: set into the past (before the seed server's
/// certificate starts), the next wss:// open fails; set back, it opens.
#[test]
fn control_clock_in_the_past_fails_certificate_validation() {
    let server = seed_wss_server();
    let dir = common::tempdir();
    let pki = esp_at_pki();
    let control = dir.path().join("ctl.sock");
    let c = control.to_string_lossy().into_owned();
    let (w, mut h) = wsat_tcp(dir.path(), &["--pki", &pki, "--control", &c]);
    join_wifi(&mut h);
    common::echo_off(&mut h);
    h.send(b"AT+WSCFG=0,30,60,4096,3,0,0\r\n");
    h.expect(b"\r\nOK\r\n", "WSCFG");

    common::ctl_ok(&control, "clock", &["set", "1600000000"]);
    open(&mut h, server.port());
    h.expect(b"\r\nERROR\r\n", "a module clock in 2020: the certificate is not yet valid");

    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs().to_string();
    common::ctl_ok(&control, "clock", &["set", &now]);
    // A failed open leaves the link free, with its configuration reset.
    h.send(b"AT+WSCFG=0,30,60,4096,3,0,0\r\n");
    h.expect(b"\r\nOK\r\n", "WSCFG");
    open(&mut h, server.port());
    h.expect(b"+WS_CONNECTED:0\r\n\r\nOK\r\n", "the clock back at now: connected");
    w.stop();
}
