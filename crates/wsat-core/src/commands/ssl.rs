//! The SSL client settings of TCP/IP links: AT+CIPSSLCCONF,
//! AT+CIPSSLCCIPHER, AT+CIPSSLCCN, AT+CIPSSLCSNI, AT+CIPSSLCALPN,
//! AT+CIPSSLCPSK, AT+CIPSSLCPSKHEX. Each applies to the next AT+CIPSTART
//! of its link; `<link ID>` comes first only in multiple-connection mode,
//! where 5 means every link.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::tcpip::Fields;
use crate::at::error::AtError;
use crate::at::params::{Args, Param};
use crate::at::reply::Reply;
use crate::at::table::{Command, Set};
use crate::ip::{SslOptions, LINKS};
use crate::module::Module;

/// The links a set form names (`<link ID>` 5: all) and where its own
/// fields start.
fn targets<'a>(m: &Module, a: &'a Args) -> Result<(core::ops::Range<usize>, Fields<'a>), AtError> {
    if m.ip.mux {
        let id = Fields::new(a, 0).need_int(0, 0, LINKS as i64)? as usize;
        let range = if id == LINKS { 0..LINKS } else { id..id + 1 };
        Ok((range, Fields::new(a, 1)))
    } else {
        Ok((0..1, Fields::new(a, 0)))
    }
}

/// As [`targets`], for settings ESP-AT refuses to change under a live
/// single-mode link.
fn idle_targets<'a>(m: &Module, a: &'a Args) -> Result<(core::ops::Range<usize>, Fields<'a>), AtError> {
    if !m.ip.mux && m.ip.links[0].is_some() {
        return Err(AtError::ExecFailed);
    }
    targets(m, a)
}

/// The links a query lists: all five in multiple-connection mode, else 0.
fn listed(m: &Module) -> core::ops::Range<usize> {
    if m.ip.mux {
        0..LINKS
    } else {
        0..1
    }
}

fn apply(m: &mut Module, range: core::ops::Range<usize>, f: impl Fn(&mut SslOptions)) {
    for i in range {
        f(&mut m.ip.opts[i].ssl);
    }
}

/// `AT+CIPSSLCCONF`: authentication mode and certificate numbers.
pub const CIPSSLCCONF: Command = Command {
    name: "+CIPSSLCCONF",
    summary: "Query/set a link's SSL client authentication: mode, pki_number, ca_number",
    test: None,
    query: Some(|m, _, _| {
        let mut out = Vec::new();
        for i in listed(m) {
            let [auth, pki, ca] = m.current.ssl_conf[i];
            out.extend_from_slice(format!("+CIPSSLCCONF:{i},{auth},{pki},{ca}\r\n").as_bytes());
        }
        m.write(&out);
        Reply::Ok
    }),
    set: Some(Set {
        params: &[Param::any("link ID|auth_mode"), Param::any("auth_mode|pki_number").opt(), Param::any("pki_number|ca_number").opt(), Param::any("ca_number").opt()],
        run: |m, a, _| {
            let r = targets(m, a).and_then(|(range, f)| {
                f.at_most(3)?;
                let conf = [f.need_int(0, 0, 3)? as u8, f.int(1, 0, 255)?.unwrap_or(0) as u8, f.int(2, 0, 255)?.unwrap_or(0) as u8];
                Ok((range, conf))
            });
            match r {
                Ok((range, conf)) => {
                    // Missing credentials are only a warning: the
                    // connection will fail, the setting is taken.
                    let [auth, pki, ca] = conf;
                    let has = |m: &Module, ns: &str, n: u8| m.mfg.get(ns, &format!("{ns}.{n}")).is_some();
                    let mut warn = Vec::new();
                    if auth & 1 != 0 && !has(m, "client_cert", pki) {
                        warn.extend_from_slice(b"NO CERT FOUND\r\n");
                    }
                    if auth & 1 != 0 && !has(m, "client_key", pki) {
                        warn.extend_from_slice(b"NO PRVT_KEY FOUND\r\n");
                    }
                    if auth & 2 != 0 && !has(m, "client_ca", ca) {
                        warn.extend_from_slice(b"NO CA FOUND\r\n");
                    }
                    m.write(&warn);
                    // ESP-AT writes this one to flash whatever AT+SYSSTORE says.
                    m.save_always(|s| {
                        for i in range.clone() {
                            s.ssl_conf[i] = conf;
                        }
                    });
                    Reply::Ok
                }
                Err(e) => Reply::Error(e),
            }
        },
    }),
    exec: None,
};

