//! The socket runtime under load and neglect (issues 10 and 13, D1-D3):
//! a host that stops reading the AT port must not stop the module's
//! timers or make a healthy link look dead, and must lose nothing; a link
//! whose peer does not read must go on receiving; a send the socket
//! cannot take is bounded; a closed link's socket is gone.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::ws_server::*;
use common::{escape, join_wifi, HostEnd};


/// Reads the AT port's `+WS_DATA:0,<len>,<data>\r\n` reports (the default
/// format) from `s` until `total` payload bytes have arrived, checking that
/// the bytes are the sequence `0, 1, 2, ...` (mod 251).
fn read_reports(s: &mut TcpStream, total: usize) {
    let mut buf = Vec::new();
    let mut got = 0usize;
    let mut b = vec![0u8; 65536];
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    while got < total {
        let n = s.read(&mut b).expect("AT port read");
        assert!(n > 0, "AT port closed");
        buf.extend_from_slice(&b[..n]);
        while let Some(start) = buf.windows(10).position(|w| w == b"+WS_DATA:0") {
            let Some(rest) = buf.get(start + 11..) else { break };
            let Some(comma) = rest.iter().position(|&c| c == b',') else { break };
            let len: usize = std::str::from_utf8(&rest[..comma]).unwrap().parse().unwrap();
            let data_at = start + 11 + comma + 1;
            if buf.len() < data_at + len + 2 {
                break;
            }
            for (i, &c) in buf[data_at..data_at + len].iter().enumerate() {
                assert_eq!(c, ((got + i) % 251) as u8, "byte {} of the stream", got + i);
            }
            got += len;
            buf.drain(..data_at + len + 2);
        }
    }
}

/// The host attaches, stops reading for 10 s while the server streams as
/// fast as it can: the module keeps its keep-alive going (a 1 s ping
/// interval gives pings), the link stays up although the module itself
/// holds the server's pong unread, and when the host reads again every
/// byte arrives, in order.
#[test]
fn a_host_that_stops_reading_stops_nothing_else() {
    let dir = common::tempdir();
    let state = common::arg(dir.path(), "state");
    let w = common::Wsat::start(&["--tcp", "127.0.0.1:0", "--state", &state]);
    // A raw host connection: read only when the test says so.
    let mut host = TcpStream::connect(w.tcp_addr()).unwrap();
    host.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let expect = |host: &mut TcpStream, send: &str, want: &[u8]| {
        host.write_all(send.as_bytes()).unwrap();
        let mut got = vec![0u8; want.len()];
        host.read_exact(&mut got).unwrap();
        assert_eq!(escape(&got), escape(want), "{send}");
    };
    expect(&mut host, "", b"ready\r\n");
    expect(&mut host, "ATE0\r\n", b"ATE0\r\n\r\nOK\r\n");
    expect(&mut host, "AT+CWJAP=\"espressif\",\"1234567890\"\r\n", b"WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n");
    expect(&mut host, "AT+WSCFG=0,1,2\r\n", b"\r\nOK\r\n");
    let srv = WsServer::new();
    host.write_all(format!("AT+WSOPEN=0,\"{}\"\r\n", srv.url()).as_bytes()).unwrap();
    let mut p = srv.accept();
    p.handshake();
    expect(&mut host, "", b"+WS_CONNECTED:0\r\n\r\nOK\r\n");

    let total = 8 * 1024 * 1024;
    let pings = Arc::new(AtomicUsize::new(0));
    let out = Arc::new(std::sync::Mutex::new(p.s.try_clone().unwrap()));
    // The server reads the client's frames and answers its pings (the
    // thread ends when wsat goes away).
    {
        let (pings, out) = (pings.clone(), out.clone());
        let mut peer = Peer { s: p.s.try_clone().unwrap(), buf: Vec::new() };
        thread::spawn(move || {
            while let Some(f) = peer.read_frame("client frames") {
                if f.opcode == OP_PING {
                    pings.fetch_add(1, Ordering::Relaxed);
                    let _ = out.lock().unwrap().write_all(&frame(true, OP_PONG, &f.payload));
                }
            }
        });
    }
    // The server streams 8 MiB in 4 KiB frames; it blocks whenever wsat
    // holds back, as TCP flow control asks.
    let streamer = {
        let out = out.clone();
        thread::spawn(move || {
            let mut sent = 0;
            while sent < total {
                let chunk: Vec<u8> = (sent..sent + 4096).map(|i| (i % 251) as u8).collect();
                out.lock().unwrap().write_all(&frame(true, OP_BINARY, &chunk)).unwrap();
                sent += 4096;
            }
        })
    };
    thread::sleep(Duration::from_secs(10));
    let during = pings.load(Ordering::Relaxed);
    assert!(during >= 5, "only {during} pings in 10 s while the host was away");
    // The host is back: everything arrives, in order, and the link is up.
    read_reports(&mut host, total);
    streamer.join().unwrap();
    drop(host);
    // Let wsat see the old host go before the new one comes.
    thread::sleep(Duration::from_millis(300));
    let mut h = HostEnd::tcp(&w.tcp_addr());
    h.at("AT+WSOPEN?", format!("+WSOPEN:0,2,\"{}\"\r\n\r\nOK\r\n", srv.url()).as_bytes());
    w.stop();
}

