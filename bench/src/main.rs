//! `wsat-bench`: what wsat costs on top of a plain WebSocket client, and
//! how close it gets to the line rate on a paced serial link.
//!
//! It starts its servers in a separate process (`wsat-bench --serve`, see
//! `server.rs`), then measures in one run:
//!
//! 1. the machine's floor: a plain TCP round trip between two processes,
//!    and the shortest AT exchange (`AT` → `OK`) through wsat;
//! 2. echo throughput through wsat's AT port (AT+WSSEND / `+WS_DATA`) against
//!    a direct tokio-tungstenite client, with CPU seconds per MB of each;
//! 3. the 64-byte round trip WSSEND → `+WS_DATA` against the direct client's;
//! 4. goodput on a paced line (`--pace`) at 115200, 921600 and 5 000 000
//!    baud against the ceiling the AT protocol allows, and the paced round
//!    trip against its target;
//! 5. wsat's CPU use while idle with three open links, and its peak RSS.
//!
//! Run it with `cargo build --release -p wsat -p wsat-bench &&
//! target/release/wsat-bench` (`--quick` for a shorter run). It uses the
//! `wsat` binary beside its own, or `WSAT_BIN`.

mod host;
mod procstat;
mod server;

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::host::Host;
use crate::procstat::{cpu_time, status_kib};
use crate::server::Servers;

/// Message `seq`'s bytes: never contains `+WS_DATA:` or an AT response.
pub fn payload(size: usize, seq: usize) -> Vec<u8> {
    (0..size).map(|i| (i + seq) as u8).collect()
}

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort_unstable();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// A target line for the summary.
struct Target {
    what: String,
    measured: String,
    met: bool,
}

struct Bench {
    quick: bool,
    servers: Servers,
    rt: tokio::runtime::Runtime,
    targets: Vec<Target>,
    /// The direct client's unpaced p50, for the paced targets.
    direct_p50: Option<Duration>,
}

fn main() -> Result<()> {
    if std::env::args().any(|a| a == "--serve") {
        return server::serve();
    }
    let quick = std::env::args().any(|a| a == "--quick");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let mut b = Bench { quick, servers: Servers::start()?, rt, targets: Vec::new(), direct_p50: None };
    println!("wsat-bench{}: {}\n", if quick { " --quick" } else { "" }, machine());
    // `--only a,b` runs some sections (floor, echo, latency, paced, idle).
    let args: Vec<String> = std::env::args().collect();
    let only = args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1)).cloned();
    const SECTIONS: [&str; 4] = ["echo", "latency", "paced", "idle"];
    if let Some(bad) = only.iter().flat_map(|o| o.split(',')).find(|x| !SECTIONS.contains(x)) {
        bail!("--only: unknown section {bad:?} (sections: {})", SECTIONS.join(","));
    }
    let run = |name: &str| only.as_ref().is_none_or(|o| o.split(',').any(|x| x == name));
    let floor = b.floors()?;
    if run("echo") {
        b.echo()?;
    }
    if run("latency") || run("paced") {
        b.latency(floor)?;
    }
    if run("paced") {
        b.paced()?;
    }
    if run("idle") {
        b.idle_and_memory()?;
    }
    println!("\n## Targets\n");
    println!("| target | measured | met |");
    println!("|---|---|---|");
    for t in &b.targets {
        println!("| {} | {} | {} |", t.what, t.measured, if t.met { "yes" } else { "**no**" });
    }
    Ok(())
}

/// CPU model, cores and kernel, for the record.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).unwrap_or("?").trim().to_string();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{model}, {cores} cores, Linux {}", kernel.trim())
}

impl Bench {
    fn n(&self, full: usize) -> usize {
        if self.quick { (full / 10).max(2) } else { full }
    }

