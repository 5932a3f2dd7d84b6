//! Client certificates: facts read once per connection after the TLS handshake verified the
//! chain against the listener's client CA, and the principal they become.

use std::sync::Arc;

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::Principal;

/// What the gateway knows about a verified client certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientCert {
    /// Subject common name.
    pub common_name: Option<String>,
    /// Full subject, RFC 4514 form.
    pub subject: String,
    /// Issuer, RFC 4514 form.
    pub issuer: String,
    /// SAN DNS names.
    pub dns_names: Vec<String>,
    /// SAN URIs (e.g. SPIFFE ids).
    pub uris: Vec<String>,
    /// Serial number, hex.
    pub serial: String,
    /// SHA-256 of the DER certificate, hex.
    pub fingerprint: String,
}

impl ClientCert {
    /// Reads the facts of a DER certificate; `None` if it does not parse (the handshake already
    /// verified it, so this does not happen with a real chain).
    pub fn from_der(der: &[u8]) -> Option<Self> {
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        let common_name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned);
        let mut dns_names = Vec::new();
        let mut uris = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(d) => dns_names.push((*d).to_owned()),
                    GeneralName::URI(u) => uris.push((*u).to_owned()),
                    _ => {}
                }
            }
        }
        Some(Self {
            common_name,
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            dns_names,
            uris,
            serial: cert.raw_serial_as_string().replace(':', ""),
            fingerprint: aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der)
                .as_ref()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        })
    }
}

/// Which certificate field names the principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertIdentity {
    /// Subject CN.
    CommonName,
    /// First SAN DNS name.
    Dns,
    /// First SAN URI.
    Uri,
}

/// Turns verified client certificates into principals.
pub struct MtlsProvider {
    /// Provider name.
    pub name: Arc<str>,
    /// Field used as the principal id.
    pub identity: CertIdentity,
    /// Roles every certificate principal gets.
    pub roles: Vec<String>,
}

impl MtlsProvider {
    /// The principal for `cert`, if it has the configured identity field.
    pub fn principal(&self, cert: &Arc<ClientCert>) -> Option<Arc<Principal>> {
        let id = match self.identity {
            CertIdentity::CommonName => cert.common_name.clone(),
            CertIdentity::Dns => cert.dns_names.first().cloned(),
            CertIdentity::Uri => cert.uris.first().cloned(),
        }?;
        let mut claims = serde_json::Map::new();
        claims.insert("subject".into(), cert.subject.clone().into());
        claims.insert("issuer".into(), cert.issuer.clone().into());
        claims.insert("fingerprint".into(), cert.fingerprint.clone().into());
        Some(Arc::new(Principal {
            id,
            provider: self.name.clone(),
            roles: self.roles.clone(),
            claims,
            amr: vec!["mtls".into()],
            cert: Some(cert.clone()),
            ..Principal::default()
        }))
    }
}
