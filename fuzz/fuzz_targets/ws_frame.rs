//! The frame decoder against arbitrary server bytes (see
//! `fuzz/harness/ws_frame.rs` for the input format and invariants).

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness/ws_frame.rs"]
mod ws_frame;

fuzz_target!(|data: &[u8]| ws_frame::run(data));
