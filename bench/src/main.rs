//! `wsat-bench`: what wsat costs on top of the AT protocol's own floor and
//! of a plain client, and how close it gets to the line rate on a paced
//! serial link. Every target is a ratio of two numbers measured in the same
//! run on the same machine.
//!
//! It starts its servers in a separate process (`wsat-bench --serve`, see
//! `server.rs`), then measures:
//!
//! - `floor` (always): a plain TCP round trip between two processes, and the
//!   shortest AT exchange (`AT` → `OK`) through wsat. Two of those are the
//!   protocol's floor for one stop-and-wait send (command → `>`, data →
//!   `SEND OK`);
//! - `stopwait`: 64-byte AT+WSSEND and AT+CIPSEND echo message rates against
//!   that floor, and where each message's time goes, seen from the host;
//! - `echo`: echo throughput through the AT port (AT+WSSEND / `+WS_DATA`)
//!   against a direct tokio-tungstenite client, with CPU per MB, and 16 KiB
//!   messages on three links against one;
//! - `passthrough`: host → wsat → TCP echo → wsat → host against a direct
//!   TCP client of the same echo server, 1 MiB and 64 MiB, with wsat's CPU
//!   per MB;
//! - `paced`: goodput on a paced line (`--pace --baud N`) at 115200, 921600
//!   and 5 000 000 baud: AT+WSSEND and `+WS_DATA` against the AT protocol's
//!   ceiling, passthrough both ways against the line rate;
//! - `startup`: process spawn to `ready`, on stdio and on the TCP port;
//! - `idle`: wsat's CPU use while idle with three open links, and its peak
//!   RSS.
//!
//! Run it with `cargo build --release -p wsat -p wsat-bench &&
//! target/release/wsat-bench` (`--quick`: a tenth of the work; `--only
//! a,b`: some sections). It uses the `wsat` binary beside its own, or
//! `WSAT_BIN`.

mod host;
mod paced;
mod passthrough;
mod procstat;
mod server;
mod startup;
mod stopwait;

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::host::{Host, SendTimes};
use crate::procstat::{cpu_time, status_kib};
use crate::server::Servers;

/// Message `seq`'s bytes: never contains `+WS_DATA:`, `+IPD,` or an AT
/// response.
pub fn payload(size: usize, seq: usize) -> Vec<u8> {
    (0..size).map(|i| (i + seq) as u8).collect()
}

pub fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort_unstable();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

pub fn mean(v: &[Duration]) -> Duration {
    v.iter().sum::<Duration>() / v.len().max(1) as u32
}

pub fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A target line for the summary.
pub struct Target {
    what: String,
    measured: String,
    met: bool,
}

pub struct Bench {
    pub quick: bool,
    pub servers: Servers,
    pub rt: tokio::runtime::Runtime,
    pub targets: Vec<Target>,
}

/// A section of the run.
type Section = fn(&mut Bench) -> Result<()>;

const SECTIONS: [&str; 6] = ["stopwait", "echo", "passthrough", "paced", "startup", "idle"];

fn main() -> Result<()> {
    if std::env::args().any(|a| a == "--serve") {
        return server::serve();
    }
    let quick = std::env::args().any(|a| a == "--quick");
    let args: Vec<String> = std::env::args().collect();
    let only = args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1)).cloned();
    if let Some(bad) = only.iter().flat_map(|o| o.split(',')).find(|x| !SECTIONS.contains(x) && *x != "floor") {
        bail!("--only: unknown section {bad:?} (sections: floor, {})", SECTIONS.join(", "));
    }
    let run = |name: &str| only.as_ref().is_none_or(|o| o.split(',').any(|x| x == name));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let mut b = Bench { quick, servers: Servers::start()?, rt, targets: Vec::new() };
    let started = Instant::now();
    println!("wsat-bench{}: {}; load average at start: {}\n", if quick { " --quick" } else { "" }, machine(), loadavg());
    b.floors()?;
    let sections: [(&str, Section); 6] = [
        ("stopwait", Bench::stop_and_wait),
        ("echo", Bench::echo),
        ("passthrough", Bench::passthrough),
        ("paced", Bench::paced),
        ("startup", Bench::startup),
        ("idle", Bench::idle_and_memory),
    ];
    for (name, f) in sections {
        if run(name) {
            f(&mut b).with_context(|| format!("section {name}"))?;
        }
    }
    println!("## Targets\n");
    println!("| target | measured | met |");
    println!("|---|---|---|");
    for t in &b.targets {
        println!("| {} | {} | {} |", t.what, t.measured, if t.met { "met" } else { "**not met**" });
    }
    println!("\n({} run in {:.0} s; load average at the end: {}.)", if quick { "quick" } else { "full" }, started.elapsed().as_secs_f64(), loadavg());
    Ok(())
}

