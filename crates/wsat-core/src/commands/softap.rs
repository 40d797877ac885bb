//! The SoftAP side of the Wi-Fi page: AT+CWSAP, AT+CWLIF, AT+CWQIF,
//! AT+CWDHCPS, AT+CWAPPROTO, AT+CIPAP, AT+CIPAPMAC.
//!
//! The SoftAP is virtual: it is configured and reported as on a real
//! module, and no station ever joins it, so AT+CWLIF lists nobody. Every
//! command needs a Wi-Fi mode with the SoftAP interface (2 or 3).

use alloc::format;
use alloc::vec::Vec;

use crate::at::error::AtError;
use crate::at::params::Param;
use crate::at::reply::Reply;
use crate::at::table::{Command, Set};
use crate::module::Module;
use crate::settings::{Ipv4Config, SoftApConfig};

/// The SoftAP's address unless AT+CIPAP set another.
pub const DEFAULT_AP_IP: Ipv4Config = [[192, 168, 4, 1], [192, 168, 4, 1], [255, 255, 255, 0]];
/// ESP-IDF's DHCP server lease, in minutes.
pub const DEFAULT_LEASE: u16 = 120;

fn has_softap(m: &Module) -> bool {
    m.wifi_on() && m.current.wifi_mode & 2 == 2
}

impl Module {
    /// The SoftAP configuration in effect (factory: `ESP_` and the last
    /// three bytes of its MAC, open, channel 1, 10 stations).
    pub(crate) fn softap(&self) -> SoftApConfig {
        self.current.softap.clone().unwrap_or_else(|| {
            let mac = self.mac(1);
            SoftApConfig {
                ssid: format!("ESP_{:02X}{:02X}{:02X}", mac[3], mac[4], mac[5]).into_bytes(),
                password: Vec::new(),
                channel: 1,
                ecn: 0,
                max_conn: 10,
                hidden: 0,
            }
        })
    }

    /// The SoftAP's address, gateway and netmask.
    pub(crate) fn ap_ip(&self) -> Ipv4Config {
        self.current.ap_ip.unwrap_or(DEFAULT_AP_IP)
    }

    /// The DHCP server's lease and range (default: .2 to .101 of the
    /// SoftAP's network).
    pub(crate) fn dhcps(&self) -> (u16, [u8; 4], [u8; 4]) {
        self.current.dhcps.unwrap_or_else(|| {
            let [a, b, c, _] = self.ap_ip()[0];
            (DEFAULT_LEASE, [a, b, c, 2], [a, b, c, 101])
        })
    }
}

/// `AT+CWSAP`: the SoftAP's configuration.
pub const CWSAP: Command = Command {
    name: "+CWSAP",
    summary: "Query/set the SoftAP: ssid, password, channel, encryption, max stations, hidden",
    test: None,
    query: Some(|m, _, _| {
        if !has_softap(m) {
            return Reply::Error(AtError::ExecFailed);
        }
        let ap = m.softap();
        let mut line = b"+CWSAP:\"".to_vec();
        line.extend_from_slice(&ap.ssid);
        line.extend_from_slice(b"\",\"");
        line.extend_from_slice(&ap.password);
        line.extend_from_slice(format!("\",{},{},{},{}\r\n", ap.channel, ap.ecn, ap.max_conn, ap.hidden).as_bytes());
        m.write(&line);
        Reply::Ok
    }),
    set: Some(Set {
        params: &[
            Param::str("ssid", 1, 32),
            Param::str("pwd", 0, 64),
            Param::int("chl", 1, 13),
            Param::int("ecn", 0, 4),
            Param::int("max conn", 1, 10).opt(),
            Param::int("ssid hidden", 0, 1).opt(),
        ],
        run: |m, a, _| {
            if !has_softap(m) {
                return Reply::Error(AtError::ExecFailed);
            }
            let ecn = a.int(3).unwrap_or(0) as u8;
            let pwd = a.str(1).unwrap_or_default();
            // WEP (1) is not supported; WPA modes need an 8-64 byte passphrase.
            if ecn == 1 || (ecn != 0 && pwd.len() < 8) {
                return Reply::Error(AtError::ParamInvalid(if ecn == 1 { 3 } else { 1 }));
            }
            let cfg = SoftApConfig {
                ssid: a.str(0).unwrap_or_default().to_vec(),
                password: if ecn == 0 { Vec::new() } else { pwd.to_vec() },
                channel: a.int(2).unwrap_or(1) as u8,
                ecn,
                max_conn: a.int(4).unwrap_or(10) as u8,
                hidden: a.int(5).unwrap_or(0) as u8,
            };
            m.save(|s| s.softap = Some(cfg.clone()));
            Reply::Ok
        },
    }),
    exec: None,
};

/// `AT+CWLIF`: stations joined to the SoftAP (none ever join wsat's).
pub const CWLIF: Command = Command {
    name: "+CWLIF",
    summary: "List the stations joined to the SoftAP (the virtual SoftAP has none)",
    test: None,
    query: None,
    set: None,
    exec: Some(|m, _, _| if has_softap(m) { Reply::Ok } else { Reply::Error(AtError::ExecFailed) }),
};