/// `AT+CIPSSLCCIPHER`: the cipher suites offered.
pub const CIPSSLCCIPHER: Command = Command {
    name: "+CIPSSLCCIPHER",
    summary: "Query the cipher suites wsat's TLS offers; set the ones a link offers (counts, then IANA ids)",
    test: None,
    query: Some(|m, _, _| {
        // The suites the TLS stack supports, not the ones configured.
        let mut out = Vec::new();
        for (i, c) in crate::ip::SUPPORTED_CIPHERS.iter().enumerate() {
            out.extend_from_slice(format!("+CIPSSLCCIPHER:{i},0x{c:04X}\r\n").as_bytes());
        }
        m.write(&out);
        Reply::Ok
    }),
    set: Some(Set {
        params: &[
            Param::any("link ID|counts"),
            Param::any("counts|cipher_suite").opt(),
            Param::any("cipher_suite").opt(),
            Param::any("cipher_suite").opt(),
            Param::any("cipher_suite").opt(),
            Param::any("cipher_suite").opt(),
            Param::any("cipher_suite").opt(),
            Param::any("cipher_suite").opt(),
            Param::any("cipher_suite").opt(),
            Param::any("cipher_suite").opt(),
            Param::any("cipher_suite").opt(),
            Param::any("cipher_suite").opt(),
            Param::any("cipher_suite").opt(),
            Param::any("cipher_suite").opt(),
            Param::any("cipher_suite").opt(),
            Param::any("cipher_suite").opt(),
            Param::any("cipher_suite").opt(),
        ],
        run: |m, a, _| {
            let r = targets(m, a).and_then(|(range, f)| {
                let count = f.need_int(0, 0, 15)? as usize;
                f.at_most(1 + count)?;
                let mut suites = Vec::new();
                for i in 0..count {
                    let c = f.need_int(1 + i, 0, 0xFFFF)? as u32;
                    // Unsupported suites are skipped; none left is an error.
                    if crate::ip::SUPPORTED_CIPHERS.contains(&c) {
                        suites.push(c);
                    }
                }
                if count > 0 && suites.is_empty() {
                    return Err(AtError::ExecFailed);
                }
                Ok((range, suites))
            });
            match r {
                Ok((range, suites)) => {
                    apply(m, range, |s| s.ciphers = suites.clone());
                    Reply::Ok
                }
                Err(e) => Reply::Error(e),
            }
        },
    }),
    exec: None,
};

/// Defines a one-string setting (`AT+CIPSSLCCN`, `AT+CIPSSLCSNI`).
macro_rules! string_setting {
    ($name:literal, $summary:literal, $field:ident) => {
        Command {
            name: $name,
            summary: $summary,
            test: None,
            query: Some(|m, _, _| {
                let mut out = Vec::new();
                for i in listed(m) {
                    if let Some(v) = m.ip.opts[i].ssl.$field.clone() {
                        out.extend_from_slice(format!("{}:{i},{v}\r\n", $name).as_bytes());
                    }
                }
                m.write(&out);
                Reply::Ok
            }),
            set: Some(Set {
                params: &[Param::any("link ID|value"), Param::any("value").opt()],
                run: |m, a, _| {
                    let r = idle_targets(m, a).and_then(|(range, f)| {
                        f.at_most(1)?;
                        let v = f.need_str(0, 256)?;
                        Ok((range, String::from_utf8_lossy(v).into_owned()))
                    });
                    match r {
                        Ok((range, v)) => {
                            let v = (!v.is_empty()).then_some(v);
                            apply(m, range, |s| s.$field = v.clone());
                            Reply::Ok
                        }
                        Err(e) => Reply::Error(e),
                    }
                },
            }),
            exec: None,
        }
    };
}

/// `AT+CIPSSLCCN`: the name the server certificate must carry.
pub const CIPSSLCCN: Command =
    string_setting!("+CIPSSLCCN", "Query/set the name a link's SSL server certificate must carry", common_name);

/// `AT+CIPSSLCSNI`: the server name sent in ClientHello.
pub const CIPSSLCSNI: Command = string_setting!("+CIPSSLCSNI", "Query/set the SNI a link's SSL client sends", sni);

