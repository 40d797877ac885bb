//! AT+SYSMSGFILTER and AT+SYSMSGFILTERCFG: regular-expression filters on
//! what the module sends the host.
//!
//! Every message the module writes (a response line, a final result, an
//! unsolicited report) is one "system message". With filtering on, the
//! first filter whose head and tail expressions both match it cuts it: the
//! host gets only the bytes between the end of the head match and the
//! start of the tail match.
//!
//! The expressions are POSIX (basic, or extended with `cflags` bit 0), as
//! ESP-AT compiles them with `regcomp`. The core translates them to the
//! syntax of Rust's `regex` crate ([`posix_to_regex`]) but does not run
//! them: the only regex engine made for the job needs atomics that the
//! ESP32-C3's `riscv32imc` target lacks, so the runtime supplies one
//! through [`RegexEngine`] (`Config::regex`). Without an engine every
//! filter is refused with ERROR.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::at::error::AtError;
use crate::at::params::Param;
use crate::at::reply::Reply;
use crate::at::table::{Command, Set};
use crate::module::{DataSink, Module};

/// Longest head or tail expression.
pub const MAX_EXPR: usize = 64;
/// Most filters at once (each one runs on every message the module sends;
/// ESP-AT is bounded by its heap).
pub const MAX_FILTERS: usize = 32;
/// `cflags` bit 0: POSIX extended syntax.
pub const REG_EXTENDED: u8 = 1;
/// `cflags` bit 1: ignore case.
pub const REG_ICASE: u8 = 2;
/// `cflags` bit 2: `^`/`$` match at line ends; `.` does not match `\n`.
pub const REG_NEWLINE: u8 = 4;

/// A regex engine the runtime lends the core (see the module docs).
pub trait RegexEngine {
    /// Compiles `pattern`, already in `regex` crate syntax, for matching
    /// bytes; `None` if it does not compile.
    fn compile(&self, pattern: &str) -> Option<Box<dyn Pattern>>;
}

/// A compiled expression.
pub trait Pattern {
    /// The first (leftmost) match in `hay`: start and end.
    fn find(&self, hay: &[u8]) -> Option<(usize, usize)>;
}

/// One filter: its source text as the host sent it, and compiled.
pub struct Filter {
    head: Vec<u8>,
    tail: Vec<u8>,
    cflags: u8,
    head_re: Option<Box<dyn Pattern>>,
    tail_re: Option<Box<dyn Pattern>>,
}

/// The filter list and its switch (neither is saved).
#[derive(Default)]
pub struct FilterState {
    /// AT+SYSMSGFILTER.
    pub enabled: bool,
    /// AT+SYSMSGFILTERCFG's filters, in the order added.
    pub filters: Vec<Filter>,
}

impl core::fmt::Debug for FilterState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "FilterState {{ enabled: {}, filters: {} }}", self.enabled, self.filters.len())
    }
}

impl FilterState {
    /// What the host gets of `msg`: all of it, or the part between the
    /// first matching filter's head and tail.
    pub fn apply<'a>(&self, msg: &'a [u8]) -> &'a [u8] {
        if !self.enabled {
            return msg;
        }
        for f in &self.filters {
            let start = match &f.head_re {
                Some(re) => match re.find(msg) {
                    Some((_, end)) => end,
                    None => continue,
                },
                None => 0,
            };
            let rest = &msg[start..];
            let end = match &f.tail_re {
                Some(re) => match re.find(rest) {
                    Some((s, _)) => s,
                    None => continue,
                },
                None => rest.len(),
            };
            return &rest[..end];
        }
        msg
    }
}

