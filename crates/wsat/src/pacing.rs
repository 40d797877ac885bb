//! UART pacing: makes a fast transport behave like a serial line at a given
//! baud rate, so host firmware meets real timing (and real throughput
//! limits) without hardware.
//!
//! A [`Pacer`] is the line's clock in one direction: each byte occupies the
//! line for (start + data + parity + stop bits) / baud seconds, and bytes
//! queue behind each other. A [`Line`] is both directions plus the timer
//! that waits for them.
//!
//! The timer is a timerfd, not tokio's: tokio's timer wheel has millisecond
//! granularity, and at 5 Mbaud a millisecond is 500 bytes of line time, so
//! every rounded-up wake-up would leave the line idle (measured: goodput
//! well under the line rate). The timerfd wakes within microseconds.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use tokio::io::unix::AsyncFd;
use tokio::time::{Duration, Instant};
use wsat_core::settings::UartConfig;

/// How much line time one paced write or delivery covers. Small enough
/// that the host sees bytes about when a UART would deliver them, large
/// enough to keep wake-ups (about 1000 a second) cheap.
pub const SLICE: Duration = Duration::from_millis(1);
/// How long before a turnaround's deadline the line stops sleeping and
/// waits awake (see [`Line::sleep_until`]).
pub const SPIN: Duration = Duration::from_micros(80);

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

    /// Puts `n` bytes on the line, handed to it at `queued_at`; returns
    /// when the last one has been carried. Bytes queued while the line is
    /// busy follow the previous ones back to back, as in a UART's FIFO, so
    /// a late wake-up does not leave the line idle.
    pub fn transmit(&mut self, n: usize, queued_at: Instant) -> Instant {
        let start = self.free_at.max(queued_at);
        // Exact, rounded up: the line is never faster than its rate.
        let half_bits = n as u128 * u128::from(self.half_bits);
        let ns = (half_bits * 500_000_000).div_ceil(u128::from(self.baud));
        self.free_at = start + Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX));
        self.free_at
    }
}

