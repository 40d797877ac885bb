//! WebSocket URIs (RFC 6455 section 3): `ws://host[:port][/path][?query]`
//! and `wss://...`. Hosts are names, IPv4 literals or bracketed IPv6.

use alloc::format;
use alloc::string::String;

/// A parsed `ws://` or `wss://` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUri {
    /// `wss://`.
    pub tls: bool,
    /// Host name or address, without brackets.
    pub host: String,
    /// Port (default 80 or 443).
    pub port: u16,
    /// Path and query, at least `/`.
    pub resource: String,
}

/// Why a URI was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriError {
    /// Not `ws://` or `wss://`.
    Scheme,
    /// No host, or a malformed one.
    Host,
    /// A port that is not 1-65535.
    Port,
    /// Fragments, user info, spaces or control bytes are not allowed.
    Syntax,
}

impl WsUri {
    /// Parses `s`.
    pub fn parse(s: &[u8]) -> Result<WsUri, UriError> {
        let s = core::str::from_utf8(s).map_err(|_| UriError::Syntax)?;
        if s.bytes().any(|b| b <= b' ' || b == 0x7f) || s.contains('#') {
            return Err(UriError::Syntax);
        }
        // Compare bytes: slicing the str could split a UTF-8 character.
        let b = s.as_bytes();
        let (tls, rest) = if b.len() > 5 && b[..5].eq_ignore_ascii_case(b"ws://") {
            (false, &s[5..])
        } else if b.len() > 6 && b[..6].eq_ignore_ascii_case(b"wss://") {
            (true, &s[6..])
        } else {
            return Err(UriError::Scheme);
        };
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, resource) = rest.split_at(split);
        if authority.contains('@') {
            return Err(UriError::Syntax);
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let end = v6.find(']').ok_or(UriError::Host)?;
            let after = &v6[end + 1..];
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or(UriError::Host)?),
            };
            (&v6[..end], port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() || host.contains(['[', ']']) {
            return Err(UriError::Host);
        }
        let port = match port {
            None => {
                if tls {
                    443
                } else {
                    80
                }
            }
            Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or(UriError::Port)?,
        };
        let resource = if resource.is_empty() {
            String::from("/")
        } else if resource.starts_with('?') {
            format!("/{resource}")
        } else {
            String::from(resource)
        };
        Ok(WsUri { tls, host: String::from(host), port, resource })
    }

    /// The `Host` header's value: always `host:port`.
    pub fn host_header(&self) -> String {
        // esp_websocket_client always writes `host:port`, default port or
        // not, and servers see exactly that.
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        format!("{host}:{}", self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> (bool, String, u16, String) {
        let u = WsUri::parse(s.as_bytes()).unwrap();
        (u.tls, u.host, u.port, u.resource)
    }

    #[test]
    fn table() {
        assert_eq!(ok("ws://127.0.0.1:8765"), (false, "127.0.0.1".into(), 8765, "/".into()));
        assert_eq!(ok("WSS://example.com/a/b?c=d"), (true, "example.com".into(), 443, "/a/b?c=d".into()));
        assert_eq!(ok("ws://h?x"), (false, "h".into(), 80, "/?x".into()));
        assert_eq!(ok("ws://[::1]:9/p"), (false, "::1".into(), 9, "/p".into()));
        assert_eq!(ok("wss://[::1]"), (true, "::1".into(), 443, "/".into()));
        for (bad, e) in [
            ("http://h", UriError::Scheme),
            ("ws://", UriError::Scheme),
            ("ws://:80", UriError::Host),
            ("ws://h:0", UriError::Port),
            ("ws://h:65536", UriError::Port),
            ("ws://h:x", UriError::Port),
            ("ws://h/#frag", UriError::Syntax),
            ("ws://u@h", UriError::Syntax),
            ("ws://h/a b", UriError::Syntax),
            ("ws://[::1", UriError::Host),
            // Found by the fuzzer: a multi-byte character across the scheme.
            ("ws:/\u{45a}", UriError::Scheme),
            ("wss:/\u{45a}x", UriError::Scheme),
        ] {
            assert_eq!(WsUri::parse(bad.as_bytes()), Err(e), "{bad}");
        }
    }

    #[test]
    fn host_header() {
        assert_eq!(WsUri::parse(b"ws://h:80").unwrap().host_header(), "h:80");
        assert_eq!(WsUri::parse(b"wss://h/x").unwrap().host_header(), "h:443");
        assert_eq!(WsUri::parse(b"ws://h:81").unwrap().host_header(), "h:81");
        assert_eq!(WsUri::parse(b"wss://[::1]:8443").unwrap().host_header(), "[::1]:8443");
    }
}
