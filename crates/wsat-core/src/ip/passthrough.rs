//! The host side of passthrough mode (AT+CIPMODE=1, then AT+CIPSEND):
//! every byte from the host is data for link 0, packed into packets, and
//! `+++` alone, with silence around it, leaves.
//!
//! Packing follows ESP-AT: as soon as 2920 bytes are waiting they go out
//! as a packet; fewer go out once the oldest of them has waited
//! AT+TRANSINTVL milliseconds (20 by default). The escape is three `+`
//! with more than 20 ms of silence before the first, less than 20 ms
//! between them, and more than 20 ms of silence after the third; any other
//! `+++` is data.

use alloc::vec::Vec;

use crate::time::{Duration, Instant};

/// The silence that must surround `+++`, and the most between its bytes.
pub const GUARD: Duration = Duration::from_millis(20);
/// The largest packet handed to the socket at once.
pub const PACKET: usize = 2920;

/// Passthrough's state on the host side.
#[derive(Debug, Clone)]
pub struct Passthrough {
    /// Host bytes not yet handed to the socket.
    pending: Vec<u8>,
    /// When the oldest of them arrived.
    oldest: Option<Instant>,
    /// When the host last sent anything.
    last_input: Instant,
    /// `+` bytes of a possible escape (0-3), held back from the data.
    plus: usize,
    /// When the last of them came.
    plus_at: Instant,
}

impl Passthrough {
    /// Passthrough starting now (the `>` has just gone out).
    pub fn new(now: Instant) -> Passthrough {
        Passthrough { pending: Vec::new(), oldest: None, last_input: now, plus: 0, plus_at: now }
    }

    /// Bytes from the host.
    pub fn input(&mut self, bytes: &[u8], now: Instant) {
        let quiet_before = now.saturating_since(self.last_input) > GUARD;
        self.last_input = now;
        // An escape starts only with the first byte after the guard's
        // silence, or continues `+` already held; everything after it in
        // this burst is data, taken whole.
        let starts = self.plus == 0 && quiet_before;
        let continues = self.plus > 0 && self.plus < 3 && now.saturating_since(self.plus_at) < GUARD;
        let mut rest = bytes;
        if starts || continues {
            while let [b'+', tail @ ..] = rest {
                if self.plus == 3 {
                    break;
                }
                self.plus += 1;
                self.plus_at = now;
                rest = tail;
            }
        }
        if !rest.is_empty() {
            // Not (or no longer) an escape: held `+` are data after all.
            self.release_plus(now);
            self.extend(rest, now);
        }
    }

    fn release_plus(&mut self, now: Instant) {
        let n = core::mem::take(&mut self.plus);
        self.extend(&b"+++"[..n], now);
    }

    fn extend(&mut self, bytes: &[u8], now: Instant) {
        if self.pending.is_empty() && !bytes.is_empty() {
            self.oldest = Some(now);
        }
        self.pending.extend_from_slice(bytes);
    }

    /// True once `+++` has been followed by the guard's silence: leave.
    pub fn quit_due(&self, now: Instant) -> bool {
        self.plus == 3 && now.saturating_since(self.plus_at) > GUARD
    }

    /// Packets due now: full ones at once, the rest after `interval`.
    /// `flush` takes everything (leaving passthrough). On a stream
    /// (`datagrams` false) the full packets due together come as one
    /// buffer: TCP and TLS keep no packet boundaries, and one write of many
    /// packets costs the runtime one wake-up instead of one each. On UDP
    /// each packet is a datagram.
    pub fn packets(&mut self, now: Instant, interval: Duration, flush: bool, datagrams: bool) -> Vec<Vec<u8>> {
        if !flush && self.plus > 0 && self.plus < 3 && now.saturating_since(self.plus_at) >= GUARD {
            // An escape that did not complete in time is data.
            self.release_plus(now);
        }
        let due = self.oldest.is_some_and(|t| now >= t + interval);
        let take = if flush || due { self.pending.len() } else { self.pending.len() / PACKET * PACKET };
        let mut out = Vec::new();
        if take > 0 && !datagrams {
            out.push(if take == self.pending.len() { core::mem::take(&mut self.pending) } else { self.pending.drain(..take).collect() });
        } else if take > 0 {
            out.extend(self.pending[..take].chunks(PACKET).map(<[u8]>::to_vec));
            self.pending.drain(..take);
        }
        if self.pending.is_empty() {
            self.oldest = None;
        } else if take > 0 {
            // The bytes left behind full packets are the newest: their wait
            // starts no earlier than the last input (never too early).
            self.oldest = Some(self.last_input);
        }
        out
    }