/// `AT+CWQIF`: disconnect stations from the SoftAP.
pub const CWQIF: Command = Command {
    name: "+CWQIF",
    summary: "Disconnect all stations (or the one with <mac>) from the SoftAP",
    test: None,
    query: None,
    set: Some(Set {
        params: &[Param::str("mac", 17, 17)],
        run: |m, a, _| {
            if !has_softap(m) {
                return Reply::Error(AtError::ExecFailed);
            }
            if super::addr::parse_mac(a.str(0).unwrap_or_default()).is_none() {
                return Reply::Error(AtError::ParamInvalid(0));
            }
            Reply::Ok
        },
    }),
    exec: Some(|m, _, _| if has_softap(m) { Reply::Ok } else { Reply::Error(AtError::ExecFailed) }),
};

/// `AT+CWDHCPS`: the SoftAP's DHCP server range.
pub const CWDHCPS: Command = Command {
    name: "+CWDHCPS",
    summary: "Query/set the lease time and address range of the SoftAP's DHCP server",
    test: None,
    query: Some(|m, _, _| {
        if !has_softap(m) || m.current.dhcp & 2 == 0 {
            return Reply::Error(AtError::ExecFailed);
        }
        let (lease, start, end) = m.dhcps();
        m.write(format!("+CWDHCPS:{lease},\"{}\",\"{}\"\r\n", super::addr::ipv4_string(start), super::addr::ipv4_string(end)).as_bytes());
        Reply::Ok
    }),
    set: Some(Set {
        params: &[
            Param::int("enable", 0, 1),
            Param::int("lease time", 1, 2880).opt(),
            Param::str("start IP", 7, 15).opt(),
            Param::str("end IP", 7, 15).opt(),
        ],
        run: |m, a, _| {
            if !has_softap(m) || m.current.dhcp & 2 == 0 {
                return Reply::Error(AtError::ExecFailed);
            }
            if a.int(0) == Some(0) {
                if a.len() > 1 {
                    return Reply::Error(AtError::ParamCount(a.len() as u16));
                }
                m.save(|s| s.dhcps = None);
                return Reply::Ok;
            }
            let (Some(lease), Some(start), Some(end)) = (a.int(1), a.str(2), a.str(3)) else {
                return Reply::Error(AtError::ParamCount(a.len() as u16));
            };
            let (Some(start), Some(end)) = (super::addr::parse_ipv4(start), super::addr::parse_ipv4(end)) else {
                return Reply::Error(AtError::ParamInvalid(2));
            };
            // The range must lie in the SoftAP's /24, above its own
            // address's network and in order, at most 100 addresses.
            let net = m.ap_ip()[0];
            let same_net = |ip: [u8; 4]| ip[..3] == net[..3] && ip[3] != 0 && ip[3] != 255 && ip != net;
            if !same_net(start) || !same_net(end) || start[3] > end[3] || end[3] - start[3] >= 100 {
                return Reply::Error(AtError::ParamInvalid(2));
            }
            m.save(|s| s.dhcps = Some((lease as u16, start, end)));
            Reply::Ok
        },
    }),
    exec: None,
};

/// `AT+CWAPPROTO`: the SoftAP's 802.11 protocols.
pub const CWAPPROTO: Command = Command {
    name: "+CWAPPROTO",
    summary: "Query/set the SoftAP's Wi-Fi protocols (bit 0 b, 1 g, 2 n, 3 LR)",
    test: None,
    query: Some(|m, _, _| {
        m.write(format!("+CWAPPROTO:{}\r\n", m.current.proto[1]).as_bytes());
        Reply::Ok
    }),
    set: Some(Set { params: &[Param::int("protocol_2g", 1, 15)], run: |m, a, _| super::wifi_config::set_proto(m, 1, a.int(0)) }),
    exec: None,
};

/// `AT+CIPAP`: the SoftAP's IPv4 address.
pub const CIPAP: Command = Command {
    name: "+CIPAP",
    summary: "Query/set the IP address of the SoftAP",
    test: None,
    query: Some(|m, _, _| {
        if !has_softap(m) {
            return Reply::Error(AtError::ExecFailed);
        }
        let cfg = m.ap_ip();
        super::addr::write_ip_lines(m, "CIPAP", cfg);
        Reply::Ok
    }),
    set: Some(Set {
        params: &[Param::str("ip", 7, 15), Param::str("gateway", 7, 15).opt(), Param::str("netmask", 7, 15).opt()],
        run: |m, a, _| {
            if !has_softap(m) {
                return Reply::Error(AtError::ExecFailed);
            }
            match super::addr::parse_ip_config(a) {
                Ok(cfg) => {
                    // A new network: the DHCP range follows it.
                    m.save(|s| {
                        s.ap_ip = Some(cfg);
                        s.dhcps = None;
                    });
                    Reply::Ok
                }
                Err(e) => Reply::Error(e),
            }
        },
    }),
    exec: None,
};

/// `AT+CIPAPMAC`: the SoftAP's MAC address.
pub const CIPAPMAC: Command = Command {
    name: "+CIPAPMAC",
    summary: "Query/set the MAC address of the SoftAP",
    test: None,
    query: Some(|m, _, _| {
        if !has_softap(m) {
            return Reply::Error(AtError::ExecFailed);
        }
        super::addr::write_mac(m, "CIPAPMAC", 1);
        Reply::Ok
    }),
    set: Some(Set {
        params: &[Param::str("mac", 17, 17)],
        run: |m, a, _| if has_softap(m) { super::addr::set_mac(m, a, 1) } else { Reply::Error(AtError::ExecFailed) },
    }),
    exec: None,
};
