//! Passthrough (AT+CIPMODE=1, AT+CIPSEND): every host byte is the link's
//! data and the link's data comes back as it is.
//!
//! Unpaced: host → wsat → TCP echo → wsat → host, written and read at the
//! same time, against a direct TCP client of the same echo server. Paced:
//! goodput both ways against the line rate, with servers in this process
//! that note when the last byte arrived.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::host::{Host, Wsat};
use crate::procstat::{cpu_time, stat_cpu};
use crate::{median, Bench};

/// The byte stream's period: the bytes never spell `+++` or anything else.
const PERIOD: usize = 251;
/// Bytes per write and per read.
const CHUNK: usize = 64 * 1024;

/// A buffer holding the pattern from any phase: `pattern()[o % PERIOD..]`
/// is the stream from offset `o`, for at least `CHUNK` bytes.
fn pattern() -> Vec<u8> {
    (0..CHUNK + PERIOD).map(|i| (i % PERIOD) as u8).collect()
}

/// Starts wsat with `args` and enters passthrough on a TCP link to `to`,
/// with AT+TRANSINTVL=`interval` if given (20 ms by default).
pub fn enter(args: &[&str], to: SocketAddr, interval: Option<u32>) -> Result<(Wsat, Host, TcpStream)> {
    let (w, mut h) = Host::start(args)?;
    if let Some(ms) = interval {
        h.command(&format!("AT+TRANSINTVL={ms}"))?;
    }
    h.command("AT+CIPMODE=1")?;
    h.command(&format!("AT+CIPSTART=\"TCP\",\"{}\",{}", to.ip(), to.port()))?;
    let (s, rest) = h.passthrough()?;
    if !rest.is_empty() {
        bail!("data before any was sent: {:?}", String::from_utf8_lossy(&rest));
    }
    Ok((w, h, s))
}

/// Writes `total` bytes of the pattern from stream offset `at` on one
/// thread and reads them back on this one, checking every byte.
fn echo_transfer(s: &TcpStream, at: usize, total: usize) -> Result<Duration> {
    let pat = pattern();
    let mut wr = s.try_clone()?;
    let mut rd = s.try_clone()?;
    let start = Instant::now();
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        let pat = pattern();
        let mut done = 0;
        while done < total {
            let n = CHUNK.min(total - done);
            let o = (at + done) % PERIOD;
            wr.write_all(&pat[o..o + n])?;
            done += n;
        }
        Ok(())
    });
    let mut buf = vec![0u8; CHUNK];
    let mut got = 0;
    while got < total {
        let n = rd.read(&mut buf[..CHUNK.min(total - got)]).context("reading the echo")?;
        if n == 0 {
            bail!("the echo closed after {got} of {total} bytes");
        }
        let o = (at + got) % PERIOD;
        if buf[..n] != pat[o..o + n] {
            bail!("echo corrupted within bytes {got}..{}", got + n);
        }
        got += n;
    }
    let elapsed = start.elapsed();
    writer.join().map_err(|_| anyhow::anyhow!("writer panicked"))??;
    Ok(elapsed)
}

fn mib(bytes: usize) -> String {
    let m = bytes as f64 / f64::from(1 << 20);
    if m.fract() == 0.0 { format!("{m:.0} MiB") } else { format!("{m:.1} MiB") }
}

impl Bench {
    pub fn passthrough(&mut self) -> Result<()> {
        let sizes: [(usize, usize); 2] = if self.quick { [(1 << 20, 3), (8 << 20, 1)] } else { [(1 << 20, 9), (64 << 20, 3)] };
        println!("## Passthrough, unpaced: host → wsat → TCP echo → wsat → host against a direct TCP client of the same echo\n");
        println!(
            "Written on one thread and read on another at the same time, every byte checked. One wsat in passthrough and one direct connection; \
             repetitions alternate direct and wsat, and the medians are compared. wsat's CPU from /proc/PID/stat (utime + stime, clock ticks: \
             coarse for 1 MiB) and from the schedulers' nanosecond counters (schedstat), over all its repetitions. The targets are on the default \
             AT+TRANSINTVL (20 ms: a tail shorter than a 2920-byte packet waits that long); the rows with 0 show what that wait costs.\n"
        );
        println!("| transfer | AT+TRANSINTVL | repetitions | direct MB/s | wsat MB/s | wsat/direct | wsat CPU s/MB (stat) | wsat CPU s/MB (schedstat) | wsat context switches per MB |");
        println!("|---|---|---|---|---|---|---|---|---|");
        let direct = TcpStream::connect(self.servers.tcp)?;
        direct.set_nodelay(true)?;
        direct.set_read_timeout(Some(Duration::from_secs(20)))?;
        let mut at_direct = 0;
        let mut results = Vec::new();
        for interval in [None, Some(0)] {
            let (w, _h, s) = enter(&[], self.servers.tcp, interval)?;
            let mut at_wsat = 0;
            for (size, reps) in sizes {
                let (mut d, mut ws) = (Vec::new(), Vec::new());
                let mut cpu = (0.0, Duration::ZERO, 0);
                for _ in 0..reps {
                    d.push(size as f64 / 1e6 / echo_transfer(&direct, at_direct, size)?.as_secs_f64());
                    at_direct += size;
                    let (c0, n0, x0) = (stat_cpu(&w.pid), cpu_time(&w.pid), switches(&w.pid));
                    ws.push(size as f64 / 1e6 / echo_transfer(&s, at_wsat, size)?.as_secs_f64());
                    at_wsat += size;
                    cpu.0 += stat_cpu(&w.pid) - c0;
                    cpu.1 += cpu_time(&w.pid) - n0;
                    cpu.2 += switches(&w.pid) - x0;
                }
                let (dm, wm) = (median(&mut d), median(&mut ws));
                let mb = (size * reps) as f64 / 1e6;
                println!(
                    "| {} | {} | {reps} | {dm:.1} | {wm:.1} | {:.3} | {:.4} | {:.4} | {:.0} |",
                    mib(size),
                    interval.map_or("20 (default)".to_string(), |i| i.to_string()),
                    wm / dm,
                    cpu.0 / mb,
                    cpu.1.as_secs_f64() / mb,
                    cpu.2 as f64 / mb
                );
                if interval.is_none() {
                    results.push((size, wm / dm, dm, wm, cpu.0 / mb));
                }
            }
        }
        println!();
        for (size, ratio, dm, wm, c) in results {
            self.target(
                format!("passthrough echo, {}: ≥ 0.5 × direct TCP client", mib(size)),
                format!("{ratio:.3} ({wm:.1} vs {dm:.1} MB/s; wsat {c:.4} CPU s/MB)"),
                ratio >= 0.5,
            );
        }
        Ok(())
    }
}

