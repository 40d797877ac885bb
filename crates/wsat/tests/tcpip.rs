//! TCP/IP links against the real binary and real loopback servers: the
//! documentation's TCP-IP examples as golden exchanges (local servers in
//! place of the docs' addresses), passive receive, UDP in both remote
//! modes, SSL with mutual authentication, and every failure a real module
//! shows: a refused connection, a busy link id, a peer that resets, one
//! that never accepts, one that stops reading.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::thread;
use std::time::Duration;

use common::{echo_off, join_wifi, wsat_tcp};

/// A TCP server on loopback that runs `serve` on each connection.
fn tcp_server(serve: impl Fn(TcpStream) + Send + Sync + 'static) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let serve = std::sync::Arc::new(serve);
    thread::spawn(move || {
        for s in l.incoming().flatten() {
            let serve = serve.clone();
            thread::spawn(move || serve(s));
        }
    });
    port
}

/// Echoes everything back, after a short pause (so the echo follows the
/// module's `SEND OK`, as the doc's server answers after it).
fn echo(mut s: TcpStream) {
    let mut b = [0u8; 65536];
    while let Ok(n) = s.read(&mut b) {
        if n == 0 {
            break;
        }
        thread::sleep(Duration::from_millis(50));
        if s.write_all(&b[..n]).is_err() {
            break;
        }
    }
}


/// Example 1, "TCP client in single connection": CONNECT, a send, the
/// server's answer as `+IPD`, then the documented close.
#[test]
fn tcp_client_single_connection() {
    let port = tcp_server(echo);
    let dir = common::tempdir();
    let (w, mut h) = wsat_tcp(dir.path(), &[]);
    join_wifi(&mut h);
    echo_off(&mut h);
    h.at(&format!("AT+CIPSTART=\"TCP\",\"127.0.0.1\",{port}"), "CONNECT\r\n\r\nOK\r\n");
    h.at("AT+CIPSEND=4", "\r\nOK\r\n\r\n>");
    h.send(b"test");
    h.expect(b"\r\nRecv 4 bytes\r\n\r\nSEND OK\r\n", "data sent");
    h.expect(b"\r\n+IPD,4:test\r\n", "the server's answer");
    h.send(b"AT+CIPSTATE?\r\n");
    let state = String::from_utf8_lossy(&h.until(b"\r\nOK\r\n")).into_owned();
    assert!(state.starts_with(&format!("+CIPSTATE:0,\"TCP\",\"127.0.0.1\",{port},")) && state.ends_with(",0\r\n\r\nOK\r\n"), "{state}");
    h.at("AT+CIPSTATUS", "");
    let status = String::from_utf8_lossy(&h.until(b"\r\nOK\r\n")).into_owned();
    assert!(status.starts_with("STATUS:3\r\n+CIPSTATUS:0,\"TCP\""), "{status}");
    // A domain name resolves through the host's resolver.
    h.at("AT+CIPDOMAIN=\"localhost\",2", "+CIPDOMAIN:\"127.0.0.1\"\r\n\r\nOK\r\n");
    h.at("AT+CIPCLOSE", "CLOSED\r\n\r\nOK\r\n");
    h.at("AT+CIPSTATUS", "STATUS:4\r\n\r\nOK\r\n");
    w.stop();
}

/// AT+CIPSENDEX: `\0` ends the data early, `\\0` sends a literal `\0`;
/// `+++` alone cancels a send.
#[test]
fn sendex_and_cancel() {
    let (tx, rx) = std::sync::mpsc::channel();
    let port = tcp_server(move |mut s| {
        let mut got = Vec::new();
        let mut b = [0u8; 100];
        while let Ok(n) = s.read(&mut b) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&b[..n]);
            let _ = tx.send(got.clone());
        }
    });
    let dir = common::tempdir();
    let (w, mut h) = wsat_tcp(dir.path(), &[]);
    join_wifi(&mut h);
    echo_off(&mut h);
    h.at(&format!("AT+CIPSTART=\"TCP\",\"localhost\",{port}"), "CONNECT\r\n\r\nOK\r\n");
    h.at("AT+CIPSENDEX=20", "\r\nOK\r\n\r\n>");
    h.send(br"ab\\0c\0");
    h.expect(b"\r\nRecv 5 bytes\r\n\r\nSEND OK\r\n", "cut at \\0");
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), br"ab\0c");
    h.at("AT+CIPSEND=10", "\r\nOK\r\n\r\n>");
    thread::sleep(Duration::from_millis(100));
    h.send(b"+++");
    h.expect(b"\r\nSEND Canceled\r\n", "cancelled");
    h.at("AT", "\r\nOK\r\n");
    w.stop();
}

