//! AT+SYSFLASH: the user partitions of the flash.
//!
//! ESP-AT's ESP32-C3 partition table (`at_customize.csv`) has two user
//! partitions: `mfg_nvs` (the manufacturing NVS, 124 KiB at 0x1f000) and
//! `fs_storage` (100 KiB at 0x47000). `fs_storage` is a virtual NOR flash
//! here, kept in the state directory: erase sets 4 KiB sectors to 0xFF, a
//! write can only clear bits (so write after erase, as the docs say), a
//! read returns the bytes. `mfg_nvs` holds the key-value store that
//! AT+SYSMFG edits; its raw NVS pages are not emulated, so only erasing
//! (which empties the store) works on it.

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use crate::at::error::AtError;
use crate::at::params::Param;
use crate::at::reply::Reply;
use crate::at::table::{Command, Set};
use crate::module::{Action, DataSink, Module, Store};

/// Size of `fs_storage`.
pub const FS_STORAGE_SIZE: usize = 100 * 1024;
/// Size of `mfg_nvs`.
pub const MFG_NVS_SIZE: usize = 124 * 1024;
/// The erase unit.
pub const SECTOR: usize = 4096;

/// An erased `fs_storage`.
pub fn blank_fs_storage() -> Vec<u8> {
    vec![0xFF; FS_STORAGE_SIZE]
}

/// A write to `fs_storage` waiting for its data.
#[derive(Debug, Clone)]
pub struct PendingWrite {
    offset: usize,
}

/// `AT+SYSFLASH`: list, erase, write, read user partitions.
pub const SYSFLASH: Command = Command {
    name: "+SYSFLASH",
    summary: "Query the user partitions; erase (0), write (1, data after >) or read (2) one",
    test: None,
    query: Some(|m, _, _| {
        // name, type (data), subtype (nvs / 0xff), address, size
        m.write(format!("+SYSFLASH:\"mfg_nvs\",1,2,0x1f000,0x{MFG_NVS_SIZE:x}\r\n").as_bytes());
        m.write(format!("+SYSFLASH:\"fs_storage\",1,255,0x47000,0x{FS_STORAGE_SIZE:x}\r\n").as_bytes());
        Reply::Ok
    }),
    set: Some(Set {
        params: &[
            Param::int("operation", 0, 2),
            Param::str("partition", 1, 16),
            Param::int("offset", 0, MFG_NVS_SIZE as i64).opt(),
            Param::int("length", 1, MFG_NVS_SIZE as i64).opt(),
        ],
        run: |m, a, _| {
            let op = a.int(0).unwrap_or(0);
            let (offset, length) = (a.int(2), a.int(3));
            match a.str(1).unwrap_or_default() {
                b"mfg_nvs" => {
                    // Erasing any sectors of it loses the store: NVS keeps
                    // its entries spread over its pages (the docs' own
                    // example erases 4096..12288).
                    let whole = offset.is_none() && length.is_none();
                    let sectors = match (offset, length) {
                        (Some(o), Some(l)) => o as usize % SECTOR == 0 && l as usize % SECTOR == 0 && (o + l) as usize <= MFG_NVS_SIZE,
                        _ => false,
                    };
                    if op == 0 && (whole || sectors) {
                        m.mfg = crate::mfg::MfgNvs::new();
                        m.act(Action::Persist(Store::Mfg));
                        return Reply::Ok;
                    }
                    // Raw NVS pages are not emulated: use AT+SYSMFG.
                    Reply::Error(AtError::ExecFailed)
                }
                b"fs_storage" => {
                    let (off, len) = match (offset, length) {
                        (None, None) if op == 0 => (0, FS_STORAGE_SIZE),
                        (Some(o), Some(l)) => (o as usize, l as usize),
                        _ => return Reply::Error(AtError::ParamCount(a.len() as u16)),
                    };
                    if off + len > FS_STORAGE_SIZE {
                        return Reply::Error(AtError::ParamInvalid(3));
                    }
                    match op {
                        0 => {
                            if off % SECTOR != 0 || len % SECTOR != 0 {
                                return Reply::Error(AtError::ParamInvalid(2));
                            }
                            if !m.flash.is_empty() {
                                m.flash[off..off + len].fill(0xFF);
                            }
                            m.act(Action::Persist(Store::Flash));
                            Reply::Ok
                        }
                        1 => Reply::Prompt { len, sink: DataSink::Flash(PendingWrite { offset: off }) },
                        _ => {
                            let mut out = format!("+SYSFLASH:{len},").into_bytes();
                            match m.flash.get(off..off + len) {
                                Some(bytes) => out.extend_from_slice(bytes),
                                None => out.resize(out.len() + len, 0xFF),
                            }
                            out.extend_from_slice(b"\r\n");
                            m.write(&out);
                            Reply::Ok
                        }
                    }
                }
                _ => Reply::Error(AtError::ParamInvalid(1)),
            }
        },
    }),
    exec: None,
};

/// The data of an `fs_storage` write arrived: NOR semantics, bits only
/// clear.
pub(crate) fn finish_write(m: &mut Module, w: PendingWrite, data: Vec<u8>) -> Reply {
    if m.flash.is_empty() {
        m.flash = blank_fs_storage();
    }
    for (cell, b) in m.flash[w.offset..w.offset + data.len()].iter_mut().zip(data) {
        *cell &= b;
    }
    m.act(Action::Persist(Store::Flash));
    Reply::Ok
}
