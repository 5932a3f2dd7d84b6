//! TLS with rustls and the aws-lc-rs provider.
//!
//! Server side: TLS 1.2 and 1.3 only (1.3 only when configured), ALPN `h2` and `http/1.1`, and a
//! certificate resolver whose key pair is swapped atomically when the files change or on SIGHUP,
//! so handshakes in progress and open connections are never disturbed. A reload that fails (a
//! half-written file, a key that does not match) keeps the old pair and logs why.
//!
//! Client side (to upstreams): always verified, against the public web roots or a configured CA.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::model::{ClientAuth, TlsConfig, TlsVersion};

/// The one crypto provider of the process (aws-lc-rs).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Installs aws-lc-rs as the process default provider (idempotent).
pub fn install_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// Loads and checks a certificate chain and its key.
pub fn load_certified_key(cert: &Path, key: &Path) -> Result<CertifiedKey, String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("cannot read certificate {}: {e}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("invalid certificate PEM {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("no certificate found in {}", cert.display()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read private key {}: {e}", key.display()))?;
    let certified = CertifiedKey::from_der(chain, key_der, &provider()).map_err(|e| {
        format!(
            "certificate {} and key do not work together: {e}",
            cert.display()
        )
    })?;
    Ok(certified)
}

/// A certificate resolver that can be reloaded from its files.
pub struct ReloadingCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: ArcSwap<CertifiedKey>,
    stamp: ArcSwap<Option<(SystemTime, SystemTime)>>,
}

impl std::fmt::Debug for ReloadingCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadingCert")
            .field("cert", &self.cert_path)
            .finish_non_exhaustive()
    }
}

impl ReloadingCert {
    /// Loads the pair once; fails if it is unusable.
    pub fn load(cert: PathBuf, key: PathBuf) -> Result<Self, String> {
        let current = load_certified_key(&cert, &key)?;
        let stamp = file_stamps(&cert, &key);
        Ok(Self {
            cert_path: cert,
            key_path: key,
            current: ArcSwap::from_pointee(current),
            stamp: ArcSwap::from_pointee(stamp),
        })
    }

    /// Reloads the pair if either file changed since the last load (`force`: reload anyway).
    /// Returns `Ok(true)` when a new pair is in use.
    pub fn reload(&self, force: bool) -> Result<bool, String> {
        let stamp = file_stamps(&self.cert_path, &self.key_path);
        if !force && **self.stamp.load() == stamp {
            return Ok(false);
        }
        let fresh = load_certified_key(&self.cert_path, &self.key_path)?;
        self.current.store(Arc::new(fresh));
        self.stamp.store(Arc::new(stamp));
        Ok(true)
    }

    /// The certificate file.
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }
}

fn file_stamps(cert: &Path, key: &Path) -> Option<(SystemTime, SystemTime)> {
    let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    Some((m(cert)?, m(key)?))
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// Builds the server config of a TLS listener. `client_ca` (resolved path) turns on mutual TLS:
/// client certificates are verified against it, and required when `cfg.client_auth` says so.
pub fn server_config(
    cfg: &TlsConfig,
    cert: Arc<ReloadingCert>,
    client_ca: Option<&Path>,
) -> Result<ServerConfig, String> {
    let versions: &[&'static rustls::SupportedProtocolVersion] = match cfg.min_version {
        TlsVersion::Tls13 => &[&rustls::version::TLS13],
        _ => &[&rustls::version::TLS13, &rustls::version::TLS12],
    };
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .map_err(|e| format!("TLS setup failed: {e}"))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let roots = Arc::new(load_roots(path)?);
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider());
            let verifier = match cfg.client_auth {
                ClientAuth::Required => verifier,
                _ => verifier.allow_unauthenticated(),
            };
            builder.with_client_cert_verifier(
                verifier
                    .build()
                    .map_err(|e| format!("client CA {}: {e}", path.display()))?,
            )
        }
    };
    let mut config = builder.with_cert_resolver(cert);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Reads a PEM CA bundle.
pub fn load_roots(path: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("invalid CA PEM {}: {e}", path.display()))?;
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(format!("no usable CA certificate in {}", path.display()));
    }
    Ok(roots)
}

/// Builds the client config used towards upstreams: verified against `ca` or the web roots.
pub fn client_config(ca: Option<PathBuf>) -> Result<ClientConfig, String> {
    let roots = match ca {
        Some(path) => load_roots(&path)?,
        None => {
            let mut roots = RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            roots
        }
    };
    Ok(ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
