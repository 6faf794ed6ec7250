//! `Stream`: a connection's socket, either plain TCP or a rustls client session over it,
//! read and written through one interface, so that the connection logic is the same either
//! way.

use std::io::{self, Read, Write};

use mio::net::TcpStream;
use rustls::ClientConnection;

use crate::tls::{Tls, tls_error};

/// A client socket, plain or TLS: what [`read`](Stream::read) returns and
/// [`write`](Stream::write) takes are the application's bytes (the echo messages), and a TLS
/// stream encrypts and decrypts them on the way.
///
/// Made for non-blocking sockets (mio's, driven by edge-triggered readiness) and works on
/// blocking ones too (`hold` uses std sockets with timeouts): every method returns
/// `WouldBlock` where the socket did, and a blocking socket only does so on a timeout.
///
/// A TLS stream keeps rustls's buffers (see [`Secure`]); its socket stays registered for
/// reads and writes throughout, since with edge triggering an interest that is always on
/// costs nothing, while following `wants_read` and `wants_write` with `reregister` would cost
/// a system call per change. Instead every read runs until the socket is drained, and every
/// write (and [`send_pending`](Stream::send_pending)) until rustls has nothing left to send
/// or the socket is full: the next edge then resumes it.
#[derive(Debug)]
pub(crate) enum Stream<S: Read + Write> {
    /// Plain TCP: bytes go straight to and from the socket.
    Plain(S),
    /// TLS: bytes go through a rustls client session. Boxed, since a session is some
    /// hundreds of bytes and plain streams should not pay for it.
    Tls(Box<Secure<S>>),
}

/// A rustls client session and the socket it runs over.
#[derive(Debug)]
pub(crate) struct Secure<S: Read + Write> {
    /// The session: handshake state, keys, and the buffered records both ways.
    session: ClientConnection,
    /// The socket the records travel on.
    socket: S,
}

impl<S: Read + Write> Stream<S> {
    /// Wraps `socket`, a connected or connecting TCP socket: in a new TLS session with `tls`
    /// (its ClientHello queued, to go out once the socket is connected, by
    /// [`handshake`](Stream::handshake)), or plain without it.
    ///
    /// # Errors
    ///
    /// rustls refused to start a session (`InvalidData`).
    pub(crate) fn new(socket: S, tls: Option<&Tls>) -> io::Result<Stream<S>> {
        Ok(match tls {
            None => Stream::Plain(socket),
            Some(tls) => Stream::Tls(Box::new(Secure {
                session: tls.session()?,
                socket,
            })),
        })
    }

    /// The socket, to register it with `mio`, ask it how its connect went or set options.
    pub(crate) fn socket(&self) -> &S {
        match self {
            Stream::Plain(socket) => socket,
            Stream::Tls(secure) => &secure.socket,
        }
    }

    /// The socket, mutably, to register or deregister it.
    pub(crate) fn socket_mut(&mut self) -> &mut S {
        match self {
            Stream::Plain(socket) => socket,
            Stream::Tls(secure) => &mut secure.socket,
        }
    }

