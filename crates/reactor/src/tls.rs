//! TLS: for a listener, the rustls server configuration from `TURBINE_TLS_*` and the
//! certificate that SIGHUP reloads; for outbound connections, a client configuration trusting
//! a CA file; and what a handler learns of a TLS connection.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::ring;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::{Config, ConfigError};

/// What a handler learns of its connection's TLS session, once the handshake is done
/// ([`Context::tls`](crate::Context::tls)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// The server name the client asked for (SNI), if it sent one; on an outbound connection,
    /// the name the server's certificate was checked against.
    pub server_name: Option<String>,
    /// The protocol ALPN settled on, if the client offered one we offer (`TURBINE_TLS_ALPN`).
    pub alpn: Option<Vec<u8>>,
    /// The protocol version: `TLSv1.3` or `TLSv1.2`.
    pub version: &'static str,
}

/// A rustls client configuration for [`Connect::tls`](crate::Connect::tls): TLS 1.3 and 1.2
/// with the `ring` provider (as the listeners), trusting the certificates in the PEM file
/// `ca` (a private CA, or a server's self-signed certificate) and nothing else, with no client
/// certificate. Set `alpn_protocols` on it (through `Arc::get_mut` or before wrapping it)
/// to offer ALPN.
///
/// # Errors
///
/// The file cannot be read, holds no certificate, or one that cannot be a trust anchor.
///
/// # Examples
///
/// ```no_run
/// use turbine_reactor::{Connect, tls_client_config};
/// use turbine_reactor::rustls::pki_types::ServerName;
///
/// let config = tls_client_config("ca.pem")?;
/// let to = Connect::to("10.0.0.7:6380".parse()?)
///     .tls(config, ServerName::try_from("kv.internal")?);
/// # let _ = to;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn tls_client_config(ca: impl AsRef<Path>) -> std::io::Result<Arc<ClientConfig>> {
    let ca = ca.as_ref();
    let invalid = |why: String| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: {why}", ca.display()),
        )
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).map_err(|e| invalid(e.to_string()))? {
        let cert = cert.map_err(|e| invalid(e.to_string()))?;
        roots.add(cert).map_err(|e| invalid(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(invalid("no CERTIFICATE block".into()));
    }
    let config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .expect("the ring provider supports TLS 1.2 and 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The certificate and key a listener serves, swapped whole on reload: new handshakes use the
/// new pair, sessions already open keep the one they started with.
#[derive(Debug)]
pub(crate) struct Certificate {
    /// The pair in service.
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Certificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self.current.read().unwrap_or_else(|p| p.into_inner()),
        ))
    }
}

/// TLS set up from the `TURBINE_TLS_*` variables: the server configuration, and where its
/// certificate and key come from so that SIGHUP can read them again.
#[derive(Clone)]
pub(crate) struct TlsFiles {
    /// The rustls configuration every handshake of the listener uses.
    server: Arc<ServerConfig>,
    /// The certificate it serves, replaced by [`reload`](TlsFiles::reload).
    certificate: Arc<Certificate>,
    /// `TURBINE_TLS_CERT`.
    cert_path: PathBuf,
    /// `TURBINE_TLS_KEY`.
    key_path: PathBuf,
}

impl TlsFiles {
    /// Reads `TURBINE_TLS_CERT` and `TURBINE_TLS_KEY`; `None` when TLS is off.
    ///
    /// # Errors
    ///
    /// A file that cannot be read, holds no certificate or no usable private key, or a key that
    /// does not belong to the certificate; the error names the variable.
    pub(crate) fn load(config: &Config) -> Result<Option<TlsFiles>, ConfigError> {
        let (Some(cert_path), Some(key_path)) = (&config.tls_cert, &config.tls_key) else {
            return Ok(None);
        };
        let key = read_pair(cert_path, key_path)?;
        let certificate = Arc::new(Certificate {
            current: RwLock::new(Arc::new(key)),
        });
        let resolver: Arc<dyn ResolvesServerCert> = Arc::clone(&certificate) as _;
        let mut server = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .expect("the ring provider supports TLS 1.2 and 1.3")
            .with_no_client_auth()
            .with_cert_resolver(resolver);
        server.alpn_protocols = config
            .tls_alpn
            .iter()
            .map(|p| p.as_bytes().to_vec())
            .collect();
        Ok(Some(TlsFiles {
            server: Arc::new(server),
            certificate,
            cert_path: cert_path.clone(),
            key_path: key_path.clone(),
        }))
    }

    /// The server configuration.
    pub(crate) fn server(&self) -> &Arc<ServerConfig> {
        &self.server
    }

    /// Reads the certificate and key again; new handshakes use them. A pair that does not load
    /// leaves the old one in service.
    ///
    /// # Errors
    ///
    /// Why the new pair was refused (the old one stays).
    pub(crate) fn reload(&self) -> Result<(), ConfigError> {
        let key = read_pair(&self.cert_path, &self.key_path)?;
        *self
            .certificate
            .current
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::new(key);
        Ok(())
    }
}

impl fmt::Debug for TlsFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsFiles")
            .field("cert", &self.cert_path)
            .field("key", &self.key_path)
            .finish()
    }
}

/// Reads a certificate chain and its private key and checks that they belong together.
fn read_pair(cert_path: &Path, key_path: &Path) -> Result<CertifiedKey, ConfigError> {
    let error = |var: &'static str, path: &Path, why: String| {
        ConfigError::new(var, path.display().to_string(), why)
    };
    let certs = CertificateDer::pem_file_iter(cert_path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            let why = format!("a readable PEM certificate chain file ({e})");
            error("TURBINE_TLS_CERT", cert_path, why)
        })?;
    if certs.is_empty() {
        let why = "a PEM file holding at least one CERTIFICATE block".to_string();
        return Err(error("TURBINE_TLS_CERT", cert_path, why));
    }
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| {
        let why = format!("a readable PEM private key file: PKCS#8, RSA or SEC1 ({e})");
        error("TURBINE_TLS_KEY", key_path, why)
    })?;
    let signing = ring::sign::any_supported_type(&key).map_err(|e| {
        let why = format!("a private key of a supported type: RSA, ECDSA or Ed25519 ({e})");
        error("TURBINE_TLS_KEY", key_path, why)
    })?;
    let pair = CertifiedKey::new(certs, signing);
    pair.keys_match().map_err(|e| {
        let why = format!("the private key of the certificate in TURBINE_TLS_CERT ({e})");
        error("TURBINE_TLS_KEY", key_path, why)
    })?;
    Ok(pair)
}
