//! The networks file: a TOML list of access points that makes the virtual
//! radio strict (only these APs exist).
//!
//! ```toml
//! [[ap]]
//! ssid = "lab"
//! password = "password1"      # omit or "" for an open network
//! bssid = "aa:bb:cc:dd:ee:ff" # optional
//! channel = 6                 # optional, 1-14
//! rssi = -50                  # optional, dBm
//! ip = "192.168.1.50"         # optional: the station's address there
//! gateway = "192.168.1.1"     # optional
//! netmask = "255.255.255.0"   # optional
//! country = "US"              # optional: the country code it advertises
//! width = 20                  # optional: channel width in MHz, 20 or 40
//! ```

use std::net::Ipv4Addr;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use wsat_core::wifi::radio::{AccessPoint, Radio};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    ap: Vec<Ap>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Ap {
    ssid: String,
    #[serde(default)]
    password: String,
    bssid: Option<String>,
    channel: Option<u8>,
    rssi: Option<i8>,
    ip: Option<Ipv4Addr>,
    gateway: Option<Ipv4Addr>,
    netmask: Option<Ipv4Addr>,
    country: Option<String>,
    width: Option<u8>,
}

/// Reads a networks file into a strict radio.
pub fn load(path: &Path) -> Result<Radio> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse(&text).with_context(|| format!("in networks file {}", path.display()))
}

/// Parses the networks file format.
pub fn parse(text: &str) -> Result<Radio> {
    let file: File = toml::from_str(text)?;
    let mut aps = Vec::new();
    for ap in file.ap {
        if ap.ssid.is_empty() || ap.ssid.len() > 32 {
            bail!("ssid {:?}: must be 1-32 bytes", ap.ssid);
        }
        if !ap.password.is_empty() && !(8..=64).contains(&ap.password.len()) {
            bail!("ssid {:?}: a password must be empty (open) or 8-64 bytes", ap.ssid);
        }
        let mut a = AccessPoint::synthetic(ap.ssid.as_bytes(), ap.password.as_bytes());
        if let Some(b) = &ap.bssid {
            a.bssid = wsat_core::commands::addr::parse_mac(b.as_bytes())
                .with_context(|| format!("ssid {:?}: bssid {b:?} is not aa:bb:cc:dd:ee:ff", ap.ssid))?;
        }
        if let Some(c) = ap.channel {
            if !(1..=14).contains(&c) {
                bail!("ssid {:?}: channel must be 1-14", ap.ssid);
            }
            a.channel = c;
        }
        if let Some(r) = ap.rssi {
            a.rssi = r;
        }
        if let Some(ip) = ap.ip {
            a.ip = ip.octets();
        }
        if let Some(g) = ap.gateway {
            a.gateway = g.octets();
        }
        if let Some(n) = ap.netmask {
            a.netmask = n.octets();
        }
        if let Some(c) = &ap.country {
            let [x, y] = <[u8; 2]>::try_from(c.as_bytes())
                .ok()
                .filter(|b| b.iter().all(u8::is_ascii_uppercase))
                .with_context(|| format!("ssid {:?}: country {c:?} is not a two-letter code like \"US\"", ap.ssid))?;
            a.country = [x, y];
        }
        if let Some(w) = ap.width {
            if w != 20 && w != 40 {
                bail!("ssid {:?}: width must be 20 or 40 (MHz)", ap.ssid);
            }
            a.width_mhz = w;
        }
        aps.push(a);
    }
    Ok(Radio::Strict(aps))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates() {
        let r = parse(
            "[[ap]]\nssid = \"lab\"\npassword = \"password1\"\nbssid = \"aa:bb:cc:dd:ee:ff\"\nchannel = 3\nrssi = -70\nip = \"10.0.0.7\"\ncountry = \"US\"\nwidth = 20\n\n[[ap]]\nssid = \"open\"\n",
        )
        .unwrap();
        let Radio::Strict(aps) = r else { panic!("strict radio expected") };
        assert_eq!(aps.len(), 2);
        assert_eq!(aps[0].bssid, [0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
        assert_eq!((aps[0].channel, aps[0].rssi, aps[0].ip), (3, -70, [10, 0, 0, 7]));
        assert_eq!((aps[0].country, aps[0].width_mhz), (*b"US", 20));
        assert!(aps[1].password.is_empty());
        for bad in [
            "[[ap]]\nssid = \"\"\n",
            "[[ap]]\nssid = \"x\"\npassword = \"short\"\n",
            "[[ap]]\nssid = \"x\"\nbssid = \"nope\"\n",
            "[[ap]]\nssid = \"x\"\nchannel = 15\n",
            "[[ap]]\nssid = \"x\"\ncountry = \"usa\"\n",
            "[[ap]]\nssid = \"x\"\nwidth = 80\n",
            "[[ap]]\nssid = \"x\"\ncolour = \"red\"\n",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
