//! The module clock: Unix time as the module believes it, and its
//! formatting (AT+CIPSNTPTIME's asctime, in the configured time zone).
//!
//! The clock starts at the 1970 epoch when the module boots, as a real
//! module's RTC does, and is set by AT+SYSTIMESTAMP or a time sync. It is
//! what TLS checks certificate validity against.

use alloc::format;
use alloc::string::String;

use crate::time::Instant;

/// The clock: `base_ms` Unix milliseconds at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModuleClock {
    base_ms: u64,
    at: Instant,
}

impl ModuleClock {
    /// A clock at the epoch, now.
    pub fn epoch(now: Instant) -> ModuleClock {
        ModuleClock { base_ms: 0, at: now }
    }

    /// Sets the time: `unix_ms` at `now`.
    pub fn set(&mut self, unix_ms: u64, now: Instant) {
        *self = ModuleClock { base_ms: unix_ms, at: now };
    }

    /// Unix milliseconds at `now`.
    pub fn unix_ms(&self, now: Instant) -> u64 {
        self.base_ms + now.saturating_since(self.at).millis()
    }

    /// Unix seconds at `now`.
    pub fn unix_secs(&self, now: Instant) -> u64 {
        self.unix_ms(now) / 1000
    }
}

/// A civil date and time (proleptic Gregorian, no leap seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// Year.
    pub year: i64,
    /// Month, 1-12.
    pub month: u32,
    /// Day of month, 1-31.
    pub day: u32,
    /// Hour, 0-23.
    pub hour: u32,
    /// Minute, 0-59.
    pub minute: u32,
    /// Second, 0-59.
    pub second: u32,
    /// Day of week, 0 = Sunday.
    pub weekday: u32,
}

impl Civil {
    /// The civil time `secs` seconds after the epoch (may be negative).
    pub fn from_unix(secs: i64) -> Civil {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400) as u32;
        // Howard Hinnant's days-to-civil algorithm.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Civil {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem / 60 % 60,
            second: rem % 60,
            weekday: (days + 4).rem_euclid(7) as u32,
        }
    }

    /// C's asctime without its newline: `Thu Jan  1 00:00:07 1970`.
    pub fn asctime(&self) -> String {
        const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
        const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        format!(
            "{} {}{:3} {:02}:{:02}:{:02} {}",
            DAYS[self.weekday as usize],
            MONTHS[self.month as usize - 1],
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.year
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(Civil::from_unix(7).asctime(), "Thu Jan  1 00:00:07 1970");
        // The seed's example time, 2021-10-18 20:12:27 (a Monday).
        assert_eq!(Civil::from_unix(1_634_587_947).asctime(), "Mon Oct 18 20:12:27 2021");
        assert_eq!(Civil::from_unix(951_782_400).asctime(), "Tue Feb 29 00:00:00 2000");
        assert_eq!(Civil::from_unix(-1).asctime(), "Wed Dec 31 23:59:59 1969");
        assert_eq!(Civil::from_unix(4_102_444_800).asctime(), "Fri Jan  1 00:00:00 2100");
    }

    #[test]
    fn clock_runs() {
        let mut c = ModuleClock::epoch(Instant::from_millis(500));
        assert_eq!(c.unix_secs(Instant::from_millis(2_600)), 2);
        c.set(1_700_000_000_250, Instant::from_millis(3_000));
        assert_eq!(c.unix_ms(Instant::from_millis(4_000)), 1_700_000_001_250);
    }
}
