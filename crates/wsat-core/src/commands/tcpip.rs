//! The TCP/IP link commands in normal transmission mode: AT+CIPMUX,
//! AT+CIPSTART/AT+CIPSTARTEX, AT+CIPSEND/AT+CIPSENDEX, AT+CIPCLOSE,
//! AT+CIPSTATE, AT+CIPSTATUS, AT+CIFSR, AT+CIPDINFO, AT+CIPRECVTYPE (and
//! its older name AT+CIPRECVMODE), AT+CIPRECVDATA, AT+CIPRECVLEN,
//! AT+CIPV6, AT+CIPTCPOPT, AT+CIPCONNPERSIST. The links behind them are
//! [`crate::ip`].
//!
//! Several of these take a `<link ID>` first only in multiple-connection
//! mode (AT+CIPMUX=1); their schemas accept any field type and
//! `Fields` types and checks the fields once the mode is known, with
//! the parameter indices ESP-AT reports.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::at::error::AtError;
use crate::at::params::{Args, Param, Value};
use crate::at::reply::Reply;
use crate::at::table::{Command, Set};
use crate::ip::link::{IpLink, Kind, State};
use crate::ip::{TcpOptions, DEFAULT_CONNECT_TIMEOUT, DEFAULT_SEND_TIMEOUT, LINKS};
use crate::module::{DataSink, Job, Module, TlsParams};
use crate::net::{Endpoint, SocketId, Transport};
use crate::time::{Duration, Instant};

/// Largest AT+CIPSEND/AT+CIPSENDEX payload.
pub const MAX_SEND: usize = 8192;
/// Longest `<"remote host">`.
pub const MAX_HOST: usize = 64;

/// A command's fields, typed once the connection mode is known: `base`
/// skips the `<link ID>` of multiple-connection mode.
pub(crate) struct Fields<'a> {
    args: &'a Args,
    base: usize,
}

impl<'a> Fields<'a> {
    /// The fields after the first `base` ones.
    pub(crate) fn new(args: &'a Args, base: usize) -> Fields<'a> {
        Fields { args, base }
    }

    fn index(&self, i: usize) -> u16 {
        (self.base + i) as u16
    }

    /// Integer field `i` (`None` when omitted) within `min..=max`.
    pub(crate) fn int(&self, i: usize, min: i64, max: i64) -> Result<Option<i64>, AtError> {
        match self.args.value(self.base + i) {
            None | Some(Value::Omitted) => Ok(None),
            Some(Value::Int(n)) if (min..=max).contains(n) => Ok(Some(*n)),
            Some(Value::Int(_)) => Err(AtError::ParamInvalid(self.index(i))),
            Some(Value::Str(_)) => Err(AtError::ParamType(self.index(i))),
        }
    }

    /// A mandatory integer field.
    pub(crate) fn need_int(&self, i: usize, min: i64, max: i64) -> Result<i64, AtError> {
        self.int(i, min, max)?.ok_or(AtError::ParamInvalid(self.index(i)))
    }

    /// String field `i` (`None` when omitted) of at most `max` bytes.
    pub(crate) fn str(&self, i: usize, max: usize) -> Result<Option<&'a [u8]>, AtError> {
        match self.args.value(self.base + i) {
            None | Some(Value::Omitted) => Ok(None),
            Some(Value::Str(s)) if s.len() <= max => Ok(Some(s)),
            Some(Value::Str(_)) => Err(AtError::ParamLength(self.index(i))),
            Some(Value::Int(_)) => Err(AtError::ParamType(self.index(i))),
        }
    }

    /// A mandatory string field.
    pub(crate) fn need_str(&self, i: usize, max: usize) -> Result<&'a [u8], AtError> {
        self.str(i, max)?.ok_or(AtError::ParamInvalid(self.index(i)))
    }

    /// At most `n` fields after the base.
    pub(crate) fn at_most(&self, n: usize) -> Result<(), AtError> {
        if self.args.len() > self.base + n {
            return Err(AtError::ParamCount(self.args.len() as u16));
        }
        Ok(())
    }
}

