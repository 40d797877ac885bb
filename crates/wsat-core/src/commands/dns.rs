//! Name resolution and reachability: AT+CIPDOMAIN, AT+CIPDNS, AT+PING.
//!
//! The runtime answers with the host's resolver and, for AT+PING, an ICMP
//! echo (see `docs/compatibility.md`); AT+CIPDNS is kept and reported
//! as on the module.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::IpAddr;

use crate::at::error::AtError;
use crate::at::params::Param;
use crate::at::reply::Reply;
use crate::at::table::{Command, Set};
use crate::module::{Action, Job, Module};
use crate::time::{Duration, Instant};

/// The servers AT+CIPDNS falls back to, as ESP-AT documents.
pub const DEFAULT_DNS: [&str; 3] = ["208.67.222.222", "114.114.114.114", "8.8.8.8"];
/// How long a lookup may take when no timeout is given.
pub const DEFAULT_LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long AT+PING waits for the echo.
pub const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// Which addresses a lookup wants (AT+CIPDOMAIN's `<ip network>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// IPv4 preferred, IPv6 if there is none.
    PreferV4,
    /// IPv4 only.
    V4,
    /// IPv6 only.
    V6,
}

/// What a running AT+CIPDOMAIN asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct LookupState {
    /// Print every address, not just the first.
    pub show_all: bool,
}

/// `AT+CIPDOMAIN=<"domain name">[,<ip network>][,<timeout>][,<show_all_ip>]`
pub const CIPDOMAIN: Command = Command {
    name: "+CIPDOMAIN",
    summary: "Resolve a domain name (the host's resolver answers)",
    test: None,
    query: None,
    set: Some(Set {
        params: &[
            Param::str("domain name", 1, 253),
            Param::int("ip network", 1, 3).opt(),
            Param::int("timeout", 0, 60_000).opt(),
            Param::int("show_all_ip", 0, 1).opt(),
        ],
        run: |m, a, now| {
            if !super::tcpip::network_up(m) {
                return Reply::Error(AtError::ExecFailed);
            }
            let host = String::from_utf8_lossy(a.str(0).unwrap_or_default()).into_owned();
            let family = match a.int(1).unwrap_or(1) {
                2 => Family::V4,
                3 => Family::V6,
                _ => Family::PreferV4,
            };
            let timeout = match a.int(2) {
                Some(ms) if ms > 0 => Duration::from_millis(ms as u64),
                _ => DEFAULT_LOOKUP_TIMEOUT,
            };
            m.lookup = LookupState { show_all: a.int(3) == Some(1) };
            m.act(Action::Resolve { host, family, timeout });
            m.busy_with_deadline(Job::Resolve, now + timeout + Duration::from_millis(500))
        },
    }),
    exec: None,
};

/// `AT+PING=<"host">`
pub const PING: Command = Command {
    name: "+PING",
    summary: "Ping a host: +PING:<ms>, or +PING:TIMEOUT",
    test: None,
    query: None,
    set: Some(Set {
        params: &[Param::str("host", 1, 253)],
        run: |m, a, now| {
            if !super::tcpip::network_up(m) {
                return Reply::Error(AtError::ExecFailed);
            }
            let host = String::from_utf8_lossy(a.str(0).unwrap_or_default()).into_owned();
            m.act(Action::Ping { host, timeout: PING_TIMEOUT });
            m.busy_with_deadline(Job::Ping, now + PING_TIMEOUT + Duration::from_secs(1))
        },
    }),
    exec: None,
};

/// `AT+CIPDNS`: DNS servers, automatic or manual.
pub const CIPDNS: Command = Command {
    name: "+CIPDNS",
    summary: "Query/set the DNS servers (0 automatic, 1 manual with up to three servers)",
    test: None,
    query: Some(|m, _, _| {
        let (enable, servers): (u8, Vec<String>) = match &m.current.dns {
            Some(list) => (1, list.clone()),
            None => (0, DEFAULT_DNS.iter().map(|s| String::from(*s)).collect()),
        };
        let mut line = format!("+CIPDNS:{enable}");
        for s in servers {
            line.push_str(&format!(",\"{s}\""));
        }
        line.push_str("\r\n");
        m.write(line.as_bytes());
        Reply::Ok
    }),
    set: Some(Set {
        params: &[
            Param::int("enable", 0, 1),
            Param::str("DNS IP1", 2, 46).opt(),
            Param::str("DNS IP2", 2, 46).opt(),
            Param::str("DNS IP3", 2, 46).opt(),
        ],
        run: |m, a, _| {
            if a.int(0) == Some(0) {
                m.save(|s| s.dns = None);
                return Reply::Ok;
            }
            let mut list: Vec<String> = Vec::new();
            for i in 1..4 {
                if let Some(t) = a.str(i) {
                    let t = String::from_utf8_lossy(t).into_owned();
                    if t.parse::<IpAddr>().is_err() {
                        return Reply::Error(AtError::ParamInvalid(i as u16));
                    }
                    if list.contains(&t) {
                        // The three cannot name the same server.
                        return Reply::Error(AtError::ExecFailed);
                    }
                    list.push(t);
                }
            }
            if list.is_empty() {
                list = DEFAULT_DNS.iter().map(|s| String::from(*s)).collect();
            }
            m.save(|s| s.dns = Some(list.clone()));
            Reply::Ok
        },
    }),
    exec: None,
};

impl Module {
    /// The runtime's answer to [`Action::Resolve`]: the addresses found
    /// (empty: the name did not resolve).
    pub fn handle_resolved(&mut self, addrs: &[IpAddr], now: Instant) {
        if self.running(&Job::Resolve) {
            if addrs.is_empty() {
                self.complete(Job::Resolve, Reply::Error(AtError::ExecFailed));
            } else {
                let shown = if self.lookup.show_all { addrs.len() } else { 1 };
                let mut out = Vec::new();
                for a in &addrs[..shown] {
                    out.extend_from_slice(format!("+CIPDOMAIN:\"{a}\"\r\n").as_bytes());
                }
                self.write(&out);
                self.complete(Job::Resolve, Reply::Ok);
            }
        }
        self.after_input(now);
    }

    /// The runtime's answer to [`Action::Ping`]: the round trip in
    /// milliseconds, or `None` (no answer in time, or the name did not
    /// resolve).
    pub fn handle_ping(&mut self, rtt_ms: Option<u32>, now: Instant) {
        if self.running(&Job::Ping) {
            match rtt_ms {
                Some(ms) => {
                    let line = format!("+PING:{ms}\r\n");
                    self.write(line.as_bytes());
                    self.complete(Job::Ping, Reply::Ok);
                }
                None => {
                    self.write(b"+PING:TIMEOUT\r\n");
                    self.complete(Job::Ping, Reply::Error(AtError::ExecFailed));
                }
            }
        }
        self.after_input(now);
    }

    /// A lookup or ping got no answer from the runtime in time.
    pub(crate) fn finish_lookup_timeout(&mut self, job: Job) {
        if job == Job::Ping {
            self.write(b"+PING:TIMEOUT\r\n");
        }
        let mut msg = Vec::new();
        crate::at::reply::write_error(&mut msg, AtError::ExecFailed, self.syslog);
        self.write(&msg);
    }
}
