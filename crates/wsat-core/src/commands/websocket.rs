//! The WebSocket commands: AT+WSCFG, AT+WSHEAD, AT+WSOPEN, AT+WSSEND,
//! AT+WSDATAFMT, AT+WSCLOSE. The link state machine behind them is
//! [`crate::ws::link`].

use alloc::format;
use alloc::vec::Vec;

use crate::at::error::AtError;
use crate::at::params::Param;
use crate::at::reply::{self, Reply};
use crate::at::table::{Command, Set};
use crate::module::{DataSink, Job, Module};
use crate::time::{Duration, Instant};
use crate::ws::frame;
use crate::ws::link::{LinkConfig, OpenRequest, LINKS};
use crate::ws::uri::WsUri;

/// Largest AT+WSSEND payload.
pub const MAX_SEND: usize = 16384;
/// AT+WSSEND's default timeout.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_millis(10_000);
/// Largest AT+WSHEAD header.
pub const MAX_HEADER: usize = 1024;
/// The most bytes AT+WSHEAD's headers may take together (`name: value` and
/// CR LF each): esp_websocket_client's request buffer.
pub const MAX_HEADERS_TOTAL: usize = 1024;
/// The longest opening request esp_websocket_client can send: its buffer
/// (CONFIG_WS_BUFFER_SIZE, 1024) less the terminating NUL.
pub const MAX_REQUEST: usize = 1023;

/// A WSSEND waiting for its data.
#[derive(Debug, Clone)]
pub struct PendingSend {
    link: usize,
    opcode: u8,
    fin: bool,
    timeout: Duration,
}

fn link_of(n: Option<i64>) -> usize {
    // The schemas range-check every link id to 0..=2.
    n.unwrap_or(0) as usize
}

/// `AT+WSCFG=<link_id>,<ping_intv_sec>,<ping_timeout_sec>[,<buffer_size>][,<auth_mode>,<pki_number>,<ca_number>]`
pub const WSCFG: Command = Command {
    name: "+WSCFG",
    summary: "Configure a WebSocket link: ping interval/timeout, buffer size, TLS authentication",
    test: None,
    query: None,
    set: Some(Set {
        params: &[
            Param::int("link_id", 0, 2),
            Param::int("ping_intv_sec", 1, 7200),
            Param::int("ping_timeout_sec", 1, 7200),
            Param::int("buffer_size", 1, 16384).opt(),
            Param::int("auth_mode", 0, 3).opt(),
            Param::int("pki_number", 0, 255).opt(),
            Param::int("ca_number", 0, 255).opt(),
        ],
        run: |m, a, _| {
            // Every field after the third may be omitted, or given where it
            // is not needed (pki/ca numbers with auth_mode 0, as drivers that
            // always send seven fields do): omitted ones take their defaults.
            let auth = a.int(4).unwrap_or(0) as u8;
            let pki = a.int(5).unwrap_or(0) as u8;
            let ca = a.int(6).unwrap_or(0) as u8;
            if auth & 1 != 0 {
                if m.mfg.get("wss_cert", &format!("wss_cert.{pki}")).is_none() {
                    m.write(b"NO CERT FOUND\r\n");
                    return Reply::Error(AtError::ExecFailed);
                }
                if m.mfg.get("wss_key", &format!("wss_key.{pki}")).is_none() {
                    m.write(b"NO PRVT_KEY FOUND\r\n");
                    return Reply::Error(AtError::ExecFailed);
                }
            }
            if auth & 2 != 0 && m.mfg.get("wss_ca", &format!("wss_ca.{ca}")).is_none() {
                m.write(b"NO CA FOUND\r\n");
                return Reply::Error(AtError::ExecFailed);
            }
            let id = link_of(a.int(0));
            m.links[id].cfg = LinkConfig {
                ping_interval: a.int(1).unwrap_or(10) as u32,
                ping_timeout: a.int(2).unwrap_or(120) as u32,
                buffer_size: a.int(3).unwrap_or(1024) as usize,
                auth_mode: auth,
                pki_number: pki,
                ca_number: ca,
            };
            Reply::Ok
        },
    }),
    exec: None,
};

/// `AT+WSHEAD=<req_header_len>`, then the header after `>`.
pub const WSHEAD: Command = Command {
    name: "+WSHEAD",
    summary: "Set (after >) or list the request headers sent on AT+WSOPEN; length 0 clears them",
    test: None,
    query: Some(|m, _, _| {
        let lines: Vec<Vec<u8>> = m
            .ws_headers
            .iter()
            .enumerate()
            .map(|(i, (k, v))| {
                let mut l = format!("+WSHEAD:{i},\"").into_bytes();
                l.extend_from_slice(k);
                l.push(b':');
                l.extend_from_slice(v);
                l.extend_from_slice(b"\"\r\n");
                l
            })
            .collect();
        for l in lines {
            m.write(&l);
        }
        Reply::Ok
    }),
    set: Some(Set {
        params: &[Param::int("req_header_len", 0, MAX_HEADER as i64)],
        run: |m, a, _| match a.int(0).unwrap_or(0) {
            0 => {
                m.ws_headers.clear();
                Reply::Ok
            }
            n => Reply::Prompt { len: n as usize, sink: DataSink::WsHead },
        },
    }),
    exec: None,
};

