//! The two TLS echo servers compared: Turbine with one reactor and tokio-rustls on a
//! `current_thread` runtime, with the same rustls, certificate and crypto provider.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use turbine::{Config, Running, Server};

use crate::certs::{self, Pair};
use crate::echo_handlers::RawEcho;

/// One of the servers under comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Peer {
    /// Turbine's echo handler (`RawCodec`), one reactor, TLS from `TURBINE_TLS_CERT` and
    /// `TURBINE_TLS_KEY` (set in code).
    Turbine,
    /// tokio-rustls's `TlsAcceptor`, a task per connection echoing the plaintext of each record
    /// as it comes out of the session (`fill_buf`), so that an idle connection holds no buffer
    /// of ours.
    TokioRustls,
}

impl Peer {
    /// Both, in the order tables list them.
    pub(crate) const ALL: [Peer; 2] = [Peer::Turbine, Peer::TokioRustls];

    /// The name given to `--serve` and shown in tables.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Peer::Turbine => "turbine",
            Peer::TokioRustls => "tokio-rustls",
        }
    }

    /// The peer called `name`, if any.
    pub(crate) fn from_name(name: &str) -> Option<Peer> {
        Peer::ALL.into_iter().find(|peer| peer.name() == name)
    }

    /// Binds `addr` and serves TLS with `pair` on threads of this process; returns at once
    /// with the bound address and what keeps the server running.
    ///
    /// # Errors
    ///
    /// The certificate could not be loaded, or binding or starting failed.
    pub(crate) fn serve(
        self,
        addr: SocketAddr,
        pair: &Pair,
    ) -> io::Result<(SocketAddr, Option<Running>)> {
        match self {
            Peer::Turbine => {
                let config = Config::new()
                    .addr(addr)
                    .reactors(1)
                    .tls_cert(Some(pair.cert.clone()))
                    .tls_key(Some(pair.key.clone()));
                let running = Server::bind(config)?.start(|_peer| RawEcho)?;
                Ok((running.local_addr(), Some(running)))
            }
            Peer::TokioRustls => Ok((start_tokio(addr, pair)?, None)),
        }
    }
}

/// Binds `addr` and runs a `current_thread` runtime on a thread of its own that accepts for
/// ever, each connection in a task of its own.
fn start_tokio(addr: SocketAddr, pair: &Pair) -> io::Result<SocketAddr> {
    let acceptor = TlsAcceptor::from(Arc::new(certs::server_config(pair)?));
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    thread::Builder::new()
        .name("tokio-rustls".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match TcpListener::from_std(listener) {
                    Ok(listener) => listener,
                    Err(e) => return eprintln!("tokio-rustls: {e}"),
                };
                loop {
                    match listener.accept().await {
                        Ok((stream, _peer)) => {
                            tokio::spawn(echo(acceptor.clone(), stream));
                        }
                        // EMFILE and the like: that connection is lost, the server goes on.
                        Err(e) => eprintln!("tokio-rustls: accept: {e}"),
                    }
                }
            });
        })?;
    Ok(addr)
}

/// The handshake, then the echo until the peer closes: the plaintext rustls has decrypted
/// (up to a record's worth) is copied out, written back and flushed.
///
/// Reading through `fill_buf` rather than into a buffer of the task's own keeps an idle
/// connection down to what rustls holds, so the memory comparison is with rustls itself.
async fn echo(acceptor: TlsAcceptor, stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut stream = acceptor.accept(stream).await?;
    let mut out = Vec::new();
    loop {
        let plaintext = stream.fill_buf().await?;
        if plaintext.is_empty() {
            return stream.shutdown().await;
        }
        out.extend_from_slice(plaintext);
        stream.consume(out.len());
        stream.write_all(&out).await?;
        stream.flush().await?;
        out.clear();
    }
}
