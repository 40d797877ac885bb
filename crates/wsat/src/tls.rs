//! TLS for wss:// and SSL links, as a real module does it (spec section 7).
//!
//! Server verification (auth_mode 2 and 3) follows what ESP-AT's mbedTLS
//! setup accepts: the server's chain must lead to the selected CA
//! (`wss_ca.<n>`), every certificate in it must be valid at the *module
//! clock's* time (so a module whose clock is still at 1970 refuses every
//! server), the host name is not matched against the certificate, and a
//! server certificate that is itself a CA (basicConstraints CA:TRUE) is
//! fine. Signatures are checked by x509-parser (ring) for the chain and by
//! rustls for the handshake. Without a CA (auth_mode 0 and 1) any server is
//! accepted. Client certificates (auth_mode 1 and 3) come from
//! `wss_cert.<n>`/`wss_key.<n>`; keys may be PKCS#8, PKCS#1 or SEC1 PEM.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName, Error, ServerConfig, SignatureScheme};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use wsat_core::{ServerTlsParams, TlsParams};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::time::ASN1Time;

/// Builds a connector for one connection's parameters.
pub fn connector(p: &TlsParams) -> Result<TlsConnector, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let ca = match &p.ca {
        Some(pem) => {
            let certs = certificates(pem).map_err(|e| format!("wss_ca: {e}"))?;
            Some(certs)
        }
        None => None,
    };
    let verifier = Arc::new(ModuleVerifier {
        ca,
        now_unix: p.now_unix,
        common_name: p.common_name.clone(),
        algorithms: provider.signature_verification_algorithms,
    });
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match (&p.client_cert, &p.client_key) {
        (Some(cert), Some(key)) => {
            let chain = certificates(cert).map_err(|e| format!("wss_cert: {e}"))?;
            let key = private_key(key).map_err(|e| format!("wss_key: {e}"))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| format!("client certificate and key: {e}"))?
        }
        _ => builder.with_no_client_auth(),
    };
    config.alpn_protocols = p.alpn.clone();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Builds an acceptor for AT+CIPSERVER "SSL": the module's server
/// certificate and key, and with `<CA enable>` a client certificate that
/// must chain to `server_ca` (checked as the module checks servers).
pub fn acceptor(p: &ServerTlsParams) -> Result<TlsAcceptor, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certificates(&p.cert).map_err(|e| format!("server_cert: {e}"))?;
    let key = private_key(&p.key).map_err(|e| format!("server_key: {e}"))?;
    let builder = ServerConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions().map_err(|e| e.to_string())?;
    let builder = match &p.ca {
        Some(pem) => {
            let ca = certificates(pem).map_err(|e| format!("server_ca: {e}"))?;
            builder.with_client_cert_verifier(Arc::new(ModuleClientVerifier { ca, algorithms: provider.signature_verification_algorithms }))
        }
        None => builder.with_no_client_auth(),
    };
    let config = builder.with_single_cert(chain, key).map_err(|e| format!("server certificate and key: {e}"))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The module clock in Unix seconds, as the driver last saw it: an SSL
