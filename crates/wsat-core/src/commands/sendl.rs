//! AT+CIPSENDL and AT+CIPSENDLCFG: long sends (up to 2^31-1 bytes) that go
//! out while the host is still sending them, with `+CIPSENDL:` progress
//! reports.
//!
//! The data is cut into blocks of `<transmit size>` bytes as soon as that
//! many have arrived; a smaller rest goes out once it has waited
//! AT+TRANSINTVL. Every `<report size>` bytes the socket has taken, the
//! module reports `+CIPSENDL:<had sent len>,<port recv len>`; the last
//! report gives the whole length, then `SEND OK` (or `SEND FAIL` if the
//! link went away). `+++` alone cancels: `SEND CANCELLED`.

use alloc::format;
use alloc::vec::Vec;

use super::tcpip::{link_and_fields, Fields, MAX_HOST};
use crate::at::error::AtError;
use crate::at::params::{Args, Param};
use crate::at::reply::{self, Reply};
use crate::at::table::{Command, Set};
use crate::ip::link::{Kind, State};
use crate::ip::LINKS;
use crate::module::{Module, PortState};
use crate::net::{Endpoint, SocketId};
use crate::time::{Duration, Instant};

/// A long send in progress.
#[derive(Debug, Clone)]
pub struct LongSend {
    link: usize,
    to: Option<Endpoint>,
    /// Bytes still to come from the host.
    remaining: usize,
    /// Bytes received from the host.
    received: usize,
    /// Received, not yet handed to the socket.
    pending: Vec<u8>,
    /// When the oldest pending byte arrived.
    oldest: Option<Instant>,
    /// Bytes handed to the socket (acknowledged or not).
    handed: usize,
    /// Bytes the socket has taken.
    pub(crate) sent: usize,
    /// The next `<had sent len>` to report at.
    next_report: usize,
    /// The link went away: the send ends in SEND FAIL once the host is done.
    failed: bool,
}

/// `AT+CIPSENDLCFG` defaults: report every 1024 bytes, blocks of 2920.
pub const DEFAULT_REPORT: u32 = 1024;
/// The default and largest block handed to the socket.
pub const DEFAULT_TRANSMIT: u32 = 2920;

/// `AT+CIPSENDL=[<link ID>,]<length>[,<"remote host">,<remote port>]`
pub const CIPSENDL: Command = Command {
    name: "+CIPSENDL",
    summary: "Send up to 2^31-1 bytes on a link while they arrive (after >), with +CIPSENDL progress reports",
    test: None,
    query: None,
    set: Some(Set {
        params: &[
            Param::any("link ID|length"),
            Param::any("length|remote host").opt(),
            Param::any("remote host|remote port").opt(),
            Param::any("remote port").opt(),
        ],
        run: |m, a, now| start(m, a, now).unwrap_or_else(Reply::Error),
    }),
    exec: None,
};

fn start(m: &mut Module, a: &Args, now: Instant) -> Result<Reply, AtError> {
    if m.ip.cipmode {
        return Err(AtError::ExecFailed);
    }
    let (id, f) = link_and_fields(m, a, LINKS as i64 - 1)?;
    let Some(l) = m.ip.links[id].as_ref() else { return Err(AtError::ExecFailed) };
    if l.state != State::Connected {
        return Err(AtError::ExecFailed);
    }
    let kind = l.kind;
    f.at_most(3)?;
    let len = f.need_int(0, 1, i64::from(i32::MAX))? as usize;
    let to = destination(&f, kind)?;
    m.write_unfiltered(reply::PROMPT);
    let report = m.ip.sendl_cfg.0 as usize;
    m.state = PortState::SendL(LongSend {
        link: id,
        to,
        remaining: len,
        received: 0,
        pending: Vec::new(),
        oldest: None,
        handed: 0,
        sent: 0,
        next_report: report.min(len),
        failed: false,
    });
    let _ = now;
    Ok(Reply::Done)
}

fn destination(f: &Fields<'_>, kind: Kind) -> Result<Option<Endpoint>, AtError> {
    match (f.str(1, MAX_HOST)?, f.int(2, 1, 65535)?) {
        (Some(h), Some(p)) if kind == Kind::Udp => {
            Ok(Some(Endpoint { host: alloc::string::String::from_utf8_lossy(h).into_owned(), port: p as u16 }))
        }
        (None, None) => Ok(None),
        _ => Err(AtError::ExecFailed),
    }
}

impl LongSend {
    /// The socket the send goes to.
    pub(crate) fn socket(&self) -> SocketId {
        SocketId::ip(self.link)
    }
}