/// Several links in multiple-connection mode with passive receive: the
/// notice, the length query, partial reads, and CLOSED held back until the
/// last byte of a closed link is read.
#[test]
fn passive_receive_on_several_links() {
    let push = tcp_server(|mut s| {
        s.write_all(b"0123456789").unwrap();
        thread::sleep(Duration::from_millis(300));
        // The peer closes; its data stays readable.
    });
    let quiet = tcp_server(|mut s| {
        let mut b = [0u8; 10];
        let _ = s.read(&mut b);
    });
    let dir = common::tempdir();
    let (w, mut h) = wsat_tcp(dir.path(), &[]);
    join_wifi(&mut h);
    echo_off(&mut h);
    h.at("AT+CIPMUX=1", "\r\nOK\r\n");
    h.at("AT+CIPRECVTYPE=5,1", "\r\nOK\r\n");
    h.at(&format!("AT+CIPSTART=1,\"TCP\",\"127.0.0.1\",{quiet}"), "1,CONNECT\r\n\r\nOK\r\n");
    h.at(&format!("AT+CIPSTART=0,\"TCP\",\"127.0.0.1\",{push}"), "0,CONNECT\r\n\r\nOK\r\n");
    h.expect(b"\r\n+IPD,0,10\r\n", "passive notice");
    h.at("AT+CIPRECVLEN?", "+CIPRECVLEN:10,0,0,0,0\r\n\r\nOK\r\n");
    h.at("AT+CIPRECVDATA=0,4", "+CIPRECVDATA:4,0123\r\nOK\r\n\r\n+IPD,0,6\r\n");
    // The server has gone by now: no CLOSED while data is unread.
    assert_eq!(common::escape(&h.quiet_for(Duration::from_millis(600))), "");
    h.at("AT+CIPRECVDATA=0,100", "+CIPRECVDATA:6,456789\r\nOK\r\n0,CLOSED\r\n");
    h.at("AT+CIPRECVDATA=1,100", "\r\nERROR\r\n");
    h.at("AT+CIPCLOSE=1", "1,CLOSED\r\n\r\nOK\r\n");
    h.at("AT+CIPCLOSE=5", "\r\nOK\r\n");
    h.at("AT+CIPMUX=0", "\r\nOK\r\n");
    w.stop();
}

/// Examples 3 and 4: UDP with a fixed remote (mode 0) and one that follows
/// each sender (mode 2), and a send to another address.
#[test]
fn udp_fixed_and_changeable_remote() {
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let other = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    other.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let (pp, op) = (peer.local_addr().unwrap().port(), other.local_addr().unwrap().port());
    // A local port for the module's side that is free now.
    let lp = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = common::tempdir();
    let (w, mut h) = wsat_tcp(dir.path(), &[]);
    join_wifi(&mut h);
    echo_off(&mut h);
    h.at("AT+CIPMUX=1", "\r\nOK\r\n");
    h.at(&format!("AT+CIPSTART=4,\"UDP\",\"127.0.0.1\",{pp},{lp},0"), "4,CONNECT\r\n\r\nOK\r\n");
    h.at("AT+CIPSEND=4,7", "\r\nOK\r\n\r\n>");
    h.send(b"abcdefg");
    h.expect(b"\r\nRecv 7 bytes\r\n\r\nSEND OK\r\n", "datagram sent");
    let mut b = [0u8; 100];
    let (n, module) = peer.recv_from(&mut b).unwrap();
    assert_eq!(&b[..n], b"abcdefg");
    peer.send_to(b"test", module).unwrap();
    h.expect(b"\r\n+IPD,4,4:test\r\n", "datagram received");
    // Mode 0: another sender does not move the remote.
    other.send_to(b"xy", module).unwrap();
    h.expect(b"\r\n+IPD,4,2:xy\r\n", "from another sender");
    h.send(b"AT+CIPSTATE?\r\n");
    let state = String::from_utf8_lossy(&h.until(b"\r\nOK\r\n")).into_owned();
    assert!(state.starts_with(&format!("+CIPSTATE:4,\"UDP\",\"127.0.0.1\",{pp},")), "{state}");
    h.at("AT+CIPCLOSE=4", "4,CLOSED\r\n\r\nOK\r\n");

    // Example 4, single connection, mode 2, with the sender shown.
    h.at("AT+CIPMUX=0", "\r\nOK\r\n");
    h.at("AT+CIPDINFO=1", "\r\nOK\r\n");
    h.at("AT+CIPDINFO?", "+CIPDINFO:true\r\nOK\r\n");
    h.at(&format!("AT+CIPSTART=\"UDP\",\"127.0.0.1\",{pp},{lp},2"), "CONNECT\r\n\r\nOK\r\n");
    h.at(&format!("AT+CIPSEND=4,\"127.0.0.1\",{op}"), "\r\nOK\r\n\r\n>");
    h.send(b"test");
    h.expect(b"\r\nRecv 4 bytes\r\n\r\nSEND OK\r\n", "to the other address");
    let (n, module) = other.recv_from(&mut b).unwrap();
    assert_eq!(&b[..n], b"test");
    peer.send_to(b"back", module).unwrap();
    h.expect(format!("\r\n+IPD,4,\"127.0.0.1\",{pp}:back\r\n").as_bytes(), "with the sender");
    h.at("AT+CIPCLOSE", "CLOSED\r\n\r\nOK\r\n");
    w.stop();
}

