//! The handshake response checks against arbitrary server answers (see
//! `fuzz/harness/ws_handshake.rs`).

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness/ws_handshake.rs"]
mod ws_handshake;

fuzz_target!(|data: &[u8]| ws_handshake::run(data));
