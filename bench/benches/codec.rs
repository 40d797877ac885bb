//! Codec kernels, against fastwebsockets and tungstenite on the same inputs
//! in the same run (`cargo bench -p wsat-bench --bench codec`):
//!
//! - masking: wsat's `mask::apply` vs `fastwebsockets::unmask` vs
//!   tungstenite's `apply_mask`, for payloads of 64 B, 1 KiB, 16 KiB;
//! - frame decode: wsat's streaming `Decoder` over a buffer of frames vs
//!   tungstenite (its `FrameHeader::parse` plus the payload, the frame-level
//!   work of its codec; and its whole `WebSocket::read` path);
//! - frame encode: a masked client frame, each library building it from a
//!   borrowed payload into a reusable buffer.

use std::io::Cursor;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use wsat_core::ws::frame::{encode_client_frame, Decoded, Decoder, OP_BINARY};
use wsat_core::ws::mask;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn masking(c: &mut Criterion) {
    let mut g = c.benchmark_group("mask");
    for size in [64usize, 1024, 16384] {
        let mut buf = vec![0x5au8; size];
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::new("wsat", size), &size, |b, _| b.iter(|| mask::apply(&mut buf, KEY, 0)));
        g.bench_with_input(BenchmarkId::new("fastwebsockets", size), &size, |b, _| {
            b.iter(|| fastwebsockets::unmask(&mut buf, KEY))
        });
    }
    g.finish();
}

fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    for (count, size) in [(1000usize, 64usize), (100, 1024), (16, 16384)] {
        let stream = wsat_bench::server_frames(count, size);
        g.throughput(Throughput::Bytes(stream.len() as u64));
        let id = format!("{count}x{size}B");
        g.bench_function(BenchmarkId::new("wsat", &id), |b| {
            b.iter_batched_ref(
                || stream.clone(),
                |buf| {
                    let mut d = Decoder::new(usize::MAX);
                    let mut at = 0;
                    let mut bytes = 0usize;
                    while at < buf.len() {
                        let (n, item) = d.decode(&mut buf[at..]);
                        if let Ok(Some(Decoded::Data { data, .. })) = item {
                            bytes += data.len();
                        }
                        at += n;
                    }
                    assert_eq!(bytes, count * size);
                },
                BatchSize::LargeInput,
            )
        });
        g.bench_function(BenchmarkId::new("tungstenite-frame", &id), |b| {
            b.iter(|| {
                let mut cur = Cursor::new(&stream[..]);
                let mut bytes = 0usize;
                while let Ok(Some((h, len))) = tungstenite::protocol::frame::FrameHeader::parse(&mut cur) {
                    let start = cur.position() as usize;
                    let payload = &stream[start..start + len as usize];
                    assert!(h.mask.is_none());
                    bytes += payload.len();
                    cur.set_position((start + len as usize) as u64);
                }
                assert_eq!(bytes, count * size);
            })
        });
        g.bench_function(BenchmarkId::new("tungstenite-read", &id), |b| {
            b.iter_batched(
                || {
                    tungstenite::WebSocket::from_raw_socket(
                        Cursor::new(stream.clone()),
                        tungstenite::protocol::Role::Client,
                        None,
                    )
                },
                |mut ws| {
                    let mut bytes = 0usize;
                    while let Ok(m) = ws.read() {
                        bytes += m.len();
                    }
                    assert_eq!(bytes, count * size);
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    for size in [64usize, 1024, 16384] {
        let payload = vec![0x42u8; size];
        let mut out = Vec::with_capacity(size + 14);
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::new("wsat", size), &size, |b, _| {
            b.iter(|| {
                out.clear();
                encode_client_frame(&mut out, OP_BINARY, true, KEY, &payload);
            })
        });
        // Each library's own way to build a masked client frame from a
        // borrowed payload into a reusable buffer.
        let mut scratch = payload.clone();
        let mut fw_out = Vec::with_capacity(size + 14);
        g.bench_with_input(BenchmarkId::new("fastwebsockets", size), &size, |b, _| {
            b.iter(|| {
                scratch.copy_from_slice(&payload);
                let mut f = fastwebsockets::Frame::new(
                    true,
                    fastwebsockets::OpCode::Binary,
                    Some(KEY),
                    fastwebsockets::Payload::BorrowedMut(&mut scratch),
                );
                f.mask();
                f.write(&mut fw_out).len()
            })
        });
        g.bench_with_input(BenchmarkId::new("tungstenite", size), &size, |b, _| {
            b.iter(|| {
                out.clear();
                let mut f = tungstenite::protocol::frame::Frame::message(
                    payload.clone(),
                    tungstenite::protocol::frame::coding::OpCode::Data(tungstenite::protocol::frame::coding::Data::Binary),
                    true,
                );
                f.header_mut().mask = Some(KEY);
                f.format(&mut out).unwrap();
            })
        });
    }
    g.finish();
}

criterion_group!(benches, masking, decode, encode);
criterion_main!(benches);