/// Bad input and failing peers: the documented ERROR, and the other links
/// go on untouched.
#[test]
fn failures_leave_other_links_alone() {
    let port = tcp_server(echo);
    let reset = tcp_server(|s| {
        let mut b = [0u8; 10];
        let _ = (&s).read(&mut b);
        // Abortive close: RST.
        nix::sys::socket::setsockopt(&s, nix::sys::socket::sockopt::Linger, &nix::libc::linger { l_onoff: 1, l_linger: 0 }).unwrap();
    });
    let refused = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = common::tempdir();
    let (w, mut h) = wsat_tcp(dir.path(), &[]);
    h.at(&format!("AT+CIPSTART=\"TCP\",\"127.0.0.1\",{port}"), format!("AT+CIPSTART=\"TCP\",\"127.0.0.1\",{port}\r\n\r\nERROR\r\n"));
    join_wifi(&mut h);
    echo_off(&mut h);
    h.at("AT+CIPMUX=1", "\r\nOK\r\n");
    h.at(&format!("AT+CIPSTART=0,\"TCP\",\"127.0.0.1\",{port}"), "0,CONNECT\r\n\r\nOK\r\n");
    // The wrong form for the mode, a busy id, ids and values out of range.
    h.at(&format!("AT+CIPSTART=\"TCP\",\"127.0.0.1\",{port}"), "\r\nERROR\r\n");
    h.at(&format!("AT+CIPSTART=0,\"TCP\",\"127.0.0.1\",{port}"), "\r\nERROR\r\n");
    h.at(&format!("AT+CIPSTART=5,\"TCP\",\"127.0.0.1\",{port}"), "\r\nERROR\r\n");
    h.at(&format!("AT+CIPSTART=1,\"TCPX\",\"127.0.0.1\",{port}"), "\r\nERROR\r\n");
    h.at("AT+CIPSTART=1,\"TCP\",\"127.0.0.1\",0", "\r\nERROR\r\n");
    h.at("AT+CIPSEND=1,4", "\r\nERROR\r\n");
    h.at("AT+CIPSEND=0,8193", "\r\nERROR\r\n");
    h.at("AT+CIPSEND=0,4,\"127.0.0.1\",80", "\r\nERROR\r\n");
    h.at("AT+CIPCLOSE", "\r\nERROR\r\n");
    h.at("AT+CIPCLOSE=3", "\r\nERROR\r\n");
    h.at("AT+CIPMUX=0", "\r\nERROR\r\n");
    // A refused connection: ERROR, and +ERRNO under AT+SYSLOG=1; no CLOSED.
    h.at(&format!("AT+CIPSTART=1,\"TCP\",\"127.0.0.1\",{refused}"), "\r\nERROR\r\n");
    h.at("AT+SYSLOG=1", "\r\nOK\r\n");
    h.at(&format!("AT+CIPSTART=1,\"TCP\",\"127.0.0.1\",{refused}"), "+ERRNO:0x6f\r\nERR CODE:0x010a0000\r\n\r\nERROR\r\n");
    h.at("AT+SYSLOG=0", "\r\nOK\r\n");
    // A peer that resets: CLOSED, and link 0 still carries data.
    h.at(&format!("AT+CIPSTART=2,\"TCP\",\"127.0.0.1\",{reset}"), "2,CONNECT\r\n\r\nOK\r\n");
    h.at("AT+CIPSEND=2,1", "\r\nOK\r\n\r\n>");
    h.send(b"x");
    h.expect(b"\r\nRecv 1 bytes\r\n\r\nSEND OK\r\n", "sent to the resetting peer");
    h.expect(b"2,CLOSED\r\n", "reset");
    h.at("AT+CIPSEND=0,2", "\r\nOK\r\n\r\n>");
    h.send(b"ok");
    h.expect(b"\r\nRecv 2 bytes\r\n\r\nSEND OK\r\n\r\n+IPD,0,2:ok\r\n", "link 0 unharmed");
    w.stop();
}

