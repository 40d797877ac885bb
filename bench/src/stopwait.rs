//! Stop-and-wait sends against the protocol's floor: 64-byte AT+WSSEND and
//! AT+CIPSEND echoes, one message at a time, and where each message's time
//! goes as the host sees it.

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::host::{Host, SendTimes};
use crate::procstat::{cpu_time, Pinned};
use crate::{direct_latency, mean, median, payload, percentile, us, Bench};

/// A run of messages: how long, each message's steps, and the CPU time
/// per message of wsat, the host (this process) and the server process.
pub struct Run {
    elapsed: Duration,
    steps: Vec<Steps>,
    cpu: [Duration; 3],
    /// Per block: (messages, their time, `AT` exchanges, their time).
    blocks: Vec<(usize, Duration, usize, Duration)>,
}

impl Run {
    /// Medians over the blocks: messages per second, the floor's
    /// messages per second (two `AT` exchanges each), and their ratio.
    /// A block that the machine disturbed (another process, the
    /// hypervisor) moves a median far less than a mean.
    fn rates(&self) -> (f64, f64, f64) {
        let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64();
        let mut m: Vec<f64> = self.blocks.iter().map(|b| rate(b.0, b.1)).collect();
        let mut f: Vec<f64> = self.blocks.iter().map(|b| rate(b.2, b.3) / 2.0).collect();
        let mut r: Vec<f64> = self.blocks.iter().map(|b| rate(b.0, b.1) / (rate(b.2, b.3) / 2.0)).collect();
        (median(&mut m), median(&mut f), median(&mut r))
    }
}

/// One message's steps as the host saw them.
pub struct Steps {
    send: SendTimes,
    /// The echo's report read.
    echo: Instant,
}

impl Steps {
    fn total(&self) -> Duration {
        self.echo.max(self.send.send_ok) - self.send.command
    }
}

