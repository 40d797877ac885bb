//! Soak: three WebSocket links and five TCP links at once, N
//! sequence-numbered messages each way per link (N = 10 000, or
//! `WSAT_SOAK_MESSAGES`), mixed sizes (up to 16 KiB on WebSocket, 8 KiB on
//! TCP), one AT+WSDATAFMT level per WebSocket link, TCP links 0-2 in
//! active and 3-4 in passive receive, through the AT port to the seed's
//! echo server and a loopback TCP echo server. Every message must come
//! back exactly once, in order, intact.

mod common;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use common::at_stream::Parser;
use common::{join_wifi, wsat_tcp, HostEnd, Server};

/// Message `seq` of link `link`: an 8-byte header (link, seq) then a
/// pattern, `len` bytes in all (at least 8).
fn message(link: u8, seq: u32, len: usize) -> Vec<u8> {
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&u32::from(link).to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    let mut x = seq.wrapping_mul(2_654_435_761) ^ u32::from(link);
    while m.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        m.push(x as u8);
    }
    m
}

fn wait_event(h: &mut HostEnd, p: &mut Parser, want: &str) {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(e) = p.events.pop_front() {
            assert_eq!(e, want, "unexpected result");
            return;
        }
        assert!(Instant::now() < end, "no {want} within 30 s");
        h.fill(h.buf.len() + 1, Duration::from_millis(50));
        let bytes = std::mem::take(&mut h.buf);
        p.feed(&bytes);
    }
}

/// Reads what passive links announced: one AT+CIPRECVDATA per notice.
fn read_passive(h: &mut HostEnd, p: &mut Parser) {
    while let Some(id) = p.notices.pop_front() {
        h.send(format!("AT+CIPRECVDATA={id},65536\r\n").as_bytes());
        wait_event(h, p, "recvdata");
        let data = p.received_data.pop_front().expect("the data of the reply");
        p.streams[id].extend_from_slice(&data);
    }
}

