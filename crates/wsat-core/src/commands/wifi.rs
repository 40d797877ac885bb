//! Wi-Fi station commands on the virtual radio: AT+CWMODE, AT+CWJAP,
//! AT+CWQAP, AT+CWLAP, AT+CWSTATE, AT+CIPSTA, AT+CWAUTOCONN.
//!
//! As in ESP-AT, none of these has a test (`=?`) form, and the station
//! commands need a mode with the station interface (1 or 3).

use alloc::format;
use alloc::vec::Vec;

use crate::at::error::AtError;
use crate::at::params::Param;
use crate::at::reply::Reply;
use crate::at::table::{Command, Set};
use crate::module::Module;
use crate::settings::StationConfig;
use crate::time::{Duration, Instant};
use crate::wifi::radio::JoinError;
use crate::wifi::station::{self, mac_string, Join, JoinOrigin, StaState};

fn has_station(m: &Module) -> bool {
    m.wifi_on() && m.current.wifi_mode & 1 == 1
}

/// `AT+CWMODE`: Wi-Fi mode.
pub const CWMODE: Command = Command {
    name: "+CWMODE",
    summary: "Query/set the Wi-Fi mode (0 off, 1 station, 2 SoftAP, 3 both)",
    test: None,
    query: Some(|m, _, _| {
        let line = format!("+CWMODE:{}\r\n", m.current.wifi_mode);
        m.write(line.as_bytes());
        Reply::Ok
    }),
    set: Some(Set {
        params: &[Param::int("mode", 0, 3), Param::int("auto_connect", 0, 1).opt()],
        run: |m, a, now| {
            let mode = a.int(0).unwrap_or(1) as u8; // range-checked 0..=3
            let old = m.current.wifi_mode;
            if mode == old {
                return Reply::Ok;
            }
            m.save(|s| s.wifi_mode = mode);
            m.ip.sta_state = mode & 1;
            if mode & 1 == 0 {
                // The station interface goes away with its link.
                m.drop_station(now);
            } else if old & 1 == 0 && a.int(1).unwrap_or(1) == 1 {
                if let Some(config) = m.current.station.clone() {
                    start_join(m, config, JoinOrigin::Background, now);
                }
            }
            Reply::Ok
        },
    }),
    exec: None,
};

/// `AT+CWJAP`: join an AP.
pub const CWJAP: Command = Command {
    name: "+CWJAP",
    summary: "Connect to an AP (query: the AP connected to; execute: the saved AP)",
    test: None,
    query: Some(|m, _, _| {
        let (Some(ap), StaState::Associated | StaState::GotIp) = (&m.station.ap, m.station.state) else {
            return Reply::Ok;
        };
        let cfg = m.current.station.clone().unwrap_or_default();
        let mut line = Vec::new();
        line.extend_from_slice(b"+CWJAP:\"");
        line.extend_from_slice(&ap.ssid);
        line.extend_from_slice(b"\",\"");
        line.extend_from_slice(&mac_string(&ap.bssid));
        let listen = if cfg.listen_interval == 0 { 3 } else { cfg.listen_interval };
        let tail = format!(
            "\",{},{},{},{},{},{},{}\r\n",
            ap.channel,
            m.rssi.unwrap_or(ap.rssi),
            u8::from(cfg.pci_en != 0),
            m.current.reconn_interval,
            listen,
            cfg.scan_mode,
            cfg.pmf
        );
        line.extend_from_slice(tail.as_bytes());
        m.write(&line);
        Reply::Ok
    }),
    set: Some(Set {
        params: &[
            Param::str("ssid", 1, 32).opt(),
            Param::str("pwd", 0, 64).opt(),
            Param::str("bssid", 17, 17).opt(),
            Param::int("pci_en", 0, 16).opt(),
            Param::int("reconn_interval", 0, 7200).opt(),
            Param::int("listen_interval", 1, 100).opt(),
            Param::int("scan_mode", 0, 1).opt(),
            Param::int("jap_timeout", 3, 600).opt(),
            Param::int("pmf", 0, 3).opt(),
        ],
        run: |m, a, now| {
            if !has_station(m) {
                return Reply::Error(AtError::ExecFailed);
            }
            let saved = m.current.station.clone();
            let ssid = match (a.str(0), &saved) {
                (Some(s), _) => s.to_vec(),
                (None, Some(c)) => c.ssid.clone(),
                (None, None) => return Reply::Error(AtError::ParamInvalid(0)),
            };
            let password = match (a.str(1), &saved) {
                (Some(p), _) => p.to_vec(),
                (None, Some(c)) => c.password.clone(),
                (None, None) => Vec::new(),
            };
            let bssid = match a.str(2) {
                Some(text) => match super::addr::parse_mac(text) {
                    Some(mac) => Some(mac),
                    None => return Reply::Error(AtError::ParamInvalid(2)),
                },
                None => None,
            };
            let n = |i: usize, d: i64| a.int(i).unwrap_or(d);
            let config = StationConfig {
                ssid,
                password,
                bssid,
                pci_en: n(3, 0) as u8,
                reconn_interval: n(4, 1) as u16,
                listen_interval: n(5, 3) as u16,
                scan_mode: n(6, 0) as u8,
                jap_timeout: n(7, 15) as u16,
                pmf: n(8, 1) as u8,
            };
            start_join(m, config, JoinOrigin::Command, now);
            m.busy_with(crate::module::Job::Join)
        },
    }),
    exec: Some(|m, _, now| {
        if !has_station(m) {
            return Reply::Error(AtError::ExecFailed);
        }
        // Connected or not, the saved AP is joined again, as the set form
        // does: `WIFI CONNECTED`, `WIFI GOT IP`, `OK`.
        let Some(config) = m.current.station.clone() else {
            return Reply::Error(AtError::ExecFailed);
        };
        start_join(m, config, JoinOrigin::Command, now);
        m.busy_with(crate::module::Job::Join)
    }),
};

