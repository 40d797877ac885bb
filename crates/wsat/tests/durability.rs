//! D4: a setting acknowledged with OK survives a kill -9 right after the
//! OK (the store is written and synced before the OK leaves), and a kill
//! leaves no temporary file behind at the next start.

mod common;

use common::{arg, HostEnd, Wsat};

fn kill9(w: Wsat) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(w.child.id() as i32), nix::sys::signal::Signal::SIGKILL);
    let mut w = w;
    let _ = w.child.wait();
}

#[test]
fn acknowledged_settings_survive_kill_9() {
    let dir = common::tempdir();
    let state = arg(dir.path(), "state");
    for round in 0..25u32 {
        let w = Wsat::start(&["--tcp", "127.0.0.1:0", "--state", &state, "--no-factory-pki"]);
        let mut h = HostEnd::tcp(&w.tcp_addr());
        h.expect(b"ready\r\n", "boot");
        if round > 0 {
            // What the previous round acknowledged is there.
            let prev = round - 1;
            h.send(b"AT+SYSMSG?\r\n");
            h.expect(format!("AT+SYSMSG?\r\n+SYSMSG:{}\r\nOK\r\n", prev % 8).as_bytes(), "SYSMSG kept");
            h.send(b"AT+SYSMFG=1,\"wsat_test\",\"round\"\r\n");
            let got = h.until(b"OK\r\n");
            let want = format!("+SYSMFG:\"wsat_test\",\"round\",7,{},round-{prev}", format!("round-{prev}").len());
            assert!(String::from_utf8_lossy(&got).contains(&want), "{} lacks {want}", common::escape(&got));
        }
        let names: Vec<String> = std::fs::read_dir(&state).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert!(!names.iter().any(|n| n.contains(".tmp-")), "temporary files left: {names:?}");
        let value = format!("round-{round}");
        h.send(format!("AT+SYSMFG=2,\"wsat_test\",\"round\",7,{}\r\n", value.len()).as_bytes());
        h.until(b">");
        h.send(value.as_bytes());
        h.until(b"OK\r\n");
        h.send(format!("AT+SYSMSG={}\r\n", round % 8).as_bytes());
        h.until(b"OK\r\n");
        // Killed the moment the OK is seen.
        kill9(w);
    }
}