/// The WSHEAD bytes arrived.
pub(crate) fn finish_head(m: &mut Module, data: Vec<u8>) -> Reply {
    if data.contains(&0) || data.ends_with(b"\r\n") {
        return Reply::Error(AtError::ExecFailed);
    }
    let Some(colon) = data.iter().position(|&b| b == b':') else {
        return Reply::Error(AtError::ExecFailed);
    };
    let (k, v) = (data[..colon].to_vec(), data[colon + 1..].to_vec());
    // esp_websocket_client builds its whole opening request in one buffer
    // of CONFIG_WS_BUFFER_SIZE (1024) bytes: headers that alone fill it can
    // never be sent, so they are refused here.
    let total: usize = m.ws_headers.iter().map(|(k, v)| k.len() + v.len() + 4).sum::<usize>() + k.len() + v.len() + 4;
    if total > MAX_HEADERS_TOTAL {
        return Reply::Error(AtError::ExecFailed);
    }
    // ESP-AT puts the newest header first.
    m.ws_headers.insert(0, (k, v));
    Reply::Ok
}

/// `AT+WSOPEN=<link_id>,"<uri>"[,"<subprotocol>"][,<timeout_ms>][,"<auth>"]`
pub const WSOPEN: Command = Command {
    name: "+WSOPEN",
    summary: "Open a WebSocket link (query: the links and their states)",
    test: None,
    query: Some(|m, _, _| {
        let mut lines = Vec::new();
        for (id, l) in m.links.iter().enumerate() {
            if let Some(s) = &l.session {
                let mut line = format!("+WSOPEN:{id},{},\"", s.state as u8).into_bytes();
                line.extend_from_slice(&s.uri_text);
                line.extend_from_slice(b"\"\r\n");
                lines.push(line);
            }
        }
        for l in lines {
            m.write(&l);
        }
        Reply::Ok
    }),
    set: Some(Set {
        params: &[
            Param::int("link_id", 0, 2),
            Param::str("uri", 1, 256),
            Param::str("subprotocol", 0, 128).opt(),
            Param::int("timeout_ms", 1, 180_000).opt(),
            Param::str("auth", 0, 256).opt(),
        ],
        run: |m, a, now| {
            let id = link_of(a.int(0));
            if m.links[id].session.is_some() || !m.station.has_ip() || m.current.wifi_mode & 1 == 0 {
                return Reply::Error(AtError::ExecFailed);
            }
            let uri_text = a.str(1).unwrap_or_default().to_vec();
            let Ok(uri) = WsUri::parse(&uri_text) else {
                return Reply::Error(AtError::ParamInvalid(1));
            };
            let auth = a.str(4).filter(|s| !s.is_empty());
            if auth.is_some_and(|s| s.len() > 2 && s.ends_with(b"\r\n")) {
                return Reply::Error(AtError::ParamInvalid(4));
            }
            let req = OpenRequest {
                uri_text,
                uri,
                subprotocol: a.str(2).filter(|s| !s.is_empty()).map(<[u8]>::to_vec),
                authorization: auth.map(<[u8]>::to_vec),
                timeout: Duration::from_millis(a.int(3).unwrap_or(15_000) as u64),
            };
            let reply = m.busy_with(Job::WsOpen(id));
            m.ws_open(id, req, now);
            reply
        },
    }),
    exec: None,
};

/// `AT+WSSEND=<link_id>,<length>[,<opcode>][,<timeout_ms>][,<fin>]`
pub const WSSEND: Command = Command {
    name: "+WSSEND",
    summary: "Send data on a WebSocket link (after >), as one or more frames",
    test: None,
    query: None,
    set: Some(Set {
        params: &[
            Param::int("link_id", 0, 2),
            Param::int("length", 0, MAX_SEND as i64),
            Param::int("opcode", 0, 15).opt(),
            Param::int("timeout_ms", 0, 60_000).opt(),
            Param::int("fin", 0, 1).opt(),
        ],
        run: |m, a, _| {
            let id = link_of(a.int(0));
            if m.links[id].session.is_none() {
                return Reply::Error(AtError::ExecFailed);
            }
            let send = PendingSend {
                link: id,
                opcode: a.int(2).unwrap_or(1) as u8,
                fin: a.int(4).unwrap_or(1) == 1,
                timeout: a.int(3).map_or(DEFAULT_SEND_TIMEOUT, |ms| Duration::from_millis(ms as u64)),
            };
            // Zero bytes still get `>` (a driver waits for it), then the
            // empty frame goes out and SEND OK follows.
            Reply::Prompt { len: a.int(1).unwrap_or(0) as usize, sink: DataSink::WsSend(send) }
        },
    }),
    exec: None,
};

