//! The blocking peer: one thread per connection, blocking `read` and `write_all`.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;

use crate::peer::bind_listener;

/// Stack of each connection's thread: small, so 10,000 connections fit (the default 2 MiB
/// would reserve 20 GiB of address space); the echo loop needs a few hundred bytes of it.
const STACK: usize = 64 * 1024;

/// Bytes one `read` takes: the same buffer as the tokio echo's.
const BUFFER: usize = 4096;

/// Binds `addr` and accepts on a thread of its own, spawning a thread per connection.
///
/// # Errors
///
/// Binding the listener or spawning the accepting thread failed.
pub(crate) fn start(addr: SocketAddr) -> io::Result<SocketAddr> {
    let listener = bind_listener(addr)?;
    let addr = listener.local_addr()?;
    thread::Builder::new()
        .name("blocking-accept".into())
        .spawn(move || {
            for stream in listener.incoming() {
                match stream {
                    Ok(stream) => {
                        let spawned = thread::Builder::new()
                            .name("blocking-echo".into())
                            .stack_size(STACK)
                            .spawn(move || echo(stream));
                        if let Err(e) = spawned {
                            eprintln!("blocking-raw: cannot spawn a connection thread: {e}");
                        }
                    }
                    // EMFILE and the like: that connection is lost, the server goes on.
                    Err(e) => eprintln!("blocking-raw: accept: {e}"),
                }
            }
        })?;
    Ok(addr)
}

/// Echoes until the peer closes or an error; the error itself is of no interest here.
fn echo(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0; BUFFER];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        stream.write_all(&buf[..n])?;
    }
}
