//! Import of an ESP-AT `customized_partitions/raw_data` style directory
//! into the manufacturing NVS, the way ESP-AT's `mfg_nvs.py` builds the
//! factory partition:
//!
//! - every sub-directory holding `.crt`/`.key`/`.pem` files is a namespace
//!   named after it; with one file its key is the namespace's name
//!   (`server_key/server.key` -> `server_key`), with several the sorted
//!   files get `<namespace>.0`, `.1`, ... (`wss_ca/wss_ca_01.crt` ->
//!   `wss_ca.1`); values are binary (type 8);
//! - `factory_param/factory_param_data.csv` with `factory_param_type.csv`
//!   gives the `factory_param` namespace, from the ESP32-C3 MINI-1 row.
//!
//! Without a directory, [`generate`] makes a factory PKI of the same shape.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use wsat_core::mfg::{MfgNvs, MfgValue, MAX_BLOB, MAX_NAME};

/// The platform and module whose factory parameters wsat takes.
const PLATFORM: (&str, &str) = ("PLATFORM_ESP32C3", "MINI-1");

/// Copies every namespace found under `dir` into `mfg`; returns how many
/// keys it wrote.
pub fn import(dir: &Path, mfg: &mut MfgNvs) -> Result<usize> {
    if !dir.is_dir() {
        bail!("PKI directory {} does not exist", dir.display());
    }
    let mut count = 0;
    let mut subdirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    subdirs.sort();
    for sub in subdirs {
        let Some(ns) = sub.file_name().and_then(|n| n.to_str()).map(str::to_owned) else { continue };
        if ns == "factory_param" {
            count += import_factory_param(&sub, mfg)?;
            continue;
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&sub)
            .with_context(|| format!("cannot list {}", sub.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "crt" || x == "key" || x == "pem"))
            .collect();
        if files.is_empty() {
            continue;
        }
        if ns.len() > MAX_NAME {
            bail!("{}: namespace names are at most {MAX_NAME} bytes", sub.display());
        }
        files.sort();
        let single = files.len() == 1;
        for (i, path) in files.iter().enumerate() {
            let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            if bytes.len() > MAX_BLOB {
                bail!("{} is larger than {MAX_BLOB} bytes", path.display());
            }
            let key = if single { ns.clone() } else { format!("{ns}.{i}") };
            mfg.set(&ns, &key, MfgValue::Bin(bytes));
            count += 1;
        }
    }
    if count == 0 {
        bail!("nothing to import in {} (expected directories like wss_ca/, client_cert/, factory_param/)", dir.display());
    }
    Ok(count)
}

/// Reads `factory_param_data.csv` and `factory_param_type.csv` into the
/// `factory_param` namespace.
fn import_factory_param(dir: &Path, mfg: &mut MfgNvs) -> Result<usize> {
    let read = |name: &str| -> Result<String> {
        let p = dir.join(name);
        std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))
    };
    let data = read("factory_param_data.csv")?;
    let types = read("factory_param_type.csv")?;
    let rows: Vec<Vec<String>> = data.lines().filter(|l| !l.trim().is_empty()).map(split_csv).collect();
    let Some(header) = rows.first() else { bail!("{}: empty factory_param_data.csv", dir.display()) };
    let row = rows
        .iter()
        .skip(1)
        .find(|r| r.len() > 1 && r[0] == PLATFORM.0 && r[1] == PLATFORM.1)
        .with_context(|| format!("{}: no row for {} {}", dir.display(), PLATFORM.0, PLATFORM.1))?;
    let mut count = 0;
    for line in types.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let t = split_csv(line);
        let [key, _, ty] = t.as_slice() else { continue };
        let Some(pos) = header.iter().position(|h| h == key) else { continue };
        let Some(value) = row.get(pos) else { continue };
        let v = match ty.as_str() {
            "string" => MfgValue::Str(value.clone().into_bytes()),
            other => {
                let n: i64 = value.parse().with_context(|| format!("factory_param {key}: {value:?} is not a number"))?;
                let code = match other {
                    "u8" => 1,
                    "i8" => 2,
                    "u16" => 3,
                    "i16" => 4,
                    "u32" => 5,
                    "i32" => 6,
                    _ => bail!("factory_param {key}: unknown type {other}"),
                };
                MfgValue::integer(code, n).with_context(|| format!("factory_param {key}: {n} does not fit {other}"))?
            }
        };
        mfg.set("factory_param", key, v);
        count += 1;
    }
    Ok(count)
}

/// Splits one CSV line (quoted fields may hold commas).
fn split_csv(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(String::new()),
            c => out.last_mut().expect("never empty").push(c),
        }
    }
    out
}

/// Certificate namespaces a factory partition has.
const CERT_NAMESPACES: [&str; 15] = [
    "client_ca", "client_cert", "client_key", "server_ca", "server_cert", "server_key", "https_ca", "https_cert", "https_key",
    "mqtt_ca", "mqtt_cert", "mqtt_key", "wss_ca", "wss_cert", "wss_key",
];

