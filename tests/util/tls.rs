//! For `tests/tls.rs`: certificates made at test time (no key is committed), rustls clients that
//! trust only them, line helpers over a TLS stream, and `openssl s_client` as a second client.

use std::fs;
use std::io::{self, BufRead, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::crypto::ring;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{
    ClientConfig, ClientConnection, RootCertStore, StreamOwned, SupportedProtocolVersion,
};

use super::IO_TIMEOUT;

/// A rustls client session over a blocking socket.
pub(crate) type TlsClient = StreamOwned<ClientConnection, TcpStream>;

/// Only TLS 1.3, for [`TestCert::client_config`].
pub(crate) const TLS13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];

/// Only TLS 1.2, for [`TestCert::client_config`].
pub(crate) const TLS12: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];

/// The name every test certificate is for, and the name the clients ask for (SNI).
pub(crate) const SERVER_NAME: &str = "localhost";

/// The `openssl` configuration of [`TestCert::rsa`]: a leaf certificate (`CA:FALSE`; webpki
/// refuses a CA certificate as a server's own) for `localhost` and 127.0.0.1.
const OPENSSL_LEAF: &str = "\
[req]
distinguished_name = dn
x509_extensions = leaf
prompt = no
[dn]
CN = localhost
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
";

/// A self-signed certificate and its key as `cert.pem` and `key.pem` in a fresh temporary
/// directory, which is removed on drop.
pub(crate) struct TestCert {
    /// The directory holding the two files.
    dir: PathBuf,
    /// The certificate in DER, as a client sees it in the handshake.
    der: CertificateDer<'static>,
}

impl TestCert {
    /// An ECDSA P-256 certificate for `localhost` and 127.0.0.1, made with rcgen.
    pub(crate) fn ecdsa() -> TestCert {
        let names = vec![SERVER_NAME.to_string(), "127.0.0.1".to_string()];
        let made = rcgen::generate_simple_self_signed(names).expect("rcgen makes a certificate");
        let dir = fresh_dir();
        fs::write(dir.join("cert.pem"), made.cert.pem()).expect("write cert.pem");
        fs::write(dir.join("key.pem"), made.signing_key.serialize_pem()).expect("write key.pem");
        TestCert {
            dir,
            der: made.cert.der().clone(),
        }
    }

    /// An RSA-2048 certificate for `localhost` and 127.0.0.1, made with the `openssl` command
    /// (rcgen on ring cannot generate RSA keys); `None`, with the reason printed, when `openssl`
    /// is not installed.
    pub(crate) fn rsa() -> Option<TestCert> {
        let dir = fresh_dir();
        let config = dir.join("openssl.cnf");
        fs::write(&config, OPENSSL_LEAF).expect("write openssl.cnf");
        let output = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .arg("-config")
            .arg(&config)
            .arg("-keyout")
            .arg(dir.join("key.pem"))
            .arg("-out")
            .arg(dir.join("cert.pem"))
            .stdin(Stdio::null())
            .output();
        let output = match output {
            Ok(output) => output,
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                eprintln!("skipped: no RSA test certificate, `openssl` cannot run ({e})");
                return None;
            }
        };
        assert!(
            output.status.success(),
            "openssl req failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let der = CertificateDer::from_pem_file(dir.join("cert.pem")).expect("openssl's PEM");
        Some(TestCert { dir, der })
    }

    /// The PEM certificate file (`TURBINE_TLS_CERT`).
    pub(crate) fn cert_path(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    /// The PEM private key file (`TURBINE_TLS_KEY`).
    pub(crate) fn key_path(&self) -> PathBuf {
        self.dir.join("key.pem")
    }

    /// The certificate in DER.
    pub(crate) fn der(&self) -> &CertificateDer<'static> {
        &self.der
    }