/// `AT+CWQAP`: leave the AP.
pub const CWQAP: Command = Command {
    name: "+CWQAP",
    summary: "Disconnect from the AP",
    test: None,
    query: None,
    set: None,
    exec: Some(|m, _, now| {
        if !has_station(m) {
            return Reply::Error(AtError::ExecFailed);
        }
        if m.station.disconnect() {
            m.urc(b"WIFI DISCONNECT");
            m.network_down(now);
        }
        m.station.state = StaState::Disconnected;
        Reply::Ok
    }),
};

fn write_cwlap(m: &mut Module, filter_ssid: Option<&[u8]>, filter_mac: Option<[u8; 6]>, channels: u16) {
    let opt = m.lapopt;
    let mut aps = m.radio.scan();
    if let Some(dbm) = m.rssi {
        // The control plane moved the station's AP (or, idle, every AP).
        for ap in aps.iter_mut().filter(|ap| m.station.target.is_empty() || ap.ssid == m.station.target) {
            ap.rssi = dbm;
        }
    }
    if opt.sort_by_rssi {
        aps.sort_by_key(|ap| core::cmp::Reverse(ap.rssi));
    } else {
        aps.sort_by_key(|ap| ap.channel);
    }
    for ap in aps {
        if filter_ssid.is_some_and(|s| s != ap.ssid)
            || filter_mac.is_some_and(|mac| mac != ap.bssid)
            || channels & (1 << ap.channel) == 0
            || ap.rssi < opt.rssi_min
            || opt.auth_mask & (1 << ap.ecn()) == 0
        {
            continue;
        }
        let (pairwise, group) = if ap.ecn() == 0 { (0, 0) } else { (4, 4) };
        // The eleven fields, each printed if AT+CWLAPOPT's mask says so.
        let q = |b: &[u8]| {
            let mut v = b"\"".to_vec();
            v.extend_from_slice(b);
            v.push(b'"');
            v
        };
        let fields: [Vec<u8>; 11] = [
            format!("{}", ap.ecn()).into_bytes(),
            q(&ap.ssid),
            format!("{}", ap.rssi).into_bytes(),
            q(&mac_string(&ap.bssid)),
            format!("{}", ap.channel).into_bytes(),
            b"-1".to_vec(),
            b"-1".to_vec(),
            format!("{pairwise}").into_bytes(),
            format!("{group}").into_bytes(),
            b"7".to_vec(),
            b"0".to_vec(),
        ];
        let mut line = b"+CWLAP:(".to_vec();
        let mut first = true;
        for (i, f) in fields.iter().enumerate() {
            if opt.print_mask & (1 << i) != 0 {
                if !first {
                    line.push(b',');
                }
                line.extend_from_slice(f);
                first = false;
            }
        }
        line.extend_from_slice(b")\r\n");
        m.write(&line);
    }
}