/// True if the NVS holds any certificate namespace.
pub fn has_pki(mfg: &MfgNvs) -> bool {
    CERT_NAMESPACES.iter().any(|ns| mfg.keys(ns).is_some())
}

/// Makes a factory PKI like a module's, in the `raw_data` layout under
/// `dir` (plus `ca.key`, so the user can sign a server certificate the
/// module will trust), and imports it. One CA signs everything: client
/// certificates for sets 0 and 1 of `client_*`, `https_*` and `wss_*`, one
/// for `mqtt_*`, and a server certificate for `localhost`/127.0.0.1
/// (`server_*`, for AT+CIPSERVER with SSL). Returns the CA's path.
pub fn generate(dir: &Path, mfg: &mut MfgNvs) -> Result<PathBuf> {
    let ca_key = KeyPair::generate().context("CA key")?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).context("CA parameters")?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::OrganizationName, "wsat");
    ca.distinguished_name.push(DnType::CommonName, "wsat factory CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca.self_signed(&ca_key).context("CA certificate")?;
    let mut files: Vec<(String, String)> = vec![("ca.key".into(), ca_key.serialize_pem())];
    let leaf = |names: Vec<String>, cn: String| -> Result<(String, String)> {
        let key = KeyPair::generate().context("key")?;
        let mut p = CertificateParams::new(names).context("certificate parameters")?;
        p.distinguished_name.push(DnType::OrganizationName, "wsat");
        p.distinguished_name.push(DnType::CommonName, cn);
        let cert = p.signed_by(&key, &ca_cert, &ca_key).context("certificate")?;
        Ok((cert.pem(), key.serialize_pem()))
    };
    // (namespace prefix, certificate file stem, key file stem)
    for (ns, cert_stem, key_stem) in [("client", "client_cert", "client_key"), ("https", "https_client", "https_client"), ("wss", "wss_client", "wss_client")] {
        for n in 0..2u8 {
            let (cert, key) = leaf(vec![format!("wsat-{ns}-{n}")], format!("wsat {ns} client {n}"))?;
            files.push((format!("{ns}_ca/{ns}_ca_{n:02}.crt"), ca_cert.pem()));
            let cert_dir = if ns == "client" { "client_cert".to_string() } else { format!("{ns}_cert") };
            let key_dir = if ns == "client" { "client_key".to_string() } else { format!("{ns}_key") };
            files.push((format!("{cert_dir}/{cert_stem}_{n:02}.crt"), cert));
            files.push((format!("{key_dir}/{key_stem}_{n:02}.key"), key));
        }
    }
    let (cert, key) = leaf(vec!["wsat-mqtt".into()], "wsat mqtt client".into())?;
    files.extend([("mqtt_ca/mqtt_ca.crt".into(), ca_cert.pem()), ("mqtt_cert/mqtt_client.crt".into(), cert), ("mqtt_key/mqtt_client.key".into(), key)]);
    let (cert, key) = leaf(vec!["localhost".into(), "127.0.0.1".into()], "wsat module server".into())?;
    files.extend([("server_ca/server_ca.crt".into(), ca_cert.pem()), ("server_cert/server_cert.crt".into(), cert), ("server_key/server.key".into(), key)]);
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
        // 2 x (client ca/cert/key, https ca/cert/key, wss ca/cert/key)
        // + mqtt and server triples + 13 factory parameters.
        assert_eq!(import(&dir, &mut mfg).unwrap(), 18 + 6 + 13);
        let ca = mfg.get("wss_ca", "wss_ca.1").and_then(MfgValue::as_bytes).unwrap();
        assert!(ca.starts_with(b"-----BEGIN CERTIFICATE-----"));
        assert!(mfg.get("wss_key", "wss_key.0").is_some());
        assert!(mfg.get("server_key", "server_key").is_some());
        assert!(mfg.get("client_cert", "client_cert.1").is_some());
        assert_eq!(mfg.get("factory_param", "module_name"), Some(&MfgValue::Str(b"MINI-1".to_vec())));
        assert_eq!(mfg.get("factory_param", "uart_baudrate"), Some(&MfgValue::I32(115_200)));
        assert_eq!(mfg.get("factory_param", "sys_store"), Some(&MfgValue::U8(1)));
        assert!(import(Path::new("/nonexistent"), &mut mfg).is_err());
    }

    #[test]
    fn generated_pki_chains_and_loads() {
        let tmp = tempfile::tempdir().unwrap();
        let mut mfg = MfgNvs::new();
        assert!(!has_pki(&mfg));
        let ca_path = generate(tmp.path(), &mut mfg).unwrap();
        assert!(has_pki(&mfg));
        for ns in CERT_NAMESPACES {
            assert!(mfg.keys(ns).is_some(), "{ns}");
        }
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
