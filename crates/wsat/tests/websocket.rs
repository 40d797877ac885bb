//! WebSocket links against real servers on loopback: the seed's Python
//! echo server (websockets, pinned) for what a polite server does.

mod common;

use common::{join_wifi, wsat_tcp, Server};

/// The seed's first walkthrough, byte for byte, then the link's state and
/// its close.
#[test]
fn seed_walkthrough_over_tcp() {
    let server = Server::python("ws-server.py", &["127.0.0.1", "0"]);
    let dir = common::tempdir();
    let (w, mut h) = wsat_tcp(dir.path(), &[]);
    join_wifi(&mut h);
    let open = format!("AT+WSOPEN=0,\"ws://127.0.0.1:{}\"\r\n", server.port());
    h.send(open.as_bytes());
    h.expect(format!("{open}+WS_CONNECTED:0\r\n\r\nOK\r\n").as_bytes(), "WSOPEN");
    h.send(b"AT+WSSEND=0,4\r\n");
    h.expect(b"AT+WSSEND=0,4\r\n\r\nOK\r\n\r\n>", "prompt");
    h.send(b"test");
    h.expect(b"\r\nSEND OK\r\n", "SEND OK");
    h.expect(b"+WS_DATA:0,4,test\r\n", "echo");
    h.send(b"AT+WSOPEN?\r\n");
    let q = format!("AT+WSOPEN?\r\n+WSOPEN:0,2,\"ws://127.0.0.1:{}\"\r\n\r\nOK\r\n", server.port());
    h.expect(q.as_bytes(), "state 2");
    h.send(b"AT+WSCLOSE=0\r\n");
    h.expect(b"AT+WSCLOSE=0\r\n+WS_CLOSED:0\r\n\r\nOK\r\n", "close");
    h.send(b"AT+WSOPEN?\r\n");
    h.expect(b"AT+WSOPEN?\r\n\r\nOK\r\n", "no links");
    w.stop();
}

/// Three links at once, each echoing its own traffic, with different
/// report formats.
#[test]
fn three_links_and_report_formats() {
    let server = Server::python("ws-server.py", &["127.0.0.1", "0"]);
    let dir = common::tempdir();
    let (w, mut h) = wsat_tcp(dir.path(), &[]);
    join_wifi(&mut h);
    common::echo_off(&mut h);
    for id in 0..3 {
        h.send(format!("AT+WSOPEN={id},\"ws://127.0.0.1:{}/\"\r\n", server.port()).as_bytes());
        h.expect(format!("+WS_CONNECTED:{id}\r\n\r\nOK\r\n").as_bytes(), "open");
    }
    // Link 1: everything (mask 63) at frame level; link 2: message level,
    // payload_len only (the documentation's example).
    h.send(b"AT+WSDATAFMT=1,1,63\r\n");
    h.expect(b"\r\nOK\r\n", "fmt 1");
    h.send(b"AT+WSDATAFMT=2,2,4\r\n");
    h.expect(b"\r\nOK\r\n", "fmt 2");
    h.send(b"AT+WSDATAFMT=0,3,48\r\n");
    h.expect(b"\r\nERROR\r\n", "level out of range");

    h.send(b"AT+WSSEND=0,5\r\n");
    h.expect(b"\r\nOK\r\n\r\n>", "prompt 0");
    h.send(b"a\r\nb,");
    h.expect(b"\r\nSEND OK\r\n+WS_DATA:0,5,a\r\nb,\r\n", "link 0 echo, CR LF is data");

    h.send(b"AT+WSSEND=1,3,2\r\n");
    h.expect(b"\r\nOK\r\n\r\n>", "prompt 1");
    h.send(b"\x00\xff\x01");
    h.expect(b"\r\nSEND OK\r\n+WS_DATA:1,2,1,3,0,3,\x00\xff\x01\r\n", "link 1 binary, all fields");

    h.send(b"AT+WSSEND=2,2\r\n");
    h.expect(b"\r\nOK\r\n\r\n>", "prompt 2");
    h.send(b"hi");
    h.expect(b"\r\nSEND OK\r\n+WS_DATA:2,2,hi", "link 2, payload_len only, no CR LF");

    // A message larger than the buffer goes out as several frames and
    // comes back (Python reassembles and echoes one frame) at frame level.
    let big: Vec<u8> = (0..3000u32).map(|i| b'a' + (i % 26) as u8).collect();
    h.send(b"AT+WSSEND=1,3000\r\n");
    h.expect(b"\r\nOK\r\n\r\n>", "prompt big");
    h.send(&big);
    let mut want = b"\r\nSEND OK\r\n+WS_DATA:1,1,1,3000,0,3000,".to_vec();
    want.extend_from_slice(&big);
    want.extend_from_slice(b"\r\n");
    h.expect(&want, "big message at frame level");

    h.send(b"AT+WSOPEN?\r\n");
    let port = server.port();
    let q = format!(
        "+WSOPEN:0,2,\"ws://127.0.0.1:{port}/\"\r\n+WSOPEN:1,2,\"ws://127.0.0.1:{port}/\"\r\n+WSOPEN:2,2,\"ws://127.0.0.1:{port}/\"\r\n\r\nOK\r\n"
    );
    h.expect(q.as_bytes(), "three links");
    // A link in use cannot be opened again.
    h.send(format!("AT+WSOPEN=1,\"ws://127.0.0.1:{port}\"\r\n").as_bytes());
    h.expect(b"\r\nERROR\r\n", "busy link");
    for id in 0..3 {
        h.send(format!("AT+WSCLOSE={id}\r\n").as_bytes());
        h.expect(format!("+WS_CLOSED:{id}\r\n\r\nOK\r\n").as_bytes(), "close");
    }
    w.stop();
}

