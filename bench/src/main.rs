//! `wsat-bench`: what wsat costs on top of a plain WebSocket client.
//!
//! Starts a tokio-tungstenite echo server on loopback, then, in the same
//! run, echoes the same traffic two ways:
//!
//! - **direct**: a tokio-tungstenite client (the baseline);
//! - **wsat**: a host drives `wsat --tcp` with AT+WSSEND and reads the
//!   echoes as `+WS_DATA` reports, as host firmware would.
//!
//! It prints a table of echo throughput (64 B, 1 KiB, 16 KiB messages; 1
//! and 3 links) and of the round-trip latency (p50, p99), with the ratio
//! wsat / direct. Run it with `cargo build --release -p wsat -p wsat-bench &&
//! target/release/wsat-bench` (it uses the `wsat` binary beside its own).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

/// Echoes every message on every connection.
async fn echo_server() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = tcp.set_nodelay(true);
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else { return };
                while let Some(Ok(m)) = ws.next().await {
                    if (m.is_binary() || m.is_text()) && ws.send(m).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(addr)
}

fn payload(size: usize, seq: usize) -> Vec<u8> {
    (0..size).map(|i| (i + seq) as u8).collect()
}

/// Direct client: `count` messages per link, echoes awaited concurrently.
async fn direct_throughput(server: SocketAddr, links: usize, size: usize, count: usize) -> Result<Duration> {
    let url = format!("ws://{server}/");
    let mut clients = Vec::new();
    for _ in 0..links {
        let (ws, _) = tokio_tungstenite::connect_async(&url).await?;
        clients.push(ws);
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for ws in clients {
        tasks.push(tokio::spawn(async move {
            let (mut tx, mut rx) = ws.split();
            let reader = tokio::spawn(async move {
                for _ in 0..count {
                    match rx.next().await {
                        Some(Ok(_)) => {}
                        _ => return false,
                    }
                }
                true
            });
            for seq in 0..count {
                if tx.send(Message::binary(payload(size, seq))).await.is_err() {
                    return false;
                }
            }
            reader.await.unwrap_or(false)
        }));
    }
    for t in tasks {
        if !t.await? {
            bail!("direct echo failed");
        }
    }
    Ok(start.elapsed())
}

/// Direct client round trips, one message at a time.
async fn direct_latency(server: SocketAddr, size: usize, count: usize) -> Result<Vec<Duration>> {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{server}/")).await?;
    let mut rtts = Vec::with_capacity(count);
    for seq in 0..count {
        let t = Instant::now();
        ws.send(Message::binary(payload(size, seq))).await?;
        ws.next().await.context("echo")??;
        rtts.push(t.elapsed());
    }
    Ok(rtts)
}

/// A host on wsat's AT port.
struct Host {
    rd: BufReader<tokio::net::tcp::OwnedReadHalf>,
    wr: tokio::net::tcp::OwnedWriteHalf,
    /// Echoed bytes seen per link.
    echoed: [usize; 3],
    reports: usize,
}

impl Host {
    async fn send(&mut self, b: &[u8]) -> Result<()> {
        self.wr.write_all(b).await?;
        Ok(())
    }

    /// Reads output until `token`, counting `+WS_DATA` reports on the way
    /// (all links use mask 63: opcode, fin, payload_len, offset, data_len).
    async fn until(&mut self, token: &[u8]) -> Result<()> {
        self.scan(Some(token)).await
    }

    /// Reads output up to `token`, or with `None` up to the next report.
    async fn scan(&mut self, token: Option<&[u8]>) -> Result<()> {
        let mut seen: Vec<u8> = Vec::new();
        loop {
            let mut b = [0u8; 1];
            self.rd.read_exact(&mut b).await?;
            seen.push(b[0]);
            if seen.ends_with(b"+WS_DATA:") {
                self.report().await?;
                if token.is_none() {
                    return Ok(());
                }
                seen.truncate(seen.len() - 9);
            }
            if token.is_some_and(|t| seen.ends_with(t)) {
                return Ok(());
            }
        }
    }

    async fn report(&mut self) -> Result<()> {
        let mut fields = [0usize; 6];
        for f in &mut fields {
            let mut text = Vec::new();
            self.rd.read_until(b',', &mut text).await?;
            *f = std::str::from_utf8(&text[..text.len() - 1])?.parse()?;
        }
        let mut data = vec![0u8; fields[5] + 2];
        self.rd.read_exact(&mut data).await?;
        self.echoed[fields[0]] += fields[5];
        self.reports += 1;
        Ok(())
    }

    async fn wait_echoed(&mut self, links: usize, bytes: usize) -> Result<()> {
        while (0..links).any(|l| self.echoed[l] < bytes) {
            self.scan(None).await?;
        }
        Ok(())
    }
}

struct Wsat {
    child: Child,
    _state: tempfile::TempDir,
}

impl Drop for Wsat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wsat_binary() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("WSAT_BIN") {
        return Ok(PathBuf::from(p));
    }
    let p = std::env::current_exe()?.with_file_name("wsat");
    if !p.exists() {
        bail!("no wsat binary at {} (cargo build --release -p wsat, or set WSAT_BIN)", p.display());
    }
    Ok(p)
}

