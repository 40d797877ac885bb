//! The server side: AT+CIPSERVER, AT+CIPSERVERMAXCONN, AT+CIPSTO. The
//! accepted clients are TCP/IP links ([`crate::ip::server`]).

use alloc::format;
use alloc::vec::Vec;

use crate::action::{Action, ServerTlsParams};
use crate::at::error::AtError;
use crate::at::params::{Args, Param};
use crate::at::reply::Reply;
use crate::at::table::{Command, Set};
use crate::ip::{ServerState, LINKS};
use crate::module::{Job, Module};
use crate::net::SocketId;
use crate::time::{Duration, Instant};

/// AT+CIPSERVER's port when none is given.
pub const DEFAULT_PORT: u16 = 333;

/// `AT+CIPSERVER`: create or delete the TCP/SSL server.
pub const CIPSERVER: Command = Command {
    name: "+CIPSERVER",
    summary: "Create (1[,port][,\"TCP\"|\"SSL\"][,CA enable][,netif]) or delete (0[,close clients]) the TCP/SSL server",
    test: None,
    query: Some(|m, _, _| {
        let line = match &m.ip.server {
            Some(s) => format!("+CIPSERVER:1,{},\"{}\",{},{}\r\n", s.port, s.kind, u8::from(s.ca), s.netif),
            None => alloc::string::String::from("+CIPSERVER:0\r\n"),
        };
        m.write(line.as_bytes());
        Reply::Ok
    }),
    set: Some(Set {
        params: &[
            Param::int("mode", 0, 1),
            Param::int("param2", 0, 65535).opt(),
            Param::str("type", 3, 5).opt(),
            Param::int("CA enable", 0, 1).opt(),
            Param::int("netif", 0, 3).opt(),
        ],
        run: |m, a, now| server_set(m, a, now).unwrap_or_else(Reply::Error),
    }),
    exec: None,
};

/// A credential of the server's namespaces (`server_cert` etc.): stored
/// under the namespace's own name (one file) or `<name>.0` (several).
fn credential(m: &Module, ns: &str) -> Option<Vec<u8>> {
    let get = |key: &str| m.mfg.get(ns, key).and_then(|v| v.as_bytes()).map(<[u8]>::to_vec);
    get(ns).or_else(|| get(&format!("{ns}.0")))
}

fn server_set(m: &mut Module, a: &Args, now: Instant) -> Result<Reply, AtError> {
    if a.int(0) == Some(0) {
        // Type and CA must be left out when deleting.
        if a.str(2).is_some() || a.int(3).is_some() || m.ip.server.is_none() {
            return Err(AtError::ExecFailed);
        }
        let close_all = a.int(1) == Some(1);
        m.server_stop(close_all);
        return Ok(Reply::Ok);
    }
    if !m.ip.mux || m.ip.server.is_some() || m.ip.cipmode {
        return Err(AtError::ExecFailed);
    }
    let port = match a.int(1) {
        Some(0) => return Err(AtError::ParamInvalid(1)),
        Some(p) => p as u16,
        None => DEFAULT_PORT,
    };
    let kind: &'static str = match a.str(2).unwrap_or(b"TCP") {
        b"TCP" => "TCP",
        b"SSL" => "SSL",
        b"TCPv6" => "TCPv6",
        b"SSLv6" => "SSLv6",
        _ => return Err(AtError::ParamInvalid(2)),
    };
    if kind.ends_with("v6") && !m.current.ipv6 {
        return Err(AtError::ExecFailed);
    }
    let ca = a.int(3) == Some(1);
    let netif = a.int(4).unwrap_or(0) as u8;
    let tls = if kind.starts_with("SSL") {
        let (Some(cert), Some(key)) = (credential(m, "server_cert"), credential(m, "server_key")) else {
            m.log_link(0, "server: server_cert or server_key is not in the manufacturing NVS");
            return Err(AtError::ExecFailed);
        };
        let ca = if ca {
            match credential(m, "server_ca") {
                Some(c) => Some(c),
                None => {
                    m.log_link(0, "server: server_ca is not in the manufacturing NVS");
                    return Err(AtError::ExecFailed);
                }
            }
        } else {
            None
        };
        Some(ServerTlsParams { cert, key, ca })
    } else {
        None
    };
    m.ip.server = Some(ServerState { port, kind, ca, netif });
    let socket = SocketId::listener();
    m.sockets_open(socket);
    m.act(Action::Listen { socket, port, tls });
    Ok(m.busy_with_deadline(Job::Listen, now + Duration::from_secs(2)))
}

/// `AT+CIPSERVERMAXCONN`: how many clients the server takes at once.
pub const CIPSERVERMAXCONN: Command = Command {
    name: "+CIPSERVERMAXCONN",
    summary: "Query/set the most clients the server takes at once (1-5; set before AT+CIPSERVER)",
    test: None,
    query: Some(|m, _, _| {
        let line = format!("+CIPSERVERMAXCONN:{}\r\n", m.ip.max_conn);
        m.write(line.as_bytes());
        Reply::Ok
    }),
    set: Some(Set {
        params: &[Param::int("num", 1, LINKS as i64)],
        run: |m, a, _| {
            let n = a.int(0).unwrap_or(LINKS as i64) as u8;
            let clients = m.ip.links.iter().flatten().filter(|l| l.tetype == 1).count();
            if usize::from(n) < clients {
                let line = format!("Have {clients} Connections\r\n");
                m.write(line.as_bytes());
                return Reply::Error(AtError::ExecFailed);
            }
            if m.ip.server.is_some() {
                return Reply::Error(AtError::ExecFailed);
            }
            m.ip.max_conn = n;
            Reply::Ok
        },
    }),
    exec: None,
};

/// `AT+CIPSTO`: how long an accepted client may be idle.
pub const CIPSTO: Command = Command {
    name: "+CIPSTO",
    summary: "Query/set the server's idle timeout for its clients (s, 0-7200, 0: none; needs a running server)",
    test: None,
    query: Some(|m, _, _| {
        let line = format!("+CIPSTO:{}\r\n", m.ip.server_timeout);
        m.write(line.as_bytes());
        Reply::Ok
    }),
    set: Some(Set {
        params: &[Param::int("time", 0, 7200)],
        run: |m, a, _| {
            if m.ip.server.is_none() {
                return Reply::Error(AtError::ExecFailed);
            }
            m.ip.server_timeout = a.int(0).unwrap_or(0) as u16;
            Reply::Ok
        },
    }),
    exec: None,
};

impl Module {
    /// Marks a socket's transport as asked for (a listener has no
    /// [`crate::Action::Connect`]).
    pub(crate) fn sockets_open(&mut self, socket: SocketId) {
        self.sockets.opened(socket);
    }
}
