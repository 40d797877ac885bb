//! Import of an ESP-AT `customized_partitions/raw_data` style PKI directory
//! into the manufacturing NVS, where the WebSocket client looks for its
//! credentials:
//!
//! | file                          | namespace  | key          |
//! |-------------------------------|------------|--------------|
//! | `wss_ca/wss_ca_NN.crt`        | `wss_ca`   | `wss_ca.N`   |
//! | `wss_cert/wss_client_NN.crt`  | `wss_cert` | `wss_cert.N` |
//! | `wss_key/wss_client_NN.key`   | `wss_key`  | `wss_key.N`  |
//!
//! Values are stored as binary (type 8), as ESP-AT's mfg_nvs tool stores
//! files.

use std::path::Path;

use anyhow::{bail, Context, Result};
use wsat_core::mfg::{MfgNvs, MfgValue, MAX_BLOB};

const LAYOUT: [(&str, &str, &str, &str); 3] = [
    ("wss_ca", "wss_ca_", ".crt", "wss_ca"),
    ("wss_cert", "wss_client_", ".crt", "wss_cert"),
    ("wss_key", "wss_client_", ".key", "wss_key"),
];

/// Copies every credential found under `dir` into `mfg`; returns how many.
pub fn import(dir: &Path, mfg: &mut MfgNvs) -> Result<usize> {
    if !dir.is_dir() {
        bail!("PKI directory {} does not exist", dir.display());
    }
    let mut count = 0;
    for (sub, prefix, suffix, ns) in LAYOUT {
        let sub_dir = dir.join(sub);
        if !sub_dir.is_dir() {
            continue;
        }
        for n in 0..100 {
            let path = sub_dir.join(format!("{prefix}{n:02}{suffix}"));
            if !path.exists() {
                continue;
            }
            let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            if bytes.len() > MAX_BLOB {
                bail!("{} is larger than {MAX_BLOB} bytes", path.display());
            }
            mfg.set(ns, &format!("{ns}.{n}"), MfgValue::Bin(bytes));
            count += 1;
        }
    }
    if count == 0 {
        bail!("no credentials found in {} (expected wss_ca/, wss_cert/, wss_key/)", dir.display());
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_the_esp_at_factory_layout() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/pki/esp-at-default");
        if !dir.exists() {
            // The shared folder sits beside the checkout in CI and dev; a
            // bare crate checkout has no PKI to read.
            return;
        }
        let mut mfg = MfgNvs::new();
        assert_eq!(import(&dir, &mut mfg).unwrap(), 6);
        let ca = mfg.get("wss_ca", "wss_ca.1").and_then(MfgValue::as_bytes).unwrap();
        assert!(ca.starts_with(b"-----BEGIN CERTIFICATE-----"));
        assert!(mfg.get("wss_key", "wss_key.0").is_some());
        assert!(import(Path::new("/nonexistent"), &mut mfg).is_err());
    }
}
