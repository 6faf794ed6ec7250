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

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, TcpListener};
    use std::time::Duration;

    use mio::net::TcpStream;
    use socket2::SockRef;

    use super::tune;
    use crate::Config;

    /// A loopback connection: the accepted side as a mio stream, as a reactor gets it, and the
    /// client side, kept open for the test's length.
    fn accepted() -> (TcpStream, std::net::TcpStream) {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        server.set_nonblocking(true).unwrap();
        (TcpStream::from_std(server), client)
    }

    /// Every option in the configuration reaches the socket: `TCP_NODELAY`, both buffer sizes
    /// (at least what was asked: Linux doubles it for its bookkeeping) and keepalive with its
    /// idle time, probe interval and probe count, none of which is the kernel's default.
    #[test]
    fn options_reach_the_socket() {
        let (stream, _client) = accepted();
        let socket = SockRef::from(&stream);
        assert!(!socket.keepalive().unwrap(), "keepalive is off before tune");
        assert!(!socket.tcp_nodelay().unwrap(), "nodelay is off before tune");

        let config = Config::new()
            .nodelay(true)
            .send_buffer(Some(64 << 10))
            .recv_buffer(Some(64 << 10))
            .keepalive(Some(Duration::from_secs(30)))
            .keepalive_interval(Some(Duration::from_secs(5)))
            .keepalive_count(Some(3));
        config.validate().expect("a valid configuration");
        tune(&stream, &config).expect("tune");

        assert!(socket.tcp_nodelay().unwrap());
        let send = socket.send_buffer_size().unwrap();
        assert!(send >= 64 << 10, "SO_SNDBUF {send}");
        let recv = socket.recv_buffer_size().unwrap();
        assert!(recv >= 64 << 10, "SO_RCVBUF {recv}");
        assert!(socket.keepalive().unwrap());
        assert_eq!(
            socket.tcp_keepalive_time().unwrap(),
            Duration::from_secs(30)
        );
        assert_eq!(
            socket.tcp_keepalive_interval().unwrap(),
            Duration::from_secs(5)
        );
        assert_eq!(socket.tcp_keepalive_retries().unwrap(), 3);
    }

    /// With the defaults, `TCP_NODELAY` is set and keepalive stays off.
    #[test]
    fn defaults_leave_keepalive_off() {
        let (stream, _client) = accepted();
        tune(&stream, &Config::new()).expect("tune");
        let socket = SockRef::from(&stream);
        assert!(socket.tcp_nodelay().unwrap());
        assert!(!socket.keepalive().unwrap());
    }
}
