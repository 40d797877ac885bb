//! Wi-Fi configuration commands beside the join itself: AT+CWINIT,
//! AT+CWBANDWIDTH, AT+CWCONFIG, AT+CWRECONNCFG, AT+CWLAPOPT, AT+CWDHCP,
//! AT+CWSTAPROTO, AT+CIPSTAMAC, AT+CWHOSTNAME, AT+CWCOUNTRY.
//!
//! Settings marked "saved in NVS if AT+SYSSTORE=1" by the ESP-AT pages go
//! through `Module::save`; the others live until the next boot, as on a
//! real module.

use alloc::format;
use alloc::vec::Vec;

use crate::at::error::AtError;
use crate::at::params::Param;
use crate::at::reply::Reply;
use crate::at::table::{Command, Set};
use crate::module::Module;
use crate::wifi::station::JoinOrigin;

/// AT+CWLAPOPT's settings: how AT+CWLAP shapes its list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LapOptions {
    /// Strongest first (1, the default) or in scan order, by channel (0).
    pub sort_by_rssi: bool,
    /// Which of the eleven fields to print (bit 0 `<ecn>` ... bit 10 `<wps>`).
    pub print_mask: u16,
    /// APs weaker than this (dBm) are not listed.
    pub rssi_min: i8,
    /// Which authentication modes to list (bit n: ecn n).
    pub auth_mask: u16,
}

impl Default for LapOptions {
    fn default() -> Self {
        LapOptions { sort_by_rssi: true, print_mask: 0x7FF, rssi_min: -100, auth_mask: 0xFFFF }
    }
}

/// The Wi-Fi country (AT+CWCOUNTRY): policy, code, first channel, count.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Country {
    /// 0: follow the AP the station joins; 1: keep this one.
    pub policy: u8,
    /// ISO 3166 code, 1-3 bytes.
    pub code: Vec<u8>,
    /// First channel.
    pub start: u8,
    /// Number of channels.
    pub count: u8,
}

/// Channels a country code allows on 2.4 GHz: (first, count).
pub fn country_channels(code: &[u8]) -> (u8, u8) {
    match code {
        b"US" | b"CA" | b"TW" | b"MX" => (1, 11),
        b"JP" => (1, 14),
        _ => (1, 13),
    }
}

fn has_station(m: &Module) -> bool {
    m.wifi_on() && m.current.wifi_mode & 1 == 1
}

/// `AT+CWINIT`: the Wi-Fi driver on or off (not saved).
pub const CWINIT: Command = Command {
    name: "+CWINIT",
    summary: "Initialize (1) or deinitialize (0) the Wi-Fi driver; not saved",
    test: None,
    query: Some(|m, _, _| {
        m.write(format!("+CWINIT:{}\r\n", u8::from(m.wifi_init)).as_bytes());
        Reply::Ok
    }),
    set: Some(Set {
        params: &[Param::int("init", 0, 1)],
        run: |m, a, now| {
            let on = a.int(0) == Some(1);
            if on == m.wifi_init {
                return Reply::Ok;
            }
            if !on {
                // The driver goes, and the station's link with it.
                m.drop_station(now);
            }
            m.wifi_init = on;
            Reply::Ok
        },
    }),
    exec: None,
};

/// `AT+CWBANDWIDTH`: 2.4 GHz channel width per interface.
pub const CWBANDWIDTH: Command = Command {
    name: "+CWBANDWIDTH",
    summary: "Query/set the Wi-Fi bandwidth of the station (0) or SoftAP (1): 1 20 MHz, 2 40 MHz",
    test: None,
    query: Some(|m, _, _| {
        if !m.wifi_on() {
            return Reply::Error(AtError::ExecFailed);
        }
        // The station runs at most what its AP runs; the C3 has no 5 GHz
        // radio, so that field is always 0 ("invalid").
        let sta = match (&m.station.ap, m.station.has_ip() || m.station.state == crate::wifi::station::StaState::Associated) {
            (Some(ap), true) => m.current.bandwidth[0].min(if ap.width_mhz == 20 { 1 } else { 2 }),
            _ => m.current.bandwidth[0],
        };
        m.write(format!("+CWBANDWIDTH:0,{sta},0\r\n+CWBANDWIDTH:1,{},0\r\n", m.current.bandwidth[1]).as_bytes());
        Reply::Ok
    }),
    set: Some(Set {
        params: &[Param::int("netif", 0, 1), Param::int("bandwidth_2ghz", 0, 2), Param::int("bandwidth_5ghz", 0, 2).opt()],
        run: |m, a, _| {
            if !m.wifi_on() {
                return Reply::Error(AtError::ExecFailed);
            }
            let netif = a.int(0).unwrap_or(0) as usize;
            // 0 keeps the default: 40 MHz on an ESP32-C3.
            let bw = match a.int(1).unwrap_or(0) {
                0 => 2,
                n => n as u8,
            };
            m.save(|s| s.bandwidth[netif] = bw);
            Reply::Ok
        },
    }),
    exec: None,
};

