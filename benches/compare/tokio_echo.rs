//! The tokio peers: a `current_thread` runtime on one thread, a task per connection.

use std::io;
use std::net::SocketAddr;
use std::thread;

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::{Framed, LinesCodec, LinesCodecError};

use crate::peer::bind_listener;

/// Bytes one `read` takes in the raw echo (the buffer of tokio's own echo example is 1 KiB;
/// 4 KiB holds a whole 16-message batch of 64-byte messages).
const BUFFER: usize = 4096;

/// Longest line the line echo accepts: Turbine's default `TURBINE_MAX_FRAME`.
const MAX_LINE: usize = 64 * 1024;

/// Starts the raw echo: the standard tokio echo, `read` into a buffer and `write_all` it back.
///
/// # Errors
///
/// Binding the listener, building the runtime or spawning its thread failed.
pub(crate) fn start_raw(addr: SocketAddr) -> io::Result<SocketAddr> {
    start(addr, "tokio-raw", |stream| {
        tokio::spawn(raw_echo(stream));
    })
}

/// Starts the raw echo on a multi-threaded runtime of `workers` threads (the scaling mode):
/// tokio's work-stealing scheduler, the accept loop one task among the others.
///
/// # Errors
///
/// Binding the listener or building the runtime failed.
pub(crate) fn start_raw_multi(addr: SocketAddr, workers: usize) -> io::Result<SocketAddr> {
    let listener = bind_listener(addr)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_io()
        .build()?;
    thread::Builder::new()
        .name("tokio-raw".into())
        .spawn(move || {
            let spawn: fn(TcpStream) = |stream| {
                tokio::spawn(raw_echo(stream));
            };
            if let Err(e) = runtime.block_on(accept(listener, "tokio-raw", spawn)) {
                eprintln!("tokio-raw: {e}");
            }
        })?;
    Ok(addr)
}

/// Starts the line echo: tokio-util's `Framed` with a `LinesCodec`.
///
/// # Errors
///
/// Binding the listener, building the runtime or spawning its thread failed.
pub(crate) fn start_lines(addr: SocketAddr) -> io::Result<SocketAddr> {
    start(addr, "tokio-lines", |stream| {
        tokio::spawn(lines_echo(stream));
    })
}

/// Binds `addr`, then runs a `current_thread` runtime on a thread named `name` that accepts
/// for ever and hands each connection to `spawn`.
fn start(addr: SocketAddr, name: &'static str, spawn: fn(TcpStream)) -> io::Result<SocketAddr> {
    let listener = bind_listener(addr)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    thread::Builder::new().name(name.into()).spawn(move || {
        if let Err(e) = runtime.block_on(accept(listener, name, spawn)) {
            eprintln!("{name}: {e}");
        }
    })?;
    Ok(addr)
}

/// Accepts for ever, sets `TCP_NODELAY` and hands each connection to `spawn`.
async fn accept(
    listener: std::net::TcpListener,
    name: &str,
    spawn: fn(TcpStream),
) -> io::Result<()> {
    let listener = TcpListener::from_std(listener)?;
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => match stream.set_nodelay(true) {
                Ok(()) => spawn(stream),
                Err(e) => eprintln!("{name}: TCP_NODELAY: {e}"),
            },
            // EMFILE and the like: that connection is lost, the server goes on.
            Err(e) => eprintln!("{name}: accept: {e}"),
        }
    }
}

/// tokio's echo example: read into a buffer, write back what was read, until the peer closes.
async fn raw_echo(mut stream: TcpStream) -> io::Result<()> {
    let mut buf = vec![0; BUFFER];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}

/// Echoes each line with `feed`, and flushes once no further line is ready without waiting:
/// the replies to one read leave in one write, as with Turbine.
async fn lines_echo(stream: TcpStream) -> Result<(), LinesCodecError> {
    let mut framed = Framed::new(stream, LinesCodec::new_with_max_length(MAX_LINE));
    while let Some(line) = framed.next().await {
        framed.feed(line?).await?;
        // `now_or_never` polls once: a line still in the read buffer is returned, and with none
        // the socket is tried once (tokio skips the `read` when its last one came back short).
        loop {
            match framed.next().now_or_never() {
                Some(Some(line)) => framed.feed(line?).await?,
                Some(None) => {
                    SinkExt::<String>::flush(&mut framed).await?;
                    return Ok(());
                }
                None => break,
            }
        }
        SinkExt::<String>::flush(&mut framed).await?;
    }
    Ok(())
}