/// Translates a POSIX expression (basic, or extended with
/// [`REG_EXTENDED`]) with its `cflags` into `regex` crate syntax, matching
/// bytes. `None` for what the engine cannot do (back-references).
pub fn posix_to_regex(pattern: &[u8], cflags: u8) -> Option<String> {
    let ere = cflags & REG_EXTENDED != 0;
    let mut out = String::from("(?");
    if cflags & REG_ICASE != 0 {
        out.push('i');
    }
    // Without REG_NEWLINE a POSIX `.` matches a newline too. Bytes, not
    // UTF-8 characters, are matched (`-u`).
    out.push_str(if cflags & REG_NEWLINE != 0 { "m-u)" } else { "s-u)" });
    let lit = |out: &mut String, b: u8| {
        if b.is_ascii_alphanumeric() || b == b'_' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("\\x{b:02X}"));
        }
    };
    let mut i = 0;
    // True where a BRE `*` is literal: at the start of the expression or
    // of a group, or after an anchoring `^`.
    let mut at_start = true;
    while i < pattern.len() {
        let b = pattern[i];
        let was_start = at_start;
        at_start = false;
        match b {
            b'[' => {
                // A bracket expression: copied, with what Rust's class
                // syntax would read as operators escaped.
                let mut j = i + 1;
                out.push('[');
                if pattern.get(j) == Some(&b'^') {
                    out.push('^');
                    j += 1;
                }
                let mut first = true;
                loop {
                    let c = *pattern.get(j)?;
                    if c == b']' && !first {
                        break;
                    }
                    if c == b'[' && matches!(pattern.get(j + 1), Some(b':' | b'.' | b'=')) {
                        let kind = pattern[j + 1];
                        let close = pattern[j + 2..].windows(2).position(|w| w[0] == kind && w[1] == b']')? + j + 2;
                        if kind != b':' {
                            return None; // collating elements: not supported
                        }
                        out.push_str(core::str::from_utf8(&pattern[j..close + 2]).ok()?);
                        j = close + 2;
                    } else if c == b'-' && !first && pattern.get(j + 1) != Some(&b']') {
                        out.push('-');
                        j += 1;
                    } else {
                        lit(&mut out, c);
                        j += 1;
                    }
                    first = false;
                }
                out.push(']');
                i = j + 1;
                continue;
            }
            b'\\' => {
                let c = *pattern.get(i + 1)?;
                i += 2;
                match c {
                    b'(' | b')' | b'{' | b'}' | b'|' if !ere => {
                        out.push(char::from(c));
                        at_start = c == b'(' || c == b'|';
                    }
                    b'1'..=b'9' => return None, // back-references
                    _ => lit(&mut out, c),
                }
                continue;
            }
            b'^' if ere || was_start => {
                out.push('^');
                at_start = true;
            }
            b'$' if ere || i + 1 == pattern.len() || pattern[i + 1..].starts_with(b"\\)") => out.push('$'),
            b'*' if !ere && was_start => lit(&mut out, b),
            b'.' | b'*' => out.push(char::from(b)),
            b'+' | b'?' | b'(' | b')' | b'{' | b'}' | b'|' if ere => {
                out.push(char::from(b));
                at_start = b == b'(' || b == b'|';
            }
            _ => lit(&mut out, b),
        }
        i += 1;
    }
    Some(out)
}

/// A SYSMSGFILTERCFG add (1) or delete (2) waiting for its expressions.
#[derive(Debug, Clone)]
pub struct PendingFilter {
    op: u8,
    head_len: usize,
    cflags: u8,
}

/// `AT+SYSMSGFILTER`: filtering on or off.
pub const SYSMSGFILTER: Command = Command {
    name: "+SYSMSGFILTER",
    summary: "Enable/disable the system message filter",
    test: None,
    query: Some(|m, _, _| {
        m.write(format!("+SYSMSGFILTER:{}\r\n", u8::from(m.msgfilter.enabled)).as_bytes());
        Reply::Ok
    }),
    set: Some(Set {
        params: &[Param::int("enable", 0, 1)],
        run: |m, a, _| {
            // This command's own OK is never filtered: it goes out before
            // filtering starts, or after it stops.
            let on = a.int(0) == Some(1);
            if !on {
                m.msgfilter.enabled = false;
            }
            m.write_unfiltered(crate::at::reply::OK);
            m.msgfilter.enabled = on;
            Reply::Done
        },
    }),
    exec: None,
};

