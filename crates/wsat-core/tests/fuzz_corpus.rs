//! Replays the `at_session` fuzz corpus (`fuzz/corpus/at_session/`) through
//! the fuzz harness itself, without libFuzzer, so every input the fuzzer
//! kept stays a regression test of `cargo test`.
//!
//! The seed inputs are defined here, as operations, and must match the
//! files `seed-*` in the corpus. After changing a seed (or the harness's
//! input format), rewrite them with
//! `WSAT_FUZZ_WRITE_SEEDS=1 cargo test -p wsat-core --test fuzz_corpus`.

#[path = "../../../fuzz/harness/at_session.rs"]
mod at_session;

use std::path::PathBuf;

use at_session::{decode, encode, Op};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/at_session")
}

fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(corpus_dir())
        .expect("fuzz/corpus/at_session exists")
        .map(|e| e.expect("readable corpus entry").path())
        .filter(|p| p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).expect("readable corpus file")))
        .collect();
    files.sort();
    files
}

#[test]
fn replay_corpus() {
    let files = corpus();
    assert!(files.len() >= seeds().len(), "the corpus lost files: {} for {} seeds", files.len(), seeds().len());
    let mut failed = Vec::new();
    for (name, data) in &files {
        if std::panic::catch_unwind(|| at_session::run(data)).is_err() {
            failed.push(name.clone());
        }
    }
    assert!(failed.is_empty(), "{} of {} corpus inputs failed (see the panics above): {failed:?}", failed.len(), files.len());
}


#[test]
fn seeds_match_corpus() {
    let dir = corpus_dir();
    let write = std::env::var_os("WSAT_FUZZ_WRITE_SEEDS").is_some_and(|v| v == "1");
    for (name, ops) in seeds() {
        let path = dir.join(format!("seed-{name}"));
        let want = encode(&ops);
        assert!(want.len() < 2048, "seed {name} is {} bytes", want.len());
        if write {
            std::fs::write(&path, &want).unwrap();
        }
        let got = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (WSAT_FUZZ_WRITE_SEEDS=1 writes it)", path.display()));
        assert_eq!(got, want, "{} is stale (WSAT_FUZZ_WRITE_SEEDS=1 rewrites it)", path.display());
    }
}

#[test]
fn format_round_trips() {
    let ops = vec![
        Op::Serial(b"AT\r\n".to_vec()),
        Op::SerialBytewise(b"AT+GMR\r\n".to_vec()),
        Op::Advance(1234),
        Op::Advance(3_600_000),
        Op::Step,
        Op::Detach,
        Op::ApLost(5000),
        Op::SpuriousTimeout,
        Op::PowerCycle,
        Op::Serial(Vec::new()),
        Op::LinkEvent(1, 3, 2),
        Op::Handshake(2, 1),
        Op::LinkData(3, b"xyz".to_vec()),
        Op::LinkEvent(4, 0, 1),
        Op::Control(6, 0),
        Op::Control(4, 40_000),
        Op::LinkEvent(11, 3, 0),
        Op::LinkData(8, b"ip".to_vec()),
        Op::Frame(0x0c, 0x81, b"hi".to_vec()),
        Op::AckAll,
        Op::ServeAll,
    ];
    assert_eq!(decode(&encode(&ops)), ops);
    // Every byte string is an input: truncated operations read zeros.
    assert_eq!(decode(&[4]), vec![Op::Advance(0)]);
    assert_eq!(decode(&[16, 5, b'A']), vec![Op::Serial(b"A".to_vec())]);
    assert_eq!(decode(&[7, 1]), vec![Op::ApLost(10)]);
    assert_eq!(decode(&[23, 1]), vec![Op::Control(1, 1)]);
    assert_eq!(decode(&[13, 1, 0x82]), vec![Op::Frame(1, 0x82, Vec::new())]);
}

fn tx(line: &str) -> Op {
    Op::Serial(line.as_bytes().to_vec())
}

fn txb(bytes: &[u8]) -> Op {
    Op::Serial(bytes.to_vec())
}

fn wait(ms: u64) -> Op {
    Op::Advance(ms)
}

const JOIN: &str = "AT+CWJAP=\"espressif\",\"1234567890\"\r\n";

fn frame(link: u8, first: u8, payload: &[u8]) -> Op {
    Op::Frame(link, first, payload.to_vec())
}

