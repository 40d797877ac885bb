//! RFC 6455 frames: the header, the client's (masked) encoder and a
//! streaming decoder that hands out payload in pieces as it arrives.
//!
//! The decoder enforces every rule a client must check on what a server
//! sends, each as its own [`FrameError`] with the close code the client
//! answers with. A close frame is an event, not an error.

use alloc::vec::Vec;

use super::mask;
use super::utf8::Utf8Validator;

/// Continuation frame.
pub const OP_CONTINUATION: u8 = 0x0;
/// Text frame.
pub const OP_TEXT: u8 = 0x1;
/// Binary frame.
pub const OP_BINARY: u8 = 0x2;
/// Close frame.
pub const OP_CLOSE: u8 = 0x8;
/// Ping frame.
pub const OP_PING: u8 = 0x9;
/// Pong frame.
pub const OP_PONG: u8 = 0xA;

/// Largest control frame payload.
pub const MAX_CONTROL: usize = 125;

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Final fragment of a message.
    pub fin: bool,
    /// RSV1-3, as the low three bits.
    pub rsv: u8,
    /// 4-bit opcode.
    pub opcode: u8,
    /// Masking key, if the frame is masked.
    pub mask: Option<[u8; 4]>,
    /// Payload length.
    pub payload_len: u64,
}

