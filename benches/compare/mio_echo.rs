//! The bare mio peer: the least code that echoes correctly on one edge-triggered mio loop.
//!
//! One thread, one `Poll`, a `Slab` of connections and one 64 KiB read buffer. Each connection
//! is registered for both readable and writable once, so no `epoll_ctl` follows the accept. On
//! any event the connection first writes what it still owes; then, only if it owes nothing,
//! reads until `WouldBlock`, writing each read's bytes back at once. Bytes the socket would not
//! take are kept, and reading stops until a writable event lets them drain: the output held per
//! connection is at most one read.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::thread;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use crate::peer::bind_listener;

/// The listener's token; connections use their slab key, which never gets this large.
const LISTENER: Token = Token(usize::MAX);

/// Bytes one `read` takes.
const BUFFER: usize = 64 * 1024;

/// One accepted connection.
struct Conn {
    /// The socket, registered for readable and writable, edge-triggered.
    stream: TcpStream,
    /// Echo bytes the socket did not take yet; empty except while the peer reads slowly.
    pending: Vec<u8>,
}

/// Binds `addr` and serves on a thread of its own.
///
/// # Errors
///
/// Binding the listener, creating the poll instance or spawning the thread failed.
pub(crate) fn start(addr: SocketAddr) -> io::Result<SocketAddr> {
    let listener = bind_listener(addr)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let mut listener = TcpListener::from_std(listener);
    let poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    thread::Builder::new()
        .name("mio-echo".into())
        .spawn(move || {
            if let Err(e) = serve(poll, listener) {
                eprintln!("mio-raw: {e}");
            }
        })?;
    Ok(addr)
}

/// The event loop; returns only if `epoll_wait` or `epoll_ctl` fails.
fn serve(mut poll: Poll, listener: TcpListener) -> io::Result<()> {
    let mut events = Events::with_capacity(1024);
    let mut conns: Slab<Conn> = Slab::new();
    let mut buf = vec![0; BUFFER];
    loop {
        match poll.poll(&mut events, None) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for event in &events {
            if event.token() == LISTENER {
                accept(&poll, &listener, &mut conns)?;
                continue;
            }
            let key = event.token().0;
            let Some(conn) = conns.get_mut(key) else {
                continue; // an event for a connection closed earlier in this batch
            };
            if !matches!(echo(conn, &mut buf), Ok(true)) {
                // Closing the socket removes it from the epoll set.
                conns.remove(key);
            }
        }
    }
}

/// Accepts until `WouldBlock`, registering each connection.
fn accept(poll: &Poll, listener: &TcpListener, conns: &mut Slab<Conn>) -> io::Result<()> {
    loop {
        let mut stream = match listener.accept() {
            Ok((stream, _peer)) => stream,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // EMFILE and the like: that connection is lost, the server goes on.
                eprintln!("mio-raw: accept: {e}");
                return Ok(());
            }
        };
        if let Err(e) = stream.set_nodelay(true) {
            eprintln!("mio-raw: TCP_NODELAY: {e}");
            continue;
        }
        let entry = conns.vacant_entry();
        poll.registry().register(
            &mut stream,
            Token(entry.key()),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        entry.insert(Conn {
            stream,
            pending: Vec::new(),
        });
    }
}

/// Writes what is owed, then reads and echoes until `WouldBlock` or until the socket stops
/// taking bytes. `Ok(false)` or an error: the connection is finished.
fn echo(conn: &mut Conn, buf: &mut [u8]) -> io::Result<bool> {
    if !conn.pending.is_empty() {
        let written = write(&mut conn.stream, &conn.pending)?;
        conn.pending.drain(..written);
        if !conn.pending.is_empty() {
            return Ok(true); // still blocked: a writable event comes when there is room
        }
    }
    loop {
        let n = match conn.stream.read(buf) {
            Ok(0) => return Ok(false),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let written = write(&mut conn.stream, &buf[..n])?;
        if written < n {
            // Unread input stays in the socket: the writable event that drains `pending` also
            // resumes reading, so the readable edge already consumed is not needed again.
            conn.pending.extend_from_slice(&buf[written..n]);
            return Ok(true);
        }
    }
}

/// Writes as much of `data` as the socket takes; returns how much that was.
fn write(stream: &mut TcpStream, data: &[u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < data.len() {
        match stream.write(&data[done..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}
