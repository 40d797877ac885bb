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

/// The SoftAP's configuration (AT+CWSAP).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct SoftApConfig {
    /// SSID bytes.
    pub ssid: Vec<u8>,
    /// Password (empty with ecn 0).
    pub password: Vec<u8>,
    /// Channel.
    pub channel: u8,
    /// Encryption: 0 open, 2 WPA, 3 WPA2, 4 WPA/WPA2.
    pub ecn: u8,
    /// Most stations at once.
    pub max_conn: u8,
    /// 1: the SSID is not broadcast.
    pub hidden: u8,
}

/// AT+CIPTCPOPT for one TCP/IP link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct TcpOptions {
    /// SO_LINGER seconds (-1: off; 0: close with a reset).
    pub so_linger: i32,
    /// TCP_NODELAY.
    pub nodelay: bool,
    /// SO_SNDTIMEO in milliseconds (0: none).
    pub send_timeout_ms: u32,
    /// Keep-alive idle seconds (0: off); also set by AT+CIPSTART.
    pub keep_alive: u16,
}

impl Default for TcpOptions {
    fn default() -> Self {
        TcpOptions { so_linger: -1, nodelay: false, send_timeout_ms: 0, keep_alive: 0 }
    }
}

/// AT+SAVETRANSLINK: the link a module opens in passthrough at power-up.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct SavedLink {
    /// `"TCP"`, `"SSL"`, `"UDP"` (or their v6 forms).
    pub kind: alloc::string::String,
    /// Remote host.
    pub host: alloc::string::String,
    /// Remote port.
    pub port: u16,
    /// TCP/SSL keep-alive seconds.
    pub keep_alive: u16,
    /// UDP local port (0: any).
    pub local_port: u16,
}

/// An IPv4 address, gateway and netmask.
pub type Ipv4Config = [[u8; 4]; 3];

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
    /// AT+CWRECONNCFG / AT+CWJAP `reconn_interval`: seconds between
    /// reconnection attempts (0: none).
    pub reconn_interval: u16,
    /// AT+CWRECONNCFG: attempts before giving up (0: for ever).
    pub reconn_repeat: u16,
    /// AT+CWBANDWIDTH: station and SoftAP 2.4 GHz width (1: 20 MHz, 2: 40 MHz).
    pub bandwidth: [u8; 2],
    /// AT+CWCONFIG: SoftAP and station inactive times (s), listen interval.
    pub cwconfig: [u16; 3],
    /// AT+CWDHCP: bit 0 station DHCP, bit 1 SoftAP DHCP server.
    pub dhcp: u8,
    /// AT+CWDHCPS: lease (minutes), first and last address; `None`: defaults.
    pub dhcps: Option<(u16, [u8; 4], [u8; 4])>,
    /// AT+CWSTAPROTO and AT+CWAPPROTO: protocol bits (b, g, n, LR).
    pub proto: [u8; 2],
    /// AT+CIPSTAMAC and AT+CIPAPMAC; `None`: the factory address.
    pub macs: [Option<[u8; 6]>; 2],
    /// AT+CIPSTA: a static station address; `None`: DHCP.
    pub sta_ip: Option<Ipv4Config>,
    /// AT+CIPAP: the SoftAP's address; `None`: 192.168.4.1/24.
    pub ap_ip: Option<Ipv4Config>,
    /// AT+CWSAP; `None`: the factory SoftAP (`ESP_xxxxxx`, open).
    pub softap: Option<SoftApConfig>,
    /// AT+CIPSSLCCONF per TCP/IP link: auth_mode, pki_number, ca_number.
    pub ssl_conf: [[u8; 3]; 5],
    /// AT+CIPDNS: manual servers (`None`: automatic, from DHCP).
    pub dns: Option<Vec<alloc::string::String>>,
    /// AT+CIPRECONNINTV: passthrough reconnection interval, in 100 ms.
    pub reconn_intv: u16,
    /// AT+CIPV6: IPv6 links allowed.
    pub ipv6: bool,
    /// AT+CIPTCPOPT per TCP/IP link.
    pub tcpopt: [TcpOptions; 5],
    /// AT+TRANSINTVL: how long passthrough data may wait to be packed (ms).
    pub transintvl: u16,
    /// AT+SAVETRANSLINK: enter passthrough on this link at power-up.
    pub savetranslink: Option<SavedLink>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            sysmsg: 0,
            uart: UartConfig::default(),
            wifi_mode: 1,
            station: None,
            autoconn: true,
            reconn_interval: 0,
            reconn_repeat: 0,
            bandwidth: [2, 2],
            cwconfig: [300, 6, 3],
            dhcp: 3,
            dhcps: None,
            proto: [7, 7],
            macs: [None, None],
            sta_ip: None,
            ap_ip: None,
            softap: None,
            ssl_conf: [[0; 3]; 5],
            dns: None,
            reconn_intv: 1,
            ipv6: false,
            tcpopt: [TcpOptions::default(); 5],
            transintvl: 20,
            savetranslink: None,
        }
    }
}
