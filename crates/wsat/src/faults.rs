//! Faults on demand (the control plane's `link`, `dns` and `connect`
//! verbs), as wrappers at the edge of the transports in the manner of
//! smoltcp's FaultInjector: the core only ever sees what a real network
//! would show it (a reset, an end of stream, silence, slowness).

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Faults on one socket's traffic.
#[derive(Debug, Default, Clone)]
pub struct LinkFaults {
    /// Nothing moves either way (a half-open link).
    pub stalled: bool,
    /// Added latency, each way.
    pub delay: Duration,
    /// A bandwidth limit, bytes per second each way (0: none).
    pub rate: u64,
    /// Received bytes to lose silently.
    pub drop_next: usize,
}

/// Shared faults of one socket slot.
pub type SharedLink = Arc<Mutex<LinkFaults>>;

impl LinkFaults {
    /// Waits while the link is stalled.
    pub async fn wait_unstalled(f: &SharedLink) {
        while f.lock().map(|g| g.stalled).unwrap_or(false) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// True when no fault touches the link's traffic (the driver may
    /// write to it directly).
    pub fn is_clear(f: &SharedLink) -> bool {
        f.lock().is_ok_and(|g| !g.stalled && g.delay.is_zero() && g.rate == 0)
    }

    /// Holds `n` bytes crossing the link for what the fault set costs
    /// them. With no delay or rate set it returns at once: a zero-length
    /// tokio sleep still waits for the timer wheel's next millisecond tick,
    /// which would cost every unfaulted read and write a millisecond.
    pub async fn delay(f: &SharedLink, n: usize) {
        let cost = Self::cost(f, n);
        if !cost.is_zero() {
            tokio::time::sleep(cost).await;
        }
    }

    /// What the fault set does to `n` bytes crossing the link: the delay
    /// and pacing to apply first.
    pub fn cost(f: &SharedLink, n: usize) -> Duration {
        let g = match f.lock() {
            Ok(g) => g.clone(),
            Err(_) => return Duration::ZERO,
        };
        let pace = if g.rate > 0 { Duration::from_secs_f64(n as f64 / g.rate as f64) } else { Duration::ZERO };
        g.delay + pace
    }

    /// Drops up to the owed number of received bytes from the front of
    /// `data`.
    pub fn drop_received(f: &SharedLink, data: &mut Vec<u8>) {
        if let Ok(mut g) = f.lock() {
            let n = g.drop_next.min(data.len());
            if n > 0 {
                data.drain(..n);
                g.drop_next -= n;
            }
        }
    }
}

/// Faults of the network as a whole.
#[derive(Debug, Default)]
pub struct NetFaults {
    /// Names that do not resolve (`*`: none does).
    pub dns_fail: Vec<String>,
    /// `host:port` that refuse connections (`*`: all).
    pub refuse: Vec<String>,
}

/// Shared network faults.
pub type SharedNet = Arc<Mutex<NetFaults>>;

/// True if resolving `name` must fail.
pub fn dns_fails(net: &SharedNet, name: &str) -> bool {
    if name.parse::<std::net::IpAddr>().is_ok() {
        // An address needs no lookup.
        return false;
    }
    net.lock().map(|g| g.dns_fail.iter().any(|n| n == "*" || n.eq_ignore_ascii_case(name))).unwrap_or(false)
}

/// True if connecting to `host:port` (as given or as resolved) must be
/// refused.
pub fn refused(net: &SharedNet, host: &str, port: u16, resolved: Option<std::net::SocketAddr>) -> bool {
    let given = format!("{host}:{port}");
    let addr = resolved.map(|a| a.to_string());
    net.lock()
        .map(|g| g.refuse.iter().any(|r| r == "*" || *r == given || Some(r) == addr.as_ref()))
        .unwrap_or(false)
}