/// D1: the server streams one huge frame and reads only once it has sent
/// it all; the host reads the AT port at full speed and keeps sending.
/// Sends the socket cannot take fail, but the download never stops, and
/// once the server reads again sends work.
#[test]
fn reading_goes_on_while_a_write_is_blocked() {
    let dir = common::tempdir();
    let (w, mut h) = common::wsat_tcp(dir.path(), &[]);
    join_wifi(&mut h);
    common::echo_off(&mut h);
    let srv = WsServer::new();
    h.at("AT+WSDATAFMT=0,1", b"\r\nOK\r\n");
    h.send(format!("AT+WSOPEN=0,\"{}\"\r\n", srv.url()).as_bytes());
    let mut p = srv.accept();
    p.handshake();
    h.expect(b"+WS_CONNECTED:0\r\n\r\nOK\r\n", "WSOPEN");
    let total: usize = 48 * 1024 * 1024;
    let mut out = p.s.try_clone().unwrap();
    let sender = thread::spawn(move || {
        let mut head = vec![0x82, 127];
        head.extend_from_slice(&(total as u64).to_be_bytes());
        out.write_all(&head).unwrap();
        let block = vec![b'd'; 1 << 20];
        for _ in 0..total >> 20 {
            out.write_all(&block).unwrap();
        }
    });
    // Frame level: one header, then the data as it comes.
    let payload = vec![b'u'; 16384];
    let mut received = 0usize;
    let mut oks = 0;
    let started = Instant::now();
    let mut sending = true;
    while received < total {
        assert!(started.elapsed() < Duration::from_secs(120), "download stalled at {received} of {total}");
        if sending {
            h.send(b"AT+WSSEND=0,16384,2,200\r\n");
        }
        let chunk = h.quiet_for(Duration::from_millis(20));
        received += chunk.iter().filter(|&&c| c == b'd').count();
        if sending && chunk.windows(1).any(|w| w == b">") {
            h.send(&payload);
            let more = h.quiet_for(Duration::from_millis(250));
            received += more.iter().filter(|&&c| c == b'd').count();
            if more.windows(7).any(|w| w == b"SEND OK") {
                oks += 1;
            } else {
                // The socket is full: stop sending until the server reads.
                sending = false;
            }
        }
    }
    sender.join().unwrap();
    assert!(oks > 0, "no send went through before the socket filled");
    // The server reads what was sent; a new send goes through.
    let mut peer = Peer { s: p.s.try_clone().unwrap(), buf: Vec::new() };
    thread::spawn(move || while peer.read_frame("drain").is_some() {});
    thread::sleep(Duration::from_millis(500));
    let _ = h.quiet_for(Duration::from_millis(300));
    h.send(b"AT+WSSEND=0,1\r\n");
    h.expect(b"\r\nOK\r\n\r\n>", "prompt");
    h.send(b"x");
    h.expect(b"\r\nSEND OK\r\n", "the link works again");
    w.stop();
}

fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches(" kB").parse().ok()).unwrap()
}

/// D2: sends to a server that never reads time out, and what they leave is
/// bounded (the module's memory does not grow with them); open/close
/// cycles leave no socket behind.
#[test]
fn timed_out_sends_are_bounded_and_closed_links_free_their_sockets() {
    let dir = common::tempdir();
    let (w, mut h) = common::wsat_tcp(dir.path(), &[]);
    let pid = w.child.id();
    join_wifi(&mut h);
    common::echo_off(&mut h);
    let srv = WsServer::new();
    h.send(format!("AT+WSOPEN=0,\"{}\"\r\n", srv.url()).as_bytes());
    let mut p = srv.accept();
    p.handshake();
    h.expect(b"+WS_CONNECTED:0\r\n\r\nOK\r\n", "WSOPEN");
    let payload = vec![b's'; 16384];
    let mut errors = 0;
    let mut rss_after_fill = 0;
    for i in 0..600 {
        h.send(b"AT+WSSEND=0,16384,2,1\r\n");
        h.expect(b"\r\nOK\r\n\r\n>", "prompt");
        h.send(&payload);
        let r = h.until(b"\r\n");
        let r = [r, h.until(b"\r\n")].concat();
        if r == b"\r\nERROR\r\n" {
            errors += 1;
        } else {
            assert_eq!(escape(&r), escape(b"\r\nSEND OK\r\n"));
        }
        if i == 100 {
            rss_after_fill = rss_kib(pid);
        }
    }
    assert!(errors > 300, "the socket never filled ({errors} errors)");
    let growth = rss_kib(pid).saturating_sub(rss_after_fill);
    assert!(growth < 4096, "RSS grew by {growth} KiB over 500 refused sends");
    drop(p);

    // Open/close cycles: the socket count comes back to where it was.
    h.send(b"AT+WSCLOSE=0\r\n");
    let _ = h.until(b"OK\r\n");
    thread::sleep(Duration::from_secs(3));
    let before = fd_count(pid);
    for _ in 0..40 {
        h.send(format!("AT+WSOPEN=0,\"{}\"\r\n", srv.url()).as_bytes());
        let mut p = srv.accept();
        p.handshake();
        h.expect(b"+WS_CONNECTED:0\r\n\r\nOK\r\n", "WSOPEN");
        h.send(b"AT+WSCLOSE=0\r\n");
        p.expect_close(1000, "close");
        p.send_frame(true, OP_CLOSE, &1000u16.to_be_bytes());
        h.expect(b"+WS_CLOSED:0\r\n\r\nOK\r\n", "WSCLOSE");
    }
    thread::sleep(Duration::from_secs(3));
    let after = fd_count(pid);
    assert!(after <= before + 1, "{} descriptors before 40 open/close cycles, {after} after", before);
    w.stop();
}
