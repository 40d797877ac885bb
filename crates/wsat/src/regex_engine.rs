//! The regex engine the core borrows for AT+SYSMSGFILTER: the `regex`
//! crate, matching bytes. The core translates ESP-AT's POSIX expressions
//! into this syntax; it cannot run them itself on the ESP32-C3 target
//! (see `wsat_core::commands::sysmsgfilter`).

use wsat_core::commands::sysmsgfilter::{Pattern, RegexEngine};

/// `regex::bytes` behind the core's [`RegexEngine`].
pub struct Engine;

struct Compiled(regex::bytes::Regex);

impl RegexEngine for Engine {
    fn compile(&self, pattern: &str) -> Option<Box<dyn Pattern>> {
        // Small limits: a filter runs on every message the module sends.
        let re = regex::bytes::RegexBuilder::new(pattern).size_limit(1 << 20).build().ok()?;
        Some(Box::new(Compiled(re)))
    }
}

impl Pattern for Compiled {
    fn find(&self, hay: &[u8]) -> Option<(usize, usize)> {
        self.0.find(hay).map(|m| (m.start(), m.end()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wsat_core::commands::sysmsgfilter::posix_to_regex;

    fn find(posix: &[u8], cflags: u8, hay: &[u8]) -> Option<(usize, usize)> {
        Engine.compile(&posix_to_regex(posix, cflags).unwrap()).unwrap().find(hay)
    }

    #[test]
    fn esp_at_examples_match() {
        // The HTTP download example of ESP-AT's message filter docs.
        assert_eq!(find(b"^+HTTPCGET:[0-9]*,", 0, b"+HTTPCGET:512,data\r\n"), Some((0, 14)));
        assert_eq!(find(b"\r\n$", 0, b"+HTTPCGET:512,data\r\n"), Some((18, 20)));
        assert_eq!(find(b"\r\nOK\r\n$", 0, b"\r\nOK\r\n"), Some((0, 6)));
        assert_eq!(find(b"^WIFI CONNECTED\r\n", 0, b"WIFI CONNECTED\r\n"), Some((0, 16)));
        assert_eq!(find(b"^wifi", 2, b"WIFI"), Some((0, 4)));
        assert_eq!(find(b"a+", 1, b"caab"), Some((1, 3)));
        assert_eq!(find(b"a+", 0, b"aa+"), Some((1, 3)));
    }
}