/// A peer that never accepts (its backlog is full): AT+CIPSTART's timeout
/// ends it in ERROR. A peer that stops reading: AT+CIPSEND ends in
/// `SEND FAIL` within SO_SNDTIMEO, never a hang.
#[test]
fn a_peer_that_never_accepts_or_stops_reading() {
    use nix::sys::socket::{bind, listen, socket, AddressFamily, Backlog, SockFlag, SockType, SockaddrIn};
    let fd = socket(AddressFamily::Inet, SockType::Stream, SockFlag::empty(), None).unwrap();
    bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &SockaddrIn::new(127, 0, 0, 1, 0)).unwrap();
    listen(&fd, Backlog::new(0).unwrap()).unwrap();
    let l = TcpListener::from(fd);
    let full = l.local_addr().unwrap().port();
    // Fill the accept queue; the module's SYN then goes unanswered.
    let _fillers: Vec<TcpStream> = (0..3).filter_map(|_| TcpStream::connect_timeout(&l.local_addr().unwrap(), Duration::from_millis(300)).ok()).collect();
    let sink = tcp_server(|s| {
        thread::sleep(Duration::from_secs(60));
        drop(s);
    });
    let dir = common::tempdir();
    let (w, mut h) = wsat_tcp(dir.path(), &[]);
    join_wifi(&mut h);
    echo_off(&mut h);
    let started = std::time::Instant::now();
    h.at(&format!("AT+CIPSTART=\"TCP\",\"127.0.0.1\",{full},0,,1000"), "\r\nERROR\r\n");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    h.at(&format!("AT+CIPSTART=\"TCP\",\"127.0.0.1\",{sink}"), "CONNECT\r\n\r\nOK\r\n");
    h.at("AT+CIPTCPOPT=,,500", "\r\nOK\r\n");
    h.at("AT+CIPTCPOPT?", "+CIPTCPOPT:0,-1,0,500,0\r\n\r\nOK\r\n");
    let block = vec![b'z'; 8192];
    let mut failed = false;
    for _ in 0..2000 {
        h.at("AT+CIPSEND=8192", "\r\nOK\r\n\r\n>");
        h.send(&block);
        h.expect(b"\r\nRecv 8192 bytes\r\n", "taken");
        h.fill(11, Duration::from_secs(5));
        let rest = h.quiet_for(Duration::from_millis(1));
        if rest.starts_with(b"\r\nSEND FAIL\r\n") {
            failed = true;
            break;
        }
        assert_eq!(common::escape(&rest), common::escape(b"\r\nSEND OK\r\n"));
    }
    assert!(failed, "the socket buffers never filled");
    // The stuck send is not followed by more data behind it.
    h.at("AT+CIPSEND=1", "\r\nERROR\r\n");
    h.at("AT+CIPCLOSE", "CLOSED\r\n\r\nOK\r\n");
    w.stop();
}

