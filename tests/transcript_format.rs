//! The golden transcript format, shared by the core's fake-clock tests and
//! the real binary's PTY/TCP tests (each includes this file with `#[path]`).
//!
//! One step per line:
//!
//! - `> BYTES`   the host sends BYTES;
//! - `< BYTES`   the next bytes the module sends are exactly BYTES (the
//!   runner waits for them: a fake clock jumps to the next deadline, a real
//!   run waits up to a few seconds);
//! - `@ MS`      MS milliseconds pass;
//! - `! restart` power-cycle the module, keeping its persistent state;
//! - `# ...`     a comment; blank lines are ignored.
//!
//! BYTES are written with escapes: `\r`, `\n`, `\\`, `\xNN`, and `{VERSION}`
//! for the package version. Nothing else is special, so `AT+CWJAP="a","b"`
//! is written as is. A trailing space is kept; write `\x20` to make one
//! visible.

#![allow(dead_code)]

/// One step of a transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Send(Vec<u8>),
    Expect(Vec<u8>),
    Wait(u64),
    Restart,
}

/// Parses a transcript; panics with the line number on a malformed line.
pub fn parse(text: &str, version: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (tag, rest) = line.split_at(1);
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        let step = match tag {
            ">" => Step::Send(unescape(rest, version, n)),
            "<" => Step::Expect(unescape(rest, version, n)),
            "@" => Step::Wait(rest.trim().parse().unwrap_or_else(|_| panic!("line {n}: bad wait"))),
            "!" if rest.trim() == "restart" => Step::Restart,
            _ => panic!("line {n}: unknown step {line:?}"),
        };
        // Consecutive expectations are one expectation.
        match (steps.last_mut(), step) {
            (Some(Step::Expect(prev)), Step::Expect(more)) => prev.extend(more),
            (Some(Step::Send(prev)), Step::Send(more)) => prev.extend(more),
            (_, step) => steps.push(step),
        }
    }
    steps
}

fn unescape(s: &str, version: &str, n: usize) -> Vec<u8> {
    wsat_core::transcript::unescape(s, version).unwrap_or_else(|e| panic!("line {n}: {e}"))
}

/// Writes bytes in the transcript's escaped form (for failure messages).
pub fn escape(b: &[u8]) -> String {
    wsat_core::transcript::escape(b)
}

/// Every transcript file under `tests/transcripts`, as (name, text).
pub fn all() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/transcripts");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "at"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().expect("file name").to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).expect("readable transcript"))
        })
        .collect()
}