/// Joins the AP and opens link 0 to a server that accepts: the start of
/// every WebSocket seed.
fn ws_up() -> Vec<Op> {
    vec![tx("ATE0\r\n"), tx(JOIN), wait(200), tx("AT+WSOPEN=0,\"ws://127.0.0.1:8765/echo\"\r\n"), Op::ServeAll]
}

fn with(mut a: Vec<Op>, b: Vec<Op>) -> Vec<Op> {
    a.extend(b);
    a
}

/// The seed inputs: real sessions with every command of the table, in all
/// its forms, plus noise, long lines, data mode and faults.
fn seeds() -> Vec<(&'static str, Vec<Op>)> {
    let long_line = format!("AT+CWJAP=\"{}\"\r\n", "x".repeat(300));
    let longest_line = format!("AT+CWLAP=\"{}\"\r\n", "y".repeat(254 - 13));
    vec![
        ("at", vec![tx("AT\r\n")]),
        ("echo", vec![tx("ATE0\r\n"), tx("AT\r\n"), tx("ATE1\r\n"), tx("AT\r\n"), tx("ATE0\r\n")]),
        ("gmr", vec![tx("AT+GMR\r\n"), tx("AT+GMR?\r\n"), tx("AT+GMR=?\r\n")]),
        ("cmd", vec![tx("AT+CMD?\r\n"), tx("AT+CMD\r\n"), tx("AT+CMD=?\r\n"), tx("AT+CMD=1\r\n")]),
        ("rst", vec![tx("ATE0\r\n"), tx("AT+RST\r\n"), tx("AT\r\n"), wait(400), tx("AT+SYSLOG?\r\n"), tx("AT+RST=1\r\n")]),
        ("rst-unsettled", vec![tx("AT+RST\r\nAT+GMR\r\n")]),
        ("restore", vec![tx("AT+CWMODE=3\r\n"), tx("AT+CWAUTOCONN=0\r\n"), tx("AT+RESTORE\r\n"), wait(500), tx("AT+CWMODE?\r\n"), tx("AT+CWAUTOCONN?\r\n")]),
        (
            "sysstore",
            vec![
                tx("AT+SYSSTORE?\r\n"),
                tx("AT+SYSSTORE=0\r\n"),
                tx("AT+CWMODE=2\r\n"),
                tx("AT+SYSMSG=3\r\n"),
                Op::PowerCycle,
                tx("AT+CWMODE?\r\n"),
                tx("AT+SYSSTORE=2\r\n"),
                tx("AT+SYSSTORE=?\r\n"),
            ],
        ),
        (
            "syslog",
            vec![
                tx("AT+SYSLOG=1\r\n"),
                tx("AT+FAKE\r\n"),
                tx("AT+SYSLOG?\r\n"),
                tx("AT+SYSLOG=1,1\r\n"),
                tx("AT+SYSLOG=1x\r\n"),
                tx("AT+SYSLOG=\"1\"\r\n"),
                tx("AT+SYSLOG=?\r\n"),
                tx("HELLO\r\n"),
                tx("AT+SYSLOG=0\r\n"),
            ],
        ),
        ("sysmsg", vec![tx("AT+SYSMSG?\r\n"), tx("AT+SYSMSG=5\r\n"), tx("AT+SYSMSG?\r\n"), tx("AT+SYSMSG=8\r\n")]),
        (
            "systimestamp",
            vec![
                tx("AT+SYSTIMESTAMP?\r\n"),
                tx("AT+SYSTIMESTAMP=1700000000\r\n"),
                wait(2500),
                tx("AT+SYSTIMESTAMP?\r\n"),
                tx("AT+SYSTIMESTAMP=-1\r\n"),
                tx("AT+SYSTIMESTAMP=4294967295\r\n"),
                wait(3_600_000),
                tx("AT+SYSTIMESTAMP?\r\n"),
            ],
        ),
        (
            "uart",
            vec![
                tx("AT+UART_CUR?\r\n"),
                tx("AT+UART_CUR=921600,8,1,0,0\r\n"),
                tx("AT+UART_DEF=115200,5,3,2,3\r\n"),
                tx("AT+UART_DEF?\r\n"),
                tx("AT+UART_CUR=79,8,1,0,0\r\n"),
                tx("AT+UART_DEF=115200,8,1,0\r\n"),
                Op::PowerCycle,
                tx("AT+UART_CUR?\r\n"),
            ],
        ),
        (
            "sysmfg-str",
            vec![
                tx("AT+SYSMFG?\r\n"),
                tx("AT+SYSMFG=2,\"factory_param\",\"module_name\",7,12\r\n"),
                tx("MY-MOD\r\n,,01"),
                tx("AT+SYSMFG=1,\"factory_param\",\"module_name\"\r\n"),
                tx("AT+SYSMFG=1,\"factory_param\",\"module_name\",3,4\r\n"),
                tx("AT+SYSMFG=1,\"factory_param\",\"module_name\",3,40\r\n"),
                tx("AT+SYSMFG=1,\"factory_param\",\"module_name\",3\r\n"),
            ],
        ),
        (
            "sysmfg-bin",
            vec![
                tx("AT+SYSMFG=2,\"wss_ca\",\"wss_ca.0\",8,3\r\n"),
                txb(b"\x00\xff\x80"),
                tx("AT+SYSMFG?\r\n"),
                tx("AT+SYSMFG=1\r\n"),
                tx("AT+SYSMFG=1,\"wss_ca\"\r\n"),
                tx("AT+SYSMFG=1,\"wss_ca\",\"wss_ca.0\"\r\n"),
                tx("AT+SYSMFG=0,\"wss_ca\",\"wss_ca.0\"\r\n"),
                tx("AT+SYSMFG=0,\"wss_ca\"\r\n"),
                tx("AT+SYSMFG=0,\"wss_ca\",\"wss_ca.0\"\r\n"),
                Op::PowerCycle,
                tx("AT+SYSMFG?\r\n"),
            ],
        ),
        (
            "sysmfg-int",
            vec![
                tx("AT+SYSMFG=2,\"x\",\"u8\",1,255\r\n"),
                tx("AT+SYSMFG=2,\"x\",\"u8\",1,256\r\n"),
                tx("AT+SYSMFG=2,\"x\",\"i8\",2,-128\r\n"),
                tx("AT+SYSMFG=2,\"x\",\"u16\",3,65535\r\n"),
                tx("AT+SYSMFG=2,\"x\",\"i16\",4,-32768\r\n"),
                tx("AT+SYSMFG=2,\"x\",\"u32\",5,4294967295\r\n"),
                tx("AT+SYSMFG=2,\"x\",\"i32\",6,-2147483648\r\n"),
                tx("AT+SYSMFG=2,\"x\",\"y\",9,1\r\n"),
                tx("AT+SYSMFG=1,\"x\"\r\n"),
                tx("AT+SYSMFG=1,\"x\",\"i32\"\r\n"),
                tx("AT+SYSMFG=1,\"x\",\"i32\",0,1\r\n"),
                tx("AT+SYSMFG=2,\"a-namespace-too-long\",\"y\",1,1\r\n"),
                tx("AT+SYSMFG=3\r\n"),
                tx("AT+SYSMFG=0\r\n"),
            ],
        ),
        (
            "sysmfg-detach",
            vec![tx("AT+SYSMFG=2,\"ns\",\"key\",7,100\r\n"), tx("0123456789"), Op::Detach, tx("AT\r\n")],
        ),
        (
            "sysmfg-bytewise",
            vec![
                tx("AT+SYSMFG=2,\"ns\",\"blob\",8,5\r\n"),
                Op::SerialBytewise(b"\r\n\x00AT\r\n".to_vec()),
                tx("AT+SYSMFG=1,\"ns\",\"blob\",0,5\r\n"),
            ],
        ),
        (
            "sysmfg-sysstore",
            vec![tx("AT+SYSMFG=2,\"factory_param\",\"sys_store\",1,0\r\n"), Op::PowerCycle, tx("AT+SYSSTORE?\r\n"), tx("AT+CWMODE=3\r\n"), Op::PowerCycle, tx("AT+CWMODE?\r\n")],
        ),
        (
            "sysmfg-max-blob",
            vec![tx("AT+SYSMFG=2,\"ns\",\"big\",8,8192\r\n"), wait(1000), Op::Detach, tx("AT+SYSMFG=2,\"ns\",\"big\",8,8193\r\n"), tx("AT+SYSMFG=2,\"ns\",\"big\",7,0\r\n")],
        ),
        (
            "cwmode",
            vec![
                tx("AT+CWMODE?\r\n"),
                tx("AT+CWMODE=?\r\n"),
                tx("AT+CWMODE=4\r\n"),
                tx("AT+CWMODE=2\r\n"),
                tx("AT+CWJAP=\"a\",\"\"\r\n"),
                tx("AT+CWLAP\r\n"),
                tx("AT+CWQAP\r\n"),
                tx("AT+CWSTATE?\r\n"),
                tx("AT+CWMODE=1,0\r\n"),
                tx("AT+CWMODE=0\r\n"),
                tx("AT+CWMODE=3\r\n"),
            ],
        ),
        ("cwjap", vec![tx(JOIN), wait(200), tx("AT+CWJAP?\r\n"), tx("AT+CWSTATE?\r\n"), tx("AT+CIPSTA?\r\n"), tx("AT+CWJAP\r\n")]),
        ("cwjap-busy", vec![tx(JOIN), tx("AT\r\n"), tx("AT+SYSLOG=1\r\n"), Op::Step, tx("AT+GMR\r\n"), Op::Step]),
        ("cwjap-rst", vec![tx(JOIN), tx("AT+RST\r\n"), wait(400), Op::Step, Op::Step]),
        ("cwjap-burst", vec![tx("AT+CWJAP=\"espressif\",\"1234567890\"\r\nAT+GMR\r\n"), wait(200)]),
        (
            "cwjap-errors",
            vec![
                tx("AT+CWJAP\r\n"),
                tx("AT+CWJAP=\"espressif\",\"short\"\r\n"),
                wait(400),
                tx("AT+CWJAP=\"espressif\",\"1234567890\",\"zz:00:00:00:00:00\"\r\n"),
                tx(&format!("AT+CWJAP=\"espressif\",\"{}\"\r\n", "p".repeat(65))),
                tx("AT+CWJAP=,\"12345678\"\r\n"),
                tx("AT+CWJAP?\r\n"),
            ],
        ),
        (
            "cwjap-options",
            vec![
                tx("AT+CWJAP=\"net\",\"12345678\",\"ca:d7:19:d8:a6:44\",1,5,10,1,20,3\r\n"),
                Op::Step,
                Op::Step,
                tx("AT+CWJAP?\r\n"),
                tx("AT+CWJAP=,,,,0\r\n"),
                wait(200),
                tx("AT+CWQAP\r\n"),
                tx("AT+CWJAP\r\n"),
                wait(200),
            ],
        ),
        (
            "aplost-reconnect",
            vec![tx(JOIN), wait(200), Op::ApLost(3000), wait(1000), wait(1000), tx("AT+CWSTATE?\r\n"), wait(5000), tx("AT+CWJAP?\r\n")],
        ),
        ("aplost-during-join", vec![tx(JOIN), Op::ApLost(500), tx("AT+CWSTATE?\r\n"), tx("AT+CWJAP\r\n"), wait(1000)]),
        (
            "aplost-long",
            vec![tx("AT+CWJAP=\"espressif\",\"1234567890\",,,7200\r\n"), wait(200), Op::ApLost(655_350), wait(7_300_000), Op::Step],
        ),
        (
            "autoconn",
            vec![
                tx("AT+CWAUTOCONN?\r\n"),
                tx("AT+CWAUTOCONN=0\r\n"),
                tx("AT+CWAUTOCONN=2\r\n"),
                tx(JOIN),
                wait(200),
                Op::PowerCycle,
                wait(200),
                tx("AT+CWAUTOCONN=1\r\n"),
                Op::PowerCycle,
                tx("AT+CWSTATE?\r\n"),
                wait(200),
            ],
        ),
        (
            "cwlap",
            vec![
                tx("AT+CWLAP\r\n"),
                tx("AT+CWLAP=\"wsat-open\"\r\n"),
                tx("AT+CWLAP=,\"02:57:b5:04:a5:49\"\r\n"),
                tx("AT+CWLAP=,,8\r\n"),
                tx("AT+CWLAP=\"\",\"zz\"\r\n"),
                tx("AT+CWLAP=\"espressif\",,,0,100,1500\r\n"),
                tx("AT+CWLAP=?\r\n"),
            ],
        ),
        (
            "noise",
            vec![txb(b"\x00\x01\xff\xfe\x1b[A\x13\x11garbageAT\r\n"), tx("AT\nAT\r\n"), tx("AT\rxAT\r\n"), tx("at+syslog?\r\n"), txb(b"\r\r\n\n\x00aT\r\n")],
        ),
        ("long-line", vec![tx(&long_line), tx("AT\r\n"), tx(&longest_line), Op::Serial(vec![b'A'; 600]), tx("\r\nAT\r\n")]),
        ("backspace", vec![tx("ATX\x08\r\n"), tx("\x7f\r\n"), tx("AT+GMRR\x7f\r\n"), tx("\x08\x08AT\r\n")]),
        (
            "urc-hold",
            vec![tx("AT+CWJAP=\"espressif\",\"1234567890\"\r\n"), wait(200), tx("AT+CWMODE=2\r\n"), tx("AT+CWMODE=1\r\n"), tx("AT+GM"), wait(3000), tx("R\r\n")],
        ),
        (
            "params",
            vec![
                tx("AT+CWJAP=\"a\\\"b\\,c\\\\d\",\"\"\r\n"),
                wait(200),
                tx("AT+CWSTATE?\r\n"),
                tx("AT+SYSLOG=0x1\r\n"),
                tx("AT+SYSLOG=+0\r\n"),
                tx("AT+SYSLOG=99999999999999999999\r\n"),
                tx("AT+SYSLOG=-\r\n"),
                tx("AT+SYSLOG=1, 2\r\n"),
                tx("AT+CWJAP=\"abc\r\n"),
            ],
        ),
        ("bytewise", vec![Op::SerialBytewise(b"AT+GMR\r\nATE0\r\nAT+CMD?\r\n".to_vec())]),
        ("power-cycle-in-data", vec![tx("AT+SYSMFG=2,\"ns\",\"k\",7,50\r\n"), tx("abc"), Op::PowerCycle, tx("AT\r\n")]),
        ("rst-in-data", vec![tx("AT+SYSMFG=2,\"ns\",\"k\",7,8\r\nAT+RST\r\nAT+CWJAP\r\n"), tx(JOIN), tx("AT+RST\r\n")]),
        (
            "bad-forms",
            vec![
                tx("AT+CWSTATE=1\r\n"),
                tx("AT+CIPSTA=\"1.2.3.4\"\r\n"),
                tx("ATE2\r\n"),
                tx("A\r\n"),
                tx("AT+\r\n"),
                tx("AT=\r\n"),
                tx("AT?\r\n"),
                tx("AT+CWMODE?=\r\n"),
                tx("AT+cwmode?\r\n"),
            ],
        ),
        ("ws-open", with(ws_up(), vec![tx("AT+WSOPEN?\r\n"), frame(0, 0x81, b"hello"), frame(0, 0x82, &[0, 1, 2, 255])])),
        (
            "ws-cfg-head",
            vec![
                tx("AT+WSCFG=0,1,1\r\n"),
                tx("AT+WSCFG=1,30,60,4096\r\n"),
                tx("AT+WSCFG=2,10,120,1024,0\r\n"),
                tx("AT+WSCFG=0,10,120,1024,3,0,0\r\n"),
                tx("AT+WSCFG=0,10,120,,1\r\n"),
                tx("AT+WSCFG=3,10,120\r\n"),
                tx("AT+WSHEAD=12\r\n"),
                tx("X-Token: abc"),
                tx("AT+WSHEAD=4\r\n"),
                tx("nope"),
                tx("AT+WSHEAD?\r\n"),
                tx("AT+WSHEAD=0\r\n"),
                tx("AT+WSHEAD=1025\r\n"),
            ],
        ),
        (
            "ws-send",
            with(
                ws_up(),
                vec![
                    tx("AT+WSCFG=0,10,120,4\r\n"),
                    tx("AT+WSSEND=0,10\r\n"),
                    tx("0123456789"),
                    Op::AckAll,
                    tx("AT+WSSEND=0,0,9\r\n"),
                    Op::LinkEvent(0, 3, 0),
                    tx("AT+WSSEND=0,3,2,500,0\r\n"),
                    txb(b"\x00\x01\x02"),
                    wait(600),
                    tx("AT+WSSEND=0,126,9\r\n"),
                    Op::Serial(vec![b'p'; 126]),
                    tx("AT+WSSEND=1,1\r\n"),
                    tx("AT+WSSEND=0,1,1,0,0,1\r\n"),
                ],
            ),
        ),
        (
            "ws-datafmt",
            with(
                ws_up(),
                vec![
                    tx("AT+WSDATAFMT=0,1,63\r\n"),
                    frame(0, 0x81, b"frame level"),
                    frame(0x14, 0x82, b"split in two"),
                    tx("AT+WSDATAFMT=0,2,1\r\n"),
                    frame(0, 0x01, b"frag"),
                    frame(0, 0x80, b"mented"),
                    tx("AT+WSDATAFMT=0,0\r\n"),
                    frame(0, 0x82, &[7; 200]),
                    tx("AT+WSDATAFMT=0,3\r\n"),
                ],
            ),
        ),
        (
            "ws-control",
            with(
                ws_up(),
                vec![
                    frame(0, 0x89, b"ping?"),
                    frame(0, 0x8a, b""),
                    tx("AT+WSCFG=0,1,2\r\n"),
                    wait(1500),
                    Op::AckAll,
                    frame(0, 0x8a, b"pong"),
                    wait(5000),
                ],
            ),
        ),
        ("ws-close-server", with(ws_up(), vec![frame(0, 0x88, &[0x03, 0xe8, b'b', b'y', b'e']), tx("AT+WSOPEN?\r\n"), Op::LinkEvent(0, 2, 0)])),
        ("ws-close-command", with(ws_up(), vec![tx("AT+WSCLOSE=0\r\n"), Op::AckAll, frame(0, 0x88, &[0x03, 0xe8]), tx("AT+WSCLOSE=0\r\n")])),
        ("ws-close-timeout", with(ws_up(), vec![tx("AT+WSCLOSE=0\r\n"), tx("AT\r\n"), wait(3000), tx("AT+WSOPEN?\r\n")])),
        (
            "ws-protocol-error",
            with(ws_up(), vec![txb(b"AT+WSDATAFMT=0,1\r\n"), frame(0, 0xc1, b"rsv"), frame(0, 0x88, &[0x03, 0xea]), tx("AT+WSOPEN?\r\n")]),
        ),
        (
            "ws-masked-from-server",
            with(ws_up(), vec![Op::LinkData(0, vec![0x81, 0x85, 1, 2, 3, 4, b'h' ^ 1, b'e' ^ 2, b'l' ^ 3, b'l' ^ 4, b'o' ^ 1]), wait(1500)]),
        ),
        (
            "ws-half-frame",
            with(
                ws_up(),
                vec![tx("AT+WSDATAFMT=0,1\r\n"), Op::LinkData(0, vec![0x82, 0x7e, 0x01, 0x00, b'a', b'b']), tx("AT\r\n"), wait(15_000), tx("AT\r\n")],
            ),
        ),
        (
            "ws-lost",
            with(
                ws_up(),
                vec![Op::LinkEvent(0, 2, 0), tx("AT+WSOPEN?\r\n"), wait(10_000), Op::LinkEvent(0, 1, 0), wait(10_000), Op::ServeAll, Op::ApLost(1000), wait(12_000)],
            ),
        ),
        (
            "ws-open-fails",
            vec![
                tx("AT+WSOPEN=0,\"ws://x\"\r\n"),
                tx(JOIN),
                wait(200),
                tx("AT+WSOPEN=0,\"http://x/\"\r\n"),
                tx("AT+WSOPEN=0,\"ws://[::1]:99999/\"\r\n"),
                tx("AT+WSOPEN=0,\"ws://x\",,0\r\n"),
                tx("AT+WSOPEN=1,\"wss://example.com\",\"chat, mqtt\",500,\"Basic Zm9v\"\r\n"),
                wait(600),
                tx("AT+WSOPEN=1,\"ws://example.com\",\"chat\"\r\n"),
                Op::LinkEvent(1, 0, 0),
                Op::Handshake(1, 1),
                tx("AT+WSOPEN=2,\"ws://example.com\"\r\n"),
                Op::LinkEvent(2, 0, 0),
                Op::Handshake(2, 3),
                tx("AT+WSOPEN=2,\"ws://example.com\"\r\n"),
                Op::LinkEvent(2, 1, 0),
                tx("AT+WSOPEN=2,\"ws://example.com\"\r\n"),
                Op::LinkEvent(2, 0, 0),
                Op::Handshake(2, 2),
                Op::LinkEvent(3, 0, 0),
                Op::LinkData(3, b"HTTP/1.1 101\r\n\r\n".to_vec()),
            ],
        ),
        ("ws-rst", with(ws_up(), vec![tx("AT+WSOPEN=1,\"ws://a/\"\r\n"), tx("AT+RST\r\n"), wait(400), Op::ServeAll, frame(0, 0x81, b"late")])),
        (
            "sntp",
            vec![
                tx("AT+CIPSNTPCFG?\r\n"),
                tx("AT+CIPSNTPCFG=1,8,\"pool.ntp.org\"\r\n"),
                tx("AT+CIPSNTPTIME?\r\n"),
                tx(JOIN),
                wait(5000),
                tx("AT+CIPSNTPTIME?\r\n"),
                tx("AT+CIPSNTPINTV?\r\n"),
                tx("AT+CIPSNTPINTV=15\r\n"),
                wait(20_000),
                tx("AT+CIPSNTPCFG=0\r\n"),
                tx("AT+CIPSNTPCFG=1,-12,\"a\",\"b\",\"c\",\"d\"\r\n"),
            ],
        ),
        (
            "ws-trickle",
            with(
                ws_up(),
                vec![
                    tx("AT+WSDATAFMT=0,1\r\n"),
                    Op::LinkData(0, vec![0x82, 0x7f, 0, 0, 0, 0, 0, 0x10, 0, 0, b'a']),
                    tx("AT\r\n"),
                    wait(800),
                    Op::LinkData(0, vec![b'b']),
                    wait(800),
                    Op::LinkData(0, vec![b'c']),
                    wait(800),
                    Op::LinkData(0, vec![b'd']),
                    txb(&[b'x'; 250]),
                    wait(2500),
                    tx("AT+WSCLOSE=0\r\n"),
                ],
            ),
        ),
        (
            "ws-stalled-socket",
            with(
                ws_up(),
                vec![
                    tx("AT+WSSEND=0,3,2,100\r\n"),
                    tx("abc"),
                    wait(200),
                    tx("AT+WSSEND=0,3,2,0\r\n"),
                    tx("def"),
                    tx("AT+WSSEND=0,3\r\n"),
                    tx("ghi"),
                    wait(20_000),
                    Op::AckAll,
                    tx("AT+WSSEND=0,1\r\n"),
                    tx("j"),
                    Op::AckAll,
                ],
            ),
        ),
        (
            "server",
            vec![
                tx(JOIN),
                wait(200),
                tx("AT+CIPSERVER=1\r\nAT+CIPMUX=1\r\nAT+CIPSERVERMAXCONN=2\r\n"),
                tx("AT+CIPSERVER=1,80\r\n"),
                Op::ServeAll,
                Op::LinkData(4, b"hello".to_vec()),
                tx("AT+CIPSTO=1\r\nAT+CIPSERVER?\r\nAT+CIPSTATE?\r\n"),
                wait(1500),
                tx("AT+CIPSERVER=0,1\r\nAT+CIPSERVER=1,443,\"SSL\",1\r\n"),
                wait(3000),
            ],
        ),
        (
            "passthrough",
            vec![
                tx(JOIN),
                wait(200),
                tx("AT+TRANSINTVL=5\r\nAT+CIPSTART=\"TCP\",\"127.0.0.1\",7000\r\n"),
                Op::ServeAll,
                tx("AT+CIPMODE=1\r\nAT+CIPSEND\r\n"),
                tx("data for the link"),
                wait(30),
                Op::AckAll,
                Op::LinkData(4, b"from the peer".to_vec()),
                txb(&[b'z'; 250]),
                wait(1),
                Op::LinkEvent(4, 2, 0),
                tx("more while reconnecting"),
                wait(200),
                Op::ServeAll,
                wait(50),
                tx("+++"),
                wait(30),
                tx("x"),
                wait(100),
                tx("+++"),
                wait(100),
                tx("AT+SYSMSG=5\r\nAT+CIPSEND\r\n"),
                wait(100),
                tx("+++"),
                wait(100),
                tx("AT+SAVETRANSLINK=1,\"127.0.0.1\",7000,\"TCP\"\r\nAT+RST\r\n"),
                wait(1500),
                Op::ServeAll,
                tx("after boot"),
                wait(100),
            ],
        ),
        (
            "tcp-single",
            vec![
                tx(JOIN),
                wait(200),
                tx("AT+CIPSTART=\"TCP\",\"127.0.0.1\",7000\r\n"),
                Op::LinkEvent(4, 0, 0),
                tx("AT+CIPSTATUS\r\nAT+CIPSTATE?\r\n"),
                tx("AT+CIPSEND=4\r\n"),
                tx("test"),
                Op::AckAll,
                Op::LinkData(4, b"pong".to_vec()),
                tx("AT+CIPSEND=5\r\n"),
                tx("+++"),
                tx("AT+CIPSENDLCFG=100,100\r\nAT+CIPSENDL=300\r\n"),
                txb(&[b'l'; 250]),
                wait(30),
                Op::AckAll,
                tx("+++"),
                tx("AT+CIPSENDL=20\r\n"),
                tx("0123456789abcdefghij"),
                Op::AckAll,
                tx("AT+CIPSENDEX=8\r\n"),
                tx("ab\\\\0c\\0"),
                Op::AckAll,
                tx("AT+CIPSTART=\"TCP\",\"127.0.0.1\",7000\r\n"),
                Op::LinkEvent(4, 2, 0),
                tx("AT+CIPCLOSE\r\n"),
            ],
        ),
        (
            "tcp-multi-passive",
            vec![
                tx(JOIN),
                wait(200),
                tx("AT+CIPMUX=1\r\nAT+CIPRECVMODE=1\r\nAT+CIPDINFO=1\r\n"),
                tx("AT+CIPSTART=2,\"TCP\",\"localhost\",7000,60\r\n"),
                Op::ServeAll,
                tx("AT+CIPSTARTEX=\"TCP\",\"localhost\",7001\r\n"),
                Op::ServeAll,
                Op::LinkData(6, vec![b'x'; 200]),
                Op::LinkData(6, vec![b'y'; 100]),
                tx("AT+CIPRECVLEN?\r\nAT+CIPRECVDATA=2,120\r\n"),
                Op::LinkEvent(6, 2, 0),
                tx("AT+CIPRECVDATA=2,1000\r\n"),
                tx("AT+CIPSEND=0,3\r\n"),
                tx("abc"),
                wait(11_000),
                tx("AT+CIPCLOSE=5\r\nAT+CIPMUX=0\r\n"),
            ],
        ),
        (
            "udp-ssl",
            vec![
                tx(JOIN),
                wait(200),
                tx("AT+CIPMUX=1\r\n"),
                tx("AT+CIPSTART=4,\"UDP\",\"127.0.0.1\",7000,7100,2\r\n"),
                Op::ServeAll,
                Op::LinkData(8, b"datagram".to_vec()),
                tx("AT+CIPSEND=4,2,\"127.0.0.1\",7002\r\n"),
                tx("hi"),
                Op::AckAll,
                tx("AT+CIPSSLCCONF=1,3,0,0\r\nAT+CIPSSLCSNI=1,\"example.com\"\r\nAT+CIPSSLCALPN=1,2,\"h2\",\"http/1.1\"\r\n"),
                tx("AT+CIPSSLCPSKHEX=1,\"70736b\",\"hint\"\r\nAT+CIPSSLCCIPHER=1,1,0xC02F\r\n"),
                tx("AT+CIPSTART=1,\"SSL\",\"127.0.0.1\",7443\r\n"),
                tx("AT+CIPSSLCCONF=1,0\r\nAT+CIPSTART=1,\"SSL\",\"127.0.0.1\",7443\r\n"),
                Op::LinkEvent(5, 1, 0),
                tx("AT+CIPDOMAIN=\"localhost\"\r\n"),
                wait(1),
                tx("AT+PING=\"127.0.0.1\"\r\n"),
                wait(7000),
                tx("AT+CIPDNS=1,\"1.1.1.1\"\r\nAT+CIPDNS?\r\nAT+CIPTCPOPT=5,0,1,100,7\r\nAT+CIPTCPOPT?\r\n"),
                Op::ApLost(100),
            ],
        ),
        (
            "control-plane",
            vec![
                tx(JOIN),
                wait(200),
                Op::ApLost(600_000),
                Op::Control(2, 80),
                wait(1500),
                Op::Control(1, 0),
                wait(3000),
                tx("AT+CWJAP?\r\nAT+SYSTIMESTAMP?\r\n"),
                Op::Control(3, 1_700),
                Op::Control(4, 30_000),
                tx("AT+SYSTIMESTAMP?\r\nAT+WSOPEN=0,\"ws://127.0.0.1:9/\"\r\n"),
                Op::ServeAll,
                Op::Control(5, 0),
                wait(500),
                Op::Control(6, 0),
                tx("AT\r\n"),
                wait(1000),
                Op::Control(7, 0),
                wait(500),
                tx("AT\r\n"),
            ],
        ),
        (
            "interleaved",
            vec![tx("AT+GM"), Op::SpuriousTimeout, Op::Detach, tx("AT\r\n"), Op::ApLost(100), Op::Step, Op::SpuriousTimeout, Op::PowerCycle, tx("AT+GMR\r")],
        ),
    ]
}