    /// Drives the TLS handshake on a connected socket as far as it goes without waiting:
    /// sends what is due, reads and processes what the server sent. `Ok(true)` once the
    /// handshake is complete (at once for a plain stream), `Ok(false)` when it waits for the
    /// server. Call again on the next readiness event.
    ///
    /// Complete means complete for the client: with TLS 1.3 its Finished message is queued
    /// (and sent unless the socket is full; the next write or `send_pending` sends the rest),
    /// and the server's own comes first.
    ///
    /// # Errors
    ///
    /// A socket error; the server closing the connection (`UnexpectedEof`); or a TLS failure
    /// (`InvalidData`, wrapping the `rustls::Error`: a certificate not valid for the name or
    /// not trusted, a fatal alert from the server, no version or cipher suite in common).
    pub(crate) fn handshake(&mut self) -> io::Result<bool> {
        let Stream::Tls(secure) = self else {
            return Ok(true);
        };
        loop {
            secure.send_pending()?;
            if !secure.session.is_handshaking() {
                return Ok(true);
            }
            match secure.session.read_tls(&mut secure.socket) {
                Ok(0) => {
                    // An alert the server sent before closing says more than the close.
                    secure.process()?;
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the connection during the TLS handshake",
                    ));
                }
                Ok(_) => secure.process()?,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads application bytes into `buf`: `Ok(0)` when the server closed the connection
    /// (for TLS, with a `close_notify`), `Err(WouldBlock)` when nothing is available.
    ///
    /// A short read (fewer bytes than `buf` holds) means the socket's receive buffer was
    /// drained, as for a plain socket, so with edge triggering the caller can wait for the
    /// next readable edge instead of reading again to see `WouldBlock`: a TLS stream keeps
    /// reading the socket until `buf` is full or a socket read comes back short.
    ///
    /// # Errors
    ///
    /// A socket error; for TLS also a record that fails to decrypt or a fatal alert
    /// (`InvalidData`), or the server closing without `close_notify` (`UnexpectedEof`).
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(socket) => socket.read(buf),
            Stream::Tls(secure) => secure.read(buf),
        }
    }

    /// Writes application bytes from the front of `data`, returning how many were taken.
    /// A TLS stream first sends the records it holds; while the socket will not take them
    /// all it takes nothing (`WouldBlock`), so at most one batch of records (rustls's 64 KiB
    /// buffer limit) waits beyond the socket. Bytes taken may still wait there: a later
    /// write or [`send_pending`](Stream::send_pending) sends them.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when the socket is full, or the socket's error.
    pub(crate) fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(socket) => socket.write(data),
            Stream::Tls(secure) => secure.write(data),
        }
    }

    /// Writes `data[*written..]`, advancing `*written`, until all of it is written or the
    /// socket is full; a writable event resumes the rest. Sends the TLS records waiting from
    /// earlier writes or the handshake first, even when `data` is done.
    ///
    /// # Errors
    ///
    /// The socket's error, or `WriteZero` when it takes nothing without saying it is full.
    pub(crate) fn write_rest(&mut self, data: &[u8], written: &mut usize) -> io::Result<()> {
        self.send_pending()?;
        while *written < data.len() {
            match self.write(&data[*written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => *written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Sends what a TLS stream holds for the socket until none is left or the socket is full
    /// (then the next writable event should call it again); nothing for a plain stream.
    ///
    /// # Errors
    ///
    /// The socket's error.
    pub(crate) fn send_pending(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(_) => Ok(()),
            Stream::Tls(secure) => secure.send_pending(),
        }
    }

    /// Sends what a TLS stream holds for the socket, all of it: on a blocking socket, waits
    /// until it is sent.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when the socket is full (on a blocking socket: its write timed out), or
    /// the socket's error.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.send_pending()?;
        match self {
            Stream::Tls(secure) if secure.session.wants_write() => {
                Err(io::ErrorKind::WouldBlock.into())
            }
            _ => Ok(()),
        }
    }
}

impl Stream<TcpStream> {
    /// After an event on a socket whose non-blocking connect was issued: `Ok(true)` once the
    /// connection is established (and then `TCP_NODELAY` is set, so small messages and
    /// handshake flights are not held back), `Ok(false)` if the event was spurious and the
    /// TCP handshake is still going.
    ///
    /// # Errors
    ///
    /// The connect failed (refused, unreachable, reset).
    pub(crate) fn connected(&self) -> io::Result<bool> {
        let socket = self.socket();
        // mio's recipe: a pending error means failure; otherwise a peer address means success.
        if let Some(e) = socket.take_error()? {
            return Err(e);
        }
        match socket.peer_addr() {
            Ok(_) => {
                socket.set_nodelay(true)?;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }
}

impl<S: Read + Write> Secure<S> {
    /// See [`Stream::read`].
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut n = 0;
        // Whether the last socket read came back short: the receive buffer is empty.
        let mut drained = false;
        loop {
            // Plaintext already decrypted first. rustls copies all it has or fills the rest
            // of `buf`, so after this either `buf` is full or rustls holds none.
            match self.session.reader().read(&mut buf[n..]) {
                // A `close_notify` came: the bytes before it first, then 0 on the next call.
                Ok(0) => return Ok(n),
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // Closed without `close_notify`: the bytes before it first, as above.
                Err(e) => return if n > 0 { Ok(n) } else { Err(e) },
            }
            if n == buf.len() || (drained && n > 0) {
                return Ok(n);
            }
            // Records come in reads of rustls's choosing (4 KiB unless a record needs more);
            // one that comes back short has emptied the receive buffer.
            let mut probe = Probe {
                socket: &mut self.socket,
                short: false,
            };
            match self.session.read_tls(&mut probe) {
                // EOF: rustls notes it, and its reader says how the server closed.
                Ok(0) => {}
                Ok(_) => drained = probe.short,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return if n > 0 { Ok(n) } else { Err(e) };
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            self.process()?;
        }
    }

    /// See [`Stream::write`].
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.send_pending()?;
        if self.session.wants_write() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        // rustls encrypts at once (the handshake is done) and takes up to its buffer limit.
        let n = self.session.writer().write(data)?;
        self.send_pending()?;
        Ok(n)
    }

    /// See [`Stream::send_pending`].
    fn send_pending(&mut self) -> io::Result<()> {
        while self.session.wants_write() {
            match self.session.write_tls(&mut self.socket) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Processes the records read: advances the handshake, decrypts application data, and
    /// sends what that produced (handshake messages, alerts, key updates).
    fn process(&mut self) -> io::Result<()> {
        match self.session.process_new_packets() {
            Ok(_) => self.send_pending(),
            Err(e) => {
                // rustls queued an alert saying why; the server should hear it.
                let _ = self.send_pending();
                Err(tls_error(e))
            }
        }
    }
}

impl<S: Read + Write> Drop for Secure<S> {
    /// Ends the session with a `close_notify` (one small write that does not wait: the
    /// socket is idle or this is the end anyway), so that the server sees a clean close
    /// rather than a truncation. A session that failed already sent its alert instead.
    fn drop(&mut self) {
        if !self.session.is_handshaking() {
            self.session.send_close_notify();
        }
        if self.session.wants_write() {
            let _ = self.session.write_tls(&mut self.socket);
        }
    }
}

/// The socket as rustls reads it, noting whether a read came back short.
struct Probe<'a, S> {
    /// The socket.
    socket: &'a mut S,
    /// Whether the last read returned less than it was asked for.
    short: bool,
}

impl<S: Read> Read for Probe<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.socket.read(buf)?;
        self.short = n < buf.len();
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Arc;

    use rcgen::{CertificateParams, KeyPair, PKCS_ECDSA_P256_SHA256};
    use rustls::pki_types::PrivatePkcs8KeyDer;
    use rustls::{ServerConfig, ServerConnection};

    use super::*;
    use crate::{TlsConfig, TlsVersion};

    /// A socket in memory: the server's bytes arrive `step` at a time, and the socket takes
    /// `step` bytes from the client between deliveries, so reads and writes split records
    /// anywhere and `WouldBlock` comes both ways.
    #[derive(Debug, Default)]
    struct Pipe {
        /// Server bytes that have arrived: a read returns all it can of them.
        arrived: VecDeque<u8>,
        /// Server bytes still on the way.
        on_the_way: VecDeque<u8>,
        /// Client bytes the socket took, for the server.
        taken: Vec<u8>,
        /// How many more bytes the socket takes before it is full.
        room: usize,
    }

    impl Read for Pipe {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.arrived.is_empty() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.arrived.read(buf)
        }
    }

    impl Write for Pipe {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            let n = data.len().min(self.room);
            if n == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.taken.extend_from_slice(&data[..n]);
            self.room -= n;
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A TLS 1.2 and 1.3 echo server session and a client for it, trusting its new
    /// self-signed certificate for `localhost`.
    fn pair(version: TlsVersion) -> (ServerConnection, Tls) {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let path = std::env::temp_dir().join(format!(
            "turbine-load-stream-{}-{version:?}.pem",
            std::process::id()
        ));
        std::fs::write(&path, cert.pem()).unwrap();
        let tls = Tls::new(&TlsConfig {
            version,
            ..TlsConfig::new(&path)
        });
        let _ = std::fs::remove_file(&path);
        let config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_protocol_versions(rustls::ALL_VERSIONS)
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(
                    vec![cert.der().clone()],
                    PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
                )
                .unwrap();
        (
            ServerConnection::new(Arc::new(config)).unwrap(),
            tls.unwrap(),
        )
    }

    /// One turn of the network: the server takes what the client's socket took, echoes the
    /// plaintext, and `step` of its bytes arrive; the socket has room for `step` more.
    fn turn(server: &mut ServerConnection, pipe: &mut Pipe, step: usize) {
        let mut taken = &pipe.taken[..];
        while !taken.is_empty() {
            server.read_tls(&mut taken).unwrap();
            server.process_new_packets().unwrap();
        }
        pipe.taken.clear();
        let mut plain = Vec::new();
        match server.reader().read_to_end(&mut plain) {
            Ok(_) => {}
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::WouldBlock),
        }
        server.writer().write_all(&plain).unwrap();
        while server.wants_write() {
            server.write_tls(&mut pipe.on_the_way).unwrap();
        }
        let n = step.min(pipe.on_the_way.len());
        pipe.arrived.extend(pipe.on_the_way.drain(..n));
        pipe.room = step;
    }

    /// The handshake and a 20 000-byte echo (two TLS records each way) work in both versions
    /// however the bytes are split, down to one at a time; a short read always means the
    /// socket was drained; dropping the stream closes the session cleanly.
    #[test]
    fn echo_in_any_pieces() {
        let message: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 251) as u8).collect();
        for version in [TlsVersion::Tls13, TlsVersion::Tls12] {
            for step in [1, 13, 1000, 1 << 20] {
                let (mut server, tls) = pair(version);
                server.set_buffer_limit(None);
                let mut pipe = Pipe::default();
                let mut stream = Stream::new(&mut pipe, Some(&tls)).unwrap();
                let mut turns = 0;
                while !stream.handshake().unwrap() {
                    turn(&mut server, stream.socket_mut(), step);
                    turns += 1;
                    assert!(turns < 10_000, "{version} step {step}: handshake stuck");
                }
                let (mut written, mut echoed, mut buf) = (0, Vec::new(), [0; 4096]);
                while echoed.len() < message.len() {
                    stream.write_rest(&message, &mut written).unwrap();
                    // Read as the connections do: until a short read or `WouldBlock`, after
                    // which nothing may be left to read.
                    loop {
                        match stream.read(&mut buf) {
                            Ok(0) => panic!("{version} step {step}: closed"),
                            Ok(n) => {
                                echoed.extend_from_slice(&buf[..n]);
                                if n == buf.len() {
                                    continue;
                                }
                            }
                            Err(e) => assert_eq!(e.kind(), io::ErrorKind::WouldBlock),
                        }
                        let left = stream.socket().arrived.len();
                        assert_eq!(left, 0, "{version} step {step}: stranded bytes");
                        break;
                    }
                    turn(&mut server, stream.socket_mut(), step);
                    turns += 1;
                    assert!(turns < 200_000, "{version} step {step}: echo stuck");
                }
                assert!(echoed == message, "{version} step {step}: echo differs");
                // The `close_notify` is one write that does not wait: give it room.
                stream.socket_mut().room = 1 << 20;
                drop(stream);
                turn(&mut server, &mut pipe, step);
                assert_eq!(
                    server.reader().read(&mut buf).ok(),
                    Some(0),
                    "no close_notify"
                );
            }
        }
    }
}
