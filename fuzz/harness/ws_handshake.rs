//! Fuzz harness for the opening handshake's response checks, shared by the
//! fuzz target `ws_handshake` and `crates/wsat-core/tests/fuzz_codecs.rs`.
//!
//! Input: byte 0 picks the chunk size (1-64) and whether a subprotocol was
//! asked for; the rest is the server's answer. Checked: no panic; an
//! accepted answer says how much of the last chunk was the response, no
//! more than that chunk; an accepted answer has the right
//! Sec-WebSocket-Accept; once refused, it stays refused.

#![allow(dead_code)]

use wsat_core::ws::handshake::{accept_for, ResponseReader};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

pub fn run(data: &[u8]) {
    let [ctl, answer @ ..] = data else { return };
    let step = usize::from(ctl & 63) + 1;
    let sub: Option<&[u8]> = if ctl & 64 != 0 { Some(b"chat, mqtt") } else { None };
    let mut r = ResponseReader::new(KEY, sub);
    for chunk in answer.chunks(step) {
        match r.feed(chunk) {
            Ok(None) => {}
            Ok(Some((_, n))) => {
                assert!(n <= chunk.len(), "response end {n} beyond the chunk of {}", chunk.len());
                let text = String::from_utf8_lossy(answer);
                assert!(text.contains(&accept_for(KEY)), "accepted without the right Sec-WebSocket-Accept");
                return;
            }
            Err(_) => return,
        }
    }
}
