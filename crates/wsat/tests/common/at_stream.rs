//! A parser for the AT port's output in the soak tests: prompts, results,
//! `+WS_DATA` reports (mask 63), WebSocket link state lines, `+IPD` in
//! both receive modes and AT+CIPRECVDATA answers. Anything else is a
//! failure: every byte wsat prints must be accounted for.

#![allow(dead_code)]

use std::collections::VecDeque;

/// Parses the AT port's output: prompts, results and +WS_DATA reports
/// (all links use mask 63: opcode, fin, payload_len, offset, data_len).
pub struct Parser {
    pub buf: Vec<u8>,
    /// Per link: bytes of the message being reassembled, and messages done.
    pub partial: [Vec<u8>; 3],
    pub done: [VecDeque<Vec<u8>>; 3],
    pub events: VecDeque<&'static str>,
    /// Per TCP link: the bytes received so far (active `+IPD` data and
    /// AT+CIPRECVDATA answers).
    pub streams: [Vec<u8>; 5],
    /// Passive links whose `+IPD` notice awaits a read.
    pub notices: VecDeque<usize>,
    /// AT+CIPRECVDATA answers, in order.
    pub received_data: VecDeque<Vec<u8>>,
    /// WebSocket link state lines, in order: ("connected" | "disconnected" | "closed", link).
    pub links: VecDeque<(&'static str, usize)>,
}

/// `<digits>` then `end` at the start of `b`: the number and the length.
pub fn number(b: &[u8]) -> Option<(usize, usize)> {
    let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if n == 0 || n == b.len() {
        return None;
    }
    Some((std::str::from_utf8(&b[..n]).ok()?.parse().ok()?, n))
}

impl Parser {
    pub fn new() -> Parser {
        Parser {
            buf: Vec::new(),
            partial: Default::default(),
            done: Default::default(),
            events: VecDeque::new(),
            streams: Default::default(),
            notices: VecDeque::new(),
            received_data: VecDeque::new(),
            links: VecDeque::new(),
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        loop {
            const TOKENS: [(&[u8], &str); 4] = [
                (b"\r\nOK\r\n\r\n>", "prompt"),
                (b"\r\nSEND OK\r\n", "send ok"),
                (b"\r\nERROR\r\n", "error"),
                (b"\r\nOK\r\n", "ok"),
            ];
            if let Some((t, name)) = TOKENS.iter().find(|(t, _)| self.buf.starts_with(t)) {
                self.buf.drain(..t.len());
                self.events.push_back(name);
                continue;
            }
            // Link state lines: +WS_CONNECTED:<id>, +WS_DISCONNECTED:<id>, +WS_CLOSED:<id>
            if let Some((name, tag)) = [("+WS_CONNECTED:", "connected"), ("+WS_DISCONNECTED:", "disconnected"), ("+WS_CLOSED:", "closed")]
                .iter()
                .find(|(n, _)| self.buf.starts_with(n.as_bytes()))
            {
                let rest = &self.buf[name.len()..];
                let Some((id, n)) = number(rest) else { return };
                if rest.len() < n + 2 {
                    return;
                }
                assert_eq!(&rest[n..n + 2], b"\r\n", "{name} line");
                self.links.push_back((tag, id));
                // A report cut by a lost link starts again from scratch.
                if *tag != "connected" && id < 3 {
                    self.partial[id].clear();
                }
                self.buf.drain(..name.len() + n + 2);
                continue;
            }
            // \r\nRecv <n> bytes\r\n (then SEND OK)
            if let Some(rest) = self.buf.strip_prefix(b"\r\nRecv ".as_slice()) {
                let Some((_, n)) = number(rest) else { return };
                let tail = &rest[n..];
                if tail.len() < 8 {
                    return;
                }
                assert_eq!(&tail[..8], b" bytes\r\n", "Recv line");
                let used = 7 + n + 8;
                self.buf.drain(..used);
                continue;
            }
            // \r\n+IPD,<id>,<len>:<data>\r\n (active) or \r\n+IPD,<id>,<len>\r\n (passive)
            if let Some(rest) = self.buf.strip_prefix(b"\r\n+IPD,".as_slice()) {
                let Some((id, n1)) = number(rest) else { return };
                let Some((len, n2)) = number(&rest[n1 + 1..]) else { return };
                let after = 7 + n1 + 1 + n2;
                match self.buf.get(after) {
                    None => return,
                    Some(b':') => {
                        if self.buf.len() < after + 1 + len + 2 {
                            return;
                        }
                        let data = self.buf[after + 1..after + 1 + len].to_vec();
                        assert_eq!(&self.buf[after + 1 + len..after + 3 + len], b"\r\n", "+IPD ends with CR LF");
                        self.streams[id].extend_from_slice(&data);
                        self.buf.drain(..after + 3 + len);
                    }
                    Some(b'\r') => {
                        if self.buf.len() < after + 2 {
                            return;
                        }
                        self.notices.push_back(id);
                        self.buf.drain(..after + 2);
                    }
                    Some(other) => panic!("unexpected byte {other} after +IPD,{id},{len}"),
                }
                continue;
            }
            // +CIPRECVDATA:<n>,<data>\r\nOK\r\n (the link is the one asked)
            if let Some(rest) = self.buf.strip_prefix(b"+CIPRECVDATA:".as_slice()) {
                let Some((len, n)) = number(rest) else { return };
                let at = 13 + n + 1;
                if self.buf.len() < at + len + 6 {
                    return;
                }
                let data = self.buf[at..at + len].to_vec();
                assert_eq!(&self.buf[at + len..at + len + 6], b"\r\nOK\r\n", "CIPRECVDATA ends with OK");
                self.buf.drain(..at + len + 6);
                self.events.push_back("recvdata");
                self.received_data.push_back(data);
                continue;
            }
            if self.buf.starts_with(b"+WS_DATA:") {
                // +WS_DATA:<id>,<op>,<fin>,<payload_len>,<offset>,<data_len>,<data>\r\n
                let mut fields = Vec::new();
                let mut at = 9;
                while fields.len() < 6 {
                    let Some(comma) = self.buf[at..].iter().position(|&b| b == b',') else { return };
                    let text = std::str::from_utf8(&self.buf[at..at + comma]).expect("ascii field");
                    fields.push(text.parse::<u64>().expect("numeric field"));
                    at += comma + 1;
                }
                let data_len = fields[5] as usize;
                if self.buf.len() < at + data_len + 2 {
                    return;
                }
                let link = fields[0] as usize;
                let (fin, payload_len, offset) = (fields[2] == 1, fields[3], fields[4]);
                let data = self.buf[at..at + data_len].to_vec();
                assert_eq!(&self.buf[at + data_len..at + data_len + 2], b"\r\n", "report ends with CR LF");
                self.buf.drain(..at + data_len + 2);
                self.partial[link].extend_from_slice(&data);
                if fin && offset + data_len as u64 == payload_len {
                    let m = std::mem::take(&mut self.partial[link]);
                    self.done[link].push_back(m);
                }
                continue;
            }
            // Whatever is buffered must be the start of something known.
            let k = self.buf.len().min(11);
            let known = TOKENS.iter().any(|(t, _)| t.starts_with(&self.buf[..k.min(t.len())]))
                || b"+WS_DATA:".starts_with(&self.buf[..k.min(9)])
                || b"\r\nRecv ".starts_with(&self.buf[..k.min(7)])
                || b"\r\n+IPD,".starts_with(&self.buf[..k.min(7)])
                || b"+CIPRECVDATA:".starts_with(&self.buf[..k.min(13)])
                || [&b"+WS_CONNECTED:"[..], b"+WS_DISCONNECTED:", b"+WS_CLOSED:"].iter().any(|t| t.starts_with(&self.buf[..k.min(t.len())]));
            assert!(known, "unexpected output: {}", super::escape(&self.buf[..self.buf.len().min(80)]));
            return;
        }
    }
}