/// server checks each client at its handshake against the module's time
/// then (AT+CIPSNTPCFG or `clock set` may have moved it since the server
/// started).
pub static MODULE_CLOCK_SECS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Checks client certificates as the module's server does (`<CA enable>`).
#[derive(Debug)]
struct ModuleClientVerifier {
    ca: Vec<CertificateDer<'static>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for ModuleClientVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(&self, end_entity: &CertificateDer<'_>, intermediates: &[CertificateDer<'_>], _now: UnixTime) -> Result<ClientCertVerified, Error> {
        let now_unix = MODULE_CLOCK_SECS.load(std::sync::atomic::Ordering::Relaxed);
        verify_chain(&self.ca, now_unix, end_entity, intermediates)?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The name to send as SNI: host names only (rustls sends none for an
/// address).
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(host.to_string()).map_err(|e| format!("{host:?} is not a valid server name: {e}"))
}

/// Certificates from PEM (one or more), or a single DER certificate.
pub fn certificates(bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    if bytes.first() == Some(&0x30) {
        return Ok(vec![CertificateDer::from(bytes.to_vec())]);
    }
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(bytes).collect();
    let certs = certs.map_err(|e| format!("not a PEM certificate: {e}"))?;
    if certs.is_empty() {
        return Err("no certificate found".into());
    }
    Ok(certs)
}

/// A private key from PEM: PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
pub fn private_key(bytes: &[u8]) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_slice(bytes).map_err(|e| format!("not a PEM private key (PKCS#8, PKCS#1 or SEC1): {e}"))
}

#[derive(Debug)]
struct ModuleVerifier {
    ca: Option<Vec<CertificateDer<'static>>>,
    now_unix: u64,
    /// AT+CIPSSLCCN: the name the server certificate must carry.
    common_name: Option<String>,
    algorithms: WebPkiSupportedAlgorithms,
}

/// Follows `end_entity` through `intermediates` to one of `anchors`, as
/// mbedTLS does on the module: every certificate valid at the module
/// clock's `now_unix`, signatures checked, a CA certificate accepted as
/// the end entity, names not matched.
fn verify_chain(anchors: &[CertificateDer<'_>], now_unix: u64, end_entity: &CertificateDer<'_>, intermediates: &[CertificateDer<'_>]) -> Result<(), Error> {
    let anchors: Vec<X509Certificate<'_>> = anchors.iter().map(|a| parse(a)).collect::<Result<_, _>>()?;
    let pool: Vec<X509Certificate<'_>> = intermediates.iter().map(|c| parse(c)).collect::<Result<_, _>>()?;
    let mut cert = parse(end_entity)?;
    // A chain longer than this is not something a module would accept.
    for _ in 0..8 {
        check_time(now_unix, &cert)?;
        // The CA itself presented as the peer's certificate.
        if anchors.iter().any(|a| a.as_ref() == cert.as_ref()) {
            return Ok(());
        }
        if let Some(a) = anchors.iter().find(|a| a.subject() == cert.issuer()) {
            cert.verify_signature(Some(a.public_key())).map_err(|_| Error::InvalidCertificate(CertificateError::BadSignature))?;
            check_time(now_unix, a)?;
            return Ok(());
        }
        let Some(next) = pool.iter().find(|c| c.subject() == cert.issuer() && c.as_ref() != cert.as_ref()) else {
            return Err(Error::InvalidCertificate(CertificateError::UnknownIssuer));
        };
        cert.verify_signature(Some(next.public_key())).map_err(|_| Error::InvalidCertificate(CertificateError::BadSignature))?;
        cert = next.clone();
    }
    Err(Error::InvalidCertificate(CertificateError::UnknownIssuer))
}

/// True if `cert` names `name` (a DNS subjectAltName, or the subject's CN
/// when it has no DNS names), wildcards in the leftmost label allowed.
fn names(cert: &X509Certificate<'_>, name: &str) -> bool {
    let matches = |pattern: &str| {
        let (p, n) = (pattern.to_ascii_lowercase(), name.to_ascii_lowercase());
        match p.strip_prefix("*.") {
            Some(rest) => n.split_once('.').is_some_and(|(_, tail)| tail == rest),
            None => p == n,
        }
    };
    let dns: Vec<String> = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|g| match g {
                    x509_parser::extensions::GeneralName::DNSName(d) => Some(d.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    if !dns.is_empty() {
        return dns.iter().any(|d| matches(d));
    }
    cert.subject().iter_common_name().filter_map(|cn| cn.as_str().ok()).any(matches)
}

fn parse(der: &[u8]) -> Result<X509Certificate<'_>, Error> {
    X509Certificate::from_der(der).map(|(_, c)| c).map_err(|_| Error::InvalidCertificate(CertificateError::BadEncoding))
}

/// Checks `cert`'s validity dates against the module clock.
fn check_time(now_unix: u64, cert: &X509Certificate<'_>) -> Result<(), Error> {
    {
        let now = ASN1Time::from_timestamp(now_unix as i64).map_err(|_| Error::General("bad module time".into()))?;
        let v = cert.validity();
        if now < v.not_before {
            return Err(Error::InvalidCertificate(CertificateError::NotValidYet));
        }
        if now > v.not_after {
            return Err(Error::InvalidCertificate(CertificateError::Expired));
        }
        Ok(())
    }
}

impl ServerCertVerifier for ModuleVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        if let Some(cn) = &self.common_name {
            if !names(&parse(end_entity)?, cn) {
                return Err(Error::InvalidCertificate(CertificateError::NotValidForName));
            }
        }
        let Some(anchors) = &self.ca else {
            // auth_mode 0 and 1: the module does not verify the server.
            return Ok(ServerCertVerified::assertion());
        };
        verify_chain(anchors, self.now_unix, end_entity, intermediates)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    /// Throwaway keys made for this test (`openssl genrsa -traditional`,
    /// `openssl ecparam -genkey -noout`): one per PEM flavour a module's
    /// `wss_key` may hold besides PKCS#8.
    const PKCS1: &[u8] = include_bytes!("tls_testdata/pkcs1-rsa.key");
    const SEC1: &[u8] = include_bytes!("tls_testdata/sec1-ec.key");

    #[test]
    fn every_key_format_loads_as_a_signing_key() {
        let provider = rustls::crypto::ring::default_provider();
        let pkcs8 = rcgen::KeyPair::generate().unwrap().serialize_pem();
        for (name, pem) in [("PKCS#1", PKCS1), ("SEC1", SEC1), ("PKCS#8", pkcs8.as_bytes())] {
            let key = private_key(pem).unwrap_or_else(|e| panic!("{name}: {e}"));
            provider.key_provider.load_private_key(key).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        // PEM decoding takes any base64 body; the key itself fails to load.
        let junk = private_key(b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n").unwrap();
        assert!(provider.key_provider.load_private_key(junk).is_err());
        assert!(certificates(b"no pem here").is_err());
    }
}
