//! Command line assembly: bytes from the host in, whole command lines out.
//!
//! A command line ends with CR LF and, terminator included, fits in
//! [`MAX_LINE`] bytes. The assembler also decides what a real module's
//! user would call noise: a control byte in the middle of a line (a baud
//! rate mismatch, a glitch, a random binary blob) or a lone CR/LF. After
//! noise it *resynchronises*: it drops bytes until the next `AT`, so a host
//! that follows garbage with a plain `AT\r\n` is answered, not told ERROR
//! for the garbage glued in front of its command.
//!
//! Echo is decided here too, byte by byte, because ESP-AT echoes input as
//! it arrives: only bytes that become part of a command line are echoed.

use alloc::vec::Vec;

/// The longest command line, CR LF included (ESP-AT's AT command buffer).
pub const MAX_LINE: usize = 256;

/// What one input byte completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineEvent {
    /// A complete command line, without its CR LF.
    Line(Vec<u8>),
    /// A line longer than [`MAX_LINE`] ended; its bytes were dropped.
    TooLong,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting a line (possibly empty).
    Collect,
    /// The line outgrew the buffer; waiting for its CR LF to report it.
    Overflow,
    /// After noise: dropping bytes until `AT`. `saw_a` is true after an `A`.
    Resync { saw_a: bool },
}

/// Assembles command lines from a byte stream.
#[derive(Debug, Clone)]
pub struct LineAssembler {
    buf: Vec<u8>,
    state: State,
    /// A CR was seen; the next byte must be LF.
    cr: bool,
    /// In resync, the byte before this one (the `A` or `a` of `AT`).
    a: u8,
}

impl Default for LineAssembler {
    fn default() -> Self {
        Self::new()
    }
}

impl LineAssembler {
    /// An assembler at the start of a line.
    pub fn new() -> Self {
        LineAssembler {
            buf: Vec::with_capacity(MAX_LINE),
            state: State::Collect,
            cr: false,
            a: 0,
        }
    }

    /// True when no part of a line is pending (nothing was echoed that a
    /// report could split).
    pub fn is_idle(&self) -> bool {
        match self.state {
            State::Collect => self.buf.is_empty() && !self.cr,
            State::Overflow => false,
            State::Resync { .. } => true,
        }
    }

