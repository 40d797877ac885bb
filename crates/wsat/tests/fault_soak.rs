//! Soak under faults (issue 13): three WebSocket links to a server that
//! fragments its echoes, puts pings between fragments, writes some of them
//! a few bytes at a time, and now and then resets the connection; a host
//! that leaves the AT port and comes back. Sequence-numbered messages:
//! nothing may arrive corrupted, twice or out of order, only messages in
//! flight when a connection was reset may be lost, and the module's RSS
//! and open descriptors stay flat. `WSAT_FAULT_SOAK_MESSAGES` makes it
//! longer (CI runs 1 500 messages).

mod common;

use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use common::at_stream::Parser;
use common::ws_server::*;
use common::{join_wifi, HostEnd, Wsat};

/// Message `seq` of link `link`, `len` bytes (at least 8).
fn message(link: usize, seq: u32, len: usize) -> Vec<u8> {
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&(link as u32).to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    let mut x = seq.wrapping_mul(2_654_435_761) ^ link as u32 ^ 0x9e37;
    while m.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        m.push(x as u8);
    }
    m
}

/// One connection of the faulty echo server.
fn serve_connection(mut p: Peer, seed: u64) {
    let mut rng = seed | 1;
    let mut next = move || {
        rng ^= rng << 7;
        rng ^= rng >> 9;
        rng
    };
    p.handshake();
    let mut echoed = 0u32;
    let mut message: Vec<u8> = Vec::new();
    while let Some(f) = p.read_frame("client frames") {
        match f.opcode {
            OP_PING => p.send_frame(true, OP_PONG, &f.payload),
            OP_CLOSE => {
                p.send_frame(true, OP_CLOSE, &f.payload);
                return;
            }
            OP_BINARY | OP_TEXT | OP_CONT => {
                // The client cuts long messages into frames: echo whole messages.
                message.extend_from_slice(&f.payload);
                if !f.fin {
                    continue;
                }
                let d = std::mem::take(&mut message);
                let d = &d;
                let r = next() % 100;
                if r < 4 && echoed >= 3 {
                    // Reset without echoing.
                    let _ = nix::sys::socket::setsockopt(&p.s, nix::sys::socket::sockopt::Linger, &nix::libc::linger { l_onoff: 1, l_linger: 0 });
                    return;
                }
                echoed += 1;
                if r < 30 && d.len() >= 3 {
                    // Fragments with a ping between them.
                    let a = d.len() / 3;
                    let mut bytes = frame(false, OP_BINARY, &d[..a]);
                    bytes.extend(frame(true, OP_PING, b"mid"));
                    bytes.extend(frame(false, OP_CONT, &d[a..2 * a]));
                    bytes.extend(frame(true, OP_CONT, &d[2 * a..]));
                    p.send(&bytes);
                } else if r < 40 {
                    // A few bytes at a time.
                    let bytes = frame(true, OP_BINARY, d);
                    for piece in bytes.chunks(bytes.len() / 4 + 1) {
                        p.send(piece);
                        let _ = p.s.flush();
                        thread::sleep(Duration::from_millis(2));
                    }
                } else {
                    p.send_frame(true, OP_BINARY, d);
                }
            }
            _ => {}
        }
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches(" kB").parse().ok()).unwrap()
}

fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

/// Feeds the parser until `done` says so (or 30 s pass).
fn pump(h: &mut HostEnd, p: &mut Parser, what: &str, mut done: impl FnMut(&mut Parser) -> bool) {
    let end = Instant::now() + Duration::from_secs(30);
    while !done(p) {
        assert!(Instant::now() < end, "no {what} within 30 s");
        h.fill(h.buf.len() + 1, Duration::from_millis(20));
        let bytes = std::mem::take(&mut h.buf);
        p.feed(&bytes);
    }
}

fn result(h: &mut HostEnd, p: &mut Parser) -> &'static str {
    let mut got = "";
    pump(h, p, "a result", |p| match p.events.pop_front() {
        Some(e) => {
            got = e;
            true
        }
        None => false,
    });
    got
}