impl FrameHeader {
    /// Parses a header at the start of `buf`. `Ok(None)`: more bytes are
    /// needed. Only the length's top bit is checked here; protocol rules
    /// are the decoder's.
    pub fn parse(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, FrameError> {
        let [b0, b1, ..] = *buf else { return Ok(None) };
        let (len, mut at) = match b1 & 0x7f {
            126 => {
                let Some(b) = buf.get(2..4) else { return Ok(None) };
                (u64::from(u16::from_be_bytes([b[0], b[1]])), 4)
            }
            127 => {
                let Some(b) = buf.get(2..10) else { return Ok(None) };
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                let n = u64::from_be_bytes(a);
                if n >> 63 != 0 {
                    return Err(FrameError::LengthOverflow);
                }
                (n, 10)
            }
            n => (u64::from(n), 2),
        };
        let mask = if b1 & 0x80 != 0 {
            let Some(m) = buf.get(at..at + 4) else { return Ok(None) };
            at += 4;
            Some([m[0], m[1], m[2], m[3]])
        } else {
            None
        };
        let h = FrameHeader { fin: b0 & 0x80 != 0, rsv: (b0 >> 4) & 0x7, opcode: b0 & 0xf, mask, payload_len: len };
        Ok(Some((h, at)))
    }

    /// The header's encoded length.
    pub fn encoded_len(&self) -> usize {
        let ext = match self.payload_len {
            0..=125 => 0,
            126..=0xffff => 2,
            _ => 8,
        };
        2 + ext + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Appends the encoded header.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(u8::from(self.fin) << 7 | (self.rsv & 7) << 4 | (self.opcode & 0xf));
        let m = if self.mask.is_some() { 0x80 } else { 0 };
        match self.payload_len {
            n @ 0..=125 => out.push(m | n as u8),
            n @ 126..=0xffff => {
                out.push(m | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(m | 127);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
        if let Some(k) = self.mask {
            out.extend_from_slice(&k);
        }
    }
}

/// Appends one masked client frame carrying `payload`.
pub fn encode_client_frame(out: &mut Vec<u8>, opcode: u8, fin: bool, key: [u8; 4], payload: &[u8]) {
    let h = FrameHeader { fin, rsv: 0, opcode, mask: Some(key), payload_len: payload.len() as u64 };
    out.reserve(h.encoded_len() + payload.len());
    h.emit(out);
    let start = out.len();
    out.extend_from_slice(payload);
    mask::apply(&mut out[start..], key, 0);
}

/// A rule of RFC 6455 the server broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// RSV bits set without a negotiated extension.
    ReservedBits,
    /// Opcode 0x3-0x7 or 0xB-0xF.
    ReservedOpcode(u8),
    /// A control frame with FIN clear.
    FragmentedControl,
    /// A control frame longer than 125 bytes.
    ControlTooLong,
    /// A 64-bit length with its top bit set.
    LengthOverflow,
    /// Servers must not mask frames.
    MaskedFrame,
    /// A continuation frame with no message to continue.
    UnexpectedContinuation,
    /// A new data frame while a fragmented message is open.
    ExpectedContinuation,
    /// Text that is not UTF-8 (in a message or a close reason).
    InvalidUtf8,
    /// A close frame with a 1-byte payload.
    CloseTooShort,
    /// A close code that may not be sent.
    InvalidCloseCode(u16),
    /// A message larger than the client can hold.
    MessageTooBig,
}

impl FrameError {
    /// The close code a client answers this error with.
    pub fn close_code(self) -> u16 {
        match self {
            FrameError::InvalidUtf8 => 1007,
            FrameError::MessageTooBig => 1009,
            _ => 1002,
        }
    }
}

/// Is `code` one an endpoint may put in a close frame?
pub fn valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// What the decoder found.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A piece of a data frame's payload (unmasked).
    Data {
        /// The frame's opcode (0 for a continuation).
        opcode: u8,
        /// The message's opcode (text or binary).
        message_opcode: u8,
        /// The frame's FIN bit.
        fin: bool,
        /// The frame's payload length.
        payload_len: u64,
        /// Where this piece starts in the frame's payload.
        offset: u64,
        /// The bytes.
        data: &'a [u8],
    },
    /// A ping, with its payload.
    Ping(Vec<u8>),
    /// A pong, with its payload.
    Pong(Vec<u8>),
    /// A close frame: the code (if any) and the reason.
    Close(Option<u16>, Vec<u8>),
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Collecting a header (bytes so far in `head`).
    Header,
    /// Inside a data frame's payload.
    Payload { header: FrameHeader, offset: u64 },
    /// Collecting a control frame's payload (kept in `control`).
    Control { header: FrameHeader },
    /// After an error: dropping the rest of the offending frame, so the
    /// frames after it (the server's close) can still be read.
    Skip { remaining: u64 },
    /// After a header that cannot be skipped (a length with its top bit
    /// set): no frame boundary can be found again; everything is dropped.
    Broken,
}

/// A streaming decoder for the frames a server sends.
#[derive(Debug, Clone)]
pub struct Decoder {
    state: State,
    head: Vec<u8>,
    control: Vec<u8>,
    /// The open fragmented message's opcode, if any.
    message: Option<u8>,
    utf8: Utf8Validator,
    /// Largest piece of data handed out at once (the client's buffer).
    max_piece: usize,
}

impl Decoder {
    /// A decoder that hands out data in pieces of at most `max_piece` bytes.
    pub fn new(max_piece: usize) -> Decoder {
        Decoder {
            state: State::Header,
            head: Vec::with_capacity(14),
            control: Vec::new(),
            message: None,
            utf8: Utf8Validator::new(),
            max_piece: max_piece.max(1),
        }
    }

    /// True between frames (nothing half-read).
    pub fn at_frame_boundary(&self) -> bool {
        matches!(self.state, State::Header) && self.head.is_empty()
    }

    /// True while a fragmented message is open.
    pub fn in_message(&self) -> bool {
        self.message.is_some()
    }

    /// Consumes bytes from `input`; returns how many (also on error), and
    /// what they completed (at most one item). Call again with the rest
    /// until it consumes nothing. After an error the decoder skips the rest
    /// of the offending frame, so later frames (a close) can still be read.
    /// Data pieces are unmasked in place, hence `&mut`.
    pub fn decode<'a>(&mut self, input: &'a mut [u8]) -> (usize, Result<Option<Decoded<'a>>, FrameError>) {
        let (n, result) = self.decode_inner(input);
        if result.is_err() {
            // The message is void.
            self.message = None;
            self.utf8 = Utf8Validator::new();
        }
        (n, result)
    }

    fn decode_inner<'a>(&mut self, input: &'a mut [u8]) -> (usize, Result<Option<Decoded<'a>>, FrameError>) {
        // The common case, a whole header at hand: parse it in place and
        // carry on into the payload in the same call.
        if matches!(self.state, State::Header) && self.head.is_empty() {
            match FrameHeader::parse(input) {
                Ok(Some((header, hlen))) => {
                    if let Err(e) = self.begin(header) {
                        self.state = match header.payload_len {
                            0 => State::Header,
                            n => State::Skip { remaining: n },
                        };
                        return (hlen, Err(e));
                    }
                    if header.payload_len == 0 {
                        return (hlen, self.finish_empty(header));
                    }
                    let (_, rest) = input.split_at_mut(hlen);
                    let (n, r) = self.decode_inner(rest);
                    return (hlen + n, r);
                }
                Ok(None) => {} // a partial header: collect it below
                Err(e) => {
                    self.state = State::Broken;
                    return (input.len().min(14), Err(e));
                }
            }
        }
        match self.state {
            State::Broken => (input.len(), Ok(None)),
            State::Skip { remaining } => {
                let take = remaining.min(input.len() as u64);
                self.state = if take == remaining { State::Header } else { State::Skip { remaining: remaining - take } };
                (take as usize, Ok(None))
            }
            State::Header => {
                let before = self.head.len();
                let want = 14 - before;
                let take = want.min(input.len());
                self.head.extend_from_slice(&input[..take]);
                let (header, hlen) = match FrameHeader::parse(&self.head) {
                    Ok(Some(h)) => h,
                    Ok(None) => return (take, Ok(None)),
                    Err(e) => {
                        self.head.clear();
                        self.state = State::Broken;
                        return (take, Err(e));
                    }
                };
                // Bytes of `input` that belonged to the header.
                let used = hlen - before;
                self.head.clear();
                if let Err(e) = self.begin(header) {
                    self.state = match header.payload_len {
                        0 => State::Header,
                        n => State::Skip { remaining: n },
                    };
                    return (used, Err(e));
                }
                // A frame with an empty payload completes at once.
                if header.payload_len == 0 {
                    return (used, self.finish_empty(header));
                }
                (used, Ok(None))
            }
            State::Control { header } => {
                let need = header.payload_len as usize - self.control.len();
                let take = need.min(input.len());
                self.control.extend_from_slice(&input[..take]);
                if self.control.len() < header.payload_len as usize {
                    return (take, Ok(None));
                }
                self.state = State::Header;
                let payload = core::mem::take(&mut self.control);
                (take, control_event(header.opcode, payload).map(Some))
            }
            State::Payload { header, offset } => {
                let remaining = header.payload_len - offset;
                let take = (remaining.min(input.len() as u64) as usize).min(self.max_piece);
                if take == 0 {
                    return (0, Ok(None));
                }
                let piece = &mut input[..take];
                if let Some(k) = header.mask {
                    mask::apply(piece, k, (offset % 4) as usize);
                }
                let message_opcode = self.message.unwrap_or(header.opcode);
                let end = offset + take as u64 == header.payload_len;
                if message_opcode == OP_TEXT {
                    let checked = self.utf8.feed(piece).and_then(|()| {
                        if end && header.fin {
                            self.utf8.finish()
                        } else {
                            Ok(())
                        }
                    });
                    if checked.is_err() {
                        let rest = header.payload_len - offset - take as u64;
                        self.state = if rest == 0 { State::Header } else { State::Skip { remaining: rest } };
                        return (take, Err(FrameError::InvalidUtf8));
                    }
                }
                if end {
                    self.state = State::Header;
                    if header.fin {
                        self.message = None;
                    }
                } else {
                    self.state = State::Payload { header, offset: offset + take as u64 };
                }
                let item = Decoded::Data {
                    opcode: header.opcode,
                    message_opcode,
                    fin: header.fin,
                    payload_len: header.payload_len,
                    offset,
                    data: piece,
                };
                (take, Ok(Some(item)))
            }
        }
    }

