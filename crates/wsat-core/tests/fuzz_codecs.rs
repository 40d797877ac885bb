//! Replays the committed corpora of the codec fuzz targets (`ws_frame`,
//! `ws_handshake`) through the same harnesses libFuzzer runs, so every
//! input the fuzzer kept is a regression test of `cargo test`.

use std::path::PathBuf;

#[path = "../../../fuzz/harness/ws_frame.rs"]
mod ws_frame;
#[path = "../../../fuzz/harness/ws_handshake.rs"]
mod ws_handshake;

fn corpus(name: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(name);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    files.into_iter().map(|p| (p.display().to_string(), std::fs::read(&p).expect("readable"))).collect()
}

#[test]
fn ws_frame_corpus() {
    for (name, data) in corpus("ws_frame") {
        eprintln!("{name}");
        ws_frame::run(&data);
    }
}

#[test]
fn ws_handshake_corpus() {
    for (name, data) in corpus("ws_handshake") {
        eprintln!("{name}");
        ws_handshake::run(&data);
    }
}