impl Module {
    /// Host bytes during AT+CIPSENDL.
    pub(crate) fn sendl_input(&mut self, bytes: &[u8], now: Instant) -> usize {
        let PortState::SendL(s) = &mut self.state else { return 0 };
        if bytes == b"+++" {
            // Cancelled: what was received and not yet handed over stays.
            self.state = PortState::Idle;
            self.write_unfiltered(b"\r\nSEND CANCELLED\r\n");
            return bytes.len();
        }
        if s.remaining == 0 {
            // Everything promised has come: more is the host talking over
            // a running command.
            self.write_unfiltered(reply::BUSY);
            return bytes.len();
        }
        let n = s.remaining.min(bytes.len());
        if s.pending.is_empty() && n > 0 {
            s.oldest = Some(now);
        }
        s.pending.extend_from_slice(&bytes[..n]);
        s.remaining -= n;
        s.received += n;
        self.sendl_pump(now);
        n
    }

    /// Hands due blocks to the socket, reports progress, ends the send.
    pub(crate) fn sendl_pump(&mut self, now: Instant) {
        let (report, transmit) = (self.ip.sendl_cfg.0 as usize, self.ip.sendl_cfg.1 as usize);
        let interval = Duration::from_millis(u64::from(self.current.transintvl));
        let PortState::SendL(s) = &mut self.state else { return };
        let link = s.link;
        let up = self.ip.links[link].as_ref().is_some_and(|l| l.state == State::Connected);
        if !up {
            s.failed = true;
            s.pending.clear();
        }
        let mut blocks = Vec::new();
        while s.pending.len() >= transmit {
            blocks.push(s.pending.drain(..transmit).collect::<Vec<u8>>());
        }
        let due = s.oldest.is_some_and(|t| now >= t + interval) || s.remaining == 0;
        if !s.pending.is_empty() && due {
            blocks.push(core::mem::take(&mut s.pending));
        }
        if s.pending.is_empty() {
            s.oldest = None;
        }
        let to = s.to.clone();
        for b in blocks {
            if let PortState::SendL(s) = &mut self.state {
                s.handed += b.len();
            }
            self.send_tracked(SocketId::ip(link), b, false, to.clone());
        }
        // Progress: what the socket has taken so far.
        let in_flight = self.sockets.in_flight(SocketId::ip(link));
        let PortState::SendL(s) = &mut self.state else { return };
        s.sent = s.handed - in_flight.min(s.handed);
        let mut lines = Vec::new();
        while !s.failed && s.sent >= s.next_report && s.next_report > 0 {
            lines.extend_from_slice(format!("+CIPSENDL:{},{}\r\n", s.next_report, s.received).as_bytes());
            let total = s.received + s.remaining;
            s.next_report = if s.next_report >= total { usize::MAX } else { (s.next_report + report).min(total) };
        }
        let done = s.remaining == 0 && (s.failed || (s.pending.is_empty() && s.sent == s.received));
        let failed = s.failed;
        self.write_unfiltered(&lines);
        if done {
            self.state = PortState::Idle;
            self.write_unfiltered(if failed { reply::SEND_FAIL } else { reply::SEND_OK });
        }
    }

    /// When the pending rest of a long send is due.
    pub(crate) fn sendl_deadline(&self) -> Option<Instant> {
        let interval = Duration::from_millis(u64::from(self.current.transintvl));
        match &self.state {
            PortState::SendL(s) => s.oldest.map(|t| t + interval),
            _ => None,
        }
    }
}

/// `AT+CIPSENDLCFG=<report size>[,<transmit size>]`
pub const CIPSENDLCFG: Command = Command {
    name: "+CIPSENDLCFG",
    summary: "Query/set AT+CIPSENDL's report size (100-1048576) and transmit block size (100-2920)",
    test: None,
    query: Some(|m, _, _| {
        let line = format!("+CIPSENDLCFG:{},{}\r\n", m.ip.sendl_cfg.0, m.ip.sendl_cfg.1);
        m.write(line.as_bytes());
        Reply::Ok
    }),
    set: Some(Set {
        params: &[Param::int("report size", 100, 1 << 20), Param::int("transmit size", 100, 2920).opt()],
        run: |m, a, _| {
            let report = a.int(0).unwrap_or(i64::from(DEFAULT_REPORT)) as u32;
            let transmit = a.int(1).map_or(m.ip.sendl_cfg.1, |t| t as u32);
            m.ip.sendl_cfg = (report, transmit);
            Reply::Ok
        },
    }),
    exec: None,
};