    /// Checks a new frame's header and enters its payload state.
    fn begin(&mut self, h: FrameHeader) -> Result<(), FrameError> {
        if h.rsv != 0 {
            return Err(FrameError::ReservedBits);
        }
        if h.mask.is_some() {
            return Err(FrameError::MaskedFrame);
        }
        match h.opcode {
            OP_CLOSE | OP_PING | OP_PONG => {
                if !h.fin {
                    return Err(FrameError::FragmentedControl);
                }
                if h.payload_len > MAX_CONTROL as u64 {
                    return Err(FrameError::ControlTooLong);
                }
                self.control.clear();
                self.state = State::Control { header: h };
            }
            OP_CONTINUATION => {
                if self.message.is_none() {
                    return Err(FrameError::UnexpectedContinuation);
                }
                self.state = State::Payload { header: h, offset: 0 };
            }
            OP_TEXT | OP_BINARY => {
                if self.message.is_some() {
                    return Err(FrameError::ExpectedContinuation);
                }
                self.utf8 = Utf8Validator::new();
                if !h.fin {
                    self.message = Some(h.opcode);
                }
                self.state = State::Payload { header: h, offset: 0 };
            }
            op => return Err(FrameError::ReservedOpcode(op)),
        }
        Ok(())
    }

    /// A frame with no payload bytes: report it whole now.
    fn finish_empty<'a>(&mut self, h: FrameHeader) -> Result<Option<Decoded<'a>>, FrameError> {
        self.state = State::Header;
        match h.opcode {
            OP_CLOSE | OP_PING | OP_PONG => Ok(Some(control_event(h.opcode, Vec::new())?)),
            _ => {
                let message_opcode = self.message.unwrap_or(h.opcode);
                if h.fin {
                    if message_opcode == OP_TEXT {
                        self.utf8.finish().map_err(|_| FrameError::InvalidUtf8)?;
                    }
                    self.message = None;
                }
                Ok(Some(Decoded::Data {
                    opcode: h.opcode,
                    message_opcode,
                    fin: h.fin,
                    payload_len: 0,
                    offset: 0,
                    data: &[],
                }))
            }
        }
    }
}