/// The 1, 5 and 15 minute load averages: other work on the machine skews
/// every number here.
fn loadavg() -> String {
    let s = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// CPU model, cores and kernel, for the record.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        cpuinfo
            .lines()
            .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
            .and_then(|l| l.split(':').nth(1))
            .unwrap_or("?")
            .trim()
            .to_string()
    };
    let vm = if cpuinfo.contains(" hypervisor") { ", a VM" } else { "" };
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{} (family {}, model {}, stepping {}, {} MHz), {cores} cores{vm}, Linux {}",
        field("model name"),
        field("cpu family"),
        field("model"),
        field("stepping"),
        field("cpu MHz"),
        kernel.trim()
    )
}

impl Bench {
    pub fn n(&self, full: usize) -> usize {
        if self.quick { (full / 10).max(2) } else { full }
    }

    pub fn url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.servers.ws)
    }

    pub fn target(&mut self, what: impl Into<String>, measured: impl Into<String>, met: bool) {
        self.targets.push(Target { what: what.into(), measured: measured.into(), met });
    }

    /// The floor: what one exchange between two processes costs here.
    fn floors(&mut self) -> Result<()> {
        use std::io::{Read, Write};
        let n = self.n(4000);
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
        let (w, mut h) = Host::start(&[])?;
        let mut at = Vec::with_capacity(n);
        let (c0, h0) = (cpu_time(&w.pid), cpu_time("self"));
        for _ in 0..n {
            let t = Instant::now();
            h.send(b"AT\r\n")?;
            h.until(b"\r\nOK\r\n")?;
            at.push(t.elapsed());
        }
        let (wc, hc) = ((cpu_time(&w.pid) - c0) / n as u32, (cpu_time("self") - h0) / n as u32);
        println!("## Floor: one exchange between two processes on this machine\n");
        println!("| round trip | n | mean | p50 | p99 |");
        println!("|---|---|---|---|---|");
        let pm = mean(&plain);
        println!(
            "| plain TCP echo (4 bytes) | {n} | {:.1} µs | {:.1} µs | {:.1} µs |",
            us(pm),
            us(percentile(&mut plain, 0.5)),
            us(percentile(&mut plain, 0.99))
        );
        println!(
            "| `AT` → `OK` through wsat | {n} | {:.1} µs | {:.1} µs | {:.1} µs |",
            us(mean(&at)),
            us(percentile(&mut at, 0.5)),
            us(percentile(&mut at, 0.99))
        );
        println!("\nCPU per `AT` exchange: wsat {:.1} µs, host {:.1} µs.", us(wc), us(hc));
        println!("\nThe stop-and-wait section measures its floor (two `AT` exchanges) again, in blocks between its messages.\n");
        Ok(())
    }

    /// Echo throughput and CPU per MB, wsat against direct; then three
    /// links against one at 16 KiB.
    fn echo(&mut self) -> Result<()> {
        println!("## Echo throughput through the AT port (AT+WSSEND, message-level +WS_DATA) vs a direct tokio-tungstenite client\n");
        println!("No target on these ratios: the direct client pipelines, AT+WSSEND is stop-and-wait. For information. The same number of messages in all on one link and on three.\n");
        println!("| messages | links | direct MB/s | wsat MB/s | wsat/direct | direct client CPU s/MB | wsat CPU s/MB | wsat/direct CPU | host CPU s/MB |");
        println!("|---|---|---|---|---|---|---|---|---|");
        // The same messages in all on one link and on three: on this VM a
        // longer run settles at a slower pace, so unequal totals would
        // favour the shorter one.
        for (size, total) in [(64usize, 6000usize), (1024, 3000), (16384, 600)] {
            let total = self.n(total);
            for links in [1usize, 3] {
                let count = total / links;
                let mb = (size * count * links) as f64 / 1e6;
                let cpu0 = cpu_time("self");
                let d = self.rt.block_on(direct_throughput(self.url("/echo"), links, size, count))?;
                let direct_cpu = (cpu_time("self") - cpu0).as_secs_f64() / mb;
                let r = self.wsat_throughput(links, size, count)?;
                let (dm, wm) = (mb / d.as_secs_f64(), mb / r.elapsed.as_secs_f64());
                let (wc, hc) = (r.wsat_cpu.as_secs_f64() / mb, r.host_cpu.as_secs_f64() / mb);
                println!(
                    "| {size} B | {links} | {dm:.1} | {wm:.1} | {:.3} | {direct_cpu:.4} | {wc:.4} | {:.2} | {hc:.4} |",
                    wm / dm,
                    wc / direct_cpu
                );
            }
        }
        println!();
        self.links()
    }

    /// Three links against one: 16 KiB messages, the same total, sent
    /// round-robin; rounds alternate and the medians are compared.
    fn links(&mut self) -> Result<()> {
        let size = 16384;
        let total = self.n(1200);
        let rounds = if self.quick { 1 } else { 5 };
        let mut rates = [Vec::new(), Vec::new()];
        let mut runs: [Vec<Throughput>; 2] = [Vec::new(), Vec::new()];
        for _ in 0..rounds {
            for (i, links) in [1usize, 3].into_iter().enumerate() {
                let r = self.wsat_throughput(links, size, total / links)?;
                rates[i].push((total * size) as f64 / 1e6 / r.elapsed.as_secs_f64());
                runs[i].push(r);
            }
        }
        let (one, three) = (median(&mut rates[0]), median(&mut rates[1]));
        println!("## 16 KiB AT+WSSEND echo: three links (round-robin) against one\n");
        println!(
            "{total} messages of 16 KiB in all, echoed by the server and reported as `+WS_DATA` (level 2, mask 63); {rounds} round(s), alternating, median. \
             Phases are means per message over all rounds, seen from the host; reports read while waiting for `>` or `SEND OK` are counted where they were read.\n"
        );
        println!("| links | MB/s (median) | command → `>` | data written | data → `SEND OK` | reports read before `>` | reports read before `SEND OK` | after the last `SEND OK` | wsat CPU s/MB | host CPU s/MB |");
        println!("|---|---|---|---|---|---|---|---|---|---|");
        for (i, links) in [1usize, 3].into_iter().enumerate() {
            let rs = &runs[i];
            let msgs: usize = rs.iter().map(|r| r.sends.len()).sum();
            let avg = |f: &dyn Fn(&SendTimes) -> Duration| -> f64 {
                rs.iter().flat_map(|r| r.sends.iter()).map(|s| us(f(s))).sum::<f64>() / msgs as f64
            };
            let before_prompt: usize = rs.iter().map(|r| r.reports_before_prompt).sum();
            let before_ok: usize = rs.iter().map(|r| r.reports_before_ok).sum();
            let tail: f64 = rs.iter().map(|r| us(r.tail)).sum::<f64>() / rs.len() as f64;
            let mb = (total * size) as f64 / 1e6 * rs.len() as f64;
            let wc: f64 = rs.iter().map(|r| r.wsat_cpu.as_secs_f64()).sum::<f64>() / mb;
            let hc: f64 = rs.iter().map(|r| r.host_cpu.as_secs_f64()).sum::<f64>() / mb;
            println!(
                "| {links} | {:.1} | {:.1} µs | {:.1} µs | {:.1} µs | {:.2} | {:.2} | {:.0} µs | {wc:.4} | {hc:.4} |",
                if i == 0 { one } else { three },
                avg(&|s| s.prompt - s.command),
                avg(&|s| s.data - s.prompt),
                avg(&|s| s.send_ok - s.data),
                before_prompt as f64 / msgs as f64,
                before_ok as f64 / msgs as f64,
                tail
            );
        }
        println!();
        let ratio = three / one;
        self.target("16 KiB AT+WSSEND echo: 3 links' total throughput ≥ 1.0 × 1 link's", format!("{ratio:.3} ({three:.1} vs {one:.1} MB/s)"), ratio >= 1.0);
        Ok(())
    }

    /// `count` messages of `size` bytes on each of `links` links,
    /// round-robin, echoes read as they come.
    fn wsat_throughput(&self, links: usize, size: usize, count: usize) -> Result<Throughput> {
        let (w, mut h) = Host::start(&[])?;
        for id in 0..links {
            h.open(id, &self.url("/echo"), 2, 63)?;
        }
        let messages: Vec<Vec<u8>> = (0..count).map(|seq| payload(size, seq)).collect();
        let mut sends = Vec::with_capacity(count * links);
        let (mut before_prompt, mut before_ok) = (0, 0);
        let (cpu0, host0) = (cpu_time(&w.pid), cpu_time("self"));
        let start = Instant::now();
        for m in &messages {
            for id in 0..links {
                let r0 = h.reports.len();
                let s = h.ws_send(id, m)?;
                before_prompt += h.reports_at_prompt - r0;
                before_ok += h.reports.len() - h.reports_at_prompt;
                sends.push(s);
            }
        }
        let last = Instant::now();
        h.wait_echoed(links, count * size)?;
        let end = Instant::now();
        Ok(Throughput {
            elapsed: end - start,
            wsat_cpu: cpu_time(&w.pid) - cpu0,
            host_cpu: cpu_time("self") - host0,
            sends,
            reports_before_prompt: before_prompt,
            reports_before_ok: before_ok,
            tail: end - last,
        })
    }
}

/// One throughput run through wsat.
struct Throughput {
    elapsed: Duration,
    wsat_cpu: Duration,
    host_cpu: Duration,
    sends: Vec<SendTimes>,
    reports_before_prompt: usize,
    reports_before_ok: usize,
    /// From the last `SEND OK` to the last echo.
    tail: Duration,
}

/// One echo through wsat, from the command to the report.
pub fn wsat_round_trip(h: &mut Host, link: usize, seq: usize, size: usize) -> Result<SendTimes> {
    let want = h.echoed[link] + size;
    let s = h.ws_send(link, &payload(size, seq))?;
    while h.echoed[link] < want {
        h.next_report()?;
    }
    Ok(s)
}

impl Bench {
    /// Idle CPU with three open links, and peak RSS.
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
        println!();
        self.target("idle CPU with 3 open links < 0.01 CPU-s/s", format!("{idle:.5}"), idle < 0.01);
        self.target("peak RSS ≤ 16 MiB", format!("{:.1} MiB", hwm as f64 / 1024.0), hwm <= 16 * 1024);
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
pub async fn direct_latency(url: String, size: usize, count: usize) -> Result<Vec<Duration>> {
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
