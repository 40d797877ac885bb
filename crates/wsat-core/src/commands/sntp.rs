//! SNTP and the module clock: AT+CIPSNTPCFG, AT+CIPSNTPTIME, AT+CIPSNTPINTV,
//! and the synchronisation behind them.
//!
//! Two clock sources ([`ClockSource`]): `Host` takes the host computer's
//! clock when a sync is due (no packet leaves the machine); `Sntp` asks the
//! configured servers over UDP (the runtime carries the datagrams, this
//! module builds and checks them). Either way the first sync after
//! AT+CIPSNTPCFG=1 prints `+TIME_UPDATED`. As on ESP-AT, nothing here is
//! saved to flash, and no sync happens without an IP address.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::at::error::AtError;
use crate::at::params::Param;
use crate::at::reply::Reply;
use crate::at::table::{Command, Set};
use crate::clock::Civil;
use crate::module::{Action, Module};
use crate::sntp;
use crate::time::{Duration, Instant};

/// Where synchronised time comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClockSource {
    /// The host computer's clock (no network traffic).
    #[default]
    Host,
    /// Real SNTP over UDP.
    Sntp,
}

/// ESP-AT's default servers for AT+CIPSNTPCFG=1 without names.
pub const DEFAULT_SERVERS: [&str; 3] = ["cn.ntp.org.cn", "ntp.sjtu.edu.cn", "us.pool.ntp.org"];
/// How long one server gets to answer.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(3);
/// Pause after every server failed, before trying again.
pub const RETRY: Duration = Duration::from_secs(15);

/// The SNTP client's state.
#[derive(Debug, Clone)]
pub struct SntpState {
    /// Server names (empty: SNTP off).
    pub servers: Vec<String>,
    /// The time zone as given (echoed by the query).
    pub tz_raw: i64,
    /// The time zone's offset from UTC in minutes.
    pub tz_minutes: i64,
    /// Seconds between syncs.
    pub interval: u32,
    /// Print `+TIME_UPDATED` at the next successful sync.
    notify: bool,
    /// The query in flight: its nonce, server index and deadline.
    pending: Option<(u64, usize, Instant)>,
    /// When the next sync is due (`None`: not scheduled).
    next_sync: Option<Instant>,
}

impl Default for SntpState {
    fn default() -> Self {
        SntpState { servers: Vec::new(), tz_raw: 0, tz_minutes: 0, interval: 3600, notify: false, pending: None, next_sync: None }
    }
}

/// The offset in minutes for a timezone parameter: whole hours in
/// [-12, 14], or `[+|-]hhmm`.
pub fn tz_minutes(v: i64) -> Option<i64> {
    if (-12..=14).contains(&v) {
        return Some(v * 60);
    }
    let (hours, minutes) = (v / 100, v.abs() % 100);
    if !(-12..=14).contains(&hours) || minutes > 59 {
        return None;
    }
    Some(hours * 60 + v.signum() * minutes)
}

/// `AT+CIPSNTPCFG=<enable>[,<timezone>][,"<server1>"][,"<server2>"][,"<server3>"]`
pub const CIPSNTPCFG: Command = Command {
    name: "+CIPSNTPCFG",
    summary: "Query/set the time zone and SNTP servers (enable 1 starts time sync)",
    test: None,
    query: Some(|m, _, _| {
        let s = &m.sntp;
        let mut line = format!("+CIPSNTPCFG:{},{}", u8::from(!s.servers.is_empty()), s.tz_raw);
        for name in s.servers.iter().filter(|n| !n.is_empty()) {
            line.push_str(&format!(",\"{name}\""));
        }
        line.push_str("\r\n");
        m.write(line.as_bytes());
        Reply::Ok
    }),
    set: Some(Set {
        params: &[
            Param::int("enable", 0, 1),
            Param::int("timezone", -1459, 1459).opt(),
            Param::str("SNTP server1", 1, 32).opt(),
            Param::str("SNTP server2", 1, 32).opt(),
            Param::str("SNTP server3", 1, 32).opt(),
        ],
        run: |m, a, now| {
            let tz = match a.int(1) {
                Some(v) => match tz_minutes(v) {
                    Some(min) => Some((v, min)),
                    None => return Reply::Error(AtError::ParamInvalid(1)),
                },
                None => None,
            };
            // An omitted server keeps its slot empty (`=1,8,"a",,"c"`):
            // the query lists only the servers given, the sync skips it.
            let mut names = Vec::new();
            for i in 2..a.len() {
                match a.str(i) {
                    Some(n) => match core::str::from_utf8(n) {
                        Ok(s) => names.push(String::from(s)),
                        Err(_) => return Reply::Error(AtError::ParamInvalid(i as u16)),
                    },
                    None => names.push(String::new()),
                }
            }
            while names.last().is_some_and(String::is_empty) {
                names.pop();
            }
            let enable = a.int(0) == Some(1);
            if !enable && !names.is_empty() {
                return Reply::Error(AtError::ParamCount(a.len() as u16));
            }
            if let Some((raw, min)) = tz {
                m.sntp.tz_raw = raw;
                m.sntp.tz_minutes = min;
            }
            if enable {
                if names.is_empty() {
                    names = DEFAULT_SERVERS.iter().map(|s| String::from(*s)).collect();
                }
                m.sntp.servers = names;
                m.sntp.notify = true;
                m.sntp.pending = None;
                m.sntp.next_sync = Some(now);
            } else {
                m.sntp.servers.clear();
                m.sntp.pending = None;
                m.sntp.next_sync = None;
            }
            Reply::Ok
        },
    }),
    exec: None,
};