    /// A client configuration on the ring provider that speaks only `versions`, offers `alpn`
    /// (none if empty) and trusts this certificate and nothing else.
    pub(crate) fn client_config(
        &self,
        versions: &[&'static SupportedProtocolVersion],
        alpn: &[&str],
    ) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(self.der.clone()).expect("a usable trust anchor");
        let mut config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_protocol_versions(versions)
            .expect("ring supports TLS 1.2 and 1.3")
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        Arc::new(config)
    }

    /// Connects to `addr` as `localhost` and completes the handshake; panics if it fails.
    pub(crate) fn connect(&self, addr: SocketAddr, config: Arc<ClientConfig>) -> TlsClient {
        handshake(addr, config, SERVER_NAME)
            .unwrap_or_else(|e| panic!("TLS handshake with {addr}: {e}"))
    }
}

impl Drop for TestCert {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A new empty directory under the system's temporary directory, unique to this process.
fn fresh_dir() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!(
        "turbine-tls-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// Connects to `addr` with timeouts and `TCP_NODELAY`, asking for `name` (sent as SNI), and
/// drives the handshake to its end: the error says why the server or the client refused it.
pub(crate) fn handshake(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    name: &str,
) -> io::Result<TlsClient> {
    let tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(IO_TIMEOUT))?;
    tcp.set_write_timeout(Some(IO_TIMEOUT))?;
    tcp.set_nodelay(true)?;
    let name = ServerName::try_from(name.to_string()).expect("a valid server name");
    let session = ClientConnection::new(config, name).map_err(io::Error::other)?;
    let mut client = StreamOwned::new(session, tcp);
    while client.conn.is_handshaking() {
        client.conn.complete_io(&mut client.sock)?;
    }
    // A TLS 1.3 client's last flight (its Finished) may still be queued.
    while client.conn.wants_write() {
        client.conn.write_tls(&mut client.sock)?;
    }
    Ok(client)
}

/// Writes `line` and its `\n`.
pub(crate) fn write_line(client: &mut TlsClient, line: &str) -> io::Result<()> {
    client.write_all(format!("{line}\n").as_bytes())?;
    client.flush()
}

/// Reads one `\n`-terminated line (without it, a `\r` before it dropped too); `Ok(None)` at a
/// clean end (the peer's `close_notify`).
pub(crate) fn read_line(client: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut line = String::new();
    if client.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    if line.pop() != Some('\n') {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("the stream ended inside a line ({line:?})"),
        ));
    }
    if line.ends_with('\r') {
        line.pop();
    }
    Ok(Some(line))
}

/// Reads one line; panics on an end, an error or a timeout.
#[track_caller]
pub(crate) fn line(client: &mut impl BufRead) -> String {
    match read_line(client) {
        Ok(Some(line)) => line,
        Ok(None) => panic!("the server closed (close_notify) instead of sending a line"),
        Err(e) => panic!("reading a line failed: {e}"),
    }
}

/// Sends `line` and checks that the same line comes back.
#[track_caller]
pub(crate) fn assert_echoes(client: &mut TlsClient, line: &str) {
    write_line(client, line).expect("write a line");
    assert_eq!(self::line(client), line, "the echo of {line:?}");
}

/// The certificate the server presented.
pub(crate) fn peer_certificate(client: &TlsClient) -> CertificateDer<'static> {
    client
        .conn
        .peer_certificates()
        .and_then(|chain| chain.first())
        .expect("the server sent a certificate")
        .clone()
}

/// Whether the `openssl` command can run; prints why a test skips when not.
pub(crate) fn have_openssl(test: &str) -> bool {
    let found = Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("{test}: skipped, the `openssl` command is not installed");
    }
    found
}

/// `openssl s_client -quiet` to `addr` as `localhost`, trusting only `ca` (a failed
/// verification ends it), with `extra` arguments; stdin, stdout and stderr piped.
pub(crate) fn s_client(addr: SocketAddr, ca: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new("openssl");
    command
        .args(["s_client", "-quiet", "-verify_return_error"])
        .args(["-connect", &addr.to_string(), "-servername", SERVER_NAME])
        .args(["-verify_hostname", SERVER_NAME])
        .arg("-CAfile")
        .arg(ca)
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}
