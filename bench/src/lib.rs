//! Inputs shared by wsat's benchmarks, so every library is measured on the
//! same bytes.

/// A stream of `count` unmasked server frames (binary, FIN) of `size` bytes.
pub fn server_frames(count: usize, size: usize) -> Vec<u8> {
    let payload: Vec<u8> = (0..size).map(|i| (i * 7 + 3) as u8).collect();
    let mut out = Vec::with_capacity(count * (size + 10));
    for _ in 0..count {
        let h = wsat_core::ws::frame::FrameHeader {
            fin: true,
            rsv: 0,
            opcode: wsat_core::ws::frame::OP_BINARY,
            mask: None,
            payload_len: size as u64,
        };
        h.emit(&mut out);
        out.extend_from_slice(&payload);
    }
    out
}