    /// Bytes waiting to be packed.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// When [`Passthrough::packets`] or [`Passthrough::quit_due`] next has
    /// something to do.
    pub fn deadline(&self, interval: Duration) -> Option<Instant> {
        let packet = self.oldest.map(|t| t + interval);
        let plus = (self.plus > 0).then_some(self.plus_at + GUARD + Duration::from_millis(1));
        match (packet, plus) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    const I: Duration = Duration::from_millis(20);

    #[test]
    fn escape_needs_silence_around_it() {
        let mut p = Passthrough::new(at(0));
        p.input(b"abc", at(100));
        p.input(b"+++", at(200));
        assert!(!p.quit_due(at(215)));
        assert!(p.quit_due(at(221)));
        assert_eq!(p.packets(at(221), I, true, true), [b"abc".to_vec()]);
    }

    #[test]
    fn plus_inside_data_is_data() {
        let mut p = Passthrough::new(at(0));
        p.input(b"a+++b", at(100));
        assert!(!p.quit_due(at(200)));
        assert_eq!(p.packets(at(200), I, false, true), [b"a+++b".to_vec()]);
        // Too soon after other data.
        p.input(b"x", at(300));
        p.input(b"+++", at(310));
        assert!(!p.quit_due(at(400)));
        assert_eq!(p.packets(at(400), I, false, true), [b"x+++".to_vec()]);
        // Followed too soon by more data.
        p.input(b"+++", at(500));
        p.input(b"y", at(510));
        assert!(!p.quit_due(at(600)));
        assert_eq!(p.packets(at(600), I, false, true), [b"+++y".to_vec()]);
    }

    #[test]
    fn escape_bytes_may_come_one_by_one_but_not_slowly() {
        let mut p = Passthrough::new(at(0));
        p.input(b"+", at(100));
        p.input(b"+", at(110));
        p.input(b"+", at(120));
        assert!(p.quit_due(at(141)));
        let mut p = Passthrough::new(at(0));
        p.input(b"+", at(100));
        p.input(b"+", at(130));
        p.input(b"+", at(140));
        assert!(!p.quit_due(at(200)));
        assert_eq!(p.packets(at(200), I, false, true), [b"+++".to_vec()]);
    }

    #[test]
    fn packing_follows_size_and_interval() {
        let mut p = Passthrough::new(at(0));
        p.input(&[1; 7000], at(100));
        let now = p.packets(at(100), I, false, true);
        assert_eq!(now.iter().map(Vec::len).collect::<Vec<_>>(), [2920, 2920]);
        assert!(p.packets(at(119), I, false, true).is_empty());
        assert_eq!(p.packets(at(120), I, false, true)[0].len(), 1160);
        assert_eq!(p.deadline(I), None);
        // On a stream the full packets due together are one write.
        let mut p = Passthrough::new(at(0));
        p.input(&[1; 7000], at(100));
        assert_eq!(p.packets(at(100), I, false, false).iter().map(Vec::len).collect::<Vec<_>>(), [5840]);
        assert_eq!(p.packets(at(120), I, false, false).iter().map(Vec::len).collect::<Vec<_>>(), [1160]);
    }
}
