//! Payload masking (RFC 6455 section 5.3): XOR with a 4-byte key, cycled.
//!
//! A hot path (every byte a client sends), so it works on 8 bytes at a time
//! with the key repeated twice, after aligning the key to the offset.

/// XORs `buf` with `key`, as if `buf` started `offset` bytes into the
/// payload (so a payload can be masked in pieces).
pub fn apply(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let mut k = [0u8; 4];
    for (i, b) in k.iter_mut().enumerate() {
        *b = key[(offset + i) % 4];
    }
    let wide = u64::from_ne_bytes([k[0], k[1], k[2], k[3], k[0], k[1], k[2], k[3]]);
    let mut chunks = buf.chunks_exact_mut(8);
    for c in &mut chunks {
        // chunks_exact_mut yields exactly 8 bytes.
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        c.copy_from_slice(&(u64::from_ne_bytes(w) ^ wide).to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= k[i % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    fn naive(buf: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key[(offset + i) % 4];
        }
    }

    proptest! {
        #[test]
        fn matches_the_definition(data in proptest::collection::vec(any::<u8>(), 0..100), key: [u8; 4], offset in 0usize..10) {
            let mut fast = data.clone();
            let mut slow = data.clone();
            apply(&mut fast, key, offset);
            naive(&mut slow, key, offset);
            prop_assert_eq!(fast, slow);
        }

        #[test]
        fn pieces_equal_whole(data in proptest::collection::vec(any::<u8>(), 0..100), key: [u8; 4], cut in 0usize..100) {
            let cut = cut.min(data.len());
            let mut whole = data.clone();
            apply(&mut whole, key, 0);
            let mut parts: Vec<u8> = data.clone();
            let (a, b) = parts.split_at_mut(cut);
            apply(a, key, 0);
            apply(b, key, cut);
            prop_assert_eq!(whole, parts);
        }
    }
}