/// `AT+CWCONFIG`: inactive times and listen interval.
pub const CWCONFIG: Command = Command {
    name: "+CWCONFIG",
    summary: "Query/set the SoftAP and station inactive times and the listen interval",
    test: None,
    query: Some(|m, _, _| {
        let [ap, sta, li] = m.current.cwconfig;
        m.write(format!("+CWCONFIG:{ap},{sta},{li}\r\n").as_bytes());
        Reply::Ok
    }),
    set: Some(Set {
        params: &[
            Param::int("ap_inactive_time", 10, 3600).opt(),
            Param::int("sta_inactive_time", 3, 600).opt(),
            Param::int("listen_interval", 1, 100).opt(),
        ],
        run: |m, a, _| {
            let mut c = m.current.cwconfig;
            for (i, v) in c.iter_mut().enumerate() {
                if let Some(n) = a.int(i) {
                    *v = n as u16;
                }
            }
            m.save(|s| s.cwconfig = c);
            Reply::Ok
        },
    }),
    exec: None,
};

/// `AT+CWRECONNCFG`: reconnection interval and attempts.
pub const CWRECONNCFG: Command = Command {
    name: "+CWRECONNCFG",
    summary: "Query/set the Wi-Fi reconnection interval (s) and number of attempts",
    test: None,
    query: Some(|m, _, _| {
        m.write(format!("+CWRECONNCFG:{},{}\r\n", m.current.reconn_interval, m.current.reconn_repeat).as_bytes());
        Reply::Ok
    }),
    set: Some(Set {
        params: &[
            Param::int("interval_second", 0, 7200),
            Param::int("repeat_count", 0, 1000),
            Param::int("reconnect_now", 0, 1).opt(),
        ],
        run: |m, a, now| {
            let (interval, repeat) = (a.int(0).unwrap_or(0) as u16, a.int(1).unwrap_or(0) as u16);
            m.save(|s| {
                s.reconn_interval = interval;
                s.reconn_repeat = repeat;
            });
            if a.int(2) == Some(1) && has_station(m) && !m.station.has_ip() && m.station.join.is_none() {
                if let Some(config) = m.current.station.clone() {
                    super::wifi::start_join(m, config, JoinOrigin::Background, now);
                }
            }
            Reply::Ok
        },
    }),
    exec: None,
};

/// `AT+CWLAPOPT=<reserved>,<print mask>[,<rssi filter>][,<authmode mask>]`
pub const CWLAPOPT: Command = Command {
    name: "+CWLAPOPT",
    summary: "Set AT+CWLAP's order, printed fields, RSSI filter and authentication-mode filter",
    test: None,
    query: None,
    set: Some(Set {
        params: &[
            Param::int("reserved", 0, 1).opt(),
            Param::int("print mask", 0, 0x7FF),
            Param::int("rssi filter", -100, 40).opt(),
            Param::int("authmode mask", 0, 0xFFFF).opt(),
        ],
        run: |m, a, _| {
            let old = m.lapopt;
            m.lapopt = LapOptions {
                // The first field was `<sort_enable>` before ESP-AT 2.2;
                // it still orders the list when given.
                sort_by_rssi: a.int(0).map_or(old.sort_by_rssi, |s| s == 1),
                print_mask: a.int(1).unwrap_or(0x7FF) as u16,
                rssi_min: a.int(2).unwrap_or(-100) as i8,
                auth_mask: a.int(3).unwrap_or(0xFFFF) as u16,
            };
            Reply::Ok
        },
    }),
    exec: None,
};

/// `AT+CWDHCP`: DHCP on the station (client) and SoftAP (server).
pub const CWDHCP: Command = Command {
    name: "+CWDHCP",
    summary: "Query/enable/disable DHCP: bit 0 station, bit 1 SoftAP",
    test: None,
    query: Some(|m, _, _| {
        m.write(format!("+CWDHCP:{}\r\n", m.current.dhcp).as_bytes());
        Reply::Ok
    }),
    set: Some(Set {
        params: &[Param::int("operate", 0, 1), Param::int("mode", 0, 3)],
        run: |m, a, _| {
            let bits = a.int(1).unwrap_or(0) as u8;
            let enable = a.int(0) == Some(1);
            m.save(|s| {
                if enable {
                    s.dhcp |= bits;
                    // DHCP on the station replaces a static address.
                    if bits & 1 != 0 {
                        s.sta_ip = None;
                    }
                } else {
                    s.dhcp &= !bits;
                }
            });
            Reply::Ok
        },
    }),
    exec: None,
};

