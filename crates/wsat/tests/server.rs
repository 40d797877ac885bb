//! The module as a server (AT+CIPSERVER) against the real binary: clients
//! from outside connect to the module's port (mapped to a free port of
//! this machine), are reported, and exchange data with the host; the
//! client limit, the idle timeout, deleting the server; an SSL server that
//! checks client certificates with ESP-AT's default credentials.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use common::{echo_off, join_wifi, wsat_tcp};


fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn clients_connect_exchange_data_and_are_limited_and_timed_out() {
    let host_port = free_port();
    let dir = common::tempdir();
    let map = format!("80:{host_port}");
    let (w, mut h) = wsat_tcp(dir.path(), &["--port-map", &map]);
    join_wifi(&mut h);
    echo_off(&mut h);
    h.at("AT+CIPSERVER=1,80", "\r\nERROR\r\n");
    h.at("AT+CIPSTO=10", "\r\nERROR\r\n");
    h.at("AT+CIPMUX=1", "\r\nOK\r\n");
    h.at("AT+CIPSERVERMAXCONN=2", "\r\nOK\r\n");
    h.at("AT+CIPSERVERMAXCONN?", "+CIPSERVERMAXCONN:2\r\n\r\nOK\r\n");
    h.at("AT+CIPSERVER?", "+CIPSERVER:0\r\n\r\nOK\r\n");
    h.at("AT+CIPSERVER=1,80", "\r\nOK\r\n");
    h.at("AT+CIPSERVER?", "+CIPSERVER:1,80,\"TCP\",0,0\r\n\r\nOK\r\n");
    h.at("AT+CIPSERVER=1,81", "\r\nERROR\r\n");
    h.at("AT+CIPMUX=0", "\r\nERROR\r\n");
    h.at("AT+CIPSERVERMAXCONN=3", "\r\nERROR\r\n");

    let mut a = TcpStream::connect(("127.0.0.1", host_port)).unwrap();
    h.expect(b"0,CONNECT\r\n", "first client");
    a.write_all(b"hello").unwrap();
    h.expect(b"\r\n+IPD,0,5:hello\r\n", "data from the client");
    h.at("AT+CIPSEND=0,5", "\r\nOK\r\n\r\n>");
    h.send(b"world");
    h.expect(b"\r\nRecv 5 bytes\r\n\r\nSEND OK\r\n", "data to the client");
    let mut b = [0u8; 5];
    a.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"world");
    h.send(b"AT+CIPSTATE?\r\n");
    let state = String::from_utf8_lossy(&h.until(b"\r\nOK\r\n")).into_owned();
    assert!(state.starts_with("+CIPSTATE:0,\"TCP\",\"127.0.0.1\",") && state.contains(",80,1\r\n"), "{state}");

    // A second client fits; a third is refused (closed without a word).
    let _b = TcpStream::connect(("127.0.0.1", host_port)).unwrap();
    h.expect(b"1,CONNECT\r\n", "second client");
    let mut c = TcpStream::connect(("127.0.0.1", host_port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut x = [0u8; 1];
    assert_eq!(c.read(&mut x).unwrap_or(0), 0, "the third client is closed");
    assert_eq!(common::escape(&h.quiet_for(Duration::from_millis(300))), "");

    // Idle clients close after AT+CIPSTO.
    h.at("AT+CIPSTO=1", "\r\nOK\r\n");
    h.at("AT+CIPSTO?", "+CIPSTO:1\r\n\r\nOK\r\n");
    let gone = h.until(b"1,CLOSED\r\n");
    assert!(String::from_utf8_lossy(&gone).contains("0,CLOSED\r\n"), "{}", common::escape(&gone));
    h.at("AT+CIPSTO=0", "\r\nOK\r\n");

    // Deleting the server with its clients.
    let _d = TcpStream::connect(("127.0.0.1", host_port)).unwrap();
    h.expect(b"0,CONNECT\r\n", "a new client takes link 0");
    h.at("AT+CIPSERVER=0,1", "0,CLOSED\r\n\r\nOK\r\n");
    assert!(TcpStream::connect(("127.0.0.1", host_port)).is_err(), "nothing listens any more");
    w.stop();
}

#[test]
fn ssl_server_with_client_authentication() {
    let pki = common::esp_at_pki();
    let f = |p: &str| pki.join(p).to_string_lossy().into_owned();
    let host_port = free_port();
    let dir = common::tempdir();
    let map = format!("443:{host_port}");
    let (w, mut h) = common::wsat_tls_ready(dir.path(), &["--port-map", &map]);
    h.at("AT+CIPMUX=1", "\r\nOK\r\n");
    h.at("AT+CIPSERVER=1,443,\"SSL\",1", "\r\nOK\r\n");
    // A client with ESP-AT's default client certificate (signed by the CA
    // the server checks against) is taken.
    let port = host_port.to_string();
    let (cert, key) = (f("client_cert/client_cert_00.crt"), f("client_key/client_key_00.key"));
    let client = thread::spawn(move || {
        std::process::Command::new(common::python())
            .arg(common::workspace_tests().join("python/tls-client.py"))
            .args(["127.0.0.1", &port, &cert, &key, "ping\n"])
            .output()
            .unwrap()
    });
    h.expect(b"0,CONNECT\r\n", "SSL client");
    h.expect(b"\r\n+IPD,0,5:ping\n\r\n", "its data");
    h.at("AT+CIPSEND=0,5", "\r\nOK\r\n\r\n>");
    h.send(b"pong\n");
    h.expect(b"\r\nRecv 5 bytes\r\n\r\nSEND OK\r\n", "reply");
    let out = client.join().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "pong", "{}", String::from_utf8_lossy(&out.stderr));
    h.expect(b"0,CLOSED\r\n", "the client leaves");
    // Without a certificate the handshake fails and nothing is reported.
    let port = host_port.to_string();
    let out = std::process::Command::new(common::python())
        .arg(common::workspace_tests().join("python/tls-client.py"))
        .args(["127.0.0.1", &port, "-", "-", "ping\n"])
        .output()
        .unwrap();
    assert!(!out.status.success() || String::from_utf8_lossy(&out.stdout).trim().is_empty());
    assert_eq!(common::escape(&h.quiet_for(Duration::from_millis(500))), "");
    w.stop();
}
