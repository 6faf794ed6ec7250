//! Socket options every connection gets, from the configuration.

use std::io;

use mio::net::TcpStream;
use socket2::{SockRef, TcpKeepalive};

use crate::Config;

/// Applies `TURBINE_NODELAY`, the buffer sizes and TCP keepalive to a new connection's socket.
///
/// # Errors
///
/// The first option the kernel refused (the caller logs it and keeps the connection: an
/// option is a tuning, not a condition of service).
pub(crate) fn tune(stream: &TcpStream, config: &Config) -> io::Result<()> {
    let socket = SockRef::from(stream);
    if config.nodelay {
        // Without it a reply can wait for the ACK of the previous one (Nagle + delayed ACK).
        socket.set_tcp_nodelay(true)?;
    }
    if let Some(bytes) = config.send_buffer {
        socket.set_send_buffer_size(bytes)?;
    }
    if let Some(bytes) = config.recv_buffer {
        socket.set_recv_buffer_size(bytes)?;
    }
    if let Some(idle) = config.keepalive {
        let mut keepalive = TcpKeepalive::new().with_time(idle);
        if let Some(interval) = config.keepalive_interval {
            keepalive = keepalive.with_interval(interval);
        }
        if let Some(count) = config.keepalive_count {
            keepalive = keepalive.with_retries(count);
        }
        socket.set_tcp_keepalive(&keepalive)?;
    }
    Ok(())
}