/// Channels 1-14 as a channel bitmap.
const ALL_CHANNELS: u16 = 0x7FFE;

/// `AT+CWLAP`: scan for APs.
pub const CWLAP: Command = Command {
    name: "+CWLAP",
    summary: "List available APs (set: filter by ssid, mac, channel)",
    test: None,
    query: None,
    set: Some(Set {
        params: &[
            Param::str("ssid", 0, 32).opt(),
            Param::str("mac", 17, 17).opt(),
            // 0 is "any channel", as when omitted.
            Param::int("channel", 0, 14).opt(),
            Param::int("scan_type", 0, 1).opt(),
            Param::int("scan_time_min", 0, 1500).opt(),
            Param::int("scan_time_max", 0, 1500).opt(),
            // Bit n scans channel n (used when no channel is given).
            Param::int("2ghz_channel_bitmap", 0, 0x7FFE).opt(),
        ],
        run: |m, a, _| {
            if !has_station(m) {
                return Reply::Error(AtError::ExecFailed);
            }
            let mac = match a.str(1) {
                Some(text) => match super::addr::parse_mac(text) {
                    Some(mac) => Some(mac),
                    None => return Reply::Error(AtError::ParamInvalid(1)),
                },
                None => None,
            };
            let ssid = a.str(0).filter(|s| !s.is_empty()).map(<[u8]>::to_vec);
            let channels = match (a.int(2), a.int(6)) {
                (Some(ch), _) if ch > 0 => 1u16 << ch,
                (_, Some(map)) if map > 0 => map as u16,
                _ => ALL_CHANNELS,
            };
            write_cwlap(m, ssid.as_deref(), mac, channels);
            Reply::Ok
        },
    }),
    exec: Some(|m, _, _| {
        if !has_station(m) {
            return Reply::Error(AtError::ExecFailed);
        }
        write_cwlap(m, None, None, ALL_CHANNELS);
        Reply::Ok
    }),
};

/// `AT+CWSTATE`: the station's state and SSID.
pub const CWSTATE: Command = Command {
    name: "+CWSTATE",
    summary: "Query the Wi-Fi state and information",
    test: None,
    query: Some(|m, _, _| {
        let state = if has_station(m) { m.station.state } else { StaState::Idle };
        let ssid = match (m.station.ssid(), &m.current.station) {
            ([], Some(c)) => c.ssid.clone(),
            (s, _) => s.to_vec(),
        };
        let mut line = format!("+CWSTATE:{},\"", state as u8).into_bytes();
        line.extend_from_slice(&ssid);
        line.extend_from_slice(b"\"\r\n");
        m.write(&line);
        Reply::Ok
    }),
    set: None,
    exec: None,
};

/// `AT+CIPSTA`: the station's IPv4 addresses.
pub const CIPSTA: Command = Command {
    name: "+CIPSTA",
    summary: "Query/set the IP address of the station (set: a static address, DHCP off)",
    test: None,
    query: Some(|m, _, _| {
        // A static address shows even before the station joins.
        let cfg = match (m.current.sta_ip, m.station.has_ip()) {
            (_, true) => m.station.addresses(),
            (Some(st), false) => st,
            (None, false) => [[0; 4]; 3],
        };
        super::addr::write_ip_lines(m, "CIPSTA", cfg);
        Reply::Ok
    }),
    set: Some(Set {
        params: &[Param::str("ip", 7, 15), Param::str("gateway", 7, 15).opt(), Param::str("netmask", 7, 15).opt()],
        run: |m, a, _| {
            if !has_station(m) {
                return Reply::Error(AtError::ExecFailed);
            }
            match super::addr::parse_ip_config(a) {
                Ok(cfg) => {
                    // A static address turns the station's DHCP client off.
                    m.save(|s| {
                        s.sta_ip = Some(cfg);
                        s.dhcp &= !1;
                    });
                    let connected = m.station.has_ip();
                    if let (Some(ap), true) = (m.station.ap.as_mut(), connected) {
                        [ap.ip, ap.gateway, ap.netmask] = cfg;
                    }
                    Reply::Ok
                }
                Err(e) => Reply::Error(e),
            }
        },
    }),
    exec: None,
};

