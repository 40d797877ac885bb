//! User settings and their persistence rules (AT+SYSSTORE).
//!
//! The module keeps two copies: `current` (RAM, what commands act on) and
//! `stored` (flash, what a restart loads). A command whose setting ESP-AT
//! lists under AT+SYSSTORE writes `stored` too only while SYSSTORE is 1;
//! some settings (UART_DEF, CWAUTOCONN, SYSSTORE itself) are always
//! written. The runtime persists `stored` whenever the core emits
//! `Action::Persist(Store::Settings)`.

use alloc::vec::Vec;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

/// UART line settings (AT+UART_CUR / AT+UART_DEF).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct UartConfig {
    /// Bits per second.
    pub baud: u32,
    /// Data bits, 5-8.
    pub data_bits: u8,
    /// Stop bits: 1 = 1, 2 = 1.5, 3 = 2.
    pub stop_bits: u8,
    /// Parity: 0 none, 1 odd, 2 even.
    pub parity: u8,
    /// Flow control: 0 none, 1 RTS, 2 CTS, 3 both.
    pub flow_control: u8,
}

impl Default for UartConfig {
    fn default() -> Self {
        UartConfig { baud: 115_200, data_bits: 8, stop_bits: 1, parity: 0, flow_control: 0 }
    }
}

impl UartConfig {
    /// Bits on the wire per byte: start bit, data, parity, stop bits.
    /// 1.5 stop bits are counted in half bits, hence the factor of two.
    pub fn half_bits_per_byte(&self) -> u32 {
        let stop = match self.stop_bits {
            2 => 3,
            3 => 4,
            _ => 2,
        };
        2 * (1 + u32::from(self.data_bits) + u32::from(self.parity != 0)) + stop
    }
}

/// The AP the station joins (AT+CWJAP), as saved for auto-connect.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize), serde(default))]
pub struct StationConfig {
    /// SSID bytes.
    pub ssid: Vec<u8>,
    /// Password bytes (empty: open network).
    pub password: Vec<u8>,
    /// Required BSSID, if one was given.
    pub bssid: Option<[u8; 6]>,
    /// PCI authentication disabled when 0.
    pub pci_en: u8,
    /// Seconds between reconnection attempts (0: no reconnection).
    pub reconn_interval: u16,
    /// Listen interval in AP beacon intervals.
    pub listen_interval: u16,
    /// 0 fast scan, 1 all-channel scan.
    pub scan_mode: u8,
    /// Join timeout in seconds.
    pub jap_timeout: u16,
    /// Protected management frames bits.
    pub pmf: u8,
}

/// Every persistent setting of the module.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize), serde(default))]
pub struct Settings {
    /// AT+SYSMSG bit field.
    pub sysmsg: u8,
    /// AT+UART_DEF (stored) / AT+UART_CUR (current).
    pub uart: UartConfig,
    /// AT+CWMODE: 0 off, 1 station, 2 SoftAP, 3 both.
    pub wifi_mode: u8,
    /// AT+CWJAP: the AP to join.
    pub station: Option<StationConfig>,
    /// AT+CWAUTOCONN: join the saved AP at power-on.
    pub autoconn: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            sysmsg: 0,
            uart: UartConfig::default(),
            wifi_mode: 1,
            station: None,
            autoconn: true,
        }
    }
}