impl Bench {
    pub fn stop_and_wait(&mut self) -> Result<()> {
        let n = self.n(4000);
        let size = 64;
        let warm = 50;

        let mut rows = Vec::new();
        for one_cpu in [false, true] {
            // All three processes on one CPU: every exchange is a context
            // switch, never a wake-up of the other (virtual) CPU.
            let _pin = if one_cpu {
                match Pinned::new("0", &[&self.servers.pid]) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        println!("(No one-CPU rows: {e:#}.)\n");
                        break;
                    }
                }
            } else {
                None
            };
            for echo in [true, false] {
                let (_w, mut h) = Host::start(&[])?;
                h.open(0, &self.url(if echo { "/echo" } else { "/sink" }), 2, 48)?;
                rows.push(("AT+WSSEND", one_cpu, echo, self.run_messages(&_w.pid, &mut h, n, warm, size, echo, |h, data| h.ws_send(0, data))?));
                drop((_w, h));

                let (_w, mut h) = Host::start(&[])?;
                let to = if echo { self.servers.tcp } else { self.servers.sink };
                h.command(&format!("AT+CIPSTART=\"TCP\",\"{}\",{}", to.ip(), to.port()))?;
                rows.push(("AT+CIPSEND", one_cpu, echo, self.run_messages(&_w.pid, &mut h, n, warm, size, echo, |h, data| h.cip_send(data))?));
                drop((_w, h));
            }
        }

        let mut direct = self.rt.block_on(direct_latency(self.url("/echo"), size, n))?;

        println!("## Stop-and-wait sends: 64-byte echoes, one message at a time, against the protocol's floor\n");
        println!(
            "Floor = two `AT` → `OK` exchanges, measured on the same port in blocks of 200 that alternate with blocks of 100 messages, so that \
             both see the same machine; messages/s, the floor and their ratio are medians over the blocks. A message: command, `>`, data, `SEND OK`, then the echo's report \
             (`+WS_DATA` from the WebSocket echo, `+IPD` from the TCP echo). {n} messages after {warm} unmeasured; phases are means, as the host saw them. \
             The rows to a sink (no echo; no target) show what the send alone costs. Two sets of rows, each with its targets: the processes \
             as the scheduler places them on the machine's CPUs, and all three (host, wsat, server) on one CPU (`taskset -c 0`). On one CPU \
             every hop between processes is a context switch, so the time per message is the CPU time the three spend on it, and it is stable \
             from run to run; on two, a hop may wake the other (virtual) CPU, whose cost depends on the hypervisor.\n"
        );
        println!("| command | server | CPUs | messages/s | floor: 2 × `AT` exchange, messages/s | / floor | mean per message | p50 | p99 | command → `>` | `>` → data written | data → `SEND OK` | `SEND OK` → echo | echoes before `SEND OK` | CPU per message: wsat / host / server |");
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        let mut ratios = Vec::new();
        for (name, one_cpu, echo, run) in rows {
            let (rate, floor, ratio) = run.rates();
            let Run { elapsed, steps, cpu, .. } = run;
            let mut totals: Vec<Duration> = steps.iter().map(Steps::total).collect();
            let avg = |f: &dyn Fn(&Steps) -> Duration| us(mean(&steps.iter().map(f).collect::<Vec<_>>()));
            let early = steps.iter().filter(|s| s.echo < s.send.send_ok).count();
            println!(
                "| {name} | {} | {} | {rate:.0} | {floor:.0} ({:.1} µs) | {:.3} | {:.1} µs | {:.1} µs | {:.1} µs | {:.1} µs | {:.1} µs | {:.1} µs | {:.1} µs | {early} of {} | {:.1} / {:.1} / {:.1} µs |",
                if echo { "echo" } else { "sink" },
                if one_cpu { "1" } else { "2" },
                1e6 / floor,
                ratio,
                us(elapsed) / steps.len() as f64,
                us(percentile(&mut totals, 0.5)),
                us(percentile(&mut totals, 0.99)),
                avg(&|s| s.send.prompt - s.send.command),
                avg(&|s| s.send.data - s.send.prompt),
                avg(&|s| s.send.send_ok - s.send.data),
                avg(&|s| s.echo.saturating_duration_since(s.send.send_ok)),
                steps.len(),
                us(cpu[0]),
                us(cpu[1]),
                us(cpu[2])
            );
            if echo {
                ratios.push((name, one_cpu, ratio, rate, floor));
            }
        }
        println!();
        println!(
            "For comparison: a direct tokio-tungstenite client's 64-byte round trip to the same WebSocket echo, p50 {:.1} µs (mean {:.1} µs).\n",
            us(percentile(&mut direct, 0.5)),
            us(mean(&direct))
        );
        for (name, one_cpu, ratio, rate, floor) in ratios {
            let cpus = if one_cpu { "all on one CPU" } else { "as scheduled on 2 CPUs" };
            self.target(
                format!("64 B {name} echo rate ≥ 0.8 × floor (2 `AT` exchanges), {cpus}"),
                format!("{ratio:.3} ({rate:.0} vs {floor:.0} msg/s)"),
                ratio >= 0.8,
            );
        }
        Ok(())
    }

    /// `warm` then `n` messages of `size` bytes sent by `send`, each
    /// awaiting its echo on link 0 (if `echo`) before the next.
    /// `warm` then `n` messages of `size` bytes sent by `send`, each
    /// awaiting its echo on link 0 (if `echo`) before the next. Blocks of
    /// messages alternate with blocks of `AT` exchanges on the same port,
    /// so the floor is measured at the same moments as the messages.
    #[allow(clippy::too_many_arguments)]
    fn run_messages(
        &self,
        pid: &str,
        h: &mut Host,
        n: usize,
        warm: usize,
        size: usize,
        echo: bool,
        send: impl Fn(&mut Host, &[u8]) -> Result<SendTimes>,
    ) -> Result<Run> {
        const BLOCK: usize = 100;
        let messages: Vec<Vec<u8>> = (0..n + warm).map(|seq| payload(size, seq)).collect();
        let mut steps = Vec::with_capacity(n);
        let mut elapsed = Duration::ZERO;
        let mut blocks = Vec::new();
        let mut cpu_sum = [Duration::ZERO; 3];
        let cpu = || [cpu_time(pid), cpu_time("self"), cpu_time(&self.servers.pid)];
        for m in &messages[..warm] {
            let want = h.echoed[0] + size;
            send(h, m)?;
            if echo {
                h.wait_echoed(1, want)?;
            }
        }
        for block in messages[warm..].chunks(BLOCK) {
            let t = Instant::now();
            for _ in 0..2 * block.len() {
                h.send(b"AT\r\n")?;
                h.until(b"\r\nOK\r\n")?;
            }
            let at_time = t.elapsed();
            let (cpu0, t) = (cpu(), Instant::now());
            for m in block {
                let want = h.echoed[0] + size;
                let s = send(h, m)?;
                let mut at = s.send_ok;
                if echo {
                    while h.echoed[0] < want {
                        h.next_report()?;
                    }
                    at = h.reports.last().map_or(s.send_ok, |r| r.at);
                }
                steps.push(Steps { send: s, echo: at });
            }
            let took = t.elapsed();
            elapsed += took;
            blocks.push((block.len(), took, 2 * block.len(), at_time));
            let cpu1 = cpu();
            for i in 0..3 {
                cpu_sum[i] += cpu1[i] - cpu0[i];
            }
        }
        Ok(Run { elapsed, cpu: cpu_sum.map(|c| c / n as u32), blocks, steps })
    }
}