/// `AT+CWAUTOCONN`: join the saved AP at power-on.
pub const CWAUTOCONN: Command = Command {
    name: "+CWAUTOCONN",
    summary: "Connect to the saved AP automatically on power-up (always saved)",
    test: None,
    query: Some(|m, _, _| {
        // ESP-AT prints this one without a line ending of its own.
        let line = format!("+CWAUTOCONN:{}", u8::from(m.current.autoconn));
        m.write(line.as_bytes());
        Reply::Ok
    }),
    set: Some(Set {
        params: &[Param::int("enable", 0, 1)],
        run: |m, a, _| {
            let on = a.int(0) == Some(1);
            m.save_always(|s| s.autoconn = on);
            Reply::Ok
        },
    }),
    exec: None,
};

/// Begins joining `config`'s AP. What the radio will answer is decided
/// now; it is revealed step by step by [`step_join`].
pub(crate) fn start_join(m: &mut Module, config: StationConfig, origin: JoinOrigin, now: Instant) {
    if m.station.disconnect() {
        let line = b"WIFI DISCONNECT\r\n";
        match origin {
            JoinOrigin::Command => m.write(line),
            JoinOrigin::Background => m.urc(b"WIFI DISCONNECT"),
        }
    }
    m.station.target = config.ssid.clone();
    let down = m.station.radio_down_until.is_some_and(|t| t > now);
    let result = if down {
        Err(JoinError::NotFound)
    } else {
        m.radio.join(&config.ssid, &config.password, config.bssid)
    };
    let delay = if result.is_ok() { station::ASSOCIATE } else { station::FAIL };
    m.station.state = StaState::Connecting;
    m.station.join = Some(Join { config, result, origin, next: now + delay });
}

/// Advances the join in progress; called when its step is due.
pub(crate) fn step_join(m: &mut Module, now: Instant) {
    let Some(join) = m.station.join.take() else { return };
    let say = |m: &mut Module, line: &[u8]| match join.origin {
        JoinOrigin::Command => m.write(&[line, b"\r\n"].concat()),
        JoinOrigin::Background => m.urc(line),
    };
    match (&join.result, m.station.state) {
        (Ok(ap), StaState::Connecting) => {
            let mut ap = ap.clone();
            if let Some(cfg) = m.current.sta_ip {
                [ap.ip, ap.gateway, ap.netmask] = cfg;
            }
            m.station.ap = Some(ap);
            m.station.attempts = 0;
            m.station.state = StaState::Associated;
            say(m, b"WIFI CONNECTED");
            m.station.join = Some(Join { next: now + station::DHCP, ..join });
        }
        (Ok(_), _) => {
            m.station.state = StaState::GotIp;
            m.ip.sta_state = 2;
            m.ip_on_got_ip(now);
            say(m, b"WIFI GOT IP");
            let config = join.config.clone();
            if join.origin == JoinOrigin::Command {
                // AT+CWJAP's reconn_interval is AT+CWRECONNCFG's interval.
                m.save(|s| {
                    s.station = Some(config.clone());
                    s.reconn_interval = config.reconn_interval;
                });
            }
            if join.origin == JoinOrigin::Command {
                m.complete(crate::module::Job::Join, Reply::Ok);
            }
        }
        (Err(e), _) => {
            m.station.state = StaState::Disconnected;
            match join.origin {
                JoinOrigin::Command => {
                    // A failed CWJAP also stops reconnection.
                    m.write(format!("+CWJAP:{}\r\n", *e as u8).as_bytes());
                    m.complete(crate::module::Job::Join, Reply::Error(AtError::ExecFailed));
                }
                JoinOrigin::Background => {
                    // AT+CWRECONNCFG: every interval, repeat_count times
                    // (0: for ever).
                    m.station.attempts = m.station.attempts.saturating_add(1);
                    let repeat = m.current.reconn_repeat;
                    let interval = u64::from(m.current.reconn_interval);
                    if interval > 0 && (repeat == 0 || m.station.attempts < repeat) {
                        m.station.state = StaState::Connecting;
                        m.station.reconnect_at = Some(now + Duration::from_secs(interval));
                    }
                }
            }
        }
    }
}
