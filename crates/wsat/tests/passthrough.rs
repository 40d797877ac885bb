//! Passthrough mode against the real binary: a 1 MiB file through a TCP
//! link and an SSL link to loopback echo servers and back, byte for byte;
//! `+++` and its guard times; a peer that resets while the module is in
//! passthrough (it reconnects); AT+SAVETRANSLINK across AT+RST.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use common::{echo_off, join_wifi, wsat_tcp, HostEnd};


/// The file: 1 MiB that no `+++` guard can mistake.
fn file() -> Vec<u8> {
    (0..1u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()
}

/// Sends `data` through the raw AT connection while reading the echo back.
fn round_trip(h: &mut HostEnd, data: &[u8]) {
    let mut w = h.writer_clone();
    let out = data.to_vec();
    let sender = thread::spawn(move || {
        for chunk in out.chunks(8192) {
            w.write_all(chunk).unwrap();
        }
    });
    h.fill(data.len(), Duration::from_secs(60));
    let got: Vec<u8> = h.buf.drain(..data.len().min(h.buf.len())).collect();
    sender.join().unwrap();
    assert_eq!(got.len(), data.len(), "echoed bytes");
    assert!(got == data, "the echo differs from the file");
}

/// `+++` alone, with a second of silence on each side.
fn escape(h: &mut HostEnd) {
    thread::sleep(Duration::from_millis(1000));
    h.send(b"+++");
    thread::sleep(Duration::from_millis(1000));
}

#[test]
fn a_file_through_tcp_passthrough_and_back() {
    let port = common::tcp_echo_server();
    let dir = common::tempdir();
    let (w, mut h) = wsat_tcp(dir.path(), &[]);
    join_wifi(&mut h);
    echo_off(&mut h);
    h.at(&format!("AT+CIPSTART=\"TCP\",\"127.0.0.1\",{port}"), "CONNECT\r\n\r\nOK\r\n");
    h.at("AT+CIPMODE=1", "\r\nOK\r\n");
    h.at("AT+CIPMODE?", "+CIPMODE:1\r\n\r\nOK\r\n");
    h.at("AT+CIPSEND=4", "\r\nERROR\r\n");
    h.at("AT+CIPMUX=1", "\r\nERROR\r\n");
    h.at("AT+CIPSEND", "\r\nOK\r\n\r\n>");
    let started = Instant::now();
    round_trip(&mut h, &file());
    eprintln!("1 MiB through passthrough and back in {:?}", started.elapsed());
    escape(&mut h);
    h.at("AT+SYSMSG=1", "\r\nOK\r\n");
    h.at("AT", "\r\nOK\r\n");
    // Again, with +QUITT on leaving.
    h.at("AT+CIPSEND", "\r\nOK\r\n\r\n>");
    round_trip(&mut h, b"hello again");
    escape(&mut h);
    h.expect(b"+QUITT\r\n", "AT+SYSMSG bit 0");
    h.at("AT+CIPMODE=0", "\r\nOK\r\n");
    h.at("AT+CIPCLOSE", "CLOSED\r\n\r\nOK\r\n");
    w.stop();
}

/// `+++` too close to data, before or after, is data (it reaches the echo
/// server and comes back).
#[test]
fn plus_plus_plus_inside_data_is_data() {
    let port = common::tcp_echo_server();
    let dir = common::tempdir();
    let (w, mut h) = wsat_tcp(dir.path(), &[]);
    join_wifi(&mut h);
    echo_off(&mut h);
    h.at(&format!("AT+CIPSTART=\"TCP\",\"127.0.0.1\",{port}"), "CONNECT\r\n\r\nOK\r\n");
    h.at("AT+CIPMODE=1", "\r\nOK\r\n");
    h.at("AT+CIPSEND", "\r\nOK\r\n\r\n>");
    // Data, then +++ 5 ms later: too soon after data.
    h.send(b"a");
    thread::sleep(Duration::from_millis(5));
    h.send(b"+++");
    h.expect(b"a+++", "+++ right after data is data");
    thread::sleep(Duration::from_millis(200));
    // +++ followed 5 ms later by data.
    h.send(b"+++");
    thread::sleep(Duration::from_millis(5));
    h.send(b"b");
    h.expect(b"+++b", "+++ right before data is data");
    thread::sleep(Duration::from_millis(200));
    // +++ in the middle of a packet.
    h.send(b"x+++y");
    h.expect(b"x+++y", "+++ inside a packet is data");
    // Still in passthrough: AT is data too.
    thread::sleep(Duration::from_millis(200));
    h.send(b"AT\r\n");
    h.expect(b"AT\r\n", "AT is data in passthrough");
    escape(&mut h);
    h.at("AT", "\r\nOK\r\n");
    w.stop();
}

/// A peer that resets: the module stays in passthrough, connects again
/// (every AT+CIPRECONNINTV) and the data goes on.
#[test]
fn passthrough_reconnects_after_a_reset() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        let mut first = true;
        for mut s in l.incoming().flatten() {
            if first {
                first = false;
                let mut b = [0u8; 4];
                let _ = s.read_exact(&mut b);
                nix::sys::socket::setsockopt(&s, nix::sys::socket::sockopt::Linger, &nix::libc::linger { l_onoff: 1, l_linger: 0 }).unwrap();
                continue;
            }
            thread::spawn(move || {
                let mut b = [0u8; 4096];
                while let Ok(n) = s.read(&mut b) {
                    if n == 0 || s.write_all(&b[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    let dir = common::tempdir();
    let (w, mut h) = wsat_tcp(dir.path(), &[]);
    join_wifi(&mut h);
    echo_off(&mut h);
    h.at("AT+CIPRECONNINTV=2", "\r\nOK\r\n");
    h.at(&format!("AT+CIPSTART=\"TCP\",\"127.0.0.1\",{port}"), "CONNECT\r\n\r\nOK\r\n");
    h.at("AT+CIPMODE=1", "\r\nOK\r\n");
    h.at("AT+CIPSEND", "\r\nOK\r\n\r\n>");
    h.send(b"lost");
    thread::sleep(Duration::from_millis(600));
    // The first connection was reset after 4 bytes; the module is back on
    // a new one, and nothing is printed into the data stream.
    h.send(b"after the reset");
    h.expect(b"after the reset", "echo on the new connection");
    escape(&mut h);
    h.at("AT+CIPSTATE?", "");
    let state = String::from_utf8_lossy(&h.until(b"\r\nOK\r\n")).into_owned();
    assert!(state.starts_with(&format!("+CIPSTATE:0,\"TCP\",\"127.0.0.1\",{port},")), "{state}");
    w.stop();
}

/// AT+SAVETRANSLINK: after AT+RST the module joins, connects and is in
/// passthrough by itself.
#[test]
fn saved_link_opens_in_passthrough_after_a_restart() {
    let port = common::tcp_echo_server();
    let dir = common::tempdir();
    let (w, mut h) = wsat_tcp(dir.path(), &[]);
    join_wifi(&mut h);
    echo_off(&mut h);
    h.at("AT+TRANSINTVL?", "+TRANSINTVL:20\r\n\r\nOK\r\n");
    h.at("AT+TRANSINTVL=5", "\r\nOK\r\n");
    h.at(&format!("AT+SAVETRANSLINK=1,\"127.0.0.1\",{port},\"TCP\""), "\r\nOK\r\n");
    h.at("AT+RST", "\r\nOK\r\n");
    h.expect(b"ready\r\nWIFI CONNECTED\r\nWIFI GOT IP\r\n", "boot, auto-connect");
    thread::sleep(Duration::from_millis(500));
    h.send(b"saved link data");
    h.expect(b"saved link data", "echo through the saved link");
    escape(&mut h);
    h.at("ATE0", "ATE0\r\n\r\nOK\r\n");
    h.at("AT+CIPMODE?", "+CIPMODE:1\r\n\r\nOK\r\n");
    h.at("AT+SAVETRANSLINK=0", "\r\nOK\r\n");
    w.stop();
}

/// The same file over SSL, with mutual authentication (ESP-AT's default
/// client certificate, a server holding ESP-AT's default server one).
#[test]
fn a_file_through_ssl_passthrough_and_back() {
    let server = common::tls_echo_server();
    let dir = common::tempdir();
    let (w, mut h) = common::wsat_tls_ready(dir.path(), &[]);
    h.at("AT+CIPSSLCCONF=3,0,0", "\r\nOK\r\n");
    h.at(&format!("AT+CIPSTART=\"SSL\",\"127.0.0.1\",{}", server.port()), "CONNECT\r\n\r\nOK\r\n");
    h.at("AT+CIPMODE=1", "\r\nOK\r\n");
    h.at("AT+CIPSEND", "\r\nOK\r\n\r\n>");
    round_trip(&mut h, &file());
    escape(&mut h);
    h.at("AT+CIPMODE=0", "\r\nOK\r\n");
    h.at("AT+CIPCLOSE", "CLOSED\r\n\r\nOK\r\n");
    w.stop();
}