    /// Forgets any partial line (a new host attached, or the module reset).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.state = State::Collect;
        self.cr = false;
    }

    /// Takes one byte. Bytes to echo are appended to `echo`.
    pub fn push(&mut self, b: u8, echo: &mut Vec<u8>) -> Option<LineEvent> {
        if self.cr {
            self.cr = false;
            if b == b'\n' {
                echo.push(b'\n');
                return match self.state {
                    State::Collect => Some(LineEvent::Line(core::mem::take(&mut self.buf))),
                    State::Overflow => {
                        self.state = State::Collect;
                        Some(LineEvent::TooLong)
                    }
                    // A CR is only pending in the two states above.
                    State::Resync { .. } => None,
                };
            }
            // A lone CR: the line is noise. Look at `b` afresh in resync.
            self.noise();
            return self.push(b, echo);
        }
        match self.state {
            State::Resync { saw_a } => {
                if saw_a && b.eq_ignore_ascii_case(&b'T') {
                    self.state = State::Collect;
                    let a = self.a;
                    self.buf.extend_from_slice(&[a, b]);
                    echo.extend_from_slice(&[a, b]);
                } else {
                    self.state = State::Resync { saw_a: b.eq_ignore_ascii_case(&b'A') };
                    self.a = b;
                }
                None
            }
            State::Collect | State::Overflow => {
                match b {
                    b'\r' => {
                        self.cr = true;
                        echo.push(b);
                    }
                    // Backspace or DEL: a person at a terminal fixing a typo.
                    0x08 | 0x7f => {
                        if self.state == State::Collect && self.buf.pop().is_some() {
                            echo.extend_from_slice(b"\x08 \x08");
                        }
                    }
                    b'\t' => self.take(b, echo),
                    // Any other control byte (LF without CR included) can
                    // never be part of a command: it is noise.
                    0x00..=0x1f => self.noise(),
                    _ => self.take(b, echo),
                }
                None
            }
        }
    }

    fn take(&mut self, b: u8, echo: &mut Vec<u8>) {
        echo.push(b);
        if self.state == State::Overflow {
            return;
        }
        // Room must remain for the CR LF.
        if self.buf.len() + 2 >= MAX_LINE {
            self.buf.clear();
            self.state = State::Overflow;
        } else {
            self.buf.push(b);
        }
    }

    fn noise(&mut self) {
        self.buf.clear();
        self.cr = false;
        self.state = State::Resync { saw_a: false };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn feed(a: &mut LineAssembler, bytes: &[u8]) -> (Vec<LineEvent>, Vec<u8>) {
        let mut echo = Vec::new();
        let events = bytes.iter().filter_map(|&b| a.push(b, &mut echo)).collect();
        (events, echo)
    }

    #[test]
    fn table() {
        // (input, lines out, echo)
        type Case<'a> = (&'a [u8], &'a [&'a [u8]], &'a [u8]);
        let cases: &[Case] = &[
            (b"AT\r\n", &[b"AT"], b"AT\r\n"),
            (b"AT\r\nATE0\r\n", &[b"AT", b"ATE0"], b"AT\r\nATE0\r\n"),
            (b"\r\n", &[b""], b"\r\n"),
            (b"AT+X=\"a\tb\"\r\n", &[b"AT+X=\"a\tb\""], b"AT+X=\"a\tb\"\r\n"),
            // LF alone is noise; resync finds the next AT.
            (b"AT\nAT\r\n", &[b"AT"], b"ATAT\r\n"),
            // Lone CR is noise too.
            (b"AT\rxAT\r\n", &[b"AT"], b"AT\rAT\r\n"),
            // Garbage with a control byte, then a command glued to it.
            (b"\x00\xffzzAT+GMR\r\n", &[b"AT+GMR"], b"AT+GMR\r\n"),
            // Backspace edits.
            (b"ATX\x08\r\n", &[b"AT"], b"ATX\x08 \x08\r\n"),
            (b"\x7f\r\n", &[b""], b"\r\n"),
        ];
        for (input, lines, echo) in cases {
            let mut a = LineAssembler::new();
            let (ev, ec) = feed(&mut a, input);
            let want: Vec<LineEvent> = lines.iter().map(|l| LineEvent::Line(l.to_vec())).collect();
            assert_eq!(ev, want, "input {:?}", input);
            assert_eq!(&ec[..], *echo, "echo for {:?}", input);
        }
    }

    #[test]
    fn longest_line_fits_and_one_more_overflows() {
        let mut a = LineAssembler::new();
        let mut line = vec![b'A', b'T'];
        line.resize(MAX_LINE - 2, b'x');
        let mut input = line.clone();
        input.extend_from_slice(b"\r\n");
        assert_eq!(feed(&mut a, &input).0, vec![LineEvent::Line(line.clone())]);

        line.push(b'x');
        let mut input = line.clone();
        input.extend_from_slice(b"\r\n");
        assert_eq!(feed(&mut a, &input).0, vec![LineEvent::TooLong]);
        assert_eq!(feed(&mut a, b"AT\r\n").0, vec![LineEvent::Line(b"AT".to_vec())]);
    }

    #[test]
    fn idle_tracks_partial_lines() {
        let mut a = LineAssembler::new();
        assert!(a.is_idle());
        feed(&mut a, b"AT");
        assert!(!a.is_idle());
        feed(&mut a, b"\r");
        assert!(!a.is_idle());
        feed(&mut a, b"\n");
        assert!(a.is_idle());
    }
}
