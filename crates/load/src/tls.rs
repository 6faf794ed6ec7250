//! TLS: the settings of a run over TLS ([`TlsConfig`], [`TlsVersion`]) and `Tls`, the rustls
//! client they make, which starts each connection's session (`stream.rs` drives it).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::Resumption;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, SupportedProtocolVersion};

/// How to reach the server over TLS: what to trust, the name to check, what to offer.
///
/// Set as [`LoadConfig::tls`](crate::LoadConfig::tls) or
/// [`HoldConfig::tls`](crate::HoldConfig::tls). The messages are then the plaintext of the TLS
/// session: their size, framing, checks and latency are as without TLS.
///
/// Every connection makes a full handshake: the client keeps no session cache and sends no
/// tickets or session IDs, so nothing is ever resumed, and a churn run measures full
/// handshakes. The client is rustls with its `ring` crypto provider; certificates are checked
/// as a browser would (chain to a trusted certificate, name, validity dates), with no client
/// certificate.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use turbine_load::{LoadConfig, TlsConfig, TlsVersion};
///
/// // The server's self-signed certificate for `localhost`, trusted as it is.
/// let report = turbine_load::churn(&LoadConfig {
///     addr: "127.0.0.1:7443".parse().unwrap(),
///     connections: 32,
///     duration: Duration::from_secs(5),
///     tls: Some(TlsConfig {
///         version: TlsVersion::Tls12,
///         ..TlsConfig::new("cert.pem")
///     }),
///     ..LoadConfig::default()
/// })?;
/// println!("{report}"); // handshakes per second
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// A PEM file of the certificates to trust: the server's own self-signed certificate, or
    /// the CA that signed it (several may follow one another). Read when the run starts.
    pub ca: PathBuf,
    /// The name the server's certificate must be valid for: a DNS name, also sent as SNI, or
    /// an IP address (not sent: SNI carries names only). Default `localhost`.
    pub server_name: String,
    /// The one protocol version offered: a server that does not speak it fails the
    /// handshake. Default TLS 1.3.
    pub version: TlsVersion,
    /// An ALPN protocol to offer, 1 to 255 bytes; the server may pick it, ignore it, or
    /// (knowing other protocols only) fail the handshake. Default `None`: no ALPN.
    pub alpn: Option<String>,
}

impl TlsConfig {
    /// TLS 1.3 to `localhost`, trusting the certificates in the PEM file `ca`, without ALPN.
    pub fn new(ca: impl Into<PathBuf>) -> TlsConfig {
        TlsConfig {
            ca: ca.into(),
            server_name: "localhost".into(),
            version: TlsVersion::default(),
            alpn: None,
        }
    }

    /// Checks the server name and the ALPN protocol (the certificate file is read when a run
    /// starts).
    ///
    /// # Errors
    ///
    /// `InvalidInput`, naming the field, its value and what is accepted.
    pub fn validate(&self) -> io::Result<()> {
        server_name(&self.server_name)?;
        if let Some(alpn) = &self.alpn {
            if !(1..=255).contains(&alpn.len()) {
                return Err(invalid(format!(
                    "ALPN protocol {alpn:?}: expected 1 to 255 bytes"
                )));
            }
        }
        Ok(())
    }
}

/// A TLS protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TlsVersion {
    /// TLS 1.2 (RFC 5246): the handshake takes two round trips.
    Tls12,
    /// TLS 1.3 (RFC 8446): the handshake takes one round trip. The default.
    #[default]
    Tls13,
}

impl TlsVersion {
    /// The version number, `1.2` or `1.3`, as `--tls-version` takes it.
    pub const fn number(self) -> &'static str {
        match self {
            TlsVersion::Tls12 => "1.2",
            TlsVersion::Tls13 => "1.3",
        }
    }
}

impl fmt::Display for TlsVersion {
    /// `TLS 1.2` or `TLS 1.3`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TLS {}", self.number())
    }
}

/// A run's TLS client: the rustls configuration all its connections share, and the name
/// they check. Cheap to clone (one reference count).
#[derive(Debug, Clone)]
pub(crate) struct Tls {
    /// Trusted certificates, the version, ALPN, and no resumption.
    config: Arc<ClientConfig>,
    /// The name sent as SNI and checked against the certificate.
    server_name: ServerName<'static>,
}

