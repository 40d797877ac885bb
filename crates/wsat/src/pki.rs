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

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
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

/// True if the NVS holds any WebSocket credential.
pub fn has_wss_pki(mfg: &MfgNvs) -> bool {
    LAYOUT.iter().any(|(_, _, _, ns)| mfg.keys(ns).is_some())
}

/// Makes a factory PKI like a module's: a CA, and a client certificate and
/// key per set (0 and 1) signed by it. Written in the `raw_data` layout
/// under `dir` (plus `ca.key`, so the user can sign a server certificate
/// the module will trust) and into the NVS. Returns the CA's path.
pub fn generate(dir: &Path, mfg: &mut MfgNvs) -> Result<PathBuf> {
    let ca_key = KeyPair::generate().context("CA key")?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).context("CA parameters")?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::OrganizationName, "wsat");
    ca.distinguished_name.push(DnType::CommonName, "wsat factory CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca.self_signed(&ca_key).context("CA certificate")?;
    let mut files: Vec<(String, String)> = vec![("ca.key".into(), ca_key.serialize_pem())];
    for n in 0..2u8 {
        let key = KeyPair::generate().context("client key")?;
        let mut p = CertificateParams::new(vec![format!("wsat-client-{n}")]).context("client parameters")?;
        p.distinguished_name.push(DnType::OrganizationName, "wsat");
        p.distinguished_name.push(DnType::CommonName, format!("wsat client {n}"));
        let cert = p.signed_by(&key, &ca_cert, &ca_key).context("client certificate")?;
        files.push((format!("wss_ca/wss_ca_{n:02}.crt"), ca_cert.pem()));
        files.push((format!("wss_cert/wss_client_{n:02}.crt"), cert.pem()));
        files.push((format!("wss_key/wss_client_{n:02}.key"), key.serialize_pem()));
    }
    for (name, text) in &files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        crate::state::write_atomic(&path, text.as_bytes())?;
    }
    import(dir, mfg)?;
    Ok(dir.join("wss_ca/wss_ca_00.crt"))
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

    #[test]
    fn generated_pki_chains_and_loads() {
        let tmp = tempfile::tempdir().unwrap();
        let mut mfg = MfgNvs::new();
        assert!(!has_wss_pki(&mfg));
        let ca_path = generate(tmp.path(), &mut mfg).unwrap();
        assert!(has_wss_pki(&mfg));
        assert!(ca_path.exists() && tmp.path().join("ca.key").exists());
        let bytes = |ns: &str, k: &str| mfg.get(ns, k).and_then(MfgValue::as_bytes).unwrap().to_vec();
        for n in 0..2 {
            let ca = crate::tls::certificates(&bytes("wss_ca", &format!("wss_ca.{n}"))).unwrap();
            let cert = crate::tls::certificates(&bytes("wss_cert", &format!("wss_cert.{n}"))).unwrap();
            crate::tls::private_key(&bytes("wss_key", &format!("wss_key.{n}"))).unwrap();
            use x509_parser::prelude::FromDer;
            let (_, ca) = x509_parser::certificate::X509Certificate::from_der(&ca[0]).unwrap();
            let (_, c) = x509_parser::certificate::X509Certificate::from_der(&cert[0]).unwrap();
            c.verify_signature(Some(ca.public_key())).unwrap();
        }
    }
}