/// Starts wsat on TCP and brings `links` links up to `server`.
async fn wsat_host(server: SocketAddr, links: usize) -> Result<(Wsat, Host)> {
    let state = tempfile::tempdir()?;
    let mut child = Command::new(wsat_binary()?)
        .args(["--tcp", "127.0.0.1:0", "--no-factory-pki", "--state"])
        .arg(state.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().context("stderr")?;
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let addr = loop {
        let line = lines.next().context("wsat exited")??;
        if let Some(a) = line.split("tcp://").nth(1) {
            break a.trim().to_string();
        }
    };
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let (rd, wr) = tcp.into_split();
    let mut h = Host { rd: BufReader::with_capacity(64 * 1024, rd), wr, echoed: [0; 3], reports: 0 };
    h.until(b"ready\r\n").await?;
    h.send(b"ATE0\r\n").await?;
    h.until(b"\r\nOK\r\n").await?;
    h.send(b"AT+CWJAP=\"bench\",\"\"\r\n").await?;
    h.until(b"\r\nOK\r\n").await?;
    for id in 0..links {
        h.send(format!("AT+WSCFG={id},60,120,16384\r\nAT+WSDATAFMT={id},2,63\r\n").as_bytes()).await?;
        h.until(b"\r\nOK\r\n").await?;
        h.until(b"\r\nOK\r\n").await?;
        h.send(format!("AT+WSOPEN={id},\"ws://{server}/\"\r\n").as_bytes()).await?;
        h.until(b"\r\nOK\r\n").await?;
    }
    Ok((Wsat { child, _state: state }, h))
}

async fn wsat_throughput(server: SocketAddr, links: usize, size: usize, count: usize) -> Result<Duration> {
    let (_w, mut h) = wsat_host(server, links).await?;
    let start = Instant::now();
    for seq in 0..count {
        for id in 0..links {
            h.send(format!("AT+WSSEND={id},{size},2\r\n").as_bytes()).await?;
            h.until(b"\r\nOK\r\n\r\n>").await?;
            h.send(&payload(size, seq)).await?;
            h.until(b"\r\nSEND OK\r\n").await?;
        }
    }
    h.wait_echoed(links, count * size).await?;
    Ok(start.elapsed())
}

async fn wsat_latency(server: SocketAddr, size: usize, count: usize) -> Result<Vec<Duration>> {
    let (_w, mut h) = wsat_host(server, 1).await?;
    let mut rtts = Vec::with_capacity(count);
    for seq in 0..count {
        let t = Instant::now();
        h.send(format!("AT+WSSEND=0,{size},2\r\n").as_bytes()).await?;
        h.until(b"\r\nOK\r\n\r\n>").await?;
        h.send(&payload(size, seq)).await?;
        h.wait_echoed(1, (seq + 1) * size).await?;
        rtts.push(t.elapsed());
    }
    Ok(rtts)
}

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort_unstable();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() -> Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async {
        let server = echo_server().await?;
        println!("wsat-bench: echo through wsat's AT port vs a direct tokio-tungstenite client, same server, same run\n");
        println!("| messages | links | direct MB/s | wsat MB/s | wsat/direct |");
        println!("|---|---|---|---|---|");
        for (size, count) in [(64usize, 4000usize), (1024, 2000), (16384, 400)] {
            let count = if quick { count / 10 } else { count };
            for links in [1usize, 3] {
                let bytes = (size * count * links) as f64;
                let d = direct_throughput(server, links, size, count).await?;
                let w = wsat_throughput(server, links, size, count).await?;
                let (dm, wm) = (bytes / d.as_secs_f64() / 1e6, bytes / w.as_secs_f64() / 1e6);
                println!("| {size} B | {links} | {dm:.1} | {wm:.1} | {:.2} |", wm / dm);
            }
        }
        println!("\n| round trip, 64 B | direct | wsat | wsat/direct |");
        println!("|---|---|---|---|");
        let n = if quick { 200 } else { 2000 };
        let mut d = direct_latency(server, 64, n).await?;
        let mut w = wsat_latency(server, 64, n).await?;
        for (name, p) in [("p50", 0.5), ("p99", 0.99)] {
            let (a, b) = (percentile(&mut d, p), percentile(&mut w, p));
            println!("| {name} | {:.1} µs | {:.1} µs | {:.2} |", a.as_secs_f64() * 1e6, b.as_secs_f64() * 1e6, b.as_secs_f64() / a.as_secs_f64());
        }
        Ok(())
    })
}
