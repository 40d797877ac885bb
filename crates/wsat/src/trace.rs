//! `--trace FILE`: every byte on the AT port, both ways, with microsecond
//! timestamps from the start, one chunk a line:
//!
//! ```text
//! > 0.001250 AT\r\n
//! < 0.001301 AT\r\n\r\nOK\r\n
//! ```
//!
//! `>` is the host's, `<` the module's; the bytes are in the transcripts'
//! notation. `wsat trace FILE --to-transcript` turns a trace into a golden
//! transcript (`tests/transcripts/*.at`): a session recorded against real
//! servers becomes a regression test.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use wsat_core::transcript::{escape, unescape};

/// Which way bytes went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Host to module.
    In,
    /// Module to host.
    Out,
}

/// An open trace file.
pub struct Trace {
    out: BufWriter<File>,
    start: Instant,
}

impl Trace {
    /// Creates (or truncates) `path`.
    pub fn create(path: &Path) -> Result<Trace> {
        // Private to this user: the AT stream carries passwords and keys.
        let f = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)
        }
        .with_context(|| format!("cannot create the trace file {}", path.display()))?;
        Ok(Trace { out: BufWriter::new(f), start: Instant::now() })
    }

    /// Records a chunk.
    pub fn record(&mut self, dir: Dir, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let t = self.start.elapsed();
        let tag = if dir == Dir::In { '>' } else { '<' };
        let r = writeln!(self.out, "{tag} {}.{:06} {}", t.as_secs(), t.subsec_micros(), escape(bytes));
        if let Err(e) = r {
            tracing::warn!(error = %e, "cannot write the trace");
        }
    }

    /// Writes what is buffered (at exit; also after each turn, so a trace
    /// of a killed process is complete up to its last turn).
    pub fn flush(&mut self) {
        let _ = self.out.flush();
    }
}

/// A trace's text as a golden transcript: chunks of one direction merge,
/// and a pause of more than 20 ms before the host speaks (a guard time, a
/// timer the host waited for) becomes a wait.
pub fn to_transcript(trace: &str, version: &str) -> Result<String> {
    let mut out = String::from("# Recorded with `wsat --trace`, converted by `wsat trace --to-transcript`.\n");
    let mut last_t = 0.0_f64;
    let mut pending: Option<(Dir, Vec<u8>)> = None;
    let flush = |out: &mut String, p: Option<(Dir, Vec<u8>)>| {
        if let Some((dir, bytes)) = p {
            let tag = if dir == Dir::In { '>' } else { '<' };
            let text = escape(&bytes);
            let text = if version.is_empty() { text } else { text.replace(version, "{VERSION}") };
            out.push_str(&format!("{tag} {text}\n"));
        }
    };
    for (n, line) in trace.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut parts = line.splitn(3, ' ');
        let (Some(tag), Some(t), rest) = (parts.next(), parts.next(), parts.next()) else {
            bail!("line {}: not a trace line: {line:?}", n + 1);
        };
        let dir = match tag {
            ">" => Dir::In,
            "<" => Dir::Out,
            _ => bail!("line {}: unknown direction {tag:?}", n + 1),
        };
        let t: f64 = t.parse().with_context(|| format!("line {}: bad time {t:?}", n + 1))?;
        let bytes = unescape(rest.unwrap_or(""), "").map_err(|e| anyhow::anyhow!("line {}: {e}", n + 1))?;
        let gap_ms = ((t - last_t) * 1000.0).round() as u64;
        last_t = t;
        match &mut pending {
            Some((d, buf)) if *d == dir && !(dir == Dir::In && gap_ms > 20) => buf.extend_from_slice(&bytes),
            _ => {
                flush(&mut out, pending.take());
                if dir == Dir::In && gap_ms > 20 {
                    out.push_str(&format!("@ {gap_ms}\n"));
                }
                pending = Some((dir, bytes));
            }
        }
    }
    flush(&mut out, pending.take());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_becomes_a_transcript() {
        let trace = "< 0.000010 ready\\r\\n\n> 0.500000 AT\n> 0.500100 \\r\\n\n< 0.500200 AT\\r\\n\\r\\nOK\\r\\n\n> 0.510000 AT+GMR\\r\\n\n< 0.510100 v1.2.3\\r\\n\n";
        let t = to_transcript(trace, "1.2.3").unwrap();
        assert_eq!(
            t.lines().skip(1).collect::<Vec<_>>(),
            ["< ready\\r\\n", "@ 500", "> AT\\r\\n", "< AT\\r\\n\\r\\nOK\\r\\n", "> AT+GMR\\r\\n", "< v{VERSION}\\r\\n"]
        );
        assert!(to_transcript("? 1 x", "").is_err());
    }
}
