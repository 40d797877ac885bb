//! What a handler answers, and how that is framed on the wire.

use alloc::vec::Vec;

use super::error::AtError;
use crate::module::DataSink;

/// The outcome of running one command form.
#[derive(Debug)]
pub enum Reply {
    /// Done: `\r\nOK\r\n`.
    Ok,
    /// Failed: (`ERR CODE:...` and) `\r\nERROR\r\n`.
    Error(AtError),
    /// The handler wrote its own final result (or the module is rebooting).
    Done,
    /// Still running: the module is busy until a job finishes it.
    Pending,
    /// `\r\nOK\r\n\r\n>`, then exactly `len` raw bytes go to `sink`.
    Prompt {
        /// Bytes to collect.
        len: usize,
        /// Where they go.
        sink: DataSink,
    },
}

impl From<AtError> for Reply {
    fn from(e: AtError) -> Reply {
        Reply::Error(e)
    }
}

/// `\r\nOK\r\n`
pub const OK: &[u8] = b"\r\nOK\r\n";
/// `\r\nERROR\r\n`
pub const ERROR: &[u8] = b"\r\nERROR\r\n";
/// `\r\nSEND OK\r\n`
pub const SEND_OK: &[u8] = b"\r\nSEND OK\r\n";
/// `\r\nSEND FAIL\r\n`
pub const SEND_FAIL: &[u8] = b"\r\nSEND FAIL\r\n";
/// `\r\nOK\r\n\r\n>`
pub const PROMPT: &[u8] = b"\r\nOK\r\n\r\n>";
/// `\r\nbusy p...\r\n`
pub const BUSY: &[u8] = b"\r\nbusy p...\r\n";
/// `\r\nWill force to restart!!!\r\n`: AT+RST sent while a command runs.
pub const FORCE_RESTART: &[u8] = b"\r\nWill force to restart!!!\r\n";
/// `ready\r\n`
pub const READY: &[u8] = b"ready\r\n";

/// Appends the error result, with its ERR CODE line when `syslog` is on.
pub fn write_error(out: &mut Vec<u8>, e: AtError, syslog: bool) {
    if syslog {
        out.extend_from_slice(alloc::format!("ERR CODE:0x{:08x}\r\n", e.code()).as_bytes());
    }
    out.extend_from_slice(ERROR);
}
