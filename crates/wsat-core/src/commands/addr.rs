//! Addresses on the AT port: IPv4 addresses (`"a.b.c.d"`), the
//! ip/gateway/netmask triple of AT+CIPSTA and AT+CIPAP, and MAC addresses
//! (`"aa:bb:cc:dd:ee:ff"`) with the rules AT+CIPSTAMAC and AT+CIPAPMAC
//! share.

use alloc::format;

use crate::at::error::AtError;
use crate::at::params::Args;
use crate::at::reply::Reply;
use crate::module::Module;
use crate::settings::Ipv4Config;
use crate::wifi::station::mac_string;

/// Parses `a.b.c.d`.
pub fn parse_ipv4(text: &[u8]) -> Option<[u8; 4]> {
    let s = core::str::from_utf8(text).ok()?;
    let mut ip = [0u8; 4];
    let mut parts = s.split('.');
    for b in &mut ip {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        *b = p.parse().ok()?;
    }
    parts.next().is_none().then_some(ip)
}

/// `a.b.c.d`
pub fn ipv4_string(ip: [u8; 4]) -> alloc::string::String {
    format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3])
}

/// Parses AT+CIPSTA/AT+CIPAP's `<"ip">[,<"gateway">,<"netmask">]`: with
/// only an address, the gateway is `x.y.z.1` and the netmask /24.
pub(crate) fn parse_ip_config(a: &Args) -> Result<Ipv4Config, AtError> {
    let field = |i: usize| a.str(i).map(|t| parse_ipv4(t).ok_or(AtError::ParamInvalid(i as u16)));
    let ip = field(0).unwrap_or(Err(AtError::ParamInvalid(0)))?;
    match (field(1), field(2)) {
        (None, None) => Ok([ip, [ip[0], ip[1], ip[2], 1], [255, 255, 255, 0]]),
        (Some(g), Some(n)) => {
            let (g, n) = (g?, n?);
            // A netmask is ones then zeros.
            let bits = u32::from_be_bytes(n);
            if bits.leading_ones() + bits.trailing_zeros() != 32 {
                return Err(AtError::ParamInvalid(2));
            }
            Ok([ip, g, n])
        }
        _ => Err(AtError::ParamCount(a.len() as u16)),
    }
}

/// Writes `+<name>:ip:"..."`, gateway and netmask lines.
pub(crate) fn write_ip_lines(m: &mut Module, name: &str, cfg: Ipv4Config) {
    let [ip, gw, mask] = cfg.map(ipv4_string);
    m.write(format!("+{name}:ip:\"{ip}\"\r\n+{name}:gateway:\"{gw}\"\r\n+{name}:netmask:\"{mask}\"\r\n").as_bytes());
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(text: &[u8]) -> Option<[u8; 6]> {
    let s = core::str::from_utf8(text).ok()?;
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut mac {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// Checks a MAC address a host may set: unicast, not all zeros or ones,
/// not the other interface's.
pub(crate) fn settable_mac(m: &Module, text: &[u8], other: usize) -> Option<[u8; 6]> {
    let mac = parse_mac(text)?;
    let ok = mac[0] & 1 == 0 && mac != [0; 6] && mac != [0xFF; 6] && mac != m.mac(other);
    ok.then_some(mac)
}

/// `+<name>:"<mac>"` for interface `netif` (0 station, 1 SoftAP).
pub(crate) fn write_mac(m: &mut Module, name: &str, netif: usize) {
    let mut line = format!("+{name}:\"").into_bytes();
    line.extend_from_slice(&mac_string(&m.mac(netif)));
    line.extend_from_slice(b"\"\r\n");
    m.write(&line);
}

/// Sets interface `netif`'s MAC address from parameter 0 (saved per
/// AT+SYSSTORE).
pub(crate) fn set_mac(m: &mut Module, a: &Args, netif: usize) -> Reply {
    let Some(mac) = settable_mac(m, a.str(0).unwrap_or_default(), 1 - netif) else {
        return Reply::Error(AtError::ParamInvalid(0));
    };
    m.save(|s| s.macs[netif] = Some(mac));
    Reply::Ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wifi::station::mac_string;

    #[test]
    fn macs_and_addresses() {
        assert_eq!(parse_mac(b"ca:d7:19:d8:a6:44"), Some([0xca, 0xd7, 0x19, 0xd8, 0xa6, 0x44]));
        assert_eq!(parse_mac(b"ca:d7:19:d8:a6"), None);
        assert_eq!(parse_mac(b"ca:d7:19:d8:a6:44:00"), None);
        assert_eq!(parse_mac(b"ca-d7-19-d8-a6-44"), None);
        assert_eq!(mac_string(&[0xca, 0xd7, 0x19, 0xd8, 0xa6, 0x44]), b"ca:d7:19:d8:a6:44".to_vec());
        assert_eq!(parse_ipv4(b"192.168.4.1"), Some([192, 168, 4, 1]));
        for bad in [&b"192.168.4"[..], b"192.168.4.256", b"1.2.3.4.5", b"1..2.3", b"1.2.3.+4", b"0001.2.3.4"] {
            assert_eq!(parse_ipv4(bad), None, "{bad:?}");
        }
        assert_eq!(ipv4_string([10, 0, 0, 7]), "10.0.0.7");
    }
}