fn control_event<'a>(opcode: u8, payload: Vec<u8>) -> Result<Decoded<'a>, FrameError> {
    Ok(match opcode {
        OP_PING => Decoded::Ping(payload),
        OP_PONG => Decoded::Pong(payload),
        _ => match payload.len() {
            0 => Decoded::Close(None, payload),
            1 => return Err(FrameError::CloseTooShort),
            _ => {
                let code = u16::from_be_bytes([payload[0], payload[1]]);
                if !valid_close_code(code) {
                    return Err(FrameError::InvalidCloseCode(code));
                }
                let reason = payload[2..].to_vec();
                core::str::from_utf8(&reason).map_err(|_| FrameError::InvalidUtf8)?;
                Decoded::Close(Some(code), reason)
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    /// An unmasked server frame.
    fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        FrameHeader { fin, rsv: 0, opcode, mask: None, payload_len: payload.len() as u64 }.emit(&mut out);
        out.extend_from_slice(payload);
        out
    }

    /// Everything the decoder yields for `bytes`, fed in `step`-byte pieces.
    /// (opcode, fin, payload_len, offset or close code, bytes)
    type Item = (u8, bool, u64, u64, Vec<u8>);

    fn decode_all(bytes: &[u8], step: usize, max_piece: usize) -> Result<Vec<Item>, FrameError> {
        let mut d = Decoder::new(max_piece);
        let mut out = Vec::new();
        for chunk in bytes.chunks(step.max(1)) {
            let mut buf = chunk.to_vec();
            let mut at = 0;
            loop {
                let (n, item) = d.decode(&mut buf[at..]);
                let item = item?;
                at += n;
                match item {
                    Some(Decoded::Data { opcode, fin, payload_len, offset, data, .. }) => {
                        out.push((opcode, fin, payload_len, offset, data.to_vec()))
                    }
                    Some(Decoded::Ping(p)) => out.push((OP_PING, true, p.len() as u64, 0, p)),
                    Some(Decoded::Pong(p)) => out.push((OP_PONG, true, p.len() as u64, 0, p)),
                    Some(Decoded::Close(c, r)) => {
                        out.push((OP_CLOSE, true, 0, u64::from(c.unwrap_or(0)), r))
                    }
                    None if n == 0 => break,
                    None => {}
                }
            }
        }
        Ok(out)
    }

    #[test]
    fn header_lengths_round_trip() {
        for len in [0u64, 1, 125, 126, 65535, 65536, 1 << 40] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let h = FrameHeader { fin: true, rsv: 0, opcode: 2, mask, payload_len: len };
                let mut out = Vec::new();
                h.emit(&mut out);
                assert_eq!(out.len(), h.encoded_len());
                assert_eq!(FrameHeader::parse(&out).unwrap(), Some((h, out.len())));
                assert_eq!(FrameHeader::parse(&out[..out.len() - 1]).unwrap(), None);
            }
        }
        let mut huge = vec![0x82, 127];
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(FrameHeader::parse(&huge), Err(FrameError::LengthOverflow));
        // Found by the fuzzer: after such a header the decoder must keep
        // consuming (it used to return the error forever, consuming nothing).
        let mut d = Decoder::new(16);
        let mut first = huge.clone();
        let (n, r) = d.decode(&mut first);
        assert_eq!((n, r), (10, Err(FrameError::LengthOverflow)));
        assert_eq!(d.decode(&mut [0x81, 0x00]), (2, Ok(None)));
    }

    #[test]
    fn client_frames_are_masked() {
        let mut out = Vec::new();
        encode_client_frame(&mut out, OP_TEXT, true, [0x37, 0xfa, 0x21, 0x3d], b"Hello");
        // RFC 6455 section 5.7's example.
        assert_eq!(out, [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }

    #[test]
    fn fragmented_message_with_interleaved_ping() {
        let mut bytes = frame(false, OP_TEXT, b"Hel");
        bytes.extend(frame(true, OP_PING, b"p"));
        bytes.extend(frame(true, OP_CONTINUATION, b"lo"));
        for step in [1, 2, 3, 100] {
            let got = decode_all(&bytes, step, 1024).unwrap();
            let text: Vec<u8> = got.iter().filter(|g| g.0 != OP_PING).flat_map(|g| g.4.clone()).collect();
            assert_eq!(text, b"Hello");
            assert!(got.iter().any(|g| g.0 == OP_PING && g.4 == b"p"));
            assert!(got.last().unwrap().1, "the last piece carries FIN");
        }
    }

    #[test]
    fn pieces_respect_the_buffer() {
        let bytes = frame(true, OP_BINARY, &[7u8; 3000]);
        let got = decode_all(&bytes, 5000, 1024).unwrap();
        let sizes: Vec<(usize, u64)> = got.iter().map(|g| (g.4.len(), g.3)).collect();
        assert_eq!(sizes, [(1024, 0), (1024, 1024), (952, 2048)]);
        assert!(got.iter().all(|g| g.2 == 3000));
    }

    #[test]
    fn protocol_errors() {
        let err = |bytes: &[u8]| decode_all(bytes, 100, 1024).unwrap_err();
        assert_eq!(err(&[0xc1, 0x00]), FrameError::ReservedBits);
        assert_eq!(err(&[0x83, 0x00]), FrameError::ReservedOpcode(3));
        assert_eq!(err(&[0x8b, 0x00]), FrameError::ReservedOpcode(0xb));
        assert_eq!(err(&frame(false, OP_PING, b"")), FrameError::FragmentedControl);
        assert_eq!(err(&frame(true, OP_PING, &[0; 126])), FrameError::ControlTooLong);
        assert_eq!(err(&[0x81, 0x81, 1, 2, 3, 4, 0]), FrameError::MaskedFrame);
        assert_eq!(err(&frame(true, OP_CONTINUATION, b"x")), FrameError::UnexpectedContinuation);
        let mut two = frame(false, OP_TEXT, b"a");
        two.extend(frame(true, OP_TEXT, b"b"));
        assert_eq!(err(&two), FrameError::ExpectedContinuation);
        assert_eq!(err(&frame(true, OP_TEXT, b"\xff")), FrameError::InvalidUtf8);
        assert_eq!(err(&frame(true, OP_TEXT, b"\xce")), FrameError::InvalidUtf8);
        assert_eq!(err(&frame(true, OP_CLOSE, &[3])), FrameError::CloseTooShort);
        assert_eq!(err(&frame(true, OP_CLOSE, &[0x03, 0xed])), FrameError::InvalidCloseCode(1005));
        assert_eq!(err(&frame(true, OP_CLOSE, &[0x03, 0xe8, 0xff])), FrameError::InvalidUtf8);
        assert_eq!(FrameError::InvalidUtf8.close_code(), 1007);
        assert_eq!(FrameError::ReservedBits.close_code(), 1002);
    }

    #[test]
    fn empty_frames_and_close() {
        let mut bytes = frame(true, OP_TEXT, b"");
        bytes.extend(frame(true, OP_CLOSE, &[0x03, 0xe8, b'o', b'k']));
        let got = decode_all(&bytes, 1, 1024).unwrap();
        assert_eq!(got, vec![(OP_TEXT, true, 0, 0, vec![]), (OP_CLOSE, true, 0, 1000, b"ok".to_vec())]);
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200), step in 1usize..20, max in 1usize..50) {
            let _ = decode_all(&bytes, step, max);
        }

        #[test]
        fn payload_survives_any_split(payload in proptest::collection::vec(any::<u8>(), 0..300), step in 1usize..40, max in 1usize..64) {
            let bytes = frame(true, OP_BINARY, &payload);
            let got = decode_all(&bytes, step, max).unwrap();
            let joined: Vec<u8> = got.iter().flat_map(|g| g.4.clone()).collect();
            prop_assert_eq!(joined, payload);
        }
    }
}