/// A timerfd registered with tokio's reactor.
struct Fd(TimerFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// Both directions of a paced line, the slices in flight on them, and a
/// microsecond timer; or, when pacing is off, a pass-through.
///
/// Pacing never blocks the event loop: the line holds at most one output
/// slice and one input buffer, each due at the instant the line would
/// have carried it, and the driver waits for [`Line::next_due`] alongside
/// its other events. So link data keeps flowing into the module while a
/// long report crawls out at 115200 baud, as on a real module, where the
/// UART and the sockets run side by side.
pub struct Line {
    /// Module to host.
    tx: Pacer,
    /// Host to module.
    rx: Pacer,
    paced: bool,
    timer: Option<AsyncFd<Fd>>,
    /// The output slice on the line, and when its last byte arrives.
    out: Vec<u8>,
    out_due: Option<Instant>,
    /// When the previous output slice ended, if more output followed it
    /// at once: the next slice is then queued back to back behind it.
    out_chained: Option<Instant>,
    /// Host bytes read but not yet delivered, from `in_pos`.
    input: Vec<u8>,
    in_pos: usize,
    /// When those bytes were read from the host.
    in_queued: Instant,
    /// The end of the head input slice and when it is carried.
    in_due: Option<(usize, Instant)>,
    /// When the input slice just handed to the module was carried: output
    /// the module produces in answer is queued from that instant, not from
    /// the (later) moment the timer woke the loop, so each turn of the
    /// conversation does not add a wake-up's latency to the line.
    answer_from: Option<Instant>,
}

impl Line {
    /// A line at `uart`'s rate; `paced` false makes it infinitely fast.
    pub fn new(uart: UartConfig, paced: bool) -> Line {
        let timer = if paced {
            // Timer slack (50 µs by default) would be added to every wait.
            let _ = nix::sys::prctl::set_timerslack(1_000);
            match TimerFd::new(ClockId::CLOCK_MONOTONIC, TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC)
                .map_err(io::Error::from)
                .and_then(|t| {
                    // SAFETY: `Fd` owns the timerfd for its whole life and
                    // always returns that same descriptor.
                    #[allow(unsafe_code)]
                    unsafe { AsyncFd::register(Fd(t)) }.map_err(io::Error::from)
                }) {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::warn!(error = %e, "no timerfd: pacing falls back to millisecond timers");
                    None
                }
            }
        } else {
            None
        };
        Line {
            tx: Pacer::new(uart),
            rx: Pacer::new(uart),
            paced,
            timer,
            out: Vec::new(),
            out_due: None,
            out_chained: None,
            input: Vec::new(),
            in_pos: 0,
            in_queued: Instant::now(),
            in_due: None,
            answer_from: None,
        }
    }

    /// True when the line is paced.
    pub fn paced(&self) -> bool {
        self.paced
    }

    /// Follows AT+UART_CUR / AT+UART_DEF.
    pub fn set(&mut self, uart: UartConfig) {
        self.tx.set(uart);
        self.rx.set(uart);
    }

    /// The next output bytes due on the host now, polling the module's
    /// output through `poll` when no slice is on the line. `None` when
    /// there is nothing to write yet: the line is still carrying a slice
    /// (see [`Line::next_due`]) or the module has no output.
    pub fn output(&mut self, poll: impl FnOnce(&mut [u8]) -> usize) -> Option<&[u8]> {
        if !self.paced {
            self.out.resize(64 * 1024, 0);
            let n = poll(&mut self.out);
            return (n > 0).then(|| &self.out[..n]);
        }
        let now = Instant::now();
        // Only an answer to input carried moments ago (a late wake-up);
        // never a burst on a line that was idle longer.
        let answer_from = self.answer_from.take().filter(|&t| now.saturating_duration_since(t) <= SLICE);
        if self.out_due.is_none() {
            self.out.resize(self.tx.bytes_in(SLICE), 0);
            let n = poll(&mut self.out);
            if n == 0 {
                self.out_chained = None;
                return None;
            }
            self.out.truncate(n);
            let queued_at = self.out_chained.or(answer_from).unwrap_or(now);
            self.out_due = Some(self.tx.transmit(n, queued_at));
        }
        let due = self.out_due?;
        if due > now {
            return None;
        }
        // Written now; whatever the module has next queues behind it.
        self.out_due = None;
        self.out_chained = Some(due);
        Some(&self.out)
    }

    /// True while host bytes wait to be carried (read no more until then).
    pub fn input_waiting(&self) -> bool {
        self.in_pos < self.input.len()
    }

    /// Puts bytes just read from the host on the line.
    pub fn queue_input(&mut self, bytes: &[u8]) {
        self.input.clear();
        self.input.extend_from_slice(bytes);
        self.in_pos = 0;
        self.in_queued = Instant::now();
        self.in_due = None;
    }

    /// The next input slice the line has carried by now, if any.
    pub fn carried_input(&mut self) -> Option<&[u8]> {
        let (end, due) = self.input_head()?;
        if due > Instant::now() {
            return None;
        }
        let start = self.in_pos;
        self.in_pos = end;
        self.in_due = None;
        self.answer_from = Some(due);
        Some(&self.input[start..end])
    }

    /// The head input slice's end and due time (scheduling it if new).
    fn input_head(&mut self) -> Option<(usize, Instant)> {
        if !self.input_waiting() {
            return None;
        }
        if self.in_due.is_none() {
            let end = (self.in_pos + self.rx.bytes_in(SLICE)).min(self.input.len());
            // All of it was queued when read: slices follow back to back.
            self.in_due = Some((end, self.rx.transmit(end - self.in_pos, self.in_queued)));
        }
        self.in_due
    }

    /// When the line next has something to deliver, either way.
    pub fn next_due(&mut self) -> Option<Instant> {
        self.next_due_for(true)
    }

    /// [`Line::next_due`], leaving out the output slice when no host is
    /// attached to take it (it waits, due, for the next one; the loop
    /// must not wake for it meanwhile).
    pub fn next_due_for(&mut self, attached: bool) -> Option<Instant> {
        let input = self.input_head().map(|(_, due)| due);
        let output = self.out_due.filter(|_| attached);
        match (output, input) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// True when the next due slice ends a burst, input or output
    /// (`more_output`: the module has output beyond the line's slice): the
    /// other side answers it, so a late wake-up there delays the whole
    /// conversation, while a late slice inside a burst is caught up by the
    /// next one (slices follow back to back).
    pub fn due_is_turnaround(&mut self, more_output: bool) -> bool {
        let input = self.input_head();
        match (self.out_due, input) {
            (Some(o), Some((_, i))) if o <= i => !more_output,
            (_, Some((end, _))) => end == self.input.len(),
            (Some(_), None) => !more_output,
            (None, None) => false,
        }
    }

    /// Waits until `deadline`, to the microsecond. With `turnaround` the
    /// last [`SPIN`] is spent awake: waking a sleeping (virtual) CPU takes
    /// tens of microseconds here, which at 5 Mbaud is a few percent of a
    /// 16 KiB exchange each time the conversation changes direction.
    pub async fn sleep_until(&self, deadline: Instant, turnaround: bool) {
        let spin = if turnaround { SPIN } else { Duration::ZERO };
        self.sleep_until_inner(deadline.checked_sub(spin).unwrap_or(deadline)).await;
        while Instant::now() < deadline {
            std::hint::spin_loop();
        }
    }

    async fn sleep_until_inner(&self, deadline: Instant) {
        let Some(timer) = &self.timer else {
            tokio::time::sleep_until(deadline).await;
            return;
        };
        loop {
            let now = Instant::now();
            if deadline <= now {
                return;
            }
            let wait = TimeSpec::from_duration(deadline - now);
            if timer.get_ref().0.set(Expiration::OneShot(wait), TimerSetTimeFlags::empty()).is_err() {
                tokio::time::sleep_until(deadline).await;
                return;
            }
            loop {
                let Ok(mut ready) = timer.readable().await else {
                    tokio::time::sleep_until(deadline).await;
                    return;
                };
                // Non-blocking: EAGAIN until the timer has fired.
                match ready.try_io(|fd| fd.get_ref().0.wait().map_err(io::Error::from)) {
                    Ok(_) => break,
                    Err(_would_block) => continue,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn eight_n_one_is_ten_bits() {
        let mut p = Pacer::new(UartConfig { baud: 115_200, ..UartConfig::default() });
        let t0 = Instant::now();
        let done = p.transmit(11_520, t0);
        assert_eq!(done - t0, Duration::from_secs(1));
        // Queued behind the first burst.
        assert_eq!(p.transmit(11_520, t0) - t0, Duration::from_secs(2));
        // Handed over after the line went idle: starts then.
        let later = t0 + Duration::from_secs(5);
        assert_eq!(p.transmit(11_520, later) - t0, Duration::from_secs(6));
        p.set(UartConfig { baud: 9600, stop_bits: 3, parity: 1, ..UartConfig::default() });
        // 1 start + 8 data + 1 parity + 2 stop = 12 bits.
        assert_eq!(p.bytes_in(Duration::from_secs(1)), 800);
    }

    /// Moves up to `out.len()` bytes from `q` (the module's output queue).
    fn take(q: &mut Vec<u8>, out: &mut [u8]) -> usize {
        let n = q.len().min(out.len());
        out[..n].copy_from_slice(&q[..n]);
        q.drain(..n);
        n
    }

    #[tokio::test(start_paused = true)]
    async fn slices_follow_back_to_back_despite_late_wakeups() {
        let uart = UartConfig { baud: 115_200, ..UartConfig::default() };
        let mut line = Line::new(uart, true);
        let mut model = Pacer::new(uart);
        let mut queue = vec![b'x'; 30];
        let t0 = Instant::now();
        // 1 ms of line time is 11 bytes: the first slice is due after them.
        assert!(line.output(|o| take(&mut queue, o)).is_none());
        let first = model.transmit(11, t0);
        assert_eq!(line.next_due(), Some(first));
        // Woken 300 µs late: the slice goes out, and the next one is
        // queued behind the first, not behind the late wake-up.
        tokio::time::advance(first - t0 + Duration::from_micros(300)).await;
        assert_eq!(line.output(|o| take(&mut queue, o)).map(<[u8]>::len), Some(11));
        assert!(line.output(|o| take(&mut queue, o)).is_none());
        assert_eq!(line.next_due(), Some(model.transmit(11, t0)));

        // Input: 20 bytes read at once reach the module in two slices.
        line.queue_input(&[b'y'; 20]);
        assert!(line.input_waiting());
        assert!(line.carried_input().is_none());
        let mut rx = Pacer::new(uart);
        let t1 = Instant::now();
        let a = rx.transmit(11, t1);
        tokio::time::advance(a - t1).await;
        assert_eq!(line.carried_input().map(<[u8]>::len), Some(11));
        let b = rx.transmit(9, t1);
        tokio::time::advance(b - a).await;
        assert_eq!(line.carried_input().map(<[u8]>::len), Some(9));
        assert!(!line.input_waiting());
    }

    #[test]
    fn unpaced_is_a_pass_through() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let _guard = rt.enter();
        let mut line = Line::new(UartConfig::default(), false);
        let mut queue = vec![b'z'; 100_000];
        assert_eq!(line.output(|o| take(&mut queue, o)).map(<[u8]>::len), Some(64 * 1024));
        assert_eq!(line.next_due(), None);
    }

    #[tokio::test]
    async fn the_timer_never_wakes_early() {
        let line = Line::new(UartConfig::default(), true);
        assert!(line.timer.is_some());
        for us in [1u64, 50, 300, 2_000] {
            let deadline = Instant::now() + Duration::from_micros(us);
            line.sleep_until(deadline, false).await;
            assert!(Instant::now() >= deadline);
        }
    }
}
