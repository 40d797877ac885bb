//! SNTP (RFC 4330) packets: the client's request and the checks on a
//! server's answer. The module's SNTP state machine is in
//! `commands/sntp.rs`; the runtime only carries the UDP datagrams.

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;
/// NTP packet length without extensions.
pub const PACKET_LEN: usize = 48;

/// Why an answer was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SntpError {
    /// Shorter than 48 bytes.
    Short,
    /// Not a server (mode 4) or broadcast (mode 5) reply.
    Mode,
    /// Version 0 or above 4.
    Version,
    /// Stratum 0 (a kiss-o'-death) or 16 (unsynchronised).
    Stratum,
    /// The server's clock is not synchronised (leap indicator 3).
    Unsynchronized,
    /// The originate timestamp is not our transmit timestamp.
    Mismatch,
    /// No transmit timestamp.
    NoTime,
}

/// A client request whose transmit timestamp is `nonce`, so the answer's
/// originate timestamp can be matched to it (as RFC 4330 suggests, any
/// unpredictable value will do; the real time goes unsent).
pub fn request(nonce: u64) -> [u8; PACKET_LEN] {
    let mut p = [0u8; PACKET_LEN];
    p[0] = (4 << 3) | 3; // LI 0, version 4, mode 3 (client)
    p[40..48].copy_from_slice(&nonce.to_be_bytes());
    p
}

/// The server's transmit time, in Unix milliseconds, from an answer to
/// `request(nonce)`.
pub fn parse_reply(packet: &[u8], nonce: u64) -> Result<u64, SntpError> {
    if packet.len() < PACKET_LEN {
        return Err(SntpError::Short);
    }
    let li = packet[0] >> 6;
    let version = (packet[0] >> 3) & 7;
    let mode = packet[0] & 7;
    if mode != 4 && mode != 5 {
        return Err(SntpError::Mode);
    }
    if version == 0 || version > 4 {
        return Err(SntpError::Version);
    }
    if li == 3 {
        return Err(SntpError::Unsynchronized);
    }
    if packet[1] == 0 || packet[1] >= 16 {
        return Err(SntpError::Stratum);
    }
    let ts = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&packet[at..at + 8]);
        u64::from_be_bytes(b)
    };
    if mode == 4 && ts(24) != nonce {
        return Err(SntpError::Mismatch);
    }
    let transmit = ts(40);
    let secs = transmit >> 32;
    if transmit == 0 || secs < NTP_UNIX_OFFSET {
        return Err(SntpError::NoTime);
    }
    // Rounded: NTP fractions of whole milliseconds are not exact.
    let frac_ms = (((transmit & 0xffff_ffff) * 1000) + (1 << 31)) >> 32;
    Ok((secs - NTP_UNIX_OFFSET) * 1000 + frac_ms)
}

/// A server's answer carrying `unix_ms` (for tests and test servers).
pub fn reply(req: &[u8; PACKET_LEN], unix_ms: u64) -> [u8; PACKET_LEN] {
    let mut p = [0u8; PACKET_LEN];
    p[0] = (4 << 3) | 4;
    p[1] = 2;
    p[24..32].copy_from_slice(&req[40..48]);
    let secs = unix_ms / 1000 + NTP_UNIX_OFFSET;
    let frac = ((unix_ms % 1000) << 32) / 1000;
    let t = (secs << 32) | frac;
    p[32..40].copy_from_slice(&t.to_be_bytes());
    p[40..48].copy_from_slice(&t.to_be_bytes());
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let req = request(0x1234_5678_9abc_def0);
        assert_eq!(req[0], 0x23);
        let ok = reply(&req, 1_700_000_000_123);
        assert_eq!(parse_reply(&ok, 0x1234_5678_9abc_def0), Ok(1_700_000_000_123));
        assert_eq!(parse_reply(&ok, 1), Err(SntpError::Mismatch));
        assert_eq!(parse_reply(&ok[..47], 1), Err(SntpError::Short));
        let mut bad = ok;
        bad[1] = 0;
        assert_eq!(parse_reply(&bad, 0x1234_5678_9abc_def0), Err(SntpError::Stratum));
        let mut bad = ok;
        bad[0] = 0xe4;
        assert_eq!(parse_reply(&bad, 0x1234_5678_9abc_def0), Err(SntpError::Unsynchronized));
        let mut bad = ok;
        bad[0] = 0x23;
        assert_eq!(parse_reply(&bad, 0x1234_5678_9abc_def0), Err(SntpError::Mode));
        assert_eq!(parse_reply(&[0xff; 48], 0), Err(SntpError::Mode));
    }
}