/// The link id a mode-dependent command names, and where its other fields
/// start: `<link ID>` first in multiple-connection mode, link 0 otherwise.
pub(crate) fn link_and_fields<'a>(m: &Module, a: &'a Args, max_id: i64) -> Result<(usize, Fields<'a>), AtError> {
    if m.ip.mux {
        let id = Fields::new(a, 0).need_int(0, 0, max_id)? as usize;
        Ok((id, Fields::new(a, 1)))
    } else {
        Ok((0, Fields::new(a, 0)))
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// True while the module has a network to open links on: a station with an
/// address, or a running SoftAP.
pub(crate) fn network_up(m: &Module) -> bool {
    m.wifi_on() && (m.station.has_ip() || m.current.wifi_mode & 2 != 0)
}

/// `AT+CIPV6`: IPv6 links on or off.
pub const CIPV6: Command = Command {
    name: "+CIPV6",
    summary: "Query/set whether links may use IPv6 (TCPv6, UDPv6, SSLv6)",
    test: None,
    query: Some(|m, _, _| {
        let line = format!("+CIPV6:{}\r\n", u8::from(m.current.ipv6));
        m.write(line.as_bytes());
        Reply::Ok
    }),
    set: Some(Set {
        params: &[Param::int("mode", 0, 1)],
        run: |m, a, _| {
            let on = a.int(0) == Some(1);
            m.save(|s| s.ipv6 = on);
            Reply::Ok
        },
    }),
    exec: None,
};

/// One `+CIPSTATE:`/`+CIPSTATUS:` line body per link.
fn link_lines(m: &Module, name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for (id, l) in m.ip.links.iter().enumerate() {
        let Some(l) = l else { continue };
        if l.state == State::Connecting {
            continue;
        }
        let ip = l.remote_ip.map_or_else(|| l.host.clone(), |a| format!("{a}"));
        out.extend_from_slice(
            format!("+{name}:{id},\"{}\",\"{ip}\",{},{},{}\r\n", l.kind.name(l.v6), l.port, l.local_port, l.tetype)
                .as_bytes(),
        );
    }
    out
}

/// `AT+CIPSTATE?`: the links.
pub const CIPSTATE: Command = Command {
    name: "+CIPSTATE",
    summary: "List the TCP/UDP/SSL links: id, type, remote address and port, local port, client/server",
    test: None,
    query: Some(|m, _, _| {
        let lines = link_lines(m, "CIPSTATE");
        m.write(&lines);
        Reply::Ok
    }),
    set: None,
    exec: None,
};

/// `AT+CIPSTATUS` (deprecated): the station's state and the links.
pub const CIPSTATUS: Command = Command {
    name: "+CIPSTATUS",
    summary: "Deprecated: STATUS:<stat> and the links (use AT+CWSTATE? and AT+CIPSTATE?)",
    test: None,
    query: None,
    set: None,
    exec: Some(|m, _, _| {
        let stat = m.ip.sta_state;
        let mut out = format!("STATUS:{stat}\r\n").into_bytes();
        out.extend_from_slice(&link_lines(m, "CIPSTATUS"));
        m.write(&out);
        Reply::Ok
    }),
};

/// `AT+CIPMUX`: single or multiple connections.
pub const CIPMUX: Command = Command {
    name: "+CIPMUX",
    summary: "Query/set single (0) or multiple (1) connection mode",
    test: None,
    query: Some(|m, _, _| {
        let line = format!("+CIPMUX:{}\r\n", u8::from(m.ip.mux));
        m.write(line.as_bytes());
        Reply::Ok
    }),
    set: Some(Set {
        params: &[Param::int("mode", 0, 1)],
        run: |m, a, _| {
            let mux = a.int(0) == Some(1);
            if m.ip.links.iter().any(Option::is_some) || (mux && m.ip.cipmode) || (!mux && m.ip.server.is_some()) {
                // Not while any link exists, even to the same mode, nor to
                // several connections in passthrough mode.
                return Reply::Error(AtError::ExecFailed);
            }
            m.ip.mux = mux;
            Reply::Ok
        },
    }),
    exec: None,
};

/// `AT+CIPDINFO`: whether `+IPD` names the sender.
pub const CIPDINFO: Command = Command {
    name: "+CIPDINFO",
    summary: "Query/set whether +IPD shows the remote address and port",
    test: None,
    query: Some(|m, _, _| {
        // ESP-AT prints this one without a line end of its own: the OK's
        // leading CR LF ends it (no blank line).
        let line = if m.ip.dinfo { "+CIPDINFO:true" } else { "+CIPDINFO:false" };
        m.write(line.as_bytes());
        Reply::Ok
    }),
    set: Some(Set {
        params: &[Param::int("mode", 0, 1)],
        run: |m, a, _| {
            m.ip.dinfo = a.int(0) == Some(1);
            Reply::Ok
        },
    }),
    exec: None,
};

/// `AT+CIPSTART`: open a TCP, UDP or SSL link.
pub const CIPSTART: Command = Command {
    name: "+CIPSTART",
    summary: "Open a TCP, UDP or SSL link ([link ID] first in multiple-connection mode)",
    test: None,
    query: None,
    set: Some(Set {
        params: &[
            Param::any("link ID|type"),
            Param::any("type|remote host"),
            Param::any("remote host|remote port"),
            Param::any("remote port|keep_alive|local port").opt(),
            Param::any("keep_alive|local IP|mode").opt(),
            Param::any("local IP|timeout").opt(),
            Param::any("timeout").opt(),
            Param::any("timeout").opt(),
        ],
        run: |m, a, now| match start(m, a, now) {
            Ok(r) => r,
            Err(e) => Reply::Error(e),
        },
    }),
    exec: None,
};

/// `AT+CIPSTARTEX`: AT+CIPSTART on the lowest free link id.
pub const CIPSTARTEX: Command = Command {
    name: "+CIPSTARTEX",
    summary: "Open a link on the first free link ID (multiple-connection mode; as AT+CIPSTART otherwise)",
    test: None,
    query: None,
    set: Some(Set {
        params: &[
            Param::any("type"),
            Param::any("remote host"),
            Param::any("remote port"),
            Param::any("keep_alive|local port").opt(),
            Param::any("local IP|mode").opt(),
            Param::any("timeout|local IP").opt(),
            Param::any("timeout").opt(),
        ],
        run: |m, a, now| {
            let id = if m.ip.mux {
                match (0..LINKS).find(|&i| m.ip.links[i].is_none()) {
                    Some(i) => i,
                    None => return Reply::Error(AtError::ExecFailed),
                }
            } else {
                0
            };
            match start_link(m, id, &Fields::new(a, 0), now) {
                Ok(r) => r,
                Err(e) => Reply::Error(e),
            }
        },
    }),
    exec: None,
};

fn start(m: &mut Module, a: &Args, now: Instant) -> Result<Reply, AtError> {
    let (id, f) = link_and_fields(m, a, LINKS as i64 - 1)?;
    start_link(m, id, &f, now)
}

/// AT+CIPSTART's work once the link id is known.
fn start_link(m: &mut Module, id: usize, f: &Fields<'_>, now: Instant) -> Result<Reply, AtError> {
    let kind_text = f.need_str(0, 8)?;
    let (kind, v6) = Kind::parse(kind_text).ok_or(AtError::ParamInvalid(f.index(0)))?;
    let host = f.need_str(1, MAX_HOST)?;
    if host.is_empty() {
        return Err(AtError::ParamLength(f.index(1)));
    }
    let port = f.need_int(2, 1, 65535)? as u16;
    let mut link = IpLink::new(kind, v6, text(host), port);
    let mut tcp = m.current.tcpopt[id];
    let timeout_ms;
    if kind == Kind::Udp {
        f.at_most(7)?;
        link.local_port = f.int(3, 1, 65535)?.unwrap_or(0) as u16;
        link.udp_mode = f.int(4, 0, 2)?.unwrap_or(0) as u8;
        local_ip(f, 5)?;
        timeout_ms = f.int(6, 0, 60_000)?;
    } else {
        f.at_most(6)?;
        if let Some(k) = f.int(3, 0, 7200)? {
            tcp.keep_alive = k as u16;
        }
        local_ip(f, 4)?;
        timeout_ms = f.int(5, 0, 60_000)?;
    }
    if m.ip.links[id].is_some() {
        // ESP-AT v2.2 and later say "ALREADY CONNECTED" on the log console
        // only; the AT port gets ERROR.
        m.log_link(id, "ALREADY CONNECTED");
        return Err(AtError::ExecFailed);
    }
    if (v6 && !m.current.ipv6) || !network_up(m) {
        return Err(AtError::ExecFailed);
    }
    let timeout = match timeout_ms {
        Some(ms) if ms > 0 => Duration::from_millis(ms as u64),
        _ => DEFAULT_CONNECT_TIMEOUT,
    };
    let keep_alive = Duration::from_secs(u64::from(tcp.keep_alive));
    let transport = match kind {
        Kind::Tcp => Transport::Tcp { keep_alive, nodelay: tcp.nodelay },
        Kind::Udp => Transport::Udp { local_port: link.local_port },
        Kind::Ssl => {
            let params = ssl_params(m, id, now).map_err(|missing| {
                m.log_link(id, &format!("{missing} is not in the manufacturing NVS"));
                AtError::ExecFailed
            })?;
            Transport::Tls { params, keep_alive }
        }
    };
    if kind != Kind::Udp && m.current.tcpopt[id].keep_alive != tcp.keep_alive {
        // The same setting as AT+CIPTCPOPT's keep_alive (the later wins),
        // kept only once the command is going ahead.
        let k = tcp.keep_alive;
        m.save(|s| s.tcpopt[id].keep_alive = k);
    }
    Ok(m.ip_open(id, link, transport, timeout, now))
}

/// `<"local IP">`: an address to bind to. The module has one address, so
/// any address is accepted and the host's routing picks the source; an
/// explicit empty string is refused, as ESP-AT refuses it.
fn local_ip(f: &Fields<'_>, i: usize) -> Result<(), AtError> {
    match f.str(i, 46)? {
        Some(s) if s.is_empty() || core::str::from_utf8(s).ok().and_then(|t| t.parse::<core::net::IpAddr>().ok()).is_none() => {
            Err(AtError::ExecFailed)
        }
        _ => Ok(()),
    }
}

/// The TLS parameters AT+CIPSSLC* selected for link `id`, read from the
/// manufacturing NVS now (`client_cert`, `client_key`, `client_ca`).
pub(crate) fn ssl_params(m: &Module, id: usize, now: Instant) -> Result<TlsParams, String> {
    let ssl = &m.ip.opts[id].ssl;
    Ok(TlsParams {
        sni: ssl.sni.clone(),
        alpn: ssl.alpn.clone(),
        common_name: ssl.common_name.clone(),
        ciphers: ssl.ciphers.iter().map(|&c| c as u16).collect(),
        ..m.client_tls(["client_cert", "client_key", "client_ca"], m.current.ssl_conf[id], now)?
    })
}

/// A CIPSEND waiting for its data.
#[derive(Debug, Clone)]
pub struct PendingSend {
    link: usize,
    to: Option<Endpoint>,
    /// AT+CIPSENDEX: `\0` ends the data early, `\x` stands for `x`.
    pub(crate) ex: bool,
    /// AT+CIPSENDEX: the last byte was an unconsumed backslash.
    pub(crate) escaped: bool,
}

impl PendingSend {
    /// AT+CIPSENDEX: takes one byte as typed. Returns the data byte it
    /// stands for (none for a backslash that starts an escape), and
    /// whether the data ends here (`\0`).
    pub(crate) fn ex_byte(&mut self, b: u8) -> (Option<u8>, bool) {
        if core::mem::take(&mut self.escaped) {
            if b == b'0' {
                return (None, true);
            }
            return (Some(b), false);
        }
        if b == b'\\' {
            self.escaped = true;
            return (None, false);
        }
        (Some(b), false)
    }
}

/// `AT+CIPSEND=[<link ID>,]<length>[,<"remote host">,<remote port>]`
fn send_set(m: &mut Module, a: &Args, ex: bool) -> Result<Reply, AtError> {
    if m.ip.cipmode {
        // In passthrough receiving mode data goes through AT+CIPSEND alone.
        return Err(AtError::ExecFailed);
    }
    let (id, f) = link_and_fields(m, a, LINKS as i64 - 1)?;
    // ESP-AT's order: the link must be up before anything else is looked at.
    let connected = m.ip.links[id].as_ref().is_some_and(|l| l.state == State::Connected);
    if !connected {
        return Err(AtError::ExecFailed);
    }
    f.at_most(3)?;
    let len = f.need_int(0, 1, MAX_SEND as i64)? as usize;
    let host = f.str(1, MAX_HOST)?;
    let port = f.int(2, 1, 65535)?;
    if m.ip.links[id].is_none() || m.sockets.send_pending(SocketId::ip(id)) {
        // No link; or the socket has not taken the previous send yet:
        // nothing more is queued behind it (what a timed-out send leaves
        // stays bounded). Checked before the destination changes.
        return Err(AtError::ExecFailed);
    }
    let Some(l) = m.ip.links[id].as_mut() else { return Err(AtError::ExecFailed) };
    let to = match (host, port) {
        (Some(h), Some(p)) if l.kind == Kind::Udp && !h.is_empty() => {
            // The destination becomes the link's remote, as on the module.
            l.host = text(h);
            l.port = p as u16;
            l.remote_ip = l.host.parse().ok();
            Some(Endpoint { host: text(h), port: p as u16 })
        }
        (None, None) => None,
        // A destination is for UDP links only, and needs both fields.
        _ => return Err(AtError::ExecFailed),
    };
    Ok(Reply::Prompt { len, sink: DataSink::IpSend(PendingSend { link: id, to, ex, escaped: false }) })
}

/// `AT+CIPSEND`: send data on a link (normal transmission mode).
pub const CIPSEND: Command = Command {
    name: "+CIPSEND",
    summary: "Send data on a link (after >): [link ID,]length[,remote host,remote port]",
    test: None,
    query: None,
    set: Some(Set {
        params: &[Param::any("link ID|length"), Param::any("length|remote host").opt(), Param::any("remote host|remote port").opt(), Param::any("remote port").opt()],
        run: |m, a, _| send_set(m, a, false).unwrap_or_else(Reply::Error),
    }),
    exec: Some(|m, _, now| super::passthrough::enter(m, now)),
};

/// `AT+CIPSENDEX`: as AT+CIPSEND, but `\0` in the data ends it early.
pub const CIPSENDEX: Command = Command {
    name: "+CIPSENDEX",
    summary: "Send data on a link (after >); \\0 ends the data before the length is reached",
    test: None,
    query: None,
    set: Some(Set {
        params: &[Param::any("link ID|length"), Param::any("length|remote host").opt(), Param::any("remote host|remote port").opt(), Param::any("remote port").opt()],
        run: |m, a, _| send_set(m, a, true).unwrap_or_else(Reply::Error),
    }),
    exec: None,
};

/// The CIPSEND data arrived: hand it to the link's socket.
pub(crate) fn finish_send(m: &mut Module, s: PendingSend, data: Vec<u8>, now: Instant) -> Reply {
    let line = format!("\r\nRecv {} bytes\r\n", data.len());
    m.write(line.as_bytes());
    let connected = m.ip.links[s.link].as_ref().is_some_and(|l| l.state == State::Connected);
    if !connected {
        m.write(crate::at::reply::SEND_FAIL);
        return Reply::Done;
    }
    let timeout = match m.current.tcpopt[s.link].send_timeout_ms {
        0 => DEFAULT_SEND_TIMEOUT,
        ms => Duration::from_millis(u64::from(ms)),
    };
    if let Some(l) = m.ip.links[s.link].as_mut() {
        l.last_activity = now;
    }
    let seq = m.send_tracked(SocketId::ip(s.link), data, false, s.to);
    m.busy_with_deadline(Job::IpSend { link: s.link, seq }, now + timeout)
}

/// `AT+CIPCLOSE`: close a link (5: every link).
pub const CIPCLOSE: Command = Command {
    name: "+CIPCLOSE",
    summary: "Close a link (set: link ID, 5 for all, multiple-connection mode; execute: single mode)",
    test: None,
    query: None,
    set: Some(Set {
        params: &[Param::int("link ID", 0, LINKS as i64)],
        run: |m, a, _| {
            let id = a.int(0).unwrap_or(0) as usize;
            if !m.ip.mux {
                return Reply::Error(AtError::ExecFailed);
            }
            if id == LINKS {
                for i in 0..LINKS {
                    m.ip_close(i);
                }
                return Reply::Ok;
            }
            if m.ip.links[id].is_none() {
                return Reply::Error(AtError::ExecFailed);
            }
            m.ip_close(id);
            Reply::Ok
        },
    }),
    exec: Some(|m, _, _| {
        if m.ip.mux || m.ip.links[0].is_none() {
            return Reply::Error(AtError::ExecFailed);
        }
        m.ip_close(0);
        Reply::Ok
    }),
};

/// `AT+CIFSR`: the local addresses.
pub const CIFSR: Command = Command {
    name: "+CIFSR",
    summary: "Show the SoftAP and station IP and MAC addresses",
    test: None,
    query: None,
    set: None,
    exec: Some(|m, _, _| {
        let mut out = Vec::new();
        let mac = |m: &Module, n: usize| text(&crate::wifi::station::mac_string(&m.mac(n)));
        if m.wifi_on() && m.current.wifi_mode & 2 != 0 {
            let ip = m.current.ap_ip.map_or([192, 168, 4, 1], |c| c[0]);
            out.extend_from_slice(format!("+CIFSR:APIP,\"{}\"\r\n", super::addr::ipv4_string(ip)).as_bytes());
            out.extend_from_slice(format!("+CIFSR:APMAC,\"{}\"\r\n", mac(m, 1)).as_bytes());
        }
        if m.wifi_on() && m.current.wifi_mode & 1 != 0 {
            let ip = if m.station.has_ip() { m.station.addresses()[0] } else { [0; 4] };
            out.extend_from_slice(format!("+CIFSR:STAIP,\"{}\"\r\n", super::addr::ipv4_string(ip)).as_bytes());
            out.extend_from_slice(format!("+CIFSR:STAMAC,\"{}\"\r\n", mac(m, 0)).as_bytes());
        }
        m.write(&out);
        Reply::Ok
    }),
};

/// Applies a receive mode to link `id` (or every link).
fn set_recv_type(m: &mut Module, id: usize, passive: bool, next_len: bool) {
    let range = if id >= LINKS { 0..LINKS } else { id..id + 1 };
    for i in range {
        m.ip.opts[i].passive = passive;
        m.ip.opts[i].next_datagram_len = next_len;
    }
}

/// `AT+CIPRECVTYPE`: active or passive receive.
pub const CIPRECVTYPE: Command = Command {
    name: "+CIPRECVTYPE",
    summary: "Query/set active (0, +IPD with data) or passive (1, AT+CIPRECVDATA) receive, per link",
    test: None,
    query: Some(|m, _, _| {
        let mut out = Vec::new();
        let n = if m.ip.mux { LINKS } else { 1 };
        for i in 0..n {
            let o = &m.ip.opts[i];
            // `<link ID>,<mode>`, as documented and as released firmware
            // prints it (link 0 in single mode).
            let line = format!("+CIPRECVTYPE:{i},{}\r\n", u8::from(o.passive));
            out.extend_from_slice(line.as_bytes());
        }
        m.write(&out);
        Reply::Ok
    }),
    set: Some(Set {
        params: &[Param::int("link ID|mode", 0, LINKS as i64), Param::int("mode|data_len_report_mode", 0, 1).opt(), Param::int("data_len_report_mode", 0, 1).opt()],
        run: |m, a, _| {
            let (id, f) = match link_and_fields(m, a, LINKS as i64) {
                Ok(x) => x,
                Err(e) => return Reply::Error(e),
            };
            let r = f.at_most(2).and_then(|()| Ok((f.need_int(0, 0, 1)?, f.int(1, 0, 1)?.unwrap_or(0))));
            match r {
                Ok((mode, len_mode)) => {
                    set_recv_type(m, id, mode == 1, len_mode == 1);
                    Reply::Ok
                }
                Err(e) => Reply::Error(e),
            }
        },
    }),
    exec: None,
};

/// `AT+CIPRECVMODE`: ESP-AT 2.x's name for the receive mode, for every link
/// at once (drivers written for it still send it).
pub const CIPRECVMODE: Command = Command {
    name: "+CIPRECVMODE",
    summary: "Older name of AT+CIPRECVTYPE: active (0) or passive (1) receive for every link",
    test: None,
    query: Some(|m, _, _| {
        let line = format!("+CIPRECVMODE:{}\r\n", u8::from(m.ip.opts[0].passive));
        m.write(line.as_bytes());
        Reply::Ok
    }),
    set: Some(Set {
        params: &[Param::int("mode", 0, 1)],
        run: |m, a, _| {
            set_recv_type(m, LINKS, a.int(0) == Some(1), false);
            Reply::Ok
        },
    }),
    exec: None,
};

/// `AT+CIPRECVDATA=[<link ID>,]<len>[,<keep_datagram_integrity>]`
pub const CIPRECVDATA: Command = Command {
    name: "+CIPRECVDATA",
    summary: "Read data a link keeps in passive receive mode",
    test: None,
    query: None,
    set: Some(Set {
        params: &[Param::any("link ID|len"), Param::any("len|keep_datagram_integrity").opt(), Param::any("keep_datagram_integrity").opt()],
        run: |m, a, _| recv_data(m, a).unwrap_or_else(Reply::Error),
    }),
    exec: None,
};

fn recv_data(m: &mut Module, a: &Args) -> Result<Reply, AtError> {
    let (id, f) = link_and_fields(m, a, LINKS as i64 - 1)?;
    f.at_most(2)?;
    let len = f.need_int(0, 1, 0x7fff_ffff)? as usize;
    let whole = f.int(1, 0, 1)?.unwrap_or(0) == 1;
    if !m.ip.opts[id].passive {
        return Err(AtError::ExecFailed);
    }
    let Some(l) = m.ip.links[id].as_mut() else { return Err(AtError::ExecFailed) };
    if l.rx_len == 0 {
        return Err(AtError::ExecFailed);
    }
    let (data, from) = l.take(len, whole);
    let drained = l.rx_len == 0 && l.state == State::Draining;
    let mut out = format!("+CIPRECVDATA:{},", data.len()).into_bytes();
    if m.ip.dinfo {
        let (ip, port) = m.ip_sender(id, from);
        out.extend_from_slice(format!("\"{ip}\",{port},").as_bytes());
    }
    out.extend_from_slice(&data);
    // The data runs straight into the OK's CR LF, as ESP-AT prints it.
    m.write_unfiltered(&out);
    m.write(crate::at::reply::OK);
    let next_len = m.ip.opts[id].next_datagram_len;
    if let Some(l) = m.ip.links[id].as_mut() {
        if l.rx_len > 0 {
            // Data left: a new notice follows the OK.
            l.notified = true;
            let len = l.report_len(next_len);
            let notice = m.ipd_head(id, len, None, false);
            m.write(&notice);
            m.write(b"\r\n");
        }
    }
    if drained {
        // The peer had gone: with its last data read, the link closes.
        m.ip_free(id, true);
    }
    Ok(Reply::Done)
}

/// `AT+CIPRECVLEN?`: bytes each link keeps in passive mode.
pub const CIPRECVLEN: Command = Command {
    name: "+CIPRECVLEN",
    summary: "Query how many bytes each link keeps in passive receive mode",
    test: None,
    query: Some(|m, _, _| {
        let n = if m.ip.mux { LINKS } else { 1 };
        let lens: Vec<String> = (0..n)
            .map(|i| match &m.ip.links[i] {
                Some(l) => format!("{}", l.report_len(m.ip.opts[i].next_datagram_len)),
                None => String::from("0"),
            })
            .collect();
        let line = format!("+CIPRECVLEN:{}\r\n", lens.join(","));
        m.write(line.as_bytes());
        Reply::Ok
    }),
    set: None,
    exec: None,
};

/// `AT+CIPTCPOPT`: socket options of a link.
pub const CIPTCPOPT: Command = Command {
    name: "+CIPTCPOPT",
    summary: "Query/set a link's socket options: SO_LINGER, TCP_NODELAY, SO_SNDTIMEO, keep-alive",
    test: None,
    query: Some(|m, _, _| {
        let mut out = Vec::new();
        let n = if m.ip.mux { LINKS } else { 1 };
        for i in 0..n {
            let t = m.current.tcpopt[i];
            out.extend_from_slice(
                format!("+CIPTCPOPT:{i},{},{},{},{}\r\n", t.so_linger, u8::from(t.nodelay), t.send_timeout_ms, t.keep_alive).as_bytes(),
            );
        }
        m.write(&out);
        Reply::Ok
    }),
    set: Some(Set {
        params: &[
            Param::any("link ID|so_linger").opt(),
            Param::any("so_linger|tcp_nodelay").opt(),
            Param::any("tcp_nodelay|so_sndtimeo").opt(),
            Param::any("so_sndtimeo|keep_alive").opt(),
            Param::any("keep_alive").opt(),
        ],
        run: |m, a, _| tcp_opt(m, a).unwrap_or_else(Reply::Error),
    }),
    exec: None,
};

fn tcp_opt(m: &mut Module, a: &Args) -> Result<Reply, AtError> {
    let (id, f) = link_and_fields(m, a, LINKS as i64)?;
    f.at_most(4)?;
    // As ESP-AT: an omitted so_linger, tcp_nodelay or so_sndtimeo goes
    // back to its default; an omitted keep_alive keeps its value.
    let d = TcpOptions::default();
    let so_linger = f.int(0, -1, i64::from(i32::MAX))?.map_or(d.so_linger, |v| v as i32);
    let nodelay = f.int(1, 0, 1)?.map_or(d.nodelay, |v| v == 1);
    let send_timeout_ms = f.int(2, 0, i64::from(i32::MAX))?.map_or(d.send_timeout_ms, |v| v as u32);
    let keep_alive = f.int(3, 0, 7200)?;
    let range = if id >= LINKS { 0..LINKS } else { id..id + 1 };
    m.save(|s| {
        for i in range.clone() {
            let old = s.tcpopt[i].keep_alive;
            s.tcpopt[i] = TcpOptions { so_linger, nodelay, send_timeout_ms, keep_alive: keep_alive.map_or(old, |k| k as u16) };
        }
    });
    Ok(Reply::Ok)
}

/// `AT+CIPCONNPERSIST`: keep a link through a Wi-Fi loss.
pub const CIPCONNPERSIST: Command = Command {
    name: "+CIPCONNPERSIST",
    summary: "Query/set whether a link survives AT+CWQAP and Wi-Fi disconnection ([link ID,]0|1)",
    test: None,
    query: Some(|m, _, _| {
        let n = if m.ip.mux { LINKS } else { 1 };
        let values: Vec<String> = (0..n).map(|i| format!("{}", u8::from(m.ip.persist[i]))).collect();
        let line = format!("+CIPCONNPERSIST:{}\r\n", values.join(","));
        m.write(line.as_bytes());
        Reply::Ok
    }),
    set: Some(Set {
        params: &[Param::int("link ID|persist_link", 0, LINKS as i64), Param::int("persist_link", 0, 1).opt()],
        run: |m, a, _| {
            let r = link_and_fields(m, a, LINKS as i64).and_then(|(id, f)| {
                f.at_most(1)?;
                Ok((id, f.need_int(0, 0, 1)? == 1))
            });
            match r {
                Ok((id, on)) => {
                    let range = if id >= LINKS { 0..LINKS } else { id..id + 1 };
                    for i in range {
                        m.ip.persist[i] = on;
                    }
                    Reply::Ok
                }
                Err(e) => Reply::Error(e),
            }
        },
    }),
    exec: None,
};

/// `AT+CIPRECONNINTV`: how soon a passthrough link reconnects.
pub const CIPRECONNINTV: Command = super::saved_number!(
    "+CIPRECONNINTV",
    "Query/set the passthrough reconnection interval (100 ms units, 1-36000)",
    "interval",
    1,
    36000,
    reconn_intv
);
