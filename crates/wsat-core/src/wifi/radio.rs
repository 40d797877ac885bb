//! The virtual radio: which access points exist and who may join them.
//!
//! By default the radio is *permissive*: any SSID can be joined, open if
//! the password is empty, WPA2 if it is 8-64 bytes, so every documentation
//! example works out of the box. A networks file (parsed by the runtime)
//! makes it *strict*: only the listed APs exist, with their passwords.

use alloc::vec;
use alloc::vec::Vec;

/// One access point as the radio sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPoint {
    /// SSID bytes.
    pub ssid: Vec<u8>,
    /// Password (empty: open network).
    pub password: Vec<u8>,
    /// BSSID (the AP's MAC address).
    pub bssid: [u8; 6],
    /// Channel, 1-14.
    pub channel: u8,
    /// Signal strength in dBm.
    pub rssi: i8,
    /// The station's address on this AP's network.
    pub ip: [u8; 4],
    /// The gateway.
    pub gateway: [u8; 4],
    /// The netmask.
    pub netmask: [u8; 4],
    /// The country code the AP advertises (AT+CWCOUNTRY with policy 0).
    pub country: [u8; 2],
    /// The channel width it runs, in MHz (20 or 40; AT+CWBANDWIDTH?).
    pub width_mhz: u8,
}

impl AccessPoint {
    /// ESP-AT's encryption number: 0 open, 3 WPA2-PSK.
    pub fn ecn(&self) -> u8 {
        if self.password.is_empty() {
            0
        } else {
            3
        }
    }

    /// A plausible AP for `ssid`, with a BSSID derived from the SSID so that
    /// the same name always looks the same.
    pub fn synthetic(ssid: &[u8], password: &[u8]) -> AccessPoint {
        // FNV-1a: a stable, dependency-free hash for a cosmetic address.
        let mut h: u32 = 0x811c_9dc5;
        for &b in ssid {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        let [a, b, c, d] = h.to_be_bytes();
        AccessPoint {
            ssid: ssid.to_vec(),
            password: password.to_vec(),
            bssid: [0x02, 0x57, a, b, c, d],
            channel: 1 + (d % 11),
            rssi: -40 - (c % 30) as i8,
            ip: [192, 168, 4, 2],
            gateway: [192, 168, 4, 1],
            netmask: [255, 255, 255, 0],
            country: *b"CN",
            width_mhz: 40,
        }
    }
}

/// Why a join failed, numbered as `+CWJAP:<code>` numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinError {
    /// 1: connection timeout.
    Timeout = 1,
    /// 2: wrong password.
    WrongPassword = 2,
    /// 3: the AP cannot be found.
    NotFound = 3,
    /// 4: connection failed.
    Failed = 4,
}

/// The set of APs in range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Radio {
    /// Any SSID can be joined.
    Permissive,
    /// Only these APs exist.
    Strict(Vec<AccessPoint>),
}

impl Radio {
    /// What joining `ssid` with `password` (and, if given, `bssid`) gives.
    pub fn join(&self, ssid: &[u8], password: &[u8], bssid: Option<[u8; 6]>) -> Result<AccessPoint, JoinError> {
        match self {
            Radio::Permissive => {
                if !password.is_empty() && password.len() < 8 {
                    // No WPA2 network takes a passphrase this short.
                    return Err(JoinError::WrongPassword);
                }
                let mut ap = AccessPoint::synthetic(ssid, password);
                if let Some(b) = bssid {
                    ap.bssid = b;
                }
                Ok(ap)
            }
            Radio::Strict(aps) => {
                let mut named = aps.iter().filter(|ap| ap.ssid == ssid).peekable();
                named.peek().ok_or(JoinError::NotFound)?;
                let ap = named
                    .find(|ap| bssid.is_none_or(|b| b == ap.bssid))
                    .ok_or(JoinError::NotFound)?;
                if ap.password != password {
                    return Err(JoinError::WrongPassword);
                }
                Ok(ap.clone())
            }
        }
    }

    /// The APs a scan finds.
    pub fn scan(&self) -> Vec<AccessPoint> {
        match self {
            Radio::Permissive => vec![
                AccessPoint::synthetic(b"espressif", b"1234567890"),
                AccessPoint::synthetic(b"wsat-open", b""),
            ],
            Radio::Strict(aps) => aps.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissive_joins_anything_sensible() {
        let r = Radio::Permissive;
        assert!(r.join(b"espressif", b"1234567890", None).is_ok());
        assert!(r.join(b"cafe", b"", None).is_ok());
        assert_eq!(r.join(b"cafe", b"short", None), Err(JoinError::WrongPassword));
    }

    #[test]
    fn strict_knows_its_aps() {
        let ap = AccessPoint::synthetic(b"lab", b"password1");
        let r = Radio::Strict(vec![ap.clone()]);
        assert_eq!(r.join(b"lab", b"password1", None), Ok(ap.clone()));
        assert_eq!(r.join(b"lab", b"password2", None), Err(JoinError::WrongPassword));
        assert_eq!(r.join(b"other", b"password1", None), Err(JoinError::NotFound));
        assert_eq!(r.join(b"lab", b"password1", Some([0; 6])), Err(JoinError::NotFound));
    }
}