/// The SSL client with mutual authentication (example 7), against a
/// server holding ESP-AT's own default server certificate and checking
/// clients against its CA; then a server the module must refuse.
#[test]
fn ssl_client_with_mutual_authentication() {
    let server = common::tls_echo_server();
    let dir = common::tempdir();
    let (w, mut h) = common::wsat_tls_ready(dir.path(), &[]);
    h.at("AT+CIPSSLCCONF=3,0,0", "\r\nOK\r\n");
    h.at("AT+CIPSSLCCONF?", "+CIPSSLCCONF:0,3,0,0\r\n\r\nOK\r\n");
    h.at(&format!("AT+CIPSTART=\"SSL\",\"127.0.0.1\",{}", server.port()), "CONNECT\r\n\r\nOK\r\n");
    h.at("AT+CIPSEND=4", "\r\nOK\r\n\r\n>");
    h.send(b"test");
    h.expect(b"\r\nRecv 4 bytes\r\n\r\nSEND OK\r\n", "sent over TLS");
    h.expect(b"\r\n+IPD,4:test\r\n", "echo over TLS");
    h.at("AT+CIPCLOSE", "CLOSED\r\n\r\nOK\r\n");
    // Without a client certificate the server refuses the handshake.
    h.at("AT+CIPSSLCCONF=2,0,0", "\r\nOK\r\n");
    h.at(&format!("AT+CIPSTART=\"SSL\",\"127.0.0.1\",{}", server.port()), "");
    let r = h.until(b"\r\n");
    let r = [r, h.until(b"\r\n")].concat();
    assert!(r == b"\r\nERROR\r\n" || r == b"CONNECT\r\n\r\n", "{}", common::escape(&r));
    w.stop();
}

/// AT+PING answers for a host that is there and says TIMEOUT for one that
/// does not resolve.
#[test]
fn ping() {
    let dir = common::tempdir();
    let (w, mut h) = wsat_tcp(dir.path(), &[]);
    join_wifi(&mut h);
    echo_off(&mut h);
    h.send(b"AT+PING=\"127.0.0.1\"\r\n");
    let r = String::from_utf8_lossy(&h.until(b"\r\nOK\r\n")).into_owned();
    assert!(r.starts_with("+PING:") && r[6..].trim_end_matches("\r\n\r\nOK\r\n").parse::<u32>().is_ok(), "{r}");
    h.at("AT+PING=\"no-such-host.invalid\"", "+PING:TIMEOUT\r\n\r\nERROR\r\n");
    w.stop();
}

/// Example 12, passive receive in single-connection mode, then the
/// detailed connection message of AT+SYSMSG and data beyond a send's
/// length.
#[test]
fn passive_receive_example_link_conn_and_surplus_data() {
    let port = tcp_server(|mut s| {
        thread::sleep(Duration::from_millis(300));
        let _ = s.write_all(b"test");
        echo(s);
    });
    let dir = common::tempdir();
    let (w, mut h) = wsat_tcp(dir.path(), &[]);
    join_wifi(&mut h);
    echo_off(&mut h);
    h.at(&format!("AT+CIPSTART=\"TCP\",\"127.0.0.1\",{port}"), "CONNECT\r\n\r\nOK\r\n");
    h.at("AT+CIPRECVTYPE=1", "\r\nOK\r\n");
    h.expect(b"\r\n+IPD,4\r\n", "passive notice");
    h.at("AT+CIPRECVLEN?", "+CIPRECVLEN:4\r\n\r\nOK\r\n");
    h.at("AT+CIPRECVDATA=4", "+CIPRECVDATA:4,test\r\nOK\r\n");
    // Bytes past the promised length are refused, not sent.
    h.at("AT+CIPSEND=4", "\r\nOK\r\n\r\n>");
    h.send(b"pingXX");
    h.expect(b"\r\nRecv 4 bytes\r\n\r\nbusy p...\r\n\r\nSEND OK\r\n", "surplus refused");
    h.expect(b"\r\n+IPD,4\r\n", "the echo of the 4 bytes only");
    h.at("AT+CIPRECVDATA=100", "+CIPRECVDATA:4,ping\r\nOK\r\n");
    h.at("AT+CIPCLOSE", "CLOSED\r\n\r\nOK\r\n");
    // AT+SYSMSG bit 1: +LINK_CONN in place of CONNECT.
    h.at("AT+SYSMSG=2", "\r\nOK\r\n");
    h.send(format!("AT+CIPSTART=\"TCP\",\"127.0.0.1\",{port}\r\n").as_bytes());
    let r = String::from_utf8_lossy(&h.until(b"\r\nOK\r\n")).into_owned();
    let want = format!("+LINK_CONN:0,0,\"TCP\",0,\"127.0.0.1\",{port},");
    assert!(r.starts_with(&want) && r.ends_with("\r\n\r\nOK\r\n"), "{r}");
    w.stop();
}

