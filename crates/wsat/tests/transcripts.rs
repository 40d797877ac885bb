//! Every golden transcript in `tests/transcripts/`, run against the real
//! binary: over TCP and over a pseudo-terminal, in real time.

mod common;

use common::replay::{run, Transport};
use common::transcript_format;

fn run_all(t: Transport) {
    for (name, text) in transcript_format::all() {
        run(t, &name, &text);
    }
}

#[test]
fn transcripts_over_tcp() {
    run_all(Transport::Tcp);
}

#[test]
fn transcripts_over_pty() {
    run_all(Transport::Pty);
}