/// `AT+CWSTAPROTO`: the station's 802.11 protocols.
pub const CWSTAPROTO: Command = Command {
    name: "+CWSTAPROTO",
    summary: "Query/set the station's Wi-Fi protocols (bit 0 b, 1 g, 2 n, 3 LR)",
    test: None,
    query: Some(|m, _, _| {
        m.write(format!("+CWSTAPROTO:{}\r\n", m.current.proto[0]).as_bytes());
        Reply::Ok
    }),
    set: Some(Set { params: &[Param::int("protocol_2g", 1, 15)], run: |m, a, _| set_proto(m, 0, a.int(0)) }),
    exec: None,
};

/// Stores a protocol mask for interface `netif` (0 station, 1 SoftAP).
pub(crate) fn set_proto(m: &mut Module, netif: usize, v: Option<i64>) -> Reply {
    let p = v.unwrap_or(7) as u8;
    // 802.11n needs g, and g needs b, on the 2.4 GHz band.
    if (p & 4 != 0 && p & 2 == 0) || (p & 2 != 0 && p & 1 == 0) {
        return Reply::Error(AtError::ParamInvalid(0));
    }
    m.save(|s| s.proto[netif] = p);
    Reply::Ok
}

/// `AT+CIPSTAMAC`: the station's MAC address.
pub const CIPSTAMAC: Command = Command {
    name: "+CIPSTAMAC",
    summary: "Query/set the MAC address of the station",
    test: None,
    query: Some(|m, _, _| {
        super::addr::write_mac(m, "CIPSTAMAC", 0);
        Reply::Ok
    }),
    set: Some(Set {
        params: &[Param::str("mac", 17, 17)],
        run: |m, a, _| if has_station(m) { super::addr::set_mac(m, a, 0) } else { Reply::Error(AtError::ExecFailed) },
    }),
    exec: None,
};

/// `AT+CWHOSTNAME`: the station's DHCP host name (not saved).
pub const CWHOSTNAME: Command = Command {
    name: "+CWHOSTNAME",
    summary: "Query/set the station's host name (not saved)",
    test: None,
    query: Some(|m, _, _| {
        let mut line = b"+CWHOSTNAME:".to_vec();
        line.extend_from_slice(&m.hostname);
        line.extend_from_slice(b"\r\n");
        m.write(&line);
        Reply::Ok
    }),
    set: Some(Set {
        params: &[Param::str("hostname", 1, 32)],
        run: |m, a, _| {
            if !has_station(m) {
                return Reply::Error(AtError::ExecFailed);
            }
            m.hostname = a.str(0).unwrap_or_default().to_vec();
            Reply::Ok
        },
    }),
    exec: None,
};

/// `AT+CWCOUNTRY`: the Wi-Fi country (not saved).
pub const CWCOUNTRY: Command = Command {
    name: "+CWCOUNTRY",
    summary: "Query/set the Wi-Fi country code and channels (policy 0 follows the AP)",
    test: None,
    query: Some(|m, _, _| {
        if !m.wifi_on() {
            return Reply::Error(AtError::ExecFailed);
        }
        let c = m.country_in_effect();
        let mut line = format!("+CWCOUNTRY:{},\"", c.policy).into_bytes();
        line.extend_from_slice(&c.code);
        line.extend_from_slice(format!("\",{},{}\r\n", c.start, c.count).as_bytes());
        m.write(&line);
        Reply::Ok
    }),
    set: Some(Set {
        params: &[
            Param::int("country_policy", 0, 1),
            Param::str("country_code", 1, 3),
            Param::int("start_channel", 1, 14),
            Param::int("total_channel_count", 1, 14),
        ],
        run: |m, a, _| {
            if !m.wifi_on() {
                return Reply::Error(AtError::ExecFailed);
            }
            let code = a.str(1).unwrap_or_default();
            if !code.iter().all(u8::is_ascii_alphanumeric) {
                return Reply::Error(AtError::ParamInvalid(1));
            }
            let (start, count) = (a.int(2).unwrap_or(1) as u8, a.int(3).unwrap_or(13) as u8);
            if start + count - 1 > 14 {
                return Reply::Error(AtError::ParamInvalid(3));
            }
            m.country = Country { policy: a.int(0).unwrap_or(0) as u8, code: code.to_ascii_uppercase(), start, count };
            Reply::Ok
        },
    }),
    exec: None,
};

impl Module {
    /// The country in effect: with policy 0, the joined AP's.
    pub(crate) fn country_in_effect(&self) -> Country {
        match (&self.station.ap, self.country.policy) {
            (Some(ap), 0) if self.station.has_ip() => {
                let (start, count) = country_channels(&ap.country);
                Country { policy: 0, code: ap.country.to_vec(), start, count }
            }
            _ => self.country.clone(),
        }
    }
}