/// The WSSEND data arrived (or there was none): frame it and send.
pub(crate) fn finish_send(m: &mut Module, s: PendingSend, data: Vec<u8>, now: Instant) -> Reply {
    let control = s.opcode & 0x8 != 0;
    // Non-final frames exist only for data opcodes; control payloads fit
    // in one frame (RFC 6455 5.5).
    if (!s.fin && s.opcode > frame::OP_BINARY) || (control && data.len() > frame::MAX_CONTROL) {
        return Reply::Error(AtError::ExecFailed);
    }
    if !m.ws_connected(s.link) {
        return Reply::Error(AtError::ExecFailed);
    }
    let frames = if control {
        m.client_frame(s.opcode, true, &data)
    } else {
        // Cut to the link's buffer: the first frame carries the opcode,
        // the rest are continuations; FIN only on the last, if asked.
        let piece = m.ws_buffer(s.link).max(1);
        let mut out = Vec::with_capacity(data.len() + 14 * (data.len() / piece + 1));
        let parts: Vec<&[u8]> = if data.is_empty() { alloc::vec![&data[..]] } else { data.chunks(piece).collect() };
        let last = parts.len() - 1;
        for (i, p) in parts.into_iter().enumerate() {
            let op = if i == 0 { s.opcode } else { frame::OP_CONTINUATION };
            out.extend_from_slice(&m.client_frame(op, s.fin && i == last, p));
        }
        out
    };
    // A timeout of 0 waits for nothing, as esp_websocket_client's 0-tick
    // send: the socket takes the frames at once (SEND OK) or refuses them
    // all (ERROR, nothing sent). A socket still busy with an earlier send
    // (one that timed out) cannot take anything now: ERROR at once, and
    // nothing of this send goes out later. So at most one timed-out send
    // waits in the module, and it goes with the link.
    let immediate = s.timeout.millis() == 0;
    if m.ws_send_pending(s.link) {
        return Reply::Error(AtError::ExecFailed);
    }
    if s.opcode == frame::OP_CLOSE {
        m.ws_close_sent_by_host(s.link, now);
    }
    let timeout = if immediate { DEFAULT_SEND_TIMEOUT } else { s.timeout };
    let seq = m.ws_send_tracked(s.link, frames, immediate);
    m.busy_with_deadline(Job::WsSend { link: s.link, seq }, now + timeout)
}

/// The runtime wrote send `seq` of `link` to its socket.
impl Module {
    pub(crate) fn ws_written(&mut self, link: usize, seq: u32) {
        if self.running(&Job::WsSend { link, seq }) {
            self.write(reply::SEND_OK);
            self.complete(Job::WsSend { link, seq }, Reply::Done);
        }
    }

    /// The link's transport is gone: a send waiting on it ends in ERROR now
    /// rather than at its timeout.
    pub(crate) fn fail_send_on(&mut self, link: usize) {
        if let Some(seq) = self.running_send(link) {
            self.complete(Job::WsSend { link, seq }, Reply::Error(AtError::ExecFailed));
        }
    }

    /// The runtime refused `immediate` send `seq` of `link`: nothing went out.
    pub(crate) fn ws_refused(&mut self, link: usize, seq: u32) {
        self.complete(Job::WsSend { link, seq }, Reply::Error(AtError::ExecFailed));
    }
}

/// `AT+WSDATAFMT=<link_id>[,<meta_data_level>][,<meta_data_mask>]`
pub const WSDATAFMT: Command = Command {
    name: "+WSDATAFMT",
    summary: "Set the +WS_DATA format of a link: level (0 chunk, 1 frame, 2 message) and field mask",
    test: None,
    query: None,
    set: Some(Set {
        params: &[
            Param::int("link_id", 0, 2),
            Param::int("meta_data_level", 0, 2).opt(),
            // A bit field without a documented range: 0 prints no optional
            // field; bits above the six defined are ignored.
            Param::int("meta_data_mask", 0, 0xFFFF_FFFF).opt(),
        ],
        run: |m, a, _| {
            let id = link_of(a.int(0));
            m.links[id].level = a.int(1).unwrap_or(0) as u8;
            m.links[id].mask = (a.int(2).unwrap_or(48) & 0x3F) as u8;
            Reply::Ok
        },
    }),
    exec: None,
};

/// `AT+WSCLOSE=<link_id>`
pub const WSCLOSE: Command = Command {
    name: "+WSCLOSE",
    summary: "Close a WebSocket link (close handshake, then +WS_CLOSED)",
    test: None,
    query: None,
    set: Some(Set {
        params: &[Param::int("link_id", 0, 2)],
        run: |m, a, now| {
            let id = link_of(a.int(0));
            debug_assert!(id < LINKS);
            m.ws_close_command(id, now)
        },
    }),
    exec: None,
};
