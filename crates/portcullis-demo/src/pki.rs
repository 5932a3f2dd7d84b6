//! Throwaway PKI for the demo and tests: a CA, a server certificate for `localhost` and
//! `127.0.0.1`, and a client certificate (for mutual TLS), written as PEM files.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType,
};

/// Paths of the generated files.
#[derive(Debug, Clone)]
pub struct DemoPki {
    /// The CA certificate clients should trust.
    pub ca: PathBuf,
    /// The server certificate (leaf).
    pub cert: PathBuf,
    /// The server key.
    pub key: PathBuf,
    /// A client certificate (CN `client {tag}`, SAN DNS `client.demo`, SAN URI
    /// `spiffe://portcullis.demo/client`).
    pub client_cert: PathBuf,
    /// The client key.
    pub client_key: PathBuf,
}

/// Generates a CA and a server certificate into `dir` (`ca.pem`, `cert.pem`, `key.pem`).
/// `tag` goes into the CA's name so tests can tell two generations apart.
pub fn generate(dir: &Path, tag: &str) -> Result<DemoPki, String> {
    let err = |e: rcgen::Error| e.to_string();
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("Portcullis demo CA {tag}"));
    let ca_key = KeyPair::generate().map_err(err)?;
    let ca_cert = ca_params.self_signed(&ca_key).map_err(err)?;

    let mut leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .map_err(err)?;
    leaf.distinguished_name
        .push(DnType::CommonName, format!("localhost {tag}"));
    let leaf_key = KeyPair::generate().map_err(err)?;
    let leaf_cert = leaf.signed_by(&leaf_key, &ca_cert, &ca_key).map_err(err)?;

    let mut client = CertificateParams::new(vec!["client.demo".to_owned()]).map_err(err)?;
    client
        .distinguished_name
        .push(DnType::CommonName, format!("client {tag}"));
    client.subject_alt_names.push(SanType::URI(
        "spiffe://portcullis.demo/client".try_into().map_err(err)?,
    ));
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_key = KeyPair::generate().map_err(err)?;
    let client_cert = client
        .signed_by(&client_key, &ca_cert, &ca_key)
        .map_err(err)?;

    let pki = DemoPki {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
        client_cert: dir.join("client.pem"),
        client_key: dir.join("client-key.pem"),
    };
    let write = |p: &Path, s: String| std::fs::write(p, s).map_err(|e| e.to_string());
    write(&pki.ca, ca_cert.pem())?;
    // Write the key first so a watcher never sees a new certificate with an old key for long.
    write(&pki.key, leaf_key.serialize_pem())?;
    write(&pki.cert, format!("{}{}", leaf_cert.pem(), ca_cert.pem()))?;
    write(&pki.client_key, client_key.serialize_pem())?;
    write(&pki.client_cert, client_cert.pem())?;
    Ok(pki)
}