    fn url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.servers.ws)
    }

    /// Section 1: what one exchange between two processes costs here.
    fn floors(&mut self) -> Result<Duration> {
        use std::io::{Read, Write};
        let n = self.n(2000);
        let mut tcp = std::net::TcpStream::connect(self.servers.tcp)?;
        tcp.set_nodelay(true)?;
        let mut plain = Vec::with_capacity(n);
        let mut buf = [0u8; 64];
        for _ in 0..n {
            let t = Instant::now();
            tcp.write_all(b"AT\r\n")?;
            let mut got = 0;
            while got < 4 {
                got += tcp.read(&mut buf[got..])?;
            }
            plain.push(t.elapsed());
        }
        let (_w, mut h) = Host::start(&[])?;
        let mut at = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            h.send(b"AT\r\n")?;
            h.until(b"\r\nOK\r\n")?;
            at.push(t.elapsed());
        }
        let (p, a) = (percentile(&mut plain, 0.5), percentile(&mut at, 0.5));
        println!("## Floor: one exchange between two processes on this machine\n");
        println!("| round trip | p50 | p99 |");
        println!("|---|---|---|");
        println!("| plain TCP echo (4 bytes) | {:.1} µs | {:.1} µs |", us(p), us(percentile(&mut plain, 0.99)));
        println!("| `AT` → `OK` through wsat | {:.1} µs | {:.1} µs |", us(a), us(percentile(&mut at, 0.99)));
        println!();
        Ok(a)
    }

    /// Section 2: echo throughput and CPU per MB, wsat against direct.
    fn echo(&mut self) -> Result<()> {
        println!("## Echo throughput through the AT port (AT+WSSEND, message-level +WS_DATA) vs a direct tokio-tungstenite client\n");
        println!("| messages | links | direct MB/s | wsat MB/s | wsat/direct | direct client CPU s/MB | wsat CPU s/MB | wsat/direct CPU | host CPU s/MB |");
        println!("|---|---|---|---|---|---|---|---|---|");
        for (size, count) in [(64usize, 4000usize), (1024, 2000), (16384, 400)] {
            let count = self.n(count);
            for links in [1usize, 3] {
                let mb = (size * count * links) as f64 / 1e6;
                let cpu0 = cpu_time("self");
                let d = self.rt.block_on(direct_throughput(self.url("/echo"), links, size, count))?;
                let direct_cpu = (cpu_time("self") - cpu0).as_secs_f64() / mb;
                let (w, wsat_cpu, host_cpu) = self.wsat_throughput(links, size, count)?;
                let (dm, wm) = (mb / d.as_secs_f64(), mb / w.as_secs_f64());
                let (wc, hc) = (wsat_cpu.as_secs_f64() / mb, host_cpu.as_secs_f64() / mb);
                println!(
                    "| {size} B | {links} | {dm:.1} | {wm:.1} | {:.3} | {direct_cpu:.4} | {wc:.4} | {:.2} | {hc:.4} |",
                    wm / dm,
                    wc / direct_cpu
                );
                let goal = match size {
                    16384 => Some(0.8),
                    64 => Some(0.4),
                    _ => None,
                };
                if let Some(goal) = goal {
                    self.targets.push(Target {
                        what: format!("{size} B echo, {links} link(s) ≥ {goal} × direct"),
                        measured: format!("{:.3}", wm / dm),
                        met: wm / dm >= goal,
                    });
                }
            }
        }
        println!();
        Ok(())
    }

    fn wsat_throughput(&self, links: usize, size: usize, count: usize) -> Result<(Duration, Duration, Duration)> {
        let (w, mut h) = Host::start(&[])?;
        for id in 0..links {
            h.open(id, &self.url("/echo"), 2, 63)?;
        }
        let messages: Vec<Vec<u8>> = (0..count).map(|seq| payload(size, seq)).collect();
        let (cpu0, host0) = (cpu_time(&w.pid), cpu_time("self"));
        let start = Instant::now();
        for m in &messages {
            for id in 0..links {
                h.ws_send(id, m)?;
            }
        }
        h.wait_echoed(links, count * size)?;
        let elapsed = start.elapsed();
        Ok((elapsed, cpu_time(&w.pid) - cpu0, cpu_time("self") - host0))
    }

    /// Section 3: 64-byte round trips, unpaced.
    fn latency(&mut self, at_floor: Duration) -> Result<()> {
        let n = self.n(2000);
        let mut d = self.rt.block_on(direct_latency(self.url("/echo"), 64, n))?;
        let (_w, mut h) = Host::start(&[])?;
        h.open(0, &self.url("/echo"), 2, 63)?;
        let mut w = Vec::with_capacity(n);
        for seq in 0..n {
            let t = Instant::now();
            wsat_round_trip(&mut h, 0, seq, 64)?;
            w.push(t.elapsed());
        }
        println!("## Round trip of a 64-byte message (AT+WSSEND → +WS_DATA), unpaced TCP port\n");
        println!("| | direct | wsat | wsat/direct | wsat − 3 × AT floor |");
        println!("|---|---|---|---|---|");
        let (dp50, wp50) = (percentile(&mut d, 0.5), percentile(&mut w, 0.5));
        for (name, p) in [("p50", 0.5), ("p99", 0.99)] {
            let (a, b) = (percentile(&mut d, p), percentile(&mut w, p));
            println!("| {name} | {:.1} µs | {:.1} µs | {:.2} | {:.1} µs |", us(a), us(b), us(b) / us(a), us(b) - 3.0 * us(at_floor));
        }
        println!();
        self.targets.push(Target {
            what: "64 B p50 round trip ≤ 1.5 × direct (unpaced: no wire time)".into(),
            measured: format!("{:.2} ×", us(wp50) / us(dp50)),
            met: us(wp50) <= 1.5 * us(dp50),
        });
        self.direct_p50 = Some(dp50);
        Ok(())
    }
}

