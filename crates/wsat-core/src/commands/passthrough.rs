//! Passthrough mode: AT+CIPMODE, AT+CIPSEND's execute form (enter),
//! AT+TRANSINTVL (packing), AT+SAVETRANSLINK (passthrough at power-up).
//! The state machine is [`crate::ip::passthrough`]; the link side is in
//! [`crate::ip`].

use alloc::format;
use alloc::string::String;

use super::tcpip::Fields;
use crate::at::error::AtError;
use crate::at::params::{Args, Param};
use crate::at::reply::{self, Reply};
use crate::at::table::{Command, Set};
use crate::ip::link::{Kind, State};
use crate::module::Module;
use crate::settings::SavedLink;
use crate::time::Instant;

/// `AT+CIPMODE`: normal (0) or passthrough receiving (1) mode.
pub const CIPMODE: Command = Command {
    name: "+CIPMODE",
    summary: "Query/set the transmission mode: 0 normal, 1 passthrough (single connection; AT+CIPSEND enters it)",
    test: None,
    query: Some(|m, _, _| {
        let line = format!("+CIPMODE:{}\r\n", u8::from(m.ip.cipmode));
        m.write(line.as_bytes());
        Reply::Ok
    }),
    set: Some(Set {
        params: &[Param::int("mode", 0, 1)],
        run: |m, a, _| {
            let on = a.int(0) == Some(1);
            if on {
                // Single connection only, and a UDP link must keep its peer.
                let udp_moves = m.ip.links[0].as_ref().is_some_and(|l| l.kind == Kind::Udp && l.udp_mode != 0);
                if m.ip.mux || udp_moves || m.ip.server.is_some() {
                    return Reply::Error(AtError::ExecFailed);
                }
            }
            m.ip.cipmode = on;
            Reply::Ok
        },
    }),
    exec: None,
};

/// `AT+CIPSEND` (execute): enter passthrough on link 0.
pub(crate) fn enter(m: &mut Module, now: Instant) -> Reply {
    let up = m.ip.links[0].as_ref().is_some_and(|l| l.state == State::Connected);
    if !m.ip.cipmode || m.ip.mux || !up {
        return Reply::Error(AtError::ExecFailed);
    }
    m.write_unfiltered(reply::PROMPT);
    m.pt_start(now);
    Reply::Done
}

/// `AT+TRANSINTVL`: how long passthrough data may wait to be packed.
pub const TRANSINTVL: Command = super::saved_number!(
    "+TRANSINTVL",
    "Query/set how long passthrough data waits to fill a 2920-byte packet (ms, 0-1000)",
    "interval",
    0,
    1000,
    transintvl
);

/// `AT+SAVETRANSLINK`: enter passthrough on a link at power-up.
pub const SAVETRANSLINK: Command = Command {
    name: "+SAVETRANSLINK",
    summary: "Save (1) or clear (0) a TCP/SSL/UDP link that opens in passthrough at every power-up",
    test: None,
    query: None,
    set: Some(Set {
        params: &[
            Param::int("mode", 0, 3),
            Param::any("remote host").opt(),
            Param::any("remote port").opt(),
            Param::any("type").opt(),
            Param::any("keep_alive|local port").opt(),
        ],
        run: |m, a, _| save_link(m, a).unwrap_or_else(Reply::Error),
    }),
    exec: None,
};

fn save_link(m: &mut Module, a: &Args) -> Result<Reply, AtError> {
    let f = Fields::new(a, 1);
    match a.int(0) {
        Some(0) => {
            // ESP-AT writes this to flash whatever AT+SYSSTORE says.
            m.save_always(|s| s.savetranslink = None);
            Ok(Reply::Ok)
        }
        Some(1) => {
            let host = f.need_str(0, super::tcpip::MAX_HOST)?;
            if host.is_empty() {
                return Err(AtError::ParamLength(1));
            }
            let port = f.need_int(1, 1, 65535)? as u16;
            let kind = f.str(2, 8)?.unwrap_or(b"TCP");
            let (k, _) = Kind::parse(kind).ok_or(AtError::ParamInvalid(3))?;
            let (keep_alive, local_port) = match k {
                Kind::Udp => (0, f.int(3, 0, 65535)?.unwrap_or(0) as u16),
                _ => (f.int(3, 0, 7200)?.unwrap_or(0) as u16, 0),
            };
            let saved = SavedLink {
                kind: String::from_utf8_lossy(kind).into_owned(),
                host: String::from_utf8_lossy(host).into_owned(),
                port,
                keep_alive,
                local_port,
            };
            m.save_always(|s| s.savetranslink = Some(saved.clone()));
            Ok(Reply::Ok)
        }
        // 2 is Bluetooth LE passthrough (no Bluetooth here); 3 is the
        // server side, which wsat does not save for power-up.
        _ => Err(AtError::ExecFailed),
    }
}
