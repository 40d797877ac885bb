//! AT+SYSMFG: erase, read and write the manufacturing NVS partition.
//!
//! `AT+SYSMFG?` lists namespaces. `AT+SYSMFG=<op>,"<ns>"[,"<key>"][,...]`
//! with op 0 erase (a key or a whole namespace), 1 read (a namespace's
//! keys, or one key's value with optional offset and length), 2 write (types
//! 1-6 take the value inline; types 7 and 8 take a length, then the bytes
//! after `>`).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::at::error::AtError;
use crate::at::params::{Args, Param};
use crate::at::reply::Reply;
use crate::at::table::{Command, Set};
use crate::mfg::{MfgValue, MAX_BLOB, MAX_NAME};
use crate::module::{Action, DataSink, Module, Store};
use crate::time::Instant;

/// A write of a string (7) or binary (8) value waiting for its bytes.
#[derive(Debug, Clone)]
pub struct MfgWrite {
    namespace: String,
    key: String,
    ty: u8,
}

/// `AT+SYSMFG`
pub const SYSMFG: Command = Command {
    name: "+SYSMFG",
    summary: "Manufacturing NVS: list namespaces; erase, read or write keys",
    test: None,
    query: Some(|m, _, _| list_namespaces(m)),
    set: Some(Set {
        params: &[
            Param::int("operation", 0, 2),
            Param::str("namespace", 1, MAX_NAME).opt(),
            Param::str("key", 1, MAX_NAME).opt(),
            // Write: the type. Read: the offset.
            Param::int("type/offset", 0, MAX_BLOB as i64).opt(),
            // Write: the value (types 1-6) or the length (7, 8). Read: the length.
            Param::int("value/length", i32::MIN as i64, u32::MAX as i64).opt(),
        ],
        run: set,
    }),
    exec: None,
};

fn list_namespaces(m: &mut Module) -> Reply {
    let names: Vec<String> = m.mfg.namespaces().map(String::from).collect();
    for ns in names {
        m.write(format!("+SYSMFG:\"{ns}\"\r\n").as_bytes());
    }
    Reply::Ok
}

fn name(a: &Args, i: usize) -> Result<Option<String>, AtError> {
    match a.str(i) {
        None => Ok(None),
        Some(b) => match core::str::from_utf8(b) {
            Ok(s) if s.bytes().all(|c| c.is_ascii_graphic()) => Ok(Some(String::from(s))),
            _ => Err(AtError::ParamInvalid(i as u16)),
        },
    }
}

fn set(m: &mut Module, a: &Args, now: Instant) -> Reply {
    match run(m, a, now) {
        Ok(r) => r,
        Err(e) => Reply::Error(e),
    }
}

fn run(m: &mut Module, a: &Args, _now: Instant) -> Result<Reply, AtError> {
    let Some(ns) = name(a, 1)? else {
        // `AT+SYSMFG=1` reads the list of namespaces, like the query.
        return match a.int(0) {
            Some(1) if a.len() == 1 => Ok(list_namespaces(m)),
            _ => Err(AtError::ParamInvalid(1)),
        };
    };
    let key = name(a, 2)?;
    match a.int(0) {
        Some(0) => {
            if a.len() > 3 {
                return Err(AtError::ParamCount(a.len() as u16));
            }
            let found = match &key {
                Some(k) => m.mfg.erase_key(&ns, k),
                None => m.mfg.erase_namespace(&ns),
            };
            if !found {
                return Err(AtError::ExecFailed);
            }
            m.act(Action::Persist(Store::Mfg));
            Ok(Reply::Ok)
        }
        Some(1) => {
            let Some(key) = key else {
                let keys: Vec<(String, u8)> = m
                    .mfg
                    .keys(&ns)
                    .ok_or(AtError::ExecFailed)?
                    .map(|(k, v)| (String::from(k), v.type_number()))
                    .collect();
                for (k, ty) in keys {
                    m.write(format!("+SYSMFG:\"{ns}\",\"{k}\",{ty}\r\n").as_bytes());
                }
                return Ok(Reply::Ok);
            };
            let value = m.mfg.get(&ns, &key).ok_or(AtError::ExecFailed)?.clone();
            let ty = value.type_number();
            let mut line = format!("+SYSMFG:\"{ns}\",\"{key}\",{ty},").into_bytes();
            let (offset, length) = (a.int(3), a.int(4));
            if let Some(n) = value.as_integer() {
                if offset.is_some() || length.is_some() {
                    return Err(AtError::ParamInvalid(3));
                }
                // For numbers ESP-AT reports the length of the decimal text.
                let text = format!("{n}");
                line.extend_from_slice(format!("{},{text}", text.len()).as_bytes());
            } else {
                let bytes = value.as_bytes().unwrap_or_default();
                let (offset, len) = match (offset, length) {
                    (None, None) => (0, bytes.len()),
                    (Some(o), Some(l)) => {
                        // The offset is 0..=MAX_BLOB by the schema.
                        let o = o as usize;
                        let l = usize::try_from(l).map_err(|_| AtError::ParamInvalid(4))?;
                        if o.checked_add(l).is_none_or(|end| end > bytes.len()) {
                            return Err(AtError::ParamInvalid(4));
                        }
                        (o, l)
                    }
                    _ => return Err(AtError::ParamCount(a.len() as u16)),
                };
                line.extend_from_slice(format!("{len},").as_bytes());
                line.extend_from_slice(&bytes[offset..offset + len]);
            }
            line.extend_from_slice(b"\r\n");
            m.write(&line);
            Ok(Reply::Ok)
        }
        _ => {
            let key = key.ok_or(AtError::ParamInvalid(2))?;
            let ty = a.int(3).filter(|t| (1..=8).contains(t)).ok_or(AtError::ParamInvalid(3))? as u8;
            let v = a.int(4).ok_or(AtError::ParamInvalid(4))?;
            if ty <= 6 {
                let value = MfgValue::integer(ty, v).ok_or(AtError::ParamInvalid(4))?;
                m.mfg.set(&ns, &key, value);
                m.act(Action::Persist(Store::Mfg));
                return Ok(Reply::Ok);
            }
            let len = usize::try_from(v).map_err(|_| AtError::ParamInvalid(4))?;
            if len == 0 || len > MAX_BLOB {
                return Err(AtError::ParamInvalid(4));
            }
            Ok(Reply::Prompt { len, sink: DataSink::Mfg(MfgWrite { namespace: ns, key, ty }) })
        }
    }
}

/// The bytes of a type 7/8 write have all arrived.
pub(crate) fn finish_write(m: &mut Module, w: MfgWrite, data: Vec<u8>, _now: Instant) -> Reply {
    let value = if w.ty == 7 { MfgValue::Str(data) } else { MfgValue::Bin(data) };
    m.mfg.set(&w.namespace, &w.key, value);
    m.act(Action::Persist(Store::Mfg));
    Reply::Ok
}
