//! AT engine throughput: command lines parsed and dispatched per second,
//! and data-mode bytes per second, with output drained as a runtime would.
//!
//! `cargo bench -p wsat-core --bench at_engine`

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use wsat_core::mfg::MfgNvs;
use wsat_core::wifi::radio::Radio;
use wsat_core::{Config, Instant, Module, VersionInfo};

fn module() -> Module {
    let config = Config {
        version: VersionInfo { version: "bench".into(), build: "bench".into() },
        settings: None,
        mfg: MfgNvs::new(),
        radio: Radio::Permissive,
        seed: 7,
        clock_source: Default::default(),
        flash: None,
        regex: None,
    };
    let mut m = Module::new(config, Instant::ZERO);
    drain(&mut m);
    m
}

fn drain(m: &mut Module) -> usize {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    loop {
        let n = m.poll_serial(&mut buf);
        if n == 0 {
            break;
        }
        total += n;
    }
    while m.poll_action().is_some() {}
    total
}

fn lines(c: &mut Criterion) {
    let mut g = c.benchmark_group("at_lines");
    for (name, line) in [
        ("AT", &b"AT\r\n"[..]),
        ("query AT+CWMODE?", b"AT+CWMODE?\r\n"),
        ("set AT+SYSMSG=0", b"AT+SYSMSG=0\r\n"),
        ("set AT+CWLAP=\"espressif\",,,0,0,0", b"AT+CWLAP=\"espressif\",,,0,0,0\r\n"),
        ("unknown AT+FAKE", b"AT+FAKE\r\n"),
    ] {
        // 1000 lines per iteration, each fed separately as a host would send them.
        g.throughput(Throughput::Elements(1000));
        g.bench_function(name, |b| {
            let mut m = module();
            m.handle_serial(b"ATE0\r\n", Instant::ZERO);
            drain(&mut m);
            b.iter(|| {
                for _ in 0..1000 {
                    m.handle_serial(line, Instant::ZERO);
                    drain(&mut m);
                }
            });
        });
    }
    g.finish();
}

fn data_mode(c: &mut Criterion) {
    let mut g = c.benchmark_group("data_mode");
    let payload = vec![0xa5u8; 8192];
    g.throughput(Throughput::Bytes(payload.len() as u64));
    for chunk in [64usize, 1024, 8192] {
        g.bench_function(format!("SYSMFG 8 KiB write in {chunk} B chunks"), |b| {
            b.iter_batched(
                || {
                    let mut m = module();
                    m.handle_serial(b"ATE0\r\n", Instant::ZERO);
                    drain(&mut m);
                    m
                },
                |mut m| {
                    m.handle_serial(b"AT+SYSMFG=2,\"bench\",\"blob\",8,8192\r\n", Instant::ZERO);
                    drain(&mut m);
                    for part in payload.chunks(chunk) {
                        m.handle_serial(part, Instant::ZERO);
                    }
                    drain(&mut m)
                },
                BatchSize::SmallInput,
            );
        });
    }
    g.finish();
}

criterion_group!(benches, lines, data_mode);
criterion_main!(benches);
