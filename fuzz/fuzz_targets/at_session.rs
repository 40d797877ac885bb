//! Drives one wsat-core `Module` through a sequence of serial bursts, clock
//! advances, host detaches, AP losses and power cycles, checking that it
//! never panics, never livelocks its timer and always answers a fresh `AT`
//! in the end. The input format and the invariants are documented in
//! `fuzz/harness/at_session.rs`, which the corpus replay test
//! (`crates/wsat-core/tests/fuzz_corpus.rs`) shares.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness/at_session.rs"]
mod at_session;

fuzz_target!(|data: &[u8]| {
    at_session::run(data);
});