impl Tls {
    /// Reads the certificates to trust and builds the client `settings` describe.
    ///
    /// # Errors
    ///
    /// - `InvalidInput` for settings out of bounds (see [`TlsConfig::validate`]), or a
    ///   certificate file with no certificate in it.
    /// - The error reading the file, with its path.
    /// - `InvalidData` for a certificate that cannot be parsed or trusted.
    pub(crate) fn new(settings: &TlsConfig) -> io::Result<Tls> {
        settings.validate()?;
        let server_name = server_name(&settings.server_name)?;
        let roots = roots(&settings.ca)?;
        let versions: &[&SupportedProtocolVersion] = match settings.version {
            TlsVersion::Tls12 => &[&rustls::version::TLS12],
            TlsVersion::Tls13 => &[&rustls::version::TLS13],
        };
        // The provider is given here rather than installed process-wide, so that a program
        // that embeds this crate keeps its own default.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .map_err(tls_error)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        // No session cache, no tickets: every handshake is full.
        config.resumption = Resumption::disabled();
        config.alpn_protocols = settings
            .alpn
            .iter()
            .map(|p| p.as_bytes().to_vec())
            .collect();
        Ok(Tls {
            config: Arc::new(config),
            server_name,
        })
    }

    /// A new client session, its ClientHello queued.
    ///
    /// # Errors
    ///
    /// rustls refused to start one (`InvalidData`).
    pub(crate) fn session(&self) -> io::Result<ClientConnection> {
        ClientConnection::new(Arc::clone(&self.config), self.server_name.clone()).map_err(tls_error)
    }
}

/// A rustls error as an `io::Error` (`InvalidData`) that displays it.
pub(crate) fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Logs the `nth` failed TLS handshake of a client thread (counting from 1): the first at
/// warning level, so that the reason shows once however many fail alike, the rest at debug
/// level.
pub(crate) fn log_failed_handshake(nth: u64, e: &io::Error) {
    if nth == 1 {
        log::warn!(
            "TLS handshake failed: {e} (this thread's later failures are logged at debug level)"
        );
    } else {
        log::debug!("TLS handshake failed: {e}");
    }
}

/// `name` as a server name: a DNS name or an IP address.
fn server_name(name: &str) -> io::Result<ServerName<'static>> {
    ServerName::try_from(name.to_string()).map_err(|_| {
        invalid(format!(
            "server name {name:?}: expected a DNS name or an IP address"
        ))
    })
}

/// The certificates in the PEM file at `path`, as trust anchors.
fn roots(path: &Path) -> io::Result<RootCertStore> {
    let shown = path.display();
    let pem = std::fs::read(path).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot read the certificate file {shown}: {e}"),
        )
    })?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| {
            io::Error::new(io::ErrorKind::InvalidData, format!("{shown}: bad PEM: {e}"))
        })?;
        roots.add(cert).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{shown}: a certificate that cannot be trusted: {e}"),
            )
        })?;
    }
    if roots.is_empty() {
        return Err(invalid(format!(
            "{shown}: no certificate in it: expected PEM (-----BEGIN CERTIFICATE-----)"
        )));
    }
    Ok(roots)
}

/// An `InvalidInput` error with `message`.
fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names and ALPN protocols are checked; the defaults pass.
    #[test]
    fn validation() {
        let ok = TlsConfig::new("ca.pem");
        assert_eq!(ok.validate().ok(), Some(()));
        let bad = |config: TlsConfig| config.validate().unwrap_err().to_string();
        let e = bad(TlsConfig {
            server_name: "not a name".into(),
            ..ok.clone()
        });
        assert!(e.contains("server name \"not a name\""), "{e}");
        for alpn in [String::new(), "x".repeat(256)] {
            let e = bad(TlsConfig {
                alpn: Some(alpn),
                ..ok.clone()
            });
            assert!(e.contains("expected 1 to 255 bytes"), "{e}");
        }
        let ip = TlsConfig {
            server_name: "127.0.0.1".into(),
            alpn: Some("h2".into()),
            ..ok
        };
        assert_eq!(ip.validate().ok(), Some(()));
    }

    /// A missing file, and a file without a certificate, are refused with their path.
    #[test]
    fn bad_certificate_files() {
        let e = Tls::new(&TlsConfig::new("/nonexistent/ca.pem")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");

        let path =
            std::env::temp_dir().join(format!("turbine-load-empty-{}.pem", std::process::id()));
        std::fs::write(&path, "not a certificate\n").unwrap();
        let e = Tls::new(&TlsConfig::new(&path)).unwrap_err();
        let _ = std::fs::remove_file(&path);
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("no certificate in it"), "{e}");
    }

    /// Versions print as TLS does, and `number` is what `--tls-version` takes.
    #[test]
    fn versions() {
        assert_eq!(TlsVersion::default(), TlsVersion::Tls13);
        assert_eq!(TlsVersion::Tls12.to_string(), "TLS 1.2");
        assert_eq!(TlsVersion::Tls13.number(), "1.3");
    }
}
