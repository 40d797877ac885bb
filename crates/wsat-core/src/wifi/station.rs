//! The station interface: its link to an AP, joins in progress, and the
//! timings of the virtual radio.
//!
//! A join takes two steps, as on a real module: association
//! (`WIFI CONNECTED`) and DHCP (`WIFI GOT IP`). The delays are short so
//! tests run fast, but not zero, so a host can see a command in progress
//! (and be told `busy p...`).

use alloc::vec::Vec;

use super::radio::{AccessPoint, JoinError};
use crate::settings::StationConfig;
use crate::time::{Duration, Instant};

/// Association delay of a successful join.
pub const ASSOCIATE: Duration = Duration::from_millis(100);
/// DHCP delay after association.
pub const DHCP: Duration = Duration::from_millis(50);
/// Time a failing join takes before it gives up.
pub const FAIL: Duration = Duration::from_millis(300);

/// AT+CWSTATE's numbering of the station's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaState {
    /// 0: no connection attempted yet.
    Idle = 0,
    /// 1: associated, no IP address yet.
    Associated = 1,
    /// 2: associated and holding an IP address.
    GotIp = 2,
    /// 3: connecting or reconnecting.
    Connecting = 3,
    /// 4: disconnected.
    Disconnected = 4,
}

/// Who asked for a join: the host (its CWJAP waits for the result) or the
/// module itself (auto-connect at boot, reconnect after a loss).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinOrigin {
    /// AT+CWJAP set or execute: the result ends the command.
    Command,
    /// Auto-connect or reconnect: progress is reported as URCs.
    Background,
}

/// A join in progress.
#[derive(Debug, Clone)]
pub struct Join {
    /// The AP asked for.
    pub config: StationConfig,
    /// What the radio answered, known from the start, revealed over time.
    pub result: Result<AccessPoint, JoinError>,
    /// Who is waiting.
    pub origin: JoinOrigin,
    /// When the next step happens.
    pub next: Instant,
}

/// The station interface.
#[derive(Debug, Clone)]
pub struct Station {
    /// As AT+CWSTATE reports it.
    pub state: StaState,
    /// The AP associated with (or last tried).
    pub ap: Option<AccessPoint>,
    /// A join in progress.
    pub join: Option<Join>,
    /// When the next reconnection attempt is due (after an unexpected loss).
    pub reconnect_at: Option<Instant>,
    /// The radio holds every AP down until then (an injected fault).
    pub radio_down_until: Option<Instant>,
    /// The SSID of the AP last tried, joined or not (AT+CWSTATE).
    pub target: Vec<u8>,
    /// Background reconnection attempts since the link was lost.
    pub attempts: u16,
}

impl Default for Station {
    fn default() -> Self {
        Station { state: StaState::Idle, ap: None, join: None, reconnect_at: None, radio_down_until: None, target: Vec::new(), attempts: 0 }
    }
}

impl Station {
    /// True with an IP address: network commands may run.
    pub fn has_ip(&self) -> bool {
        self.state == StaState::GotIp
    }

    /// The SSID AT+CWSTATE reports (current or last AP).
    pub fn ssid(&self) -> &[u8] {
        match (&self.ap, &self.join) {
            (_, Some(j)) => &j.config.ssid,
            (Some(ap), None) if matches!(self.state, StaState::Associated | StaState::GotIp) => &ap.ssid,
            // Not connected: the AP last tried, whether or not it joined.
            _ => &self.target,
        }
    }

    /// The station's IP address, gateway and netmask (zero when unconnected).
    pub fn addresses(&self) -> [[u8; 4]; 3] {
        match (&self.ap, self.state) {
            (Some(ap), StaState::GotIp) => [ap.ip, ap.gateway, ap.netmask],
            _ => [[0; 4]; 3],
        }
    }

    /// Drops the link; true if there was one to drop (so a caller reports
    /// `WIFI DISCONNECT`).
    pub fn disconnect(&mut self) -> bool {
        self.join = None;
        self.reconnect_at = None;
        let was = matches!(self.state, StaState::Associated | StaState::GotIp);
        if self.state != StaState::Idle {
            self.state = StaState::Disconnected;
        }
        was
    }
}

/// The station's factory MAC address (an Espressif OUI); the SoftAP's is
/// one more.
pub const FACTORY_MAC: [u8; 6] = [0x7c, 0xdf, 0xa1, 0x0e, 0x5a, 0x70];

/// Formats a MAC address as ESP-AT does: `aa:bb:cc:dd:ee:ff`.
pub fn mac_string(mac: &[u8; 6]) -> Vec<u8> {
    let mut s = alloc::format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]
    );
    core::mem::take(&mut s).into_bytes()
}
