//! `Stream`: the socket of a reactor's connection, plain TCP or TLS.

use std::fs::File;
use std::io::{self, IoSlice, Read, Write};
use std::net::SocketAddr;

use mio::net::TcpStream;

use crate::connection::{Handshake, Transport};
use crate::output::Sink;
use crate::tls::TlsInfo;
use crate::tls_stream::TlsStream;

/// A reactor connection's socket: one type for plain and TLS connections, so a handler's
/// connections are all `Connection<H, Stream>` whichever listener accepted them.
#[derive(Debug)]
pub(crate) enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP (boxed: the session is large, and idle plain connections stay small).
    Tls(Box<TlsStream>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.read(buf),
            Stream::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.write(buf),
            Stream::Tls(tls) => tls.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.write_vectored(bufs),
            Stream::Tls(tls) => tls.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(tcp) => tcp.flush(),
            Stream::Tls(tls) => tls.flush(),
        }
    }
}

impl Sink for Stream {
    fn sends_files(&self) -> bool {
        match self {
            Stream::Plain(tcp) => tcp.sends_files(),
            Stream::Tls(tls) => tls.sends_files(),
        }
    }

    fn write_before_file(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.write_before_file(bufs),
            Stream::Tls(tls) => tls.write_before_file(bufs),
        }
    }

    fn send_file(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.send_file(file, offset, len),
            Stream::Tls(tls) => tls.send_file(file, offset, len),
        }
    }
}

impl Transport for Stream {
    fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(tcp) => tcp.shutdown_write(),
            Stream::Tls(tls) => tls.shutdown_write(),
        }
    }

    fn set_reset_on_close(&mut self) {
        match self {
            Stream::Plain(tcp) => tcp.set_reset_on_close(),
            Stream::Tls(tls) => tls.set_reset_on_close(),
        }
    }

    fn finish_connect(&mut self) -> io::Result<SocketAddr> {
        match self {
            Stream::Plain(tcp) => tcp.finish_connect(),
            Stream::Tls(tls) => tls.finish_connect(),
        }
    }

    fn read_drained(&self, got: usize, asked: usize) -> bool {
        match self {
            Stream::Plain(tcp) => tcp.read_drained(got, asked),
            Stream::Tls(tls) => tls.read_drained(got, asked),
        }
    }

    fn handshake(&mut self) -> io::Result<Handshake> {
        match self {
            Stream::Plain(_) => Ok(Handshake::Done),
            Stream::Tls(tls) => tls.handshake(),
        }
    }

    fn has_pending_output(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            Stream::Tls(tls) => tls.has_pending_output(),
        }
    }

    fn flush_pending(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(_) => Ok(()),
            Stream::Tls(tls) => tls.flush_pending(),
        }
    }

    fn close_notify(&mut self) -> bool {
        match self {
            Stream::Plain(_) => false,
            Stream::Tls(tls) => tls.close_notify(),
        }
    }

    fn tls_info(&self) -> Option<TlsInfo> {
        match self {
            Stream::Plain(_) => None,
            Stream::Tls(tls) => tls.tls_info(),
        }
    }

    fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }
}
