//! Start-up: from spawning the process to `ready\r\n`, on stdio and on the
//! TCP port, with what starting any process costs here for comparison.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::host::{wsat_binary, Host};
use crate::{percentile, us, Bench};

/// Spawns `cmd` and times it until it exits.
fn spawn_to_exit(cmd: &mut Command) -> Result<Duration> {
    let t = Instant::now();
    let st = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status()?;
    if !st.success() {
        bail!("{cmd:?} failed");
    }
    Ok(t.elapsed())
}

/// Spawns wsat on stdio with `args` and times it until `ready\r\n`.
fn stdio_ready(args: &[&std::ffi::OsStr]) -> Result<Duration> {
    let t = Instant::now();
    let mut child = Command::new(wsat_binary()?).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
    let mut out = child.stdout.take().context("stdout")?;
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    let r = loop {
        let n = out.read(&mut buf)?;
        if n == 0 {
            break Err(anyhow::anyhow!("wsat exited before ready: {:?}", String::from_utf8_lossy(&got)));
        }
        got.extend_from_slice(&buf[..n]);
        if got.windows(7).any(|w| w == b"ready\r\n") {
            break Ok(t.elapsed());
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    r
}

impl Bench {
    pub fn startup(&mut self) -> Result<()> {
        let n = self.n(50);
        let bin = wsat_binary()?;
        let state = tempfile::tempdir()?;
        let st = state.path().as_os_str();
        let args = [std::ffi::OsStr::new("--no-factory-pki"), std::ffi::OsStr::new("--state"), st];
        // The first start writes the state directory (factory parameters).
        let first = stdio_ready(&args)?;
        let fresh = tempfile::tempdir()?;
        let first_pki = stdio_ready(&[std::ffi::OsStr::new("--state"), fresh.path().as_os_str()])?;

        let (mut truth, mut version, mut stdio, mut tcp, mut banner, mut module) = (vec![], vec![], vec![], vec![], vec![], vec![]);
        for _ in 0..n {
            truth.push(spawn_to_exit(&mut Command::new("true"))?);
            version.push(spawn_to_exit(Command::new(&bin).arg("--version"))?);
            stdio.push(stdio_ready(&args)?);
            let (w, h, s) = Host::spawn(&[], Some(state.path()))?;
            drop((w, h));
            tcp.push(s.ready - s.spawned);
            banner.push(s.banner - s.spawned);
            module.push(s.ready - s.banner);
        }
        println!("## Start-up: process spawn to `ready`\n");
        println!(
            "{n} starts of each, alternating; wsat with `--no-factory-pki` and a state directory it has started with before, except where said. \
             On the TCP port the bench reads the address wsat prints on stderr (the banner), connects, and reads `ready`, which the module \
             queued at boot and the port writes once a client is attached.\n"
        );
        println!("| from → to | p50 | p99 |");
        println!("|---|---|---|");
        let row = |what: &str, v: &mut Vec<Duration>| {
            println!("| {what} | {:.2} ms | {:.2} ms |", us(percentile(v, 0.5)) / 1e3, us(percentile(v, 0.99)) / 1e3);
        };
        row("spawn → exit of `true` (the OS's cost of a process)", &mut truth);
        row("spawn → exit of `wsat --version` (loading the binary, parsing options)", &mut version);
        row("**spawn → `ready` on stdio**", &mut stdio);
        row("spawn → `ready` on the TCP port", &mut tcp);
        row("spawn → the TCP port's banner on stderr", &mut banner);
        row("banner → `ready` (connect, attach, the boot output written)", &mut module);
        println!("| spawn → `ready` on stdio, first start (empty state directory) | {:.2} ms | |", us(first) / 1e3);
        println!("| spawn → `ready` on stdio, first start generating the factory PKI | {:.2} ms | |", us(first_pki) / 1e3);
        println!();
        let p50 = percentile(&mut stdio, 0.5);
        let module_part = p50.saturating_sub(percentile(&mut version, 0.5));
        self.target(
            "start-up: spawn → `ready` on stdio < 5 ms (p50)",
            format!("{:.2} ms ({:.2} ms after `wsat --version`'s start-up)", us(p50) / 1e3, us(module_part) / 1e3),
            p50 < Duration::from_millis(5),
        );
        Ok(())
    }
}
