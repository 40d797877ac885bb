//! The AT port as a new user meets it: each transport, clients coming and
//! going, persistence across restarts, noise, and crash safety.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{arg, HostEnd, Wsat};

/// The sequence a new user (or a reviewer) tries first, over TCP.
#[test]
fn first_contact_over_tcp() {
    let dir = common::tempdir();
    let state = arg(dir.path(), "state");
    let w = Wsat::start(&["--tcp", "127.0.0.1:0", "--state", &state]);
    let mut h = HostEnd::tcp(&w.tcp_addr());
    h.expect(b"ready\r\n", "boot");
    h.send(b"AT\r\n");
    h.expect(b"AT\r\n\r\nOK\r\n", "AT with echo");
    h.send(b"ATE0\r\n");
    h.expect(b"ATE0\r\n\r\nOK\r\n", "ATE0");
    h.send(b"AT\r\n");
    h.expect(b"\r\nOK\r\n", "AT without echo");
    h.send(b"AT+FAKE\r\n");
    h.expect(b"\r\nERROR\r\n", "unknown command");
    h.send(b"AT+SYSLOG=1\r\n");
    h.expect(b"\r\nOK\r\n", "SYSLOG");
    h.send(b"AT+FAKE\r\n");
    h.expect(b"ERR CODE:0x01090000\r\n\r\nERROR\r\n", "ERR CODE");

    let mut long = b"AT+".to_vec();
    long.resize(300, b'X');
    long.extend_from_slice(b"\r\n");
    h.send(&long);
    h.expect(b"ERR CODE:0x01030000\r\n\r\nERROR\r\n", "300-byte line");

    // 64 KiB of noise (xorshift, reproducible), then the port still answers.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let noise: Vec<u8> = (0..65536)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    h.send(&noise);
    std::thread::sleep(Duration::from_millis(200));
    h.quiet_for(Duration::from_millis(200)); // whatever ERRORs the noise earned
    h.send(b"AT\r\n");
    h.expect(b"\r\nOK\r\n", "AT after noise");

    h.send(b"AT+CWMODE=1\r\n");
    h.expect(b"\r\nOK\r\n", "CWMODE=1");
    h.send(b"AT+CWJAP=\"espressif\",\"1234567890\"\r\n");
    h.expect(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n", "CWJAP");
    h.send(b"AT+CWMODE=3\r\n");
    h.expect(b"\r\nOK\r\n", "CWMODE=3");
    drop(h);
    w.stop();

    let w = Wsat::start(&["--tcp", "127.0.0.1:0", "--state", &state]);
    let mut h = HostEnd::tcp(&w.tcp_addr());
    h.expect(b"ready\r\n", "boot again");
    h.expect(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n", "auto-connect");
    h.send(b"AT+CWMODE?\r\n");
    h.expect(b"AT+CWMODE?\r\n+CWMODE:3\r\n\r\nOK\r\n", "mode survived the restart");
    h.send(b"AT+RST\r\n");
    h.expect(b"AT+RST\r\n\r\nOK\r\n", "RST");
    h.expect(b"ready\r\n", "ready after RST, same connection");
    h.expect(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n", "auto-connect after RST");
    h.send(b"AT\r\n");
    h.expect(b"AT\r\n\r\nOK\r\n", "AT after RST");
    w.stop();
}

#[test]
fn tcp_serves_one_client_at_a_time_and_the_next_one_after() {
    let dir = common::tempdir();
    let w = Wsat::start(&["--tcp", "127.0.0.1:0", "--state", &arg(dir.path(), "s")]);
    let addr = w.tcp_addr();
    let mut first = HostEnd::tcp(&addr);
    first.expect(b"ready\r\n", "boot");
    first.send(b"ATE0\r\n");
    first.expect(b"ATE0\r\n\r\nOK\r\n", "ATE0");

    let mut second = HostEnd::tcp(&addr);
    let refusal = second.until(b"\r\n");
    assert!(String::from_utf8_lossy(&refusal).contains("in use"), "{}", common::escape(&refusal));
    first.send(b"AT\r\n");
    first.expect(b"\r\nOK\r\n", "first client unaffected");

    // The first client leaves half-way through a line; the next one gets a
    // clean port (the half line is forgotten, the module state is kept).
    first.send(b"AT+GM");
    std::thread::sleep(Duration::from_millis(100));
    drop(first);
    std::thread::sleep(Duration::from_millis(200));
    let mut third = HostEnd::tcp(&addr);
    third.send(b"AT\r\n");
    third.expect(b"\r\nOK\r\n", "new client, echo still off");

    // Output produced while nobody is attached waits for the next client.
    third.send(b"AT+CWJAP=\"espressif\",\"1234567890\"\r\n");
    drop(third);
    std::thread::sleep(Duration::from_millis(500));
    let mut fourth = HostEnd::tcp(&addr);
    fourth.expect(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n", "held output");
    w.stop();
}

#[test]
fn serial_device_transport() {
    // A pty pair stands in for a UART: wsat opens the slave as --serial.
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let slave = nix::unistd::ttyname(&pty.slave).expect("slave name");
    let dir = common::tempdir();
    let w = Wsat::start(&[
        "--serial",
        &slave.to_string_lossy(),
        "--baud",
        "921600",
        "--state",
        &arg(dir.path(), "s"),
    ]);
    assert!(w.banner.contains("921600"), "{}", w.banner);
    let master = std::fs::File::from(pty.master);
    let mut h = HostEnd::new(Box::new(master.try_clone().unwrap()), Box::new(master));
    h.until(b"ready\r\n");
    h.send(b"AT+UART_CUR?\r\n");
    h.expect(b"AT+UART_CUR?\r\n+UART_CUR:921600,8,1,0,0\r\n\r\nOK\r\n", "--baud sets the line rate");
    h.send(b"AT+GMR\r\n");
    let gmr = h.until(b"\r\nOK\r\n");
    assert!(String::from_utf8_lossy(&gmr).contains("Bin version:5.0.0.0-wsat-"), "{}", common::escape(&gmr));
    w.stop();
}

#[test]
fn stdio_pipe_runs_a_script_and_exits_at_end_of_input() {
    let dir = common::tempdir();
    let mut child = Command::new(env!("CARGO_BIN_EXE_wsat"))
        .args(["--state", &arg(dir.path(), "s")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"ATE0\r\nAT+CWJAP=\"espressif\",\"1234567890\"\r\n")
        .unwrap();
    let start = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(
        common::escape(&out.stdout),
        common::escape(b"ready\r\nATE0\r\n\r\nOK\r\nWIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n")
    );
}

#[test]
fn bad_command_lines_are_clear_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_wsat")).args(["--tcp", "not-an-address"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value"));
    let dir = common::tempdir();
    let nets = dir.path().join("nets.toml");
    std::fs::write(&nets, "[[ap]]\nssid = \"x\"\npassword = \"short\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wsat"))
        .args(["--networks", &nets.to_string_lossy(), "--state", &arg(dir.path(), "s")])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nets.toml") && err.contains("8-64 bytes"), "{err}");
    std::fs::write(dir.path().join("s/settings.json"), "{oops").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wsat"))
        .args(["--state", &arg(dir.path(), "s")])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a valid wsat state file"));
}

#[test]
fn strict_radio_from_a_networks_file() {
    let dir = common::tempdir();
    let nets = dir.path().join("nets.toml");
    std::fs::write(&nets, "[[ap]]\nssid = \"lab\"\npassword = \"password1\"\nip = \"10.1.2.3\"\n").unwrap();
    let w = Wsat::start(&["--tcp", "127.0.0.1:0", "--networks", &nets.to_string_lossy(), "--state", &arg(dir.path(), "s")]);
    let mut h = HostEnd::tcp(&w.tcp_addr());
    h.expect(b"ready\r\n", "boot");
    h.send(b"ATE0\r\n");
    h.expect(b"ATE0\r\n\r\nOK\r\n", "ATE0");
    h.send(b"AT+CWJAP=\"lab\",\"password2\"\r\n");
    h.expect(b"+CWJAP:2\r\n\r\nERROR\r\n", "wrong password");
    h.send(b"AT+CWJAP=\"espressif\",\"1234567890\"\r\n");
    h.expect(b"+CWJAP:3\r\n\r\nERROR\r\n", "unknown SSID");
    h.send(b"AT+CWJAP=\"lab\",\"password1\"\r\n");
    h.expect(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n", "right password");
    h.send(b"AT+CIPSTA?\r\n");
    h.expect(b"+CIPSTA:ip:\"10.1.2.3\"\r\n", "address from the file");
    h.until(b"\r\nOK\r\n");

    // Fault injection: SIGUSR1 takes the AP away; the station reconnects
    // once it is back (reconn_interval 1 s, radio down 5 s by default).
    w.signal(nix::sys::signal::Signal::SIGUSR1);
    h.expect(b"WIFI DISCONNECT\r\n", "AP lost");
    h.send(b"AT+CWSTATE?\r\n");
    h.expect(b"+CWSTATE:3,\"lab\"\r\n\r\nOK\r\n", "reconnecting");
    h.expect(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n", "back");
    w.stop();
}

#[test]
fn a_kill_at_any_moment_leaves_valid_state() {
    let dir = common::tempdir();
    let state = arg(dir.path(), "s");
    for round in 0..6u64 {
        let w = Wsat::start(&["--tcp", "127.0.0.1:0", "--state", &state]);
        let mut h = HostEnd::tcp(&w.tcp_addr());
        h.until(b"ready\r\n");
        // A stream of saved settings, killed mid-way without warning.
        let mut burst = Vec::new();
        for i in 0..200 {
            burst.extend_from_slice(if i % 2 == 0 { b"AT+CWMODE=3\r\n" } else { b"AT+CWMODE=1\r\n" });
            burst.extend_from_slice(b"AT+SYSMFG=2,\"t\",\"k\",5,");
            burst.extend_from_slice(format!("{}\r\n", i).as_bytes());
        }
        h.send(&burst);
        std::thread::sleep(Duration::from_millis(5 + round * 7));
        drop(w); // SIGKILL
        for f in ["settings.json", "mfg_nvs.json"] {
            let p = dir.path().join("s").join(f);
            if let Ok(text) = std::fs::read(&p) {
                serde_json::from_slice::<serde_json::Value>(&text)
                    .unwrap_or_else(|e| panic!("round {round}: {} is torn: {e}", p.display()));
            }
        }
    }
    // And the state still loads.
    let w = Wsat::start(&["--tcp", "127.0.0.1:0", "--state", &state]);
    let mut h = HostEnd::tcp(&w.tcp_addr());
    h.expect(b"ready\r\n", "boots on the surviving state");
    w.stop();
}

#[test]
fn pacing_never_beats_the_line_rate() {
    let dir = common::tempdir();
    let w = Wsat::start(&["--tcp", "127.0.0.1:0", "--pace", "--baud", "9600", "--state", &arg(dir.path(), "s")]);
    let mut h = HostEnd::tcp(&w.tcp_addr());
    h.until(b"ready\r\n");
    let t0 = Instant::now();
    h.send(b"AT+CMD?\r\n");
    let out = h.until(b"\r\nOK\r\n");
    // 10 bits a byte at 9600 baud: a lower bound, never flaky. The line is
    // full duplex, so the echo of the 9 command bytes overlaps them; the
    // response can only follow the last one: 9 + (out.len() - 9) bytes.
    assert!(out.starts_with(b"AT+CMD?\r\n"));
    let wire = Duration::from_micros((out.len() * 10 * 1_000_000 / 9600) as u64);
    assert!(t0.elapsed() >= wire, "{} bytes in {:?} < {wire:?}", out.len(), t0.elapsed());
    w.stop();
}
