//! Fuzz harness for the WebSocket frame decoder, shared by the fuzz target
//! `ws_frame` and the corpus replay in `crates/wsat-core/tests/fuzz_codecs.rs`.
//!
//! Input: byte 0 sets the decoder's piece size (1-256), byte 1 the size of
//! the chunks the stream arrives in (1-64); the rest is what a server sends.
//! Checked: no panic; every call consumes no more than it was given; data
//! pieces are no larger than the piece size and never run past their
//! frame; after an error the decoder keeps consuming (it skips the bad
//! frame) and never loops without progress.

#![allow(dead_code)]

use wsat_core::ws::frame::{Decoded, Decoder};

pub fn run(data: &[u8]) {
    let [piece, step, stream @ ..] = data else { return };
    let max_piece = usize::from(*piece) + 1;
    let step = usize::from(*step % 64) + 1;
    let mut d = Decoder::new(max_piece);
    for chunk in stream.chunks(step) {
        let mut buf = chunk.to_vec();
        let mut at = 0;
        let mut idle_rounds = 0;
        while at < buf.len() {
            let len = buf.len() - at;
            let (n, item) = d.decode(&mut buf[at..]);
            assert!(n <= len, "consumed {n} of {len}");
            if let Ok(Some(Decoded::Data { payload_len, offset, data, .. })) = &item {
                assert!(data.len() <= max_piece, "piece of {} > {max_piece}", data.len());
                assert!(offset + data.len() as u64 <= *payload_len, "piece past its frame");
            }
            at += n;
            if n == 0 && !matches!(item, Ok(Some(_))) {
                idle_rounds += 1;
                assert!(idle_rounds < 3, "no progress");
            } else {
                idle_rounds = 0;
            }
        }
    }
}
