//! The opening handshake (RFC 6455 section 4): the client's HTTP Upgrade
//! request, and the checks on the server's answer.

use alloc::string::String;
use alloc::vec::Vec;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use sha1::{Digest, Sha1};

use super::uri::WsUri;

/// The GUID every Sec-WebSocket-Accept is derived with.
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// The largest response head accepted.
pub const MAX_RESPONSE_HEAD: usize = 8192;
/// Headers parsed at most.
const MAX_HEADERS: usize = 48;

/// How the server got the handshake wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeError {
    /// The response head is larger than [`MAX_RESPONSE_HEAD`].
    TooLarge,
    /// Not a parseable HTTP/1.1 response.
    Malformed,
    /// A status other than 101.
    Status(u16),
    /// No `Upgrade: websocket`.
    Upgrade,
    /// No `Connection: Upgrade`.
    Connection,
    /// `Sec-WebSocket-Accept` missing or wrong.
    Accept,
    /// A subprotocol that was not asked for.
    Subprotocol,
    /// An extension, though none was offered.
    Extension,
}

/// `base64(sha1(key + GUID))`.
pub fn accept_for(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(GUID);
    BASE64.encode(h.finalize())
}

/// The Sec-WebSocket-Key for 16 random bytes.
pub fn key_for(nonce: [u8; 16]) -> String {
    BASE64.encode(nonce)
}

/// What goes into the request besides the URI.
#[derive(Debug, Clone, Default)]
pub struct RequestOptions<'a> {
    /// `Sec-WebSocket-Protocol`.
    pub subprotocol: Option<&'a [u8]>,
    /// `Authorization` value, as given.
    pub authorization: Option<&'a [u8]>,
    /// Extra headers: name and value (written `name: value`).
    pub headers: &'a [(Vec<u8>, Vec<u8>)],
}

/// The client's Upgrade request.
pub fn request(uri: &WsUri, key: &str, opts: &RequestOptions<'_>) -> Vec<u8> {
    let mut r = Vec::with_capacity(256);
    let mut line = |parts: &[&[u8]]| {
        for p in parts {
            r.extend_from_slice(p);
        }
        r.extend_from_slice(b"\r\n");
    };
    line(&[b"GET ", uri.resource.as_bytes(), b" HTTP/1.1"]);
    line(&[b"Host: ", uri.host_header().as_bytes()]);
    line(&[b"User-Agent: ESP32 Websocket Client"]);
    line(&[b"Upgrade: websocket"]);
    line(&[b"Connection: Upgrade"]);
    line(&[b"Sec-WebSocket-Key: ", key.as_bytes()]);
    line(&[b"Sec-WebSocket-Version: 13"]);
    if let Some(p) = opts.subprotocol {
        line(&[b"Sec-WebSocket-Protocol: ", p]);
    }
    if let Some(a) = opts.authorization {
        line(&[b"Authorization: ", a]);
    }
    for (name, value) in opts.headers {
        line(&[name, b": ", value]);
    }
    r.extend_from_slice(b"\r\n");
    r
}

/// The server accepted: what it agreed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The subprotocol the server chose, if any.
    pub subprotocol: Option<Vec<u8>>,
}

/// Collects and checks the server's response.
#[derive(Debug, Clone)]
pub struct ResponseReader {
    accept: String,
    subprotocol: Option<Vec<u8>>,
    head: Vec<u8>,
}

impl ResponseReader {
    /// Expects the answer to a request made with `key` (and `subprotocol`).
    pub fn new(key: &str, subprotocol: Option<&[u8]>) -> ResponseReader {
        ResponseReader { accept: accept_for(key), subprotocol: subprotocol.map(<[u8]>::to_vec), head: Vec::new() }
    }

    /// Takes bytes from the server. `Ok(None)`: more needed. `Ok(Some((a,
    /// n)))`: accepted; the first `n` bytes of `input` were the response,
    /// the rest are already WebSocket frames.
    pub fn feed(&mut self, input: &[u8]) -> Result<Option<(Accepted, usize)>, HandshakeError> {
        let before = self.head.len();
        self.head.extend_from_slice(input);
        let Some(end) = find_head_end(&self.head, before) else {
            if self.head.len() > MAX_RESPONSE_HEAD {
                return Err(HandshakeError::TooLarge);
            }
            return Ok(None);
        };
        if end > MAX_RESPONSE_HEAD {
            return Err(HandshakeError::TooLarge);
        }
        let accepted = self.check(&self.head[..end])?;
        Ok(Some((accepted, end - before)))
    }

