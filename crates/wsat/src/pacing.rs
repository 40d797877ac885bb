//! UART pacing: makes a fast transport behave like a serial line at a given
//! baud rate, so host firmware meets real timing (and real throughput
//! limits) without hardware.
//!
//! A [`Pacer`] is the line's clock in one direction: each byte occupies the
//! line for (start + data + parity + stop bits) / baud seconds, and bytes
//! queue behind each other.

use tokio::time::{Duration, Instant};
use wsat_core::settings::UartConfig;

/// One direction of a paced line.
#[derive(Debug, Clone)]
pub struct Pacer {
    /// Half bits per byte on the wire (1.5 stop bits are 3 half bits).
    half_bits: u64,
    /// Bits per second.
    baud: u64,
    /// When the line is next free.
    free_at: Instant,
}

impl Pacer {
    /// A line with `uart`'s framing, idle now.
    pub fn new(uart: UartConfig) -> Pacer {
        let mut p = Pacer { half_bits: 20, baud: 115_200, free_at: Instant::now() };
        p.set(uart);
        p
    }

    /// Changes the line settings (AT+UART_CUR / AT+UART_DEF).
    pub fn set(&mut self, uart: UartConfig) {
        self.half_bits = u64::from(uart.half_bits_per_byte());
        self.baud = u64::from(uart.baud.max(1));
    }

    /// Bytes the line carries in `d` (at least 1).
    pub fn bytes_in(&self, d: Duration) -> usize {
        let bytes = d.as_nanos() * u128::from(self.baud) * 2 / (1_000_000_000 * u128::from(self.half_bits));
        usize::try_from(bytes).unwrap_or(usize::MAX).max(1)
    }

    /// Puts `n` bytes on the line; returns when the last one has been
    /// carried.
    pub fn transmit(&mut self, n: usize) -> Instant {
        let start = self.free_at.max(Instant::now());
        // Exact, rounded up: the line is never faster than its rate.
        let half_bits = n as u128 * u128::from(self.half_bits);
        let ns = (half_bits * 500_000_000).div_ceil(u128::from(self.baud));
        self.free_at = start + Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX));
        self.free_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn eight_n_one_is_ten_bits() {
        let mut p = Pacer::new(UartConfig { baud: 115_200, ..UartConfig::default() });
        let t0 = Instant::now();
        let done = p.transmit(11_520);
        assert_eq!(done - t0, Duration::from_secs(1));
        // Queued behind the first burst.
        assert_eq!(p.transmit(11_520) - t0, Duration::from_secs(2));
        p.set(UartConfig { baud: 9600, stop_bits: 3, parity: 1, ..UartConfig::default() });
        // 1 start + 8 data + 1 parity + 2 stop = 12 bits.
        assert_eq!(p.bytes_in(Duration::from_secs(1)), 800);
    }
}
