//! SNTP against local servers on loopback: one that answers, one that never
//! does, one that answers garbage; and the host clock source.

mod common;

use std::time::Duration;

use common::{join_wifi, wsat_tcp, Server};

fn sntp_server(mode: &str, extra: &[&str]) -> (Server, String) {
    let mut args = vec![mode, "0"];
    args.extend_from_slice(extra);
    let s = Server::python("sntp-server.py", &args);
    let addr = s.banner.rsplit("udp://").next().expect("address").to_string();
    (s, addr)
}

#[test]
fn sntp_mode_syncs_from_a_local_server() {
    // 2021-10-18 12:12:27 UTC, the seed's example time in UTC+8.
    let (_server, addr) = sntp_server("good", &["1634559147"]);
    let dir = common::tempdir();
    let (w, mut h) = wsat_tcp(dir.path(), &["--clock", "sntp", "--sntp-server", &addr]);
    join_wifi(&mut h);
    common::echo_off(&mut h);
    // Before a sync: 1970, as a freshly booted module.
    h.send(b"AT+CIPSNTPTIME?\r\n");
    let t = h.until(b"\r\nOK\r\n");
    assert!(String::from_utf8_lossy(&t).contains(" 1970"), "{}", common::escape(&t));
    h.send(b"AT+CIPSNTPCFG=1,8,\"cn.ntp.org.cn\",\"ntp.sjtu.edu.cn\"\r\n");
    h.expect(b"\r\nOK\r\n", "CIPSNTPCFG");
    h.expect(b"+TIME_UPDATED\r\n", "synced");
    h.send(b"AT+CIPSNTPTIME?\r\n");
    h.expect(b"+CIPSNTPTIME:Mon Oct 18 20:12:2", "local time, UTC+8");
    let rest = h.until(b"\r\nOK\r\n");
    assert!(rest.starts_with(b"7 2021") || rest.starts_with(b"8 2021"), "{}", common::escape(&rest));
    w.stop();
}

#[test]
fn silent_and_garbage_servers_leave_the_clock_alone() {
    for mode in ["silent", "garbage"] {
        let (_server, addr) = sntp_server(mode, &[]);
        let dir = common::tempdir();
        let (w, mut h) = wsat_tcp(dir.path(), &["--clock", "sntp", "--sntp-server", &addr]);
        join_wifi(&mut h);
        common::echo_off(&mut h);
        h.send(b"AT+CIPSNTPCFG=1,0,\"a.invalid\",\"b.invalid\"\r\n");
        h.expect(b"\r\nOK\r\n", "CIPSNTPCFG");
        // Both servers get their query timeout (3 s each); no sync.
        let quiet = h.quiet_for(Duration::from_millis(7_000));
        assert!(quiet.is_empty(), "{mode}: {}", common::escape(&quiet));
        let secs = common::systimestamp(&mut h);
        assert!(secs < 60, "{mode}: the clock moved to {secs}");
        // The port is fine throughout.
        h.send(b"AT\r\n");
        h.expect(b"\r\nOK\r\n", "AT");
        w.stop();
    }
}

#[test]
fn host_clock_needs_no_packet() {
    let dir = common::tempdir();
    // An address where nothing listens: with the host clock it is never used.
    let (w, mut h) = wsat_tcp(dir.path(), &["--sntp-server", "127.0.0.1:9"]);
    join_wifi(&mut h);
    common::echo_off(&mut h);
    h.send(b"AT+CIPSNTPCFG=1,8,\"cn.ntp.org.cn\",\"ntp.sjtu.edu.cn\"\r\n");
    h.expect(b"\r\nOK\r\n+TIME_UPDATED\r\n", "synced at once");
    let secs = common::systimestamp(&mut h);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(secs.abs_diff(now) <= 2, "module {secs}, host {now}");
    w.stop();
}