    fn check(&self, head: &[u8]) -> Result<Accepted, HandshakeError> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(head) {
            Ok(httparse::Status::Complete(_)) => {}
            _ => return Err(HandshakeError::Malformed),
        }
        let code = resp.code.ok_or(HandshakeError::Malformed)?;
        if code != 101 {
            return Err(HandshakeError::Status(code));
        }
        let headers: &[httparse::Header<'_>] = resp.headers;
        let find = |name: &'static str| headers.iter().filter(move |h| h.name.eq_ignore_ascii_case(name));
        let has_token = |name: &'static str, token: &str| {
            find(name).any(|h| h.value.split(|&b| b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes())))
        };
        if !has_token("Upgrade", "websocket") {
            return Err(HandshakeError::Upgrade);
        }
        if !has_token("Connection", "upgrade") {
            return Err(HandshakeError::Connection);
        }
        let mut accepts = find("Sec-WebSocket-Accept");
        match (accepts.next(), accepts.next()) {
            (Some(a), None) if a.value.trim_ascii() == self.accept.as_bytes() => {}
            _ => return Err(HandshakeError::Accept),
        }
        if find("Sec-WebSocket-Extensions").any(|h| !h.value.trim_ascii().is_empty()) {
            return Err(HandshakeError::Extension);
        }
        let mut protos = find("Sec-WebSocket-Protocol");
        let subprotocol = match (protos.next(), protos.next(), &self.subprotocol) {
            (None, _, _) => None,
            (Some(p), None, Some(asked)) => {
                let chosen = p.value.trim_ascii();
                let offered = asked.split(|&b| b == b',').any(|o| o.trim_ascii() == chosen);
                if !offered {
                    return Err(HandshakeError::Subprotocol);
                }
                Some(chosen.to_vec())
            }
            _ => return Err(HandshakeError::Subprotocol),
        };
        Ok(Accepted { subprotocol })
    }
}

/// The index just past `\r\n\r\n`, searching from a little before `from`.
fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let start = from.saturating_sub(3);
    buf[start..].windows(4).position(|w| w == b"\r\n\r\n").map(|i| start + i + 4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::vec;

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    #[test]
    fn rfc_example_accept() {
        assert_eq!(accept_for(KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    fn response(extra: &str) -> Vec<u8> {
        format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n{extra}\r\n").into_bytes()
    }

    #[test]
    fn request_has_the_required_headers() {
        let uri = WsUri::parse(b"ws://127.0.0.1:8765/chat?x=1").unwrap();
        let hdrs = vec![(b"X-Token".to_vec(), b" abc".to_vec())];
        let opts = RequestOptions { subprotocol: Some(b"chat"), authorization: Some(b"Basic Zm9v"), headers: &hdrs };
        let r = String::from_utf8(request(&uri, KEY, &opts)).unwrap();
        assert!(r.starts_with("GET /chat?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8765\r\n"), "{r}");
        for h in [
            "Upgrade: websocket\r\n",
            "Connection: Upgrade\r\n",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
            "Sec-WebSocket-Version: 13\r\n",
            "Sec-WebSocket-Protocol: chat\r\n",
            "Authorization: Basic Zm9v\r\n",
            "X-Token:  abc\r\n",
        ] {
            assert!(r.contains(h), "{h:?} missing in {r}");
        }
        assert!(r.ends_with("\r\n\r\n"));
    }

    #[test]
    fn accepts_a_good_response_in_pieces_and_keeps_trailing_frames() {
        let mut bytes = response("");
        let head_len = bytes.len();
        bytes.extend_from_slice(&[0x81, 0x02, b'h', b'i']);
        for step in [1, 7, bytes.len()] {
            let mut r = ResponseReader::new(KEY, None);
            let mut fed = 0;
            let mut done = None;
            for chunk in bytes.chunks(step) {
                if let Some((a, n)) = r.feed(chunk).unwrap() {
                    done = Some((a, fed + n));
                    break;
                }
                fed += chunk.len();
            }
            let (a, n) = done.expect("accepted");
            assert_eq!(n, head_len);
            assert_eq!(a.subprotocol, None);
        }
    }

    #[test]
    fn every_way_to_get_it_wrong() {
        let check = |bytes: &[u8], sub: Option<&[u8]>| ResponseReader::new(KEY, sub).feed(bytes).map(|o| o.map(|(a, _)| a));
        let ok = response("");
        let swap = |from: &str, to: &str| String::from_utf8(ok.clone()).unwrap().replace(from, to).into_bytes();
        assert_eq!(check(&swap("101 Switching Protocols", "200 OK"), None), Err(HandshakeError::Status(200)));
        assert_eq!(check(&swap("Upgrade: websocket", "Upgrade: h2c"), None), Err(HandshakeError::Upgrade));
        assert_eq!(check(&swap("Connection: Upgrade", "Connection: close"), None), Err(HandshakeError::Connection));
        assert_eq!(check(&swap("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "AAAA"), None), Err(HandshakeError::Accept));
        assert_eq!(check(&response("Sec-WebSocket-Protocol: chat\r\n"), None), Err(HandshakeError::Subprotocol));
        assert_eq!(check(&response("Sec-WebSocket-Protocol: mqtt\r\n"), Some(b"chat")), Err(HandshakeError::Subprotocol));
        assert_eq!(
            check(&response("Sec-WebSocket-Protocol: chat\r\n"), Some(b"mqtt, chat")).unwrap().unwrap().subprotocol,
            Some(b"chat".to_vec())
        );
        assert_eq!(check(&response("Sec-WebSocket-Extensions: permessage-deflate\r\n"), None), Err(HandshakeError::Extension));
        assert_eq!(check(b"garbage\r\n\r\n", None), Err(HandshakeError::Malformed));
        assert_eq!(check(&vec![b'a'; MAX_RESPONSE_HEAD + 1], None), Err(HandshakeError::TooLarge));
        // Case and token lists are fine.
        assert!(check(&swap("Connection: Upgrade", "connection: keep-alive, UPGRADE"), None).unwrap().is_some());
    }
}
