//! The byte notation of golden transcripts and AT traces: printable ASCII
//! as it is, `\r`, `\n`, `\\`, and `\xNN` for every other byte; `{VERSION}`
//! stands for the product's version when read back.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Writes bytes in the escaped form.
pub fn escape(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() + b.len() / 4);
    for &c in b {
        match c {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(char::from(c)),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                s.push_str("\\x");
                s.push(char::from(HEX[usize::from(c >> 4)]));
                s.push(char::from(HEX[usize::from(c & 15)]));
            }
        }
    }
    s
}

/// Reads the escaped form back (`{VERSION}` becomes `version`).
pub fn unescape(s: &str, version: &str) -> Result<Vec<u8>, String> {
    let s = s.replace("{VERSION}", version);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hex = s.get(i + 2..i + 4).ok_or("a short \\x escape")?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| format!("a bad \\x escape: {hex:?}"))?);
                i += 2;
            }
            _ => return Err(String::from("an unknown escape")),
        }
        i += 2;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(unescape(&escape(&all), "").unwrap(), all);
        assert_eq!(unescape("v{VERSION}", "1.2").unwrap(), b"v1.2");
        assert!(unescape("\\q", "").is_err());
    }
}