/// AT+CIPSENDL: a long send goes out while it arrives, with progress
/// reports every `<report size>` bytes and the whole length last; `+++`
/// cancels one.
#[test]
fn long_send_reports_progress_and_can_be_cancelled() {
    let (tx, rx) = std::sync::mpsc::channel();
    let port = tcp_server(move |mut s| {
        let mut got = 0usize;
        let mut b = [0u8; 65536];
        while let Ok(n) = s.read(&mut b) {
            if n == 0 {
                break;
            }
            got += n;
            let _ = tx.send(got);
        }
    });
    let dir = common::tempdir();
    let (w, mut h) = wsat_tcp(dir.path(), &[]);
    join_wifi(&mut h);
    echo_off(&mut h);
    h.at(&format!("AT+CIPSTART=\"TCP\",\"127.0.0.1\",{port}"), "CONNECT\r\n\r\nOK\r\n");
    h.at("AT+CIPSENDLCFG?", "+CIPSENDLCFG:1024,2920\r\n\r\nOK\r\n");
    h.at("AT+CIPSENDLCFG=4000,1000", "\r\nOK\r\n");
    let total = 10_000;
    h.at(&format!("AT+CIPSENDL={total}"), "\r\nOK\r\n\r\n>");
    let data: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
    for chunk in data.chunks(1500) {
        h.send(chunk);
        thread::sleep(Duration::from_millis(5));
    }
    let out = String::from_utf8_lossy(&h.until(b"\r\nSEND OK\r\n")).into_owned();
    let reports: Vec<(usize, usize)> = out
        .lines()
        .filter_map(|l| l.strip_prefix("+CIPSENDL:"))
        .map(|r| {
            let (a, b) = r.split_once(',').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect();
    let sent: Vec<usize> = reports.iter().map(|r| r.0).collect();
    assert_eq!(sent, [4000, 8000, 10_000], "{out}");
    assert_eq!(reports.last(), Some(&(10_000, 10_000)));
    let mut got = 0;
    while got < total {
        got = rx.recv_timeout(Duration::from_secs(5)).expect("the server gets the data");
    }
    assert_eq!(got, total);
    // Cancelled part-way.
    h.at("AT+CIPSENDL=100000", "\r\nOK\r\n\r\n>");
    h.send(&[b'c'; 500]);
    thread::sleep(Duration::from_millis(100));
    h.send(b"+++");
    let out = h.until(b"\r\nSEND CANCELLED\r\n");
    assert!(!out.windows(7).any(|w| w == b"SEND OK"), "{}", common::escape(&out));
    h.at("AT", "\r\nOK\r\n");
    w.stop();
}

/// A long send to a peer that reads slowly: parts of it wait in the
/// socket's task, later parts are written directly once the task is idle,
/// and their acknowledgements may reach the core out of order. The link
/// must come out of each AT+CIPSENDL free for the next send (a late
/// acknowledgement once left it "busy", and AT+CIPSEND answered ERROR).
#[test]
fn a_long_send_to_a_slow_reader_leaves_the_link_free() {
    // A small receive buffer (set on the listener, so the accepted
    // socket's window starts small) and a reader of 8 KiB every 2 ms.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    nix::sys::socket::setsockopt(&l, nix::sys::socket::sockopt::RcvBuf, &4096).unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            thread::spawn(move || {
                let mut b = [0u8; 8192];
                while let Ok(n) = s.read(&mut b) {
                    if n == 0 {
                        break;
                    }
                    thread::sleep(Duration::from_millis(2));
                }
            });
        }
    });
    let dir = common::tempdir();
    let (w, mut h) = wsat_tcp(dir.path(), &[]);
    join_wifi(&mut h);
    echo_off(&mut h);
    h.at(&format!("AT+CIPSTART=\"TCP\",\"127.0.0.1\",{port}"), "CONNECT\r\n\r\nOK\r\n");
    h.at("AT+CIPSENDLCFG=1048576,2920", "\r\nOK\r\n");
    let total = 1_500_000;
    let data: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
    for round in 0..4 {
        h.at(&format!("AT+CIPSENDL={total}"), "\r\nOK\r\n\r\n>");
        for chunk in data.chunks(2920) {
            h.send(chunk);
        }
        h.until(b"\r\nSEND OK\r\n");
        thread::sleep(Duration::from_millis(50));
        h.send(b"AT+CIPSEND=4\r\n");
        let got = h.until(b">");
        assert!(got.ends_with(b"\r\nOK\r\n\r\n>"), "round {round}: {}", common::escape(&got));
        h.send(b"abcd");
        h.expect(b"\r\nRecv 4 bytes\r\n\r\nSEND OK\r\n", "the short send after the long one");
    }
    w.stop();
}
