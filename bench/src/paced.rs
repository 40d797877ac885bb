//! A paced line (`--pace --baud N`) at three rates: AT+WSSEND and
//! `+WS_DATA` against the AT protocol's ceiling, passthrough both ways
//! against the line rate, and the 64-byte round trip for information.

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::host::Host;
use crate::passthrough::{paced_downstream, paced_upstream};
use crate::{percentile, us, wsat_round_trip, Bench};

const BAUDS: [u32; 3] = [115_200, 921_600, 5_000_000];
/// Passthrough packs 2920-byte packets; a whole number of them leaves no
/// tail waiting AT+TRANSINTVL.
const PACKET: usize = 2920;

impl Bench {
    pub fn paced(&mut self) -> Result<()> {
        let secs = if self.quick { 0.7 } else { 2.0 };
        let size = 16384usize;
        println!("## Paced line (`--pace --baud N`)\n");
        println!("### AT+WSSEND and `+WS_DATA`: goodput against the AT protocol's ceiling\n");
        println!("Ceiling = baud / 10 × payload bytes / all bytes on the wire for them. AT+WSSEND is stop-and-wait (command, `>`, data, `SEND OK`), so those bytes cross one after another; received data costs its `+WS_DATA` report (level 2, mask 48).\n");
        println!("| baud | direction | messages | wire bytes per message | ceiling kB/s | goodput kB/s | goodput/ceiling |");
        println!("|---|---|---|---|---|---|---|");
        let mut rtt_rows = Vec::new();
        let mut steps = Vec::new();
        for baud in BAUDS {
            let line = f64::from(baud) / 10.0;
            let count = ((line * secs / size as f64).ceil() as usize).max(3);
            let (_w, mut h) = Host::start(&["--pace", "--baud", &baud.to_string()])?;

            // Host to server: AT+WSSEND to a sink.
            h.open(0, &self.url("/sink"), 2, 48)?;
            let data = crate::payload(size, 0);
            let (wire0, t) = (h.wire, Instant::now());
            let mut sends = Vec::with_capacity(count);
            for _ in 0..count {
                sends.push(h.ws_send(0, &data)?);
            }
            let (elapsed, wire) = (t.elapsed(), h.wire - wire0);
            // Each step against its bytes' time on the line.
            let byte = 10.0 / f64::from(baud) * 1e6;
            let cmd_bytes = format!("AT+WSSEND=0,{size},2\r\n").len() + b"\r\nOK\r\n\r\n>".len();
            let ok_bytes = b"\r\nSEND OK\r\n".len();
            let n = sends.len() as f64;
            let prompt = sends.iter().map(|s| us(s.prompt - s.command)).sum::<f64>() / n;
            let send_ok = sends.iter().map(|s| us(s.send_ok - s.prompt)).sum::<f64>() / n;
            let gaps = sends.windows(2).map(|w| us(w[1].command - w[0].send_ok)).sum::<f64>() / (n - 1.0).max(1.0);
            steps.push(format!(
                "| {baud} | {:.1} µs ({:.1} µs) | {:.1} µs ({:.1} µs) | {gaps:.1} µs | {:.1} µs |",
                prompt,
                cmd_bytes as f64 * byte,
                send_ok,
                (size + ok_bytes) as f64 * byte,
                prompt + send_ok + gaps - (cmd_bytes + size + ok_bytes) as f64 * byte
            ));
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
        println!("Where a paced AT+WSSEND's time goes (means per 16 KiB message; in brackets, the time its bytes take on the line):\n");
        println!("| baud | command → `>` | `>` → `SEND OK` (data and `SEND OK`) | `SEND OK` → next command (host) | beyond the line time, per message |");
        println!("|---|---|---|---|---|");
        for row in steps {
            println!("{row}");
        }
        println!();

        println!("### Passthrough: goodput against the line rate (baud / 10 bytes/s, 8N1)\n");
        println!(
            "Host → server: the host writes everything at once and a TCP sink notes its reads. Server → host: a TCP server writes \
             everything at once and the host notes its reads. Goodput is from the receiver's first read to its last, the first read's bytes \
             not counted: the rate, without the fixed delay before the first byte. A whole number of {PACKET}-byte packets, about {secs} s \
             of line time.\n\n\
             Host → server is measured with AT+TRANSINTVL=0 (each paced slice goes to the link as it arrives) for the target, and with the \
             default 20 ms for information: ESP-AT holds a packet shorter than {PACKET} bytes until its oldest byte has waited that long, so \
             the last packet arrives up to 20 ms late, a fixed delay that costs about 20 ms / the transfer's length.\n"
        );
        println!("| baud | direction | bytes | line rate kB/s | goodput kB/s | goodput/line rate | default AT+TRANSINTVL: first → last read, /line rate | default AT+TRANSINTVL: host's write → last byte, /line rate |");
        println!("|---|---|---|---|---|---|---|---|");
        for baud in BAUDS {
            let line = f64::from(baud) / 10.0;
            let total = (line * secs / PACKET as f64).ceil() as usize * PACKET;
            let (up, _) = paced_upstream(baud, total, Some(0))?;
            let (up_default, up_from_write) = paced_upstream(baud, total, None)?;
            let down = paced_downstream(baud, total)?;
            for (dir, goodput, default) in [("host → server", up, Some((up_default, up_from_write))), ("server → host", down, None)] {
                let ratio = goodput / line;
                let (d1, d2) = default.map_or((String::new(), String::new()), |(a, b)| (format!("{:.3}", a / line), format!("{:.3}", b / line)));
                println!("| {baud} | {dir} | {total} | {:.1} | {:.1} | {ratio:.3} | {d1} | {d2} |", line / 1e3, goodput / 1e3);
                self.target(format!("paced passthrough {dir} at {baud} baud ≥ 0.99 × line rate"), format!("{ratio:.3}"), ratio >= 0.99);
            }
        }
        println!();

        println!("### Round trip of a 64-byte AT+WSSEND echo on the paced line (no target; for information)\n");
        println!("Wire time = the exchange's bytes × 10 / baud: command, `>`, data, `SEND OK` and the report cross the line one after another.\n");
        println!("| baud | wire bytes | wire time | wsat p50 | wsat p99 | p50 − wire time |");
        println!("|---|---|---|---|---|---|");
        for (baud, wire, p50, p99) in rtt_rows {
            let wire_time = Duration::from_secs_f64(wire as f64 * 10.0 / f64::from(baud));
            println!("| {baud} | {wire} | {:.1} µs | {:.1} µs | {:.1} µs | {:.1} µs |", us(wire_time), us(p50), us(p99), us(p50) - us(wire_time));
        }
        println!();
        Ok(())
    }

    fn paced_row(&mut self, baud: u32, direction: &str, count: usize, wire: usize, ceiling: f64, goodput: f64) {
        let ratio = goodput / ceiling;
        println!("| {baud} | {direction} | {count} × 16 KiB | {wire} | {:.1} | {:.1} | {ratio:.3} |", ceiling / 1e3, goodput / 1e3);
        self.target(format!("paced {direction} goodput at {baud} baud ≥ 0.99 × ceiling"), format!("{ratio:.3}"), ratio >= 0.99);
    }
}