/// Network commands need Wi-Fi, as on a real module; bad parameters are
/// ERROR and lose nothing.
#[test]
fn refusals() {
    let server = Server::python("ws-server.py", &["127.0.0.1", "0"]);
    let dir = common::tempdir();
    let (w, mut h) = wsat_tcp(dir.path(), &[]);
    common::echo_off(&mut h);
    let open = format!("AT+WSOPEN=0,\"ws://127.0.0.1:{}\"\r\n", server.port());
    h.send(open.as_bytes());
    h.expect(b"\r\nERROR\r\n", "no Wi-Fi yet");
    h.send(b"AT+CWJAP=\"espressif\",\"1234567890\"\r\n");
    h.expect(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n", "CWJAP");
    for bad in [
        "AT+WSOPEN=3,\"ws://127.0.0.1:1\"\r\n",
        "AT+WSOPEN=0,\"http://127.0.0.1:1\"\r\n",
        "AT+WSOPEN=0,\"ws://127.0.0.1:1\",,0\r\n",
        "AT+WSSEND=0,4\r\n",
        "AT+WSSEND=0,16385\r\n",
        "AT+WSCFG=0,0,10\r\n",
        // auth_mode 4 does not exist (pki/ca numbers under mode 0 are fine).
        "AT+WSCFG=0,10,10,1024,4,0,0\r\n",
        // No wss_ca.5 (the factory PKI has sets 0 and 1).
        "AT+WSCFG=0,10,10,1024,2,0,5\r\n",
    ] {
        h.send(bad.as_bytes());
        let got = h.until(b"ERROR\r\n");
        assert!(!got.windows(2).any(|w| w == b"OK"), "{bad:?} -> {}", common::escape(&got));
    }
    // A refused connection: ERROR within the timeout, link free again.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead);
    h.send(format!("AT+WSOPEN=0,\"ws://127.0.0.1:{dead_port}\",,2000\r\n").as_bytes());
    h.expect(b"\r\nERROR\r\n", "connection refused");
    h.send(open.as_bytes());
    h.expect(b"+WS_CONNECTED:0\r\n\r\nOK\r\n", "link usable after a failed open");
    // Dropping the AP takes the link down; it retries on its own.
    h.send(b"AT+CWQAP\r\n");
    h.expect(b"\r\nOK\r\nWIFI DISCONNECT\r\n+WS_DISCONNECTED:0\r\n", "Wi-Fi gone");
    h.send(b"AT+WSOPEN?\r\n");
    let q = format!("+WSOPEN:0,3,\"ws://127.0.0.1:{}\"\r\n\r\nOK\r\n", server.port());
    h.expect(q.as_bytes(), "waiting to reconnect");
    h.send(b"AT+WSCLOSE=0\r\n");
    h.expect(b"+WS_CLOSED:0\r\n\r\nOK\r\n", "close while waiting");
    w.stop();
}

/// Host names are resolved (DNS through the system resolver).
#[test]
fn host_names_resolve() {
    let server = Server::python("ws-server.py", &["127.0.0.1", "0"]);
    let dir = common::tempdir();
    let (w, mut h) = wsat_tcp(dir.path(), &[]);
    join_wifi(&mut h);
    common::echo_off(&mut h);
    h.send(format!("AT+WSOPEN=1,\"ws://localhost:{}/echo?x=1\"\r\n", server.port()).as_bytes());
    h.expect(b"+WS_CONNECTED:1\r\n\r\nOK\r\n", "localhost");
    h.send(b"AT+WSSEND=1,2\r\n");
    h.expect(b"\r\nOK\r\n\r\n>", "prompt");
    h.send(b"ok");
    h.expect(b"\r\nSEND OK\r\n+WS_DATA:1,2,ok\r\n", "echo");
    // (An unresolvable name is not tried: it would send a DNS query to the
    // system's resolver, and tests contact nothing beyond loopback.)
    w.stop();
}