/// One echo through wsat, from the command to the report.
fn wsat_round_trip(h: &mut Host, link: usize, seq: usize, size: usize) -> Result<()> {
    let want = h.echoed[link] + size;
    h.ws_send(link, &payload(size, seq))?;
    while h.echoed[link] < want {
        h.next_report()?;
    }
    Ok(())
}

impl Bench {
    /// Section 4: a paced line at three rates.
    fn paced(&mut self) -> Result<()> {
        let secs = if self.quick { 0.7 } else { 2.0 };
        let size = 16384usize;
        println!("## Paced line (`--pace`): goodput against the AT protocol's ceiling\n");
        println!("Ceiling = baud / 10 × payload bytes / all bytes on the wire for them. AT+WSSEND is stop-and-wait (command, `>`, data, `SEND OK`), so those bytes cross one after another; received data costs its `+WS_DATA` report (level 2, mask 48).\n");
        println!("| baud | direction | messages | wire bytes per message | ceiling kB/s | goodput kB/s | goodput/ceiling |");
        println!("|---|---|---|---|---|---|---|");
        let mut rtt_rows = Vec::new();
        for baud in [115_200u32, 921_600, 5_000_000] {
            let line = f64::from(baud) / 10.0;
            let count = ((line * secs / size as f64).ceil() as usize).max(3);
            let (_w, mut h) = Host::start(&["--pace"])?;
            h.command(&format!("AT+UART_CUR={baud},8,1,0,0"))?;

            // Host to server: AT+WSSEND to a sink.
            h.open(0, &self.url("/sink"), 2, 48)?;
            let data = payload(size, 0);
            let (wire0, t) = (h.wire, Instant::now());
            for _ in 0..count {
                h.ws_send(0, &data)?;
            }
            let (elapsed, wire) = (t.elapsed(), h.wire - wire0);
            let goodput = (count * size) as f64 / elapsed.as_secs_f64();
            let ceiling = line * (count * size) as f64 / wire as f64;
            self.paced_row(baud, "send (AT+WSSEND)", count, wire / count, ceiling, goodput);

            // Server to host: a flood of messages, reported as they come.
            h.open(1, &self.url(&format!("/flood/{size}/{count}")), 2, 48)?;
            while h.echoed[1] < count * size {
                h.next_report()?;
            }
            let reports: Vec<_> = h.reports.iter().filter(|r| r.link == 1).collect();
            let span = reports[reports.len() - 1].at - reports[0].at;
            let goodput = ((count - 1) * size) as f64 / span.as_secs_f64();
            let per_report = format!("+WS_DATA:1,{size},").len() + size + 2;
            let ceiling = line * size as f64 / per_report as f64;
            self.paced_row(baud, "receive (+WS_DATA)", count, per_report, ceiling, goodput);

            // The 64-byte round trip on this line.
            h.open(2, &self.url("/echo"), 2, 48)?;
            let n = self.n(if baud < 1_000_000 { 40 } else { 400 });
            let mut rtts = Vec::with_capacity(n);
            let mut wire = 0;
            for seq in 0..n {
                let (w0, t) = (h.wire, Instant::now());
                wsat_round_trip(&mut h, 2, seq, 64)?;
                rtts.push(t.elapsed());
                wire = h.wire - w0;
            }
            rtt_rows.push((baud, wire, percentile(&mut rtts, 0.5), percentile(&mut rtts, 0.99)));
        }
        println!();
        println!("Round trip of a 64-byte message on the paced line (wire time = the exchange's bytes × 10 / baud):\n");
        println!("| baud | wire bytes | wire time | wsat p50 | wsat p99 | target: 1.5 × direct p50 + wire | p50 − wire |");
        println!("|---|---|---|---|---|---|---|");
        let direct = self.direct_p50.context("unpaced latency first")?;
        for (baud, wire, p50, p99) in rtt_rows {
            let wire_time = Duration::from_secs_f64(wire as f64 * 10.0 / f64::from(baud));
            let goal = direct.mul_f64(1.5) + wire_time;
            println!(
                "| {baud} | {wire} | {:.1} µs | {:.1} µs | {:.1} µs | {:.1} µs | {:.1} µs |",
                us(wire_time),
                us(p50),
                us(p99),
                us(goal),
                us(p50) - us(wire_time)
            );
            self.targets.push(Target {
                what: format!("64 B p50 round trip at {baud} baud ≤ 1.5 × direct + wire time"),
                measured: format!("{:.1} µs vs {:.1} µs", us(p50), us(goal)),
                met: p50 <= goal,
            });
        }
        println!();
        Ok(())
    }

