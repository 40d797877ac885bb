//! Unsolicited reports waiting for the AT port, and the rule that none of
//! them splits another.
//!
//! Most reports are whole lines. A frame- or message-level `+WS_DATA`
//! report, though, streams: its header goes out with the first piece of
//! data and its end comes when the last piece has arrived from the server.
//! Once such a report has started on the wire it owns the port: reports of
//! other links wait behind it (each source has its own queue; the oldest
//! item goes first), and the module holds back host input, so no echo or
//! response lands inside it.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use crate::net::{SocketId, SOCKETS};

/// Where a piece sits in its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece {
    /// A complete report (or line).
    Whole,
    /// The start of a report that continues.
    Start,
    /// A middle piece.
    Middle,
    /// The last piece.
    End,
}

/// The most bytes of general lines kept waiting.
pub const GENERAL_MAX: usize = 16 * 1024;

/// Sources: general lines, then one per socket.
const SOURCES: usize = 1 + SOCKETS;

/// The queues of pending reports.
#[derive(Debug, Clone, Default)]
pub struct Reports {
    queues: [VecDeque<(u64, Piece, Vec<u8>)>; SOURCES],
    next_seq: u64,
    /// The source whose report is on the wire, unfinished.
    open: Option<usize>,
    bytes: usize,
}

impl Reports {
    /// No reports.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues a general line (its CR LF included). Lines that cannot go
    /// out (held during passthrough, say, while Wi-Fi comes and goes) keep
    /// at most [`GENERAL_MAX`] bytes: the oldest give way.
    pub fn line(&mut self, bytes: Vec<u8>) {
        let mut queued: usize = self.queues[0].iter().map(|(_, _, b)| b.len()).sum();
        while queued + bytes.len() > GENERAL_MAX {
            let Some((_, _, old)) = self.queues[0].pop_front() else { break };
            queued -= old.len();
            self.bytes -= old.len();
        }
        self.push(0, Piece::Whole, bytes);
    }

    /// Queues a piece of a socket's report.
    pub fn link(&mut self, socket: SocketId, piece: Piece, bytes: Vec<u8>) {
        self.push(1 + socket.index(), piece, bytes);
    }

    fn push(&mut self, source: usize, piece: Piece, bytes: Vec<u8>) {
        self.bytes += bytes.len();
        self.queues[source].push_back((self.next_seq, piece, bytes));
        self.next_seq += 1;
    }

    /// Bytes queued.
    pub fn len_bytes(&self) -> usize {
        self.bytes
    }

    /// Bytes queued for a socket's reports.
    pub fn link_bytes(&self, socket: SocketId) -> usize {
        self.queues[1 + socket.index()].iter().map(|(_, _, b)| b.len()).sum()
    }

    /// True if nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.queues.iter().all(VecDeque::is_empty)
    }

    /// True while a started report has not ended on the wire.
    pub fn report_open(&self) -> bool {
        self.open.is_some()
    }

    /// The socket whose report is on the wire, unfinished.
    pub fn open_link(&self) -> Option<SocketId> {
        self.open.and_then(|s| s.checked_sub(1)).and_then(SocketId::from_index)
    }

    /// Moves what may go out now into `out`.
    pub fn drain_into(&mut self, out: &mut Vec<u8>) {
        loop {
            let source = match self.open {
                Some(s) => s,
                None => {
                    let oldest = (0..SOURCES).filter_map(|s| self.queues[s].front().map(|f| (f.0, s))).min();
                    match oldest {
                        Some((_, s)) => s,
                        None => return,
                    }
                }
            };
            let Some((_, piece, bytes)) = self.queues[source].pop_front() else {
                // The open report's next piece has not arrived yet.
                return;
            };
            self.bytes -= bytes.len();
            out.extend_from_slice(&bytes);
            match piece {
                Piece::Start => self.open = Some(source),
                Piece::End => self.open = None,
                Piece::Whole | Piece::Middle => {}
            }
        }
    }

    /// Forgets everything (reboot).
    pub fn clear(&mut self) {
        *self = Reports::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn an_open_report_keeps_the_port() {
        let mut r = Reports::new();
        let mut out = Vec::new();
        r.link(SocketId::ws(0), Piece::Start, b"+WS_DATA:0,6,abc".to_vec());
        r.link(SocketId::ws(1), Piece::Whole, b"+WS_DATA:1,1,x\r\n".to_vec());
        r.line(b"WIFI DISCONNECT\r\n".to_vec());
        r.drain_into(&mut out);
        assert_eq!(out, b"+WS_DATA:0,6,abc");
        assert!(r.report_open());
        r.link(SocketId::ws(0), Piece::End, b"def\r\n".to_vec());
        r.drain_into(&mut out);
        assert_eq!(out, b"+WS_DATA:0,6,abcdef\r\n+WS_DATA:1,1,x\r\nWIFI DISCONNECT\r\n");
        assert!(!r.report_open() && r.is_empty() && r.len_bytes() == 0);
    }

    #[test]
    fn general_lines_waiting_stay_bounded() {
        let mut r = Reports::new();
        for i in 0..10_000u32 {
            r.line(alloc::format!("WIFI DISCONNECT {i}\r\n").into_bytes());
        }
        assert!(r.len_bytes() <= GENERAL_MAX, "{}", r.len_bytes());
        assert!(!r.is_empty());
    }

    #[test]
    fn oldest_first_across_sources() {
        let mut r = Reports::new();
        r.line(vec![b'1']);
        r.link(SocketId::ws(2), Piece::Whole, vec![b'2']);
        r.line(vec![b'3']);
        let mut out = Vec::new();
        r.drain_into(&mut out);
        assert_eq!(out, b"123");
    }
}