/// `AT+CIPSNTPTIME?`
pub const CIPSNTPTIME: Command = Command {
    name: "+CIPSNTPTIME",
    summary: "Query the module clock as local time (asctime format)",
    test: None,
    query: Some(|m, _, now| {
        let local = m.clock.unix_secs(now) as i64 + m.sntp.tz_minutes * 60;
        // ESP-AT cuts asctime's newline and lets OK's CR LF end the line.
        let line = format!("+CIPSNTPTIME:{}", Civil::from_unix(local).asctime());
        m.write(line.as_bytes());
        Reply::Ok
    }),
    set: None,
    exec: None,
};

/// `AT+CIPSNTPINTV=<interval second>`
pub const CIPSNTPINTV: Command = Command {
    name: "+CIPSNTPINTV",
    summary: "Query/set the time sync interval in seconds (15-4294967)",
    test: None,
    query: Some(|m, _, _| {
        let line = format!("+CIPSNTPINTV:{}\r\n", m.sntp.interval);
        m.write(line.as_bytes());
        Reply::Ok
    }),
    set: Some(Set {
        params: &[Param::int("interval second", 15, 4_294_967)],
        run: |m, a, now| {
            m.sntp.interval = a.int(0).unwrap_or(3600) as u32;
            if !m.sntp.servers.is_empty() && m.sntp.pending.is_none() {
                m.sntp.next_sync = Some(now + Duration::from_secs(u64::from(m.sntp.interval)));
            }
            Reply::Ok
        },
    }),
    exec: None,
};

impl Module {
    /// The next SNTP deadline.
    pub(crate) fn sntp_next_deadline(&self) -> Option<Instant> {
        let pending = self.sntp.pending.map(|(_, _, t)| t);
        [pending, self.sntp.next_sync].into_iter().flatten().min()
    }

    /// Starts a sync or gives up on a query, when due.
    pub(crate) fn sntp_timers(&mut self, now: Instant) {
        if let Some((_, server, deadline)) = self.sntp.pending {
            if deadline <= now {
                // This server is silent (or answered nonsense): the next.
                self.sntp.pending = None;
                self.sntp_query(server + 1, now);
            }
            return;
        }
        if self.sntp.next_sync.is_some_and(|t| t <= now) {
            self.sntp.next_sync = None;
            if !self.station.has_ip() {
                // No network, no time; try again shortly.
                self.sntp.next_sync = Some(now + RETRY);
                return;
            }
            match self.clock_source {
                ClockSource::Host => self.act(Action::ReadHostClock),
                ClockSource::Sntp => self.sntp_query(0, now),
            }
        }
    }

    /// Asks server `from`, or the next one after it that AT+CIPSNTPCFG
    /// did not leave empty; with none left, tries again after [`RETRY`].
    fn sntp_query(&mut self, from: usize, now: Instant) {
        let servers = &self.sntp.servers;
        let Some(server) = (from..servers.len()).find(|&i| !servers[i].is_empty()) else {
            if from > 0 {
                self.actions_log("SNTP: no server answered; retrying later");
            }
            self.sntp.next_sync = Some(now + RETRY);
            return;
        };
        let mut n = [0u8; 8];
        self.rng.fill(&mut n);
        let nonce = u64::from_be_bytes(n);
        self.sntp.pending = Some((nonce, server, now + QUERY_TIMEOUT));
        let packet = sntp::request(nonce).to_vec();
        let name = self.sntp.servers[server].clone();
        self.act(Action::SntpSend { server: name, packet });
    }

    /// The host's clock, in answer to [`Action::ReadHostClock`].
    pub fn handle_host_clock(&mut self, unix_ms: u64, now: Instant) {
        if self.clock_source == ClockSource::Host && !self.sntp.servers.is_empty() {
            self.time_synced(unix_ms, now);
        }
        self.after_input(now);
    }

    /// A UDP datagram from an SNTP server.
    pub fn handle_sntp_datagram(&mut self, packet: &[u8], now: Instant) {
        if let Some((nonce, _, _)) = self.sntp.pending {
            match sntp::parse_reply(packet, nonce) {
                Ok(unix_ms) => {
                    self.sntp.pending = None;
                    self.time_synced(unix_ms, now);
                }
                Err(e) => self.actions_log(&format!("SNTP: ignored a reply: {e:?}")),
            }
        }
        self.after_input(now);
    }

    fn time_synced(&mut self, unix_ms: u64, now: Instant) {
        self.clock.set(unix_ms, now);
        self.sntp.next_sync = Some(now + Duration::from_secs(u64::from(self.sntp.interval)));
        if core::mem::take(&mut self.sntp.notify) {
            self.urc(b"+TIME_UPDATED");
        }
    }

    fn actions_log(&mut self, msg: &str) {
        self.act(Action::Log(String::from(msg)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timezones() {
        assert_eq!(tz_minutes(8), Some(480));
        assert_eq!(tz_minutes(-12), Some(-720));
        assert_eq!(tz_minutes(14), Some(840));
        assert_eq!(tz_minutes(800), Some(480));
        assert_eq!(tz_minutes(-530), Some(-330));
        assert_eq!(tz_minutes(1245), Some(765));
        assert_eq!(tz_minutes(15), Some(15)); // "015": UTC+00:15, as ESP-AT reads it
        assert_eq!(tz_minutes(1500), None);
        assert_eq!(tz_minutes(860), None);
    }
}