/// `AT+CIPSSLCALPN`: ALPN protocols offered.
pub const CIPSSLCALPN: Command = Command {
    name: "+CIPSSLCALPN",
    summary: "Query/set the ALPN protocols a link's SSL client offers (counts, then up to 5 names)",
    test: None,
    query: Some(|m, _, _| {
        let mut out = Vec::new();
        for i in listed(m) {
            if m.ip.opts[i].ssl.alpn.is_empty() {
                continue;
            }
            let mut line = format!("+CIPSSLCALPN:{i}");
            for p in &m.ip.opts[i].ssl.alpn {
                line.push(',');
                line.push_str(&String::from_utf8_lossy(p));
            }
            line.push_str("\r\n");
            out.extend_from_slice(line.as_bytes());
        }
        m.write(&out);
        Reply::Ok
    }),
    set: Some(Set {
        params: &[
            Param::any("link ID|counts"),
            Param::any("counts|alpn").opt(),
            Param::any("alpn").opt(),
            Param::any("alpn").opt(),
            Param::any("alpn").opt(),
            Param::any("alpn").opt(),
            Param::any("alpn").opt(),
        ],
        run: |m, a, _| {
            let r = idle_targets(m, a).and_then(|(range, f)| {
                let count = f.need_int(0, 0, 5)? as usize;
                f.at_most(1 + count)?;
                let mut names = Vec::new();
                for i in 0..count {
                    names.push(f.need_str(1 + i, 255)?.to_vec());
                }
                Ok((range, names))
            });
            match r {
                Ok((range, names)) => {
                    apply(m, range, |s| s.alpn = names.clone());
                    Reply::Ok
                }
                Err(e) => Reply::Error(e),
            }
        },
    }),
    exec: None,
};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &[u8]) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    text.chunks(2)
        .map(|p| {
            let s = core::str::from_utf8(p).ok()?;
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}

/// Shared set form of AT+CIPSSLCPSK and AT+CIPSSLCPSKHEX.
fn set_psk(m: &mut Module, a: &Args, is_hex: bool) -> Reply {
    let r = idle_targets(m, a).and_then(|(range, f)| {
        f.at_most(2)?;
        let psk = f.need_str(0, if is_hex { 64 } else { 32 })?;
        let hint = f.need_str(1, 32)?.to_vec();
        let psk = if is_hex { unhex(psk).ok_or(AtError::ParamInvalid(f_index(m, 0)))? } else { psk.to_vec() };
        Ok((range, psk, hint))
    });
    match r {
        Ok((range, psk, hint)) => {
            let v = (!psk.is_empty()).then_some((psk, hint));
            apply(m, range, |s| s.psk = v.clone());
            Reply::Ok
        }
        Err(e) => Reply::Error(e),
    }
}

fn f_index(m: &Module, i: u16) -> u16 {
    i + u16::from(m.ip.mux)
}

fn query_psk(m: &mut Module, is_hex: bool) -> Reply {
    let mut out = Vec::new();
    let name = if is_hex { "+CIPSSLCPSKHEX" } else { "+CIPSSLCPSK" };
    for i in listed(m) {
        let Some((psk, hint)) = m.ip.opts[i].ssl.psk.clone() else { continue };
        let psk = if is_hex { hex(&psk) } else { String::from_utf8_lossy(&psk).into_owned() };
        let hint = String::from_utf8_lossy(&hint).into_owned();
        out.extend_from_slice(format!("{name}:{i},{psk},{hint}\r\n").as_bytes());
    }
    m.write(&out);
    Reply::Ok
}

/// `AT+CIPSSLCPSK`: pre-shared key identity and hint, as text.
pub const CIPSSLCPSK: Command = Command {
    name: "+CIPSSLCPSK",
    summary: "Query/set a link's SSL pre-shared key identity and hint (text)",
    test: None,
    query: Some(|m, _, _| query_psk(m, false)),
    set: Some(Set {
        params: &[Param::any("link ID|psk"), Param::any("psk|hint"), Param::any("hint").opt()],
        run: |m, a, _| set_psk(m, a, false),
    }),
    exec: None,
};

/// `AT+CIPSSLCPSKHEX`: as AT+CIPSSLCPSK, the identity in hexadecimal.
pub const CIPSSLCPSKHEX: Command = Command {
    name: "+CIPSSLCPSKHEX",
    summary: "Query/set a link's SSL pre-shared key identity (hexadecimal) and hint",
    test: None,
    query: Some(|m, _, _| query_psk(m, true)),
    set: Some(Set {
        params: &[Param::any("link ID|psk"), Param::any("psk|hint"), Param::any("hint").opt()],
        run: |m, a, _| set_psk(m, a, true),
    }),
    exec: None,
};