#[test]
fn three_links_under_server_and_host_faults() {
    let n: u32 = std::env::var("WSAT_FAULT_SOAK_MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_500);
    let srv = WsServer::new();
    let url = srv.url();
    let listener = srv.listener.try_clone().unwrap();
    thread::spawn(move || {
        let srv = WsServer { listener };
        let mut seed = 0x51ed_u64;
        loop {
            let p = srv.accept_within(Duration::from_secs(3600));
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let s = seed;
            thread::spawn(move || serve_connection(p, s));
        }
    });

    let dir = common::tempdir();
    let state = common::arg(dir.path(), "state");
    let w = Wsat::start(&["--tcp", "127.0.0.1:0", "--state", &state]);
    let pid = w.child.id();
    let mut h = HostEnd::tcp(&w.tcp_addr());
    h.expect(b"ready\r\n", "boot");
    join_wifi(&mut h);
    common::echo_off(&mut h);
    let mut p = Parser::new();
    let mut up = [false; 3];
    let open = |h: &mut HostEnd, p: &mut Parser, id: usize| {
        h.send(format!("AT+WSOPEN={id},\"{url}\"\r\n").as_bytes());
        pump(h, p, "WSOPEN's result", |p| !p.events.is_empty());
        let r = p.events.pop_front().unwrap();
        assert_eq!(r, "ok", "WSOPEN {id}");
    };
    for (id, up) in up.iter_mut().enumerate() {
        h.send(format!("AT+WSCFG={id},30,60,4096\r\nAT+WSDATAFMT={id},2,63\r\n").as_bytes());
        assert_eq!(result(&mut h, &mut p), "ok");
        assert_eq!(result(&mut h, &mut p), "ok");
        open(&mut h, &mut p, id);
        *up = true;
    }

    let mut rng: u64 = 0x2545_f491_4f6c_dd1d;
    let mut sent: [Vec<(u32, usize)>; 3] = Default::default();
    let mut last_seen: [Option<u32>; 3] = [None; 3];
    let (mut resets, mut received) = (0usize, 0usize);
    let mut baseline = (0, 0);
    for seq in 0..n {
        let id = (seq % 3) as usize;
        // Link state news first: a lost link is closed and opened again.
        while let Some((tag, l)) = p.links.pop_front() {
            if tag == "disconnected" {
                up[l] = false;
                resets += 1;
            }
        }
        if !up[id] {
            h.send(format!("AT+WSCLOSE={id}\r\n").as_bytes());
            assert_eq!(result(&mut h, &mut p), "ok");
            p.links.retain(|&(_, l)| l != id);
            open(&mut h, &mut p, id);
            p.links.retain(|&(_, l)| l != id);
            up[id] = true;
        }
        rng ^= rng << 7;
        rng ^= rng >> 9;
        let len = 8 + (rng >> 8) as usize % if rng % 8 == 0 { 12_000 } else { 600 };
        h.send(format!("AT+WSSEND={id},{len},2\r\n").as_bytes());
        match result(&mut h, &mut p) {
            "prompt" => {
                h.send(&message(id, seq, len));
                if result(&mut h, &mut p) == "send ok" {
                    sent[id].push((seq, len));
                }
            }
            // The link went down between the news and the command.
            "error" => {}
            other => panic!("WSSEND answered {other}"),
        }
        // Check what came back so far.
        for (l, last) in last_seen.iter_mut().enumerate() {
            while let Some(m) = p.done[l].pop_front() {
                assert!(m.len() >= 8, "link {l}: a message of {} bytes", m.len());
                let link = u32::from_be_bytes(m[..4].try_into().unwrap()) as usize;
                let s = u32::from_be_bytes(m[4..8].try_into().unwrap());
                assert_eq!(link, l, "a message of link {link} on link {l}");
                assert!(last.is_none_or(|x| s > x), "link {l}: message {s} after {last:?} (duplicated or reordered)");
                let len = sent[l].iter().find(|(q, _)| *q == s).map(|&(_, n)| n).expect("a message that was sent");
                let want = message(l, s, len);
                if m != want {
                    let at = m.iter().zip(&want).position(|(a, b)| a != b);
                    panic!("link {l}: message {s} corrupted: {} bytes, {} expected, first difference at {at:?}", m.len(), want.len());
                }
                *last = Some(s);
                received += 1;
            }
        }
        // The host leaves the AT port and comes back, now and then.
        if seq % 300 == 299 {
            // Between exchanges, once the port is quiet: bytes on the wire
            // when a host hangs up are gone for it, as on any serial line.
            let rest = h.quiet_for(Duration::from_millis(300));
            p.feed(&rest);
            drop(h);
            thread::sleep(Duration::from_millis(200));
            h = HostEnd::tcp(&w.tcp_addr());
        }
        if seq == n / 5 {
            baseline = (rss_kib(pid), fd_count(pid));
        }
    }
    // Let the last echoes arrive.
    thread::sleep(Duration::from_millis(500));
    h.fill(h.buf.len() + 1, Duration::from_millis(200));
    let bytes = std::mem::take(&mut h.buf);
    p.feed(&bytes);
    let total_sent: usize = sent.iter().map(Vec::len).sum();
    received += p.done.iter().map(|d| d.len()).sum::<usize>();
    let lost = total_sent - received;
    eprintln!("fault soak: {total_sent} sent, {received} echoed, {lost} lost to {resets} resets");
    assert!(lost <= resets * 3, "{lost} messages lost but only {resets} resets");
    let (rss, fds) = (rss_kib(pid), fd_count(pid));
    assert!(rss <= baseline.0 + 4096, "RSS grew from {} to {rss} KiB", baseline.0);
    assert!(fds <= baseline.1 + 3, "descriptors grew from {} to {fds}", baseline.1);
    w.stop();
}