/// `AT+SYSMSGFILTERCFG`: list, clear, add or delete filters.
pub const SYSMSGFILTERCFG: Command = Command {
    name: "+SYSMSGFILTERCFG",
    summary: "Query/clear (0)/add (1)/delete (2) system message filters (expressions after >)",
    test: None,
    query: Some(|m, _, _| {
        let lines: Vec<Vec<u8>> = m
            .msgfilter
            .filters
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let mut l = format!("+SYSMSGFILTERCFG:{i},\"").into_bytes();
                l.extend_from_slice(&f.head);
                l.extend_from_slice(b"\",\"");
                l.extend_from_slice(&f.tail);
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
        params: &[
            Param::int("operator", 0, 2),
            Param::int("head_regexp_len", 0, MAX_EXPR as i64).opt(),
            Param::int("tail_regexp_len", 0, MAX_EXPR as i64).opt(),
            Param::int("cflags", 0, 7).opt(),
        ],
        run: |m, a, _| {
            let op = a.int(0).unwrap_or(0) as u8;
            if op == 0 {
                if a.len() > 1 {
                    return Reply::Error(AtError::ParamCount(a.len() as u16));
                }
                m.msgfilter.filters.clear();
                return Reply::Ok;
            }
            let (Some(head), Some(tail)) = (a.int(1), a.int(2)) else {
                return Reply::Error(AtError::ParamCount(a.len() as u16));
            };
            if head == 0 && tail == 0 {
                return Reply::Error(AtError::ParamInvalid(2));
            }
            let pending = PendingFilter { op, head_len: head as usize, cflags: a.int(3).unwrap_or(0) as u8 };
            Reply::Prompt { len: (head + tail) as usize, sink: DataSink::MsgFilter(pending) }
        },
    }),
    exec: None,
};

/// The expressions of a SYSMSGFILTERCFG add or delete arrived.
pub(crate) fn finish_filter(m: &mut Module, p: PendingFilter, data: Vec<u8>) -> Reply {
    let (head, tail) = data.split_at(p.head_len.min(data.len()));
    if p.op == 2 {
        let found = m.msgfilter.filters.iter().position(|f| f.head == head && f.tail == tail && f.cflags == p.cflags);
        return match found {
            Some(i) => {
                m.msgfilter.filters.remove(i);
                Reply::Ok
            }
            None => Reply::Error(AtError::ExecFailed),
        };
    }
    if m.msgfilter.filters.len() >= MAX_FILTERS {
        return Reply::Error(AtError::ExecFailed);
    }
    let Some(engine) = m.regex.clone() else {
        return Reply::Error(AtError::ExecFailed);
    };
    let compile = |expr: &[u8]| -> Result<Option<Box<dyn Pattern>>, ()> {
        if expr.is_empty() {
            return Ok(None);
        }
        let text = posix_to_regex(expr, p.cflags).ok_or(())?;
        engine.compile(&text).map(Some).ok_or(())
    };
    match (compile(head), compile(tail)) {
        (Ok(head_re), Ok(tail_re)) => {
            m.msgfilter.filters.push(Filter { head: head.to_vec(), tail: tail.to_vec(), cflags: p.cflags, head_re, tail_re });
            Reply::Ok
        }
        _ => Reply::Error(AtError::ExecFailed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_posix() {
        let t = |p: &[u8], f| posix_to_regex(p, f).unwrap();
        assert_eq!(t(b"^+HTTPCGET:[0-9]*,", 0), "(?s-u)^\\x2BHTTPCGET\\x3A[0\\x2D9]*\\x2C".replace("\\x2D", "-"));
        assert_eq!(t(b"\r\n$", 0), "(?s-u)\\x0D\\x0A$");
        assert_eq!(t(b"a\\(b\\)*c+", 0), "(?s-u)a(b)*c\\x2B");
        assert_eq!(t(b"a(b)+|c", REG_EXTENDED | REG_ICASE), "(?is-u)a(b)+|c");
        assert_eq!(t(b"*x", 0), "(?s-u)\\x2Ax");
        assert_eq!(t(b"[[:digit:]]", REG_NEWLINE), "(?m-u)[[:digit:]]");
        assert!(posix_to_regex(b"\\(a\\)\\1", 0).is_none());
        assert!(posix_to_regex(b"[abc", 0).is_none());
    }
}