    fn paced_row(&mut self, baud: u32, direction: &str, count: usize, wire: usize, ceiling: f64, goodput: f64) {
        let ratio = goodput / ceiling;
        println!("| {baud} | {direction} | {count} × 16 KiB | {wire} | {:.1} | {:.1} | {ratio:.3} |", ceiling / 1e3, goodput / 1e3);
        self.targets.push(Target {
            what: format!("paced {direction} goodput at {baud} baud ≥ 0.97 × ceiling"),
            measured: format!("{ratio:.3}"),
            met: ratio >= 0.97,
        });
    }

    /// Section 5: idle CPU with three open links, and peak RSS.
    fn idle_and_memory(&mut self) -> Result<()> {
        let secs = if self.quick { 2.0 } else { 5.0 };
        let (w, mut h) = Host::start(&[])?;
        for id in 0..3 {
            // A keep-alive ping every second: idle, but not silent.
            h.command(&format!("AT+WSCFG={id},1,120,16384"))?;
            h.command(&format!("AT+WSOPEN={id},\"{}\"", self.url("/echo")))?;
        }
        std::thread::sleep(Duration::from_millis(300));
        let (cpu0, t) = (cpu_time(&w.pid), Instant::now());
        std::thread::sleep(Duration::from_secs_f64(secs));
        let idle = (cpu_time(&w.pid) - cpu0).as_secs_f64() / t.elapsed().as_secs_f64();
        drop((w, h));

        // Three links at the largest buffers: 16 KiB receive buffers,
        // 1 MiB messages reassembled at level 2, 16 KiB sends.
        let big = 1 << 20;
        let (w, mut h) = Host::start(&[])?;
        for id in 0..3 {
            h.open(id, &self.url(&format!("/flood/{big}/3")), 2, 63)?;
        }
        h.wait_echoed(3, 3 * big)?;
        let data = payload(16384, 0);
        for _ in 0..self.n(100) {
            for id in 0..3 {
                h.ws_send(id, &data)?;
            }
        }
        let hwm = status_kib(&w.pid, "VmHWM").context("VmHWM")?;
        println!("## Idle and memory\n");
        println!("| measure | wsat |");
        println!("|---|---|");
        println!("| CPU while idle, 3 open links, a ping a second each | {idle:.5} CPU-s/s |");
        println!("| peak RSS, 3 links: 16 KiB buffers, 3 × 1 MiB received and {} × 16 KiB sent on each | {:.1} MiB |", self.n(100), hwm as f64 / 1024.0);
        self.targets.push(Target { what: "idle CPU with 3 open links < 0.01 CPU-s/s".into(), measured: format!("{idle:.5}"), met: idle < 0.01 });
        self.targets.push(Target {
            what: "peak RSS ≤ 16 MiB".into(),
            measured: format!("{:.1} MiB", hwm as f64 / 1024.0),
            met: hwm <= 16 * 1024,
        });
        Ok(())
    }
}

/// Direct client: `count` messages per link, echoes awaited concurrently.
async fn direct_throughput(url: String, links: usize, size: usize, count: usize) -> Result<Duration> {
    let mut clients = Vec::new();
    for _ in 0..links {
        let (ws, _) = tokio_tungstenite::connect_async(&url).await?;
        clients.push(ws);
    }
    let messages: Vec<Vec<u8>> = (0..count).map(|seq| payload(size, seq)).collect();
    let start = Instant::now();
    let mut tasks = Vec::new();
    // At most 256 KiB in flight per link: both ends' socket buffers hold
    // it, so a client and server both blocked on writes cannot deadlock.
    let window = (256 * 1024 / size).max(4);
    for ws in clients {
        let messages = messages.clone();
        tasks.push(tokio::spawn(async move {
            let (mut tx, mut rx) = ws.split();
            let credit = std::sync::Arc::new(tokio::sync::Semaphore::new(window));
            let returned = credit.clone();
            let reader = tokio::spawn(async move {
                for _ in 0..count {
                    match rx.next().await {
                        Some(Ok(_)) => returned.add_permits(1),
                        _ => return false,
                    }
                }
                true
            });
            for m in messages {
                let Ok(permit) = credit.acquire().await else { return false };
                permit.forget();
                if tx.send(Message::binary(m)).await.is_err() {
                    return false;
                }
            }
            reader.await.unwrap_or(false)
        }));
    }
    for t in tasks {
        match tokio::time::timeout(Duration::from_secs(60), t).await {
            Ok(Ok(true)) => {}
            _ => bail!("direct echo failed or stalled"),
        }
    }
    Ok(start.elapsed())
}

/// Direct client round trips, one message at a time.
async fn direct_latency(url: String, size: usize, count: usize) -> Result<Vec<Duration>> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    let mut rtts = Vec::with_capacity(count);
    for seq in 0..count {
        let m = payload(size, seq);
        let t = Instant::now();
        ws.send(Message::binary(m)).await?;
        ws.next().await.context("echo")??;
        rtts.push(t.elapsed());
    }
    Ok(rtts)
}
