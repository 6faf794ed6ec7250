//! `Certs`: the benchmark's certificates and keys, made when it starts, in a temporary
//! directory removed when it ends; and the rustls configurations both servers and the in-memory
//! handshakes build from them.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use rustls::crypto::ring;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};

/// The kind of key a certificate carries, which decides what a handshake's signature costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyKind {
    /// ECDSA on the P-256 curve: what rcgen makes by default, and the cheap one to sign with.
    EcdsaP256,
    /// RSA with a 2048-bit modulus: still the most common key on the web.
    Rsa2048,
}

impl KeyKind {
    /// The name shown in tables.
    pub(crate) fn name(self) -> &'static str {
        match self {
            KeyKind::EcdsaP256 => "ECDSA P-256",
            KeyKind::Rsa2048 => "RSA-2048",
        }
    }
}

/// A certificate for `localhost` and its private key, as PEM files.
#[derive(Clone, Debug)]
pub(crate) struct Pair {
    /// The key inside.
    pub kind: KeyKind,
    /// The self-signed certificate; clients trust it as it is.
    pub cert: PathBuf,
    /// Its private key (PKCS#8).
    pub key: PathBuf,
}

/// The pairs made for this run, in a directory that goes when this drops.
#[derive(Debug)]
pub(crate) struct Certs {
    dir: PathBuf,
    /// The ECDSA P-256 pair, which the load runs use.
    pub ecdsa: Pair,
    /// The RSA-2048 pair, or why there is none (ring cannot make RSA keys, so the `openssl`
    /// command makes it).
    pub rsa: Result<Pair, String>,
}

impl Certs {
    /// Makes both pairs.
    ///
    /// # Errors
    ///
    /// The directory or the ECDSA pair could not be written.
    pub(crate) fn make() -> io::Result<Certs> {
        let dir = std::env::temp_dir().join(format!("turbine-tls-bench-{}", std::process::id()));
        fs::create_dir_all(&dir)?;
        let ecdsa_key = rcgen::KeyPair::generate().map_err(io::Error::other)?;
        let ecdsa = write_pair(&dir, KeyKind::EcdsaP256, &ecdsa_key)?;
        let rsa = rsa_key(&dir)
            .and_then(|key| write_pair(&dir, KeyKind::Rsa2048, &key).map_err(|e| e.to_string()));
        Ok(Certs { dir, ecdsa, rsa })
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A 2048-bit RSA key from `openssl genpkey`.
fn rsa_key(dir: &Path) -> Result<rcgen::KeyPair, String> {
    let path = dir.join("rsa-raw.pem");
    let status = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&path)
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("cannot run `openssl genpkey` to make an RSA key: {e}"))?;
    if !status.success() {
        return Err(format!("`openssl genpkey` failed: {status}"));
    }
    let pem = fs::read_to_string(&path).map_err(|e| e.to_string())?;
    rcgen::KeyPair::from_pem(&pem).map_err(|e| format!("the RSA key from openssl: {e}"))
}

/// Writes a self-signed certificate for `localhost` with `key`, and the key.
fn write_pair(dir: &Path, kind: KeyKind, key: &rcgen::KeyPair) -> io::Result<Pair> {
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_string()]).map_err(io::Error::other)?;
    let cert = params.self_signed(key).map_err(io::Error::other)?;
    let stem = match kind {
        KeyKind::EcdsaP256 => "ecdsa",
        KeyKind::Rsa2048 => "rsa",
    };
    let pair = Pair {
        kind,
        cert: dir.join(format!("{stem}-cert.pem")),
        key: dir.join(format!("{stem}-key.pem")),
    };
    fs::write(&pair.cert, cert.pem())?;
    fs::write(&pair.key, key.serialize_pem())?;
    Ok(pair)
}

/// The server configuration Turbine builds from `TURBINE_TLS_CERT` and `TURBINE_TLS_KEY`: ring,
/// TLS 1.3 and 1.2, no client certificates, rustls's defaults otherwise (session cache, two
/// TLS 1.3 tickets after each handshake).
///
/// # Errors
///
/// A file could not be read or parsed, or the key is of no supported type.
pub(crate) fn server_config(pair: &Pair) -> io::Result<ServerConfig> {
    let certs = CertificateDer::pem_file_iter(&pair.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(io::Error::other)?;
    let key = PrivateKeyDer::from_pem_file(&pair.key).map_err(io::Error::other)?;
    ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(io::Error::other)
}

/// A client that trusts `pair`'s certificate and offers only `version`, with no session cache
/// (every handshake is a full one), as the load generator's.
///
/// # Errors
///
/// The certificate could not be read or trusted.
pub(crate) fn client_config(
    pair: &Pair,
    version: &'static SupportedProtocolVersion,
) -> io::Result<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&pair.cert).map_err(io::Error::other)? {
        roots
            .add(cert.map_err(io::Error::other)?)
            .map_err(io::Error::other)?;
    }
    let mut config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_protocol_versions(&[version])
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    Ok(config)
}
