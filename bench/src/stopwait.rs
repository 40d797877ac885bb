//! Stop-and-wait sends against the protocol's floor: 64-byte AT+WSSEND and
//! AT+CIPSEND echoes, one message at a time, and where each message's time
//! goes as the host sees it.

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::host::{Host, SendTimes};
use crate::procstat::cpu_time;
use crate::{direct_latency, mean, payload, percentile, us, Bench};

/// A run of messages: how long, each message's steps, and the CPU time
/// per message of wsat, the host (this process) and the server process.
pub struct Run {
    elapsed: Duration,
    steps: Vec<Steps>,
    cpu: [Duration; 3],
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
        for echo in [true, false] {
            let (_w, mut h) = Host::start(&[])?;
            h.open(0, &self.url(if echo { "/echo" } else { "/sink" }), 2, 48)?;
            rows.push(("AT+WSSEND", echo, self.run_messages(&_w.pid, &mut h, n, warm, size, echo, |h, data| h.ws_send(0, data))?));
            drop((_w, h));

            let (_w, mut h) = Host::start(&[])?;
            let to = if echo { self.servers.tcp } else { self.servers.sink };
            h.command(&format!("AT+CIPSTART=\"TCP\",\"{}\",{}", to.ip(), to.port()))?;
            rows.push(("AT+CIPSEND", echo, self.run_messages(&_w.pid, &mut h, n, warm, size, echo, |h, data| h.cip_send(data))?));
            drop((_w, h));
        }

        let mut direct = self.rt.block_on(direct_latency(self.url("/echo"), size, n))?;

        let floor = self.floor_rate();
        println!("## Stop-and-wait sends: 64-byte echoes, one message at a time, against the protocol's floor\n");
        println!(
            "Floor = two `AT` → `OK` exchanges ({:.1} µs, {floor:.0} messages/s). A message: command, `>`, data, `SEND OK`, then the echo's report \
             (`+WS_DATA` from the WebSocket echo, `+IPD` from the TCP echo). {n} messages after {warm} unmeasured; phases are means, as the host saw them. \
             The rows to a sink (no echo; no target) show what the send alone costs.\n",
            2.0 * us(self.at_mean)
        );
        println!("| command | server | messages/s | / floor | mean per message | p50 | p99 | command → `>` | `>` → data written | data → `SEND OK` | `SEND OK` → echo | echoes before `SEND OK` | CPU per message: wsat / host / server |");
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        let mut ratios = Vec::new();
        for (name, echo, Run { elapsed, steps, cpu }) in rows {
            let rate = steps.len() as f64 / elapsed.as_secs_f64();
            let mut totals: Vec<Duration> = steps.iter().map(Steps::total).collect();
            let avg = |f: &dyn Fn(&Steps) -> Duration| us(mean(&steps.iter().map(f).collect::<Vec<_>>()));
            let early = steps.iter().filter(|s| s.echo < s.send.send_ok).count();
            println!(
                "| {name} | {} | {rate:.0} | {:.3} | {:.1} µs | {:.1} µs | {:.1} µs | {:.1} µs | {:.1} µs | {:.1} µs | {:.1} µs | {early} of {} | {:.1} / {:.1} / {:.1} µs |",
                if echo { "echo" } else { "sink" },
                rate / floor,
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
                ratios.push((name, rate / floor, rate));
            }
        }
        println!();
        println!(
            "For comparison: a direct tokio-tungstenite client's 64-byte round trip to the same WebSocket echo, p50 {:.1} µs (mean {:.1} µs).\n",
            us(percentile(&mut direct, 0.5)),
            us(mean(&direct))
        );
        for (name, ratio, rate) in ratios {
            self.target(
                format!("64 B {name} echo rate ≥ 0.8 × floor (2 `AT` exchanges)"),
                format!("{ratio:.3} ({rate:.0} vs {floor:.0} msg/s)"),
                ratio >= 0.8,
            );
        }
        Ok(())
    }

    /// `warm` then `n` messages of `size` bytes sent by `send`, each
    /// awaiting its echo on link 0 (if `echo`) before the next.
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
        let messages: Vec<Vec<u8>> = (0..n + warm).map(|seq| payload(size, seq)).collect();
        let mut steps = Vec::with_capacity(n);
        let mut start = Instant::now();
        let mut cpu0 = [Duration::ZERO; 3];
        let cpu = || [cpu_time(pid), cpu_time("self"), cpu_time(&self.servers.pid)];
        for (seq, m) in messages.iter().enumerate() {
            if seq == warm {
                cpu0 = cpu();
                start = Instant::now();
            }
            let want = h.echoed[0] + size;
            let s = send(h, m)?;
            let mut at = s.send_ok;
            if echo {
                while h.echoed[0] < want {
                    h.next_report()?;
                }
                at = h.reports.last().map_or(s.send_ok, |r| r.at);
            }
            if seq >= warm {
                steps.push(Steps { send: s, echo: at });
            }
        }
        let elapsed = start.elapsed();
        let cpu1 = cpu();
        Ok(Run { elapsed, cpu: std::array::from_fn(|i| (cpu1[i] - cpu0[i]) / n as u32), steps })
    }
}
