//! Incremental UTF-8 validation for text messages that arrive in pieces.
//!
//! A piece may end inside a multi-byte sequence; the validator keeps those
//! (at most 3) bytes and completes them with the next piece. Invalid bytes
//! are reported as soon as they are seen, so a bad message fails fast
//! (close code 1007) without waiting for its end.

/// State carried between pieces of one text message.
#[derive(Debug, Clone, Default)]
pub struct Utf8Validator {
    partial: [u8; 4],
    partial_len: usize,
}

/// The text is not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8;

impl Utf8Validator {
    /// A validator at the start of a message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the next piece.
    pub fn feed(&mut self, mut piece: &[u8]) -> Result<(), InvalidUtf8> {
        if self.partial_len > 0 {
            // Complete the carried sequence one byte at a time.
            while self.partial_len < 4 {
                let Some((&b, rest)) = piece.split_first() else { return Ok(()) };
                self.partial[self.partial_len] = b;
                self.partial_len += 1;
                piece = rest;
                match core::str::from_utf8(&self.partial[..self.partial_len]) {
                    Ok(_) => break,
                    Err(e) if e.error_len().is_some() => return Err(InvalidUtf8),
                    Err(_) => {}
                }
            }
            self.partial_len = 0;
        }
        match core::str::from_utf8(piece) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_some() => Err(InvalidUtf8),
            Err(e) => {
                let tail = &piece[e.valid_up_to()..];
                self.partial[..tail.len()].copy_from_slice(tail);
                self.partial_len = tail.len();
                Ok(())
            }
        }
    }

    /// The message ended: no sequence may be left open.
    pub fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let open = self.partial_len > 0;
        self.partial_len = 0;
        if open {
            Err(InvalidUtf8)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check_split(bytes: &[u8], cuts: &[usize]) -> Result<(), InvalidUtf8> {
        let mut v = Utf8Validator::new();
        let mut start = 0;
        for &c in cuts {
            let c = c.min(bytes.len()).max(start);
            v.feed(&bytes[start..c])?;
            start = c;
        }
        v.feed(&bytes[start..])?;
        v.finish()
    }

    #[test]
    fn known_cases() {
        assert!(check_split("κόσμε".as_bytes(), &[1, 2, 3, 5]).is_ok());
        assert!(check_split(b"\xce\xba\xe1\xbd", &[]).is_err()); // truncated at the end
        assert!(check_split(b"\xed\xa0\x80", &[1]).is_err()); // surrogate
        assert!(check_split(b"\xf4\x90\x80\x80", &[2]).is_err()); // > U+10FFFF
        assert!(check_split(b"\xc0\xaf", &[1]).is_err()); // overlong
        assert!(check_split("\u{10FFFF}".as_bytes(), &[1, 2, 3]).is_ok());
    }

    proptest! {
        #[test]
        fn agrees_with_std(bytes in proptest::collection::vec(any::<u8>(), 0..40), cuts in proptest::collection::vec(0usize..40, 0..5)) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            prop_assert_eq!(check_split(&bytes, &cuts).is_ok(), core::str::from_utf8(&bytes).is_ok());
        }

        #[test]
        fn valid_text_in_any_pieces(s in "\\PC{0,20}", cuts in proptest::collection::vec(0usize..80, 0..6)) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            prop_assert!(check_split(s.as_bytes(), &cuts).is_ok());
        }
    }
}