#[test]
fn eight_links_ten_thousand_messages_each_way() {
    let n: u32 = std::env::var("WSAT_SOAK_MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let server = Server::python("ws-server.py", &["127.0.0.1", "0"]);
    let tcp_port = common::tcp_echo_server();
    let dir = common::tempdir();
    let (w, mut h) = wsat_tcp(dir.path(), &[]);
    join_wifi(&mut h);
    common::echo_off(&mut h);
    let mut p = Parser::new();
    // Link 0: chunk level, 1 KiB buffer; link 1: frame level, 4 KiB;
    // link 2: message level, 16 KiB.
    for (id, level, buffer) in [(0, 0, 1024), (1, 1, 4096), (2, 2, 16384)] {
        h.send(format!("AT+WSCFG={id},60,120,{buffer}\r\n").as_bytes());
        wait_event(&mut h, &mut p, "ok");
        h.send(format!("AT+WSDATAFMT={id},{level},63\r\n").as_bytes());
        wait_event(&mut h, &mut p, "ok");
        h.send(format!("AT+WSOPEN={id},\"ws://127.0.0.1:{}\"\r\n", server.port()).as_bytes());
        h.fill(format!("+WS_CONNECTED:{id}\r\n").len(), Duration::from_secs(10));
        let head = std::mem::take(&mut h.buf);
        let line = format!("+WS_CONNECTED:{id}\r\n");
        assert!(head.starts_with(line.as_bytes()), "{}", common::escape(&head));
        p.feed(&head[line.len()..]);
        wait_event(&mut h, &mut p, "ok");
    }

    // TCP links 0-4 to the echo server; 3 and 4 receive passively.
    h.send(b"AT+CIPMUX=1\r\n");
    wait_event(&mut h, &mut p, "ok");
    for id in 3..5 {
        h.send(format!("AT+CIPRECVTYPE={id},1\r\n").as_bytes());
        wait_event(&mut h, &mut p, "ok");
    }
    for id in 0..5 {
        h.send(format!("AT+CIPSTART={id},\"TCP\",\"127.0.0.1\",{tcp_port}\r\n").as_bytes());
        let line = format!("{id},CONNECT\r\n");
        h.fill(line.len(), Duration::from_secs(10));
        let head = std::mem::take(&mut h.buf);
        assert!(head.starts_with(line.as_bytes()), "{}", common::escape(&head));
        p.feed(&head[line.len()..]);
        wait_event(&mut h, &mut p, "ok");
    }

    let started = Instant::now();
    let mut rng: u64 = 0x2545_f491_4f6c_dd1d;
    let mut sizes = Vec::new();
    let mut tcp_sent: [Vec<u8>; 5] = Default::default();
    let mut sent = [0u32; 3];
    let mut bytes_each_way = 0usize;
    for seq in 0..n {
        for link in 0..3u8 {
            rng ^= rng << 7;
            rng ^= rng >> 9;
            // Mostly small, some large, up to 16 KiB.
            let len = match rng % 10 {
                0 => 8 + (rng >> 8) as usize % (16384 - 8 + 1),
                1..=3 => 8 + (rng >> 8) as usize % 2048,
                _ => 8 + (rng >> 8) as usize % 256,
            };
            sizes.push(len);
            bytes_each_way += len;
            let msg = message(link, seq, len);
            h.send(format!("AT+WSSEND={link},{len},2\r\n").as_bytes());
            wait_event(&mut h, &mut p, "prompt");
            h.send(&msg);
            wait_event(&mut h, &mut p, "send ok");
            sent[usize::from(link)] += 1;
        }
        for id in 0..5u8 {
            rng ^= rng << 7;
            rng ^= rng >> 9;
            let len = match rng % 10 {
                0 => 8 + (rng >> 8) as usize % (8192 - 8 + 1),
                1..=3 => 8 + (rng >> 8) as usize % 2048,
                _ => 8 + (rng >> 8) as usize % 256,
            };
            bytes_each_way += len;
            let msg = message(10 + id, seq, len);
            h.send(format!("AT+CIPSEND={id},{len}\r\n").as_bytes());
            wait_event(&mut h, &mut p, "prompt");
            h.send(&msg);
            wait_event(&mut h, &mut p, "send ok");
            tcp_sent[usize::from(id)].extend_from_slice(&msg);
        }
        read_passive(&mut h, &mut p);
    }
    // Collect the last echoes.
    let end = Instant::now() + Duration::from_secs(60);
    while (0..3).map(|l| p.done[l].len()).sum::<usize>() < (3 * n) as usize
        || (0..5).any(|l| p.streams[l].len() < tcp_sent[l].len())
    {
        read_passive(&mut h, &mut p);
        assert!(Instant::now() < end, "echoes missing: {:?}", p.done.iter().map(VecDeque::len).collect::<Vec<_>>());
        h.fill(h.buf.len() + 1, Duration::from_millis(100));
        let bytes = std::mem::take(&mut h.buf);
        p.feed(&bytes);
    }
    let elapsed = started.elapsed();
    let mut rng: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = [0u32; 3];
    for seq in 0..n {
        for link in 0..3usize {
            rng ^= rng << 7;
            rng ^= rng >> 9;
            let got = p.done[link].pop_front().expect("an echo");
            let want = message(link as u8, seq, sizes[seq as usize * 3 + link]);
            assert_eq!(got.len(), want.len(), "link {link} message {seq}: length");
            assert!(got == want, "link {link} message {seq}: content (lost, duplicated or reordered)");
            next[link] += 1;
        }
    }
    assert!(p.done.iter().all(VecDeque::is_empty), "extra messages");
    assert_eq!(sent, next);
    for (id, sent) in tcp_sent.iter().enumerate() {
        assert_eq!(p.streams[id].len(), sent.len(), "TCP link {id}: bytes back");
        assert!(p.streams[id] == *sent, "TCP link {id}: stream content (lost, duplicated or reordered)");
    }
    eprintln!(
        "soak: {} messages each way on 8 links, {:.1} MB each way, in {:.1} s",
        8 * n,
        bytes_each_way as f64 / 1e6,
        elapsed.as_secs_f64()
    );
    h.send(b"AT+CIPCLOSE=5\r\n");
    h.fill(b"0,CLOSED\r\n1,CLOSED\r\n2,CLOSED\r\n3,CLOSED\r\n4,CLOSED\r\n".len(), Duration::from_secs(10));
    let got = std::mem::take(&mut h.buf);
    let want = b"0,CLOSED\r\n1,CLOSED\r\n2,CLOSED\r\n3,CLOSED\r\n4,CLOSED\r\n";
    assert!(got.starts_with(want), "{}", common::escape(&got));
    p.feed(&got[want.len()..]);
    wait_event(&mut h, &mut p, "ok");
    for id in 0..3 {
        h.send(format!("AT+WSCLOSE={id}\r\n").as_bytes());
        h.fill(format!("+WS_CLOSED:{id}\r\n").len(), Duration::from_secs(10));
        let got = std::mem::take(&mut h.buf);
        assert!(got.starts_with(format!("+WS_CLOSED:{id}\r\n").as_bytes()), "{}", common::escape(&got));
        p.feed(&got[format!("+WS_CLOSED:{id}\r\n").len()..]);
        wait_event(&mut h, &mut p, "ok");
    }
    w.stop();
}
