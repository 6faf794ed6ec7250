//! Test servers: tiny thread-per-connection echo servers on `127.0.0.1:0`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;

/// What the test server does to the bytes it sends back.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Echo {
    /// Sends every byte back unchanged.
    Faithful,
    /// Flips the lowest bit of the first byte of every read before echoing it.
    Corrupting,
}

/// Starts an echo server on a free loopback port and returns its address. The server and its
/// threads live until the test process exits.
pub(crate) fn echo_server(echo: Echo) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a test port");
    let addr = listener.local_addr().expect("local address");
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            thread::spawn(move || serve(stream, echo));
        }
    });
    addr
}

/// Echoes one connection until it closes or fails.
fn serve(mut stream: TcpStream, echo: Echo) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0; 16 * 1024];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if let Echo::Corrupting = echo {
            buf[0] ^= 0x01;
        }
        if stream.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}
