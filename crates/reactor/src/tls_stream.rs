//! `TlsStream`: a TCP stream with a rustls session on it (the server's side of an accepted
//! connection, or the client's side of an outbound one), as a connection's transport.
//!
//! rustls is sans-I/O: ciphertext goes in with `read_tls` and out with `write_tls`, and this
//! type moves it between the session and the non-blocking socket. The connection above sees
//! plaintext: its reads come out of the session, its writes go into it, so every codec and
//! handler runs over TLS unchanged.

use std::io::{self, IoSlice, Read, Write};
use std::net::SocketAddr;

use mio::net::TcpStream;
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, Connection, ServerConnection};

use crate::connection::{Handshake, Transport};
use crate::output::Sink;
use crate::tls::TlsInfo;

/// A TCP stream and the TLS session on it.
#[derive(Debug)]
pub(crate) struct TlsStream {
    /// The socket: ciphertext.
    tcp: TcpStream,
    /// The session: records in and out, plaintext buffered between.
    tls: Connection,
    /// The server name asked for, on the client's side (the server's side reads it from the
    /// session).
    asked: Option<String>,
    /// The socket returned 0: no more ciphertext will come.
    eof: bool,
    /// Our `close_notify` is queued (it is sent once).
    notified: bool,
    /// What the last read of the socket said about what is left in it.
    socket: SocketRead,
}

/// What the last read of the socket said about what is left to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SocketRead {
    /// It returned less than asked (or `WouldBlock`): the socket was drained.
    Drained,
    /// It filled what was asked, or the stream ended (the peer's `close_notify` or FIN, which
    /// the next read reports): a read has more to say.
    MayHaveMore,
}

/// The socket as rustls reads it: remembers whether the read came back short.
struct Counted<'a> {
    tcp: &'a mut TcpStream,
    read: SocketRead,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let result = self.tcp.read(buf);
        self.read = match &result {
            Ok(n) if *n == buf.len() => SocketRead::MayHaveMore,
            _ => SocketRead::Drained,
        };
        result
    }
}

impl TlsStream {
    /// A server session on an accepted socket; the handshake is driven by
    /// [`Transport::handshake`].
    pub(crate) fn server(tcp: TcpStream, tls: ServerConnection) -> TlsStream {
        TlsStream {
            tcp,
            tls: Connection::Server(tls),
            asked: None,
            eof: false,
            notified: false,
            socket: SocketRead::MayHaveMore,
        }
    }

    /// A client session to `name` on a connecting socket; the handshake starts once it is
    /// connected.
    pub(crate) fn client(
        tcp: TcpStream,
        tls: ClientConnection,
        name: &ServerName<'static>,
    ) -> TlsStream {
        TlsStream {
            tcp,
            tls: Connection::Client(tls),
            asked: Some(name.to_str().into_owned()),
            eof: false,
            notified: false,
            socket: SocketRead::MayHaveMore,
        }
    }

    /// Reads ciphertext into the session and processes it. `Ok(false)` at the socket's end.
    fn read_records(&mut self) -> io::Result<bool> {
        let mut socket = Counted {
            tcp: &mut self.tcp,
            read: SocketRead::MayHaveMore,
        };
        let result = self.tls.read_tls(&mut socket);
        self.socket = socket.read;
        match result {
            Ok(0) => {
                self.eof = true;
                self.socket = SocketRead::MayHaveMore;
                Ok(false)
            }
            Ok(_) => match self.tls.process_new_packets() {
                Ok(state) => {
                    if state.peer_has_closed() {
                        self.socket = SocketRead::MayHaveMore;
                    }
                    Ok(true)
                }
                Err(e) => {
                    // rustls queued an alert saying why: try to send it, then fail.
                    let _ = self.tls.write_tls(&mut self.tcp);
                    Err(io::Error::new(io::ErrorKind::InvalidData, e))
                }
            },
            Err(e) => Err(e),
        }
    }

    /// Writes queued records to the socket until it would block or none is left.
    fn write_records(&mut self) -> io::Result<()> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.tcp) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl Read for TlsStream {
    /// Plaintext: what the session has decrypted, reading more ciphertext as needed. `Ok(0)`
    /// after the peer's `close_notify`; `UnexpectedEof` when the peer closed the socket without
    /// one (a truncation attack looks the same); `WouldBlock` when the socket has nothing more.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.tls.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && !self.eof => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                Err(e) => return Err(e),
            }
            self.read_records()?;
            // Records to send in answer (a key update): best effort, more on the next write.
            match self.write_records() {
                Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
                _ => {}
            }
        }
    }
}

impl Write for TlsStream {
    /// Encrypts what the session takes (up to its buffer limit) and writes what the socket
    /// takes; `WouldBlock` only when the session can take nothing more.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let flushed = self.write_records();
        let taken = self.tls.writer().write_vectored(bufs)?;
        let flushed = match flushed {
            Ok(()) => self.write_records(),
            blocked => blocked,
        };
        match flushed {
            Ok(()) => Ok(taken),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && taken > 0 => Ok(taken),
            Err(e) => Err(e),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_records()
    }
}

/// Records are encrypted in user space: no file regions (the default refuses them).
impl Sink for TlsStream {}

impl Transport for TlsStream {
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.tcp.shutdown(std::net::Shutdown::Write)
    }

    fn set_reset_on_close(&mut self) {
        self.tcp.set_reset_on_close();
    }

    fn finish_connect(&mut self) -> io::Result<SocketAddr> {
        self.tcp.finish_connect()
    }

    fn read_drained(&self, got: usize, asked: usize) -> bool {
        // A short read of plaintext only says the session had no more at hand; the socket is
        // drained if rustls's last read of it came back short too.
        got < asked && self.socket == SocketRead::Drained
    }

    fn handshake(&mut self) -> io::Result<Handshake> {
        loop {
            match self.write_records() {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Handshake::Pending),
                Err(e) => return Err(e),
            }
            if !self.tls.is_handshaking() {
                return Ok(Handshake::Done);
            }
            match self.read_records() {
                Ok(true) => {}
                Ok(false) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Handshake::Pending),
                Err(e) => return Err(e),
            }
        }
    }

    fn has_pending_output(&self) -> bool {
        self.tls.wants_write()
    }

    fn flush_pending(&mut self) -> io::Result<()> {
        self.write_records()
    }

    fn close_notify(&mut self) -> bool {
        if self.notified {
            return false;
        }
        self.notified = true;
        self.tls.send_close_notify();
        true
    }

    fn tls_info(&self) -> Option<TlsInfo> {
        let version = match self.tls.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
            _ => "TLSv1.3",
        };
        let server_name = match &self.tls {
            Connection::Server(server) => server.server_name().map(str::to_string),
            Connection::Client(_) => self.asked.clone(),
        };
        Some(TlsInfo {
            server_name,
            alpn: self.tls.alpn_protocol().map(<[u8]>::to_vec),
            version,
        })
    }
}