/// Voluntary and involuntary context switches of `pid`'s threads so far.
fn switches(pid: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .filter(|l| l.starts_with("voluntary_ctxt_switches") || l.starts_with("nonvoluntary_ctxt_switches"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum()
}

/// When a sink's first read returned and with how many bytes, and when
/// its last did.
pub struct Arrivals {
    first: Instant,
    first_n: usize,
    last: Instant,
}

/// A server in this process that takes one connection, reads `total`
/// bytes and returns when they arrived.
pub fn sink(total: usize) -> Result<(SocketAddr, std::thread::JoinHandle<Result<Arrivals>>)> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    let addr = l.local_addr()?;
    Ok((
        addr,
        std::thread::spawn(move || {
            let (mut s, _) = l.accept()?;
            s.set_read_timeout(Some(Duration::from_secs(60)))?;
            let mut buf = vec![0u8; CHUNK];
            let mut got = 0;
            let mut first = None;
            while got < total {
                let n = s.read(&mut buf)?;
                if n == 0 {
                    bail!("sink: closed after {got} bytes");
                }
                got += n;
                first.get_or_insert((Instant::now(), n));
            }
            let (first, first_n) = first.context("nothing arrived")?;
            Ok(Arrivals { first, first_n, last: Instant::now() })
        }),
    ))
}

/// A server in this process that takes one connection, waits for one
/// byte, then writes `total` bytes and keeps the connection until the
/// peer closes it.
pub fn flood(total: usize) -> Result<SocketAddr> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    let addr = l.local_addr()?;
    std::thread::spawn(move || -> Result<()> {
        let (mut s, _) = l.accept()?;
        let mut one = [0u8; 1];
        s.read_exact(&mut one)?;
        let pat = pattern();
        let mut done = 0;
        while done < total {
            let n = CHUNK.min(total - done);
            s.write_all(&pat[done % PERIOD..done % PERIOD + n])?;
            done += n;
        }
        while s.read(&mut [0u8; 256])? > 0 {}
        Ok(())
    });
    Ok(addr)
}

/// Paced passthrough, host → server: `total` bytes written at once, with
/// AT+TRANSINTVL=`interval` if given.
/// Goodput from the server's first read to its last (the first read's
/// bytes not counted), and from the host's write to the last byte's
/// arrival (which includes the AT+TRANSINTVL wait of the first and last
/// packets).
pub fn paced_upstream(baud: u32, total: usize, interval: Option<u32>) -> Result<(f64, f64)> {
    let (addr, done) = sink(total)?;
    let baud_arg = baud.to_string();
    let (_w, _h, mut s) = enter(&["--pace", "--baud", &baud_arg], addr, interval)?;
    let pat = pattern();
    let t = Instant::now();
    let mut sent = 0;
    while sent < total {
        let n = CHUNK.min(total - sent);
        s.write_all(&pat[sent % PERIOD..sent % PERIOD + n])?;
        sent += n;
    }
    let a = done.join().map_err(|_| anyhow::anyhow!("sink panicked"))??;
    Ok(((total - a.first_n) as f64 / (a.last - a.first).as_secs_f64(), total as f64 / (a.last - t).as_secs_f64()))
}

/// Paced passthrough, server → host: the server writes `total` bytes at
/// once; goodput from the host's first read to its last (the first read's
/// bytes not counted).
pub fn paced_downstream(baud: u32, total: usize) -> Result<f64> {
    let addr = flood(total)?;
    let baud_arg = baud.to_string();
    let (_w, _h, mut s) = enter(&["--pace", "--baud", &baud_arg], addr, None)?;
    s.write_all(b"g")?;
    let pat = pattern();
    let mut buf = vec![0u8; CHUNK];
    let (mut got, mut first) = (0, None);
    while got < total {
        let n = s.read(&mut buf).context("reading the flood")?;
        if n == 0 {
            bail!("wsat closed after {got} bytes");
        }
        if buf[..n] != pat[got % PERIOD..got % PERIOD + n] {
            bail!("flood corrupted within bytes {got}..{}", got + n);
        }
        got += n;
        first.get_or_insert((Instant::now(), n));
    }
    let (t0, n0) = first.context("nothing read")?;
    Ok((total - n0) as f64 / t0.elapsed().as_secs_f64())
}
