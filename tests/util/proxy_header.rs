//! PROXY protocol headers as a balancer writes them, for the tests that play the balancer.

use std::net::{IpAddr, SocketAddr};

/// The v2 signature, the first 12 bytes of every binary header.
const SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";

/// A v2 header: `command` (1 PROXY, 0 LOCAL), a TCP connection from `source` to
/// `destination` (one family for both), then `tlvs`.
pub(crate) fn proxy_v2(
    command: u8,
    source: SocketAddr,
    destination: SocketAddr,
    tlvs: &[(u8, &[u8])],
) -> Vec<u8> {
    let mut body = Vec::new();
    let family = match (source.ip(), destination.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            body.extend_from_slice(&s.octets());
            body.extend_from_slice(&d.octets());
            0x11 // AF_INET, STREAM
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            body.extend_from_slice(&s.octets());
            body.extend_from_slice(&d.octets());
            0x21 // AF_INET6, STREAM
        }
        _ => panic!("one family for both ends"),
    };
    body.extend_from_slice(&source.port().to_be_bytes());
    body.extend_from_slice(&destination.port().to_be_bytes());
    for (kind, value) in tlvs {
        body.push(*kind);
        body.extend_from_slice(&u16::try_from(value.len()).unwrap().to_be_bytes());
        body.extend_from_slice(value);
    }
    let mut header = SIGNATURE.to_vec();
    header.push(0x20 | command);
    header.push(family);
    header.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
    header.extend_from_slice(&body);
    header
}

/// The v2 header a balancer's health check sends: `LOCAL`, no addresses.
pub(crate) const PROXY_V2_LOCAL: &[u8] = b"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00";

/// The text (v1) header of a TCP connection from `source` to `destination`.
pub(crate) fn proxy_v1(source: SocketAddr, destination: SocketAddr) -> Vec<u8> {
    let family = if source.is_ipv4() { "TCP4" } else { "TCP6" };
    format!(
        "PROXY {family} {} {} {} {}\r\n",
        source.ip(),
        destination.ip(),
        source.port(),
        destination.port()
    )
    .into_bytes()
}
