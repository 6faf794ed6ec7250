//! The PROXY protocol (HAProxy's, versions 1 and 2): which headers a listener takes, reading
//! one from the first bytes of a connection, and what a handler learns of it.
//!
//! A load balancer in front of Turbine connects on each client's behalf and starts the
//! connection with a header naming the client. The parsing is the `ppp` crate's; this module
//! adds the limits (a v2 body of at most 1 KiB), refuses a header of a version
//! the listener does not take, and turns the result into [`ProxyHeader`].

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use ppp::{PartialResult, v1, v2};

/// Which PROXY headers the listeners require (`TURBINE_PROXY_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProxyProtocol {
    /// No header: the connection's first byte is the protocol's.
    #[default]
    Off,
    /// Every connection starts with a version 1 (text) header.
    V1,
    /// Every connection starts with a version 2 (binary) header.
    V2,
    /// Every connection starts with a header of either version.
    Any,
}

impl ProxyProtocol {
    /// Whether connections must start with a header.
    pub fn is_on(self) -> bool {
        self != ProxyProtocol::Off
    }

    /// Whether a header of `version` is taken.
    fn takes(self, version: ProxyVersion) -> bool {
        matches!(
            (self, version),
            (ProxyProtocol::Any, _)
                | (ProxyProtocol::V1, ProxyVersion::V1)
                | (ProxyProtocol::V2, ProxyVersion::V2)
        )
    }
}

impl FromStr for ProxyProtocol {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        match text.to_ascii_lowercase().as_str() {
            "off" | "0" | "false" | "no" => Ok(ProxyProtocol::Off),
            "v1" => Ok(ProxyProtocol::V1),
            "v2" => Ok(ProxyProtocol::V2),
            "any" => Ok(ProxyProtocol::Any),
            _ => Err(()),
        }
    }
}

impl fmt::Display for ProxyProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProxyProtocol::Off => "off",
            ProxyProtocol::V1 => "v1",
            ProxyProtocol::V2 => "v2",
            ProxyProtocol::Any => "any",
        })
    }
}

/// A PROXY header's version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyVersion {
    /// The text header: `PROXY TCP4 <source> <destination> <ports>\r\n`, at most 107 bytes.
    V1,
    /// The binary header: a 12-byte signature, then version and command, family, length,
    /// addresses and TLVs.
    V2,
}

impl fmt::Display for ProxyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProxyVersion::V1 => "v1",
            ProxyVersion::V2 => "v2",
        })
    }
}

/// One type-length-value field of a version 2 header (a TLV: `PP2_TYPE_ALPN`,
/// `PP2_TYPE_AUTHORITY`, a balancer's own types...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlv {
    kind: u8,
    value: Vec<u8>,
}

impl Tlv {
    /// The type byte (`0x01` ALPN, `0x02` authority, `0x04` NOOP, `0x05` unique ID, ...).
    pub fn kind(&self) -> u8 {
        self.kind
    }

    /// The value.
    pub fn value(&self) -> &[u8] {
        &self.value
    }
}

/// The PROXY header a connection started with ([`Context::proxy`](crate::Context::proxy)).
///
/// The client's address and the address it reached are the connection's own
/// ([`Context::peer_addr`](crate::Context::peer_addr),
/// [`Context::local_addr`](crate::Context::local_addr)); this keeps what else the header
/// said, and the balancer that sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyHeader {
    version: ProxyVersion,
    /// Source and destination, or `None` for a v2 `LOCAL` or v1 `UNKNOWN` header.
    addresses: Option<(SocketAddr, SocketAddr)>,
    /// The socket's peer: the balancer.
    balancer: SocketAddr,
    tlvs: Vec<Tlv>,
}

impl ProxyHeader {
    /// The header's version.
    pub fn version(&self) -> ProxyVersion {
        self.version
    }

    /// The balancer: the peer of the TCP connection that carried the header.
    pub fn balancer(&self) -> SocketAddr {
        self.balancer
    }

    /// Whether the header carried no client (a v2 `LOCAL` command, as a balancer's health
    /// check sends, or a v1 `UNKNOWN`): the connection then has its socket's own addresses.
    pub fn is_local(&self) -> bool {
        self.addresses.is_none()
    }

    /// The v2 TLVs, in header order (none for v1).
    pub fn tlvs(&self) -> &[Tlv] {
        &self.tlvs
    }

    /// The value of the first TLV of type `kind`, if any.
    pub fn tlv(&self, kind: u8) -> Option<&[u8]> {
        self.tlvs.iter().find(|t| t.kind == kind).map(Tlv::value)
    }

    /// The client's address, if the header named one.
    pub fn source(&self) -> Option<SocketAddr> {
        self.addresses.map(|(source, _)| source)
    }

    /// The address the client connected to, if the header named one.
    pub fn destination(&self) -> Option<SocketAddr> {
        self.addresses.map(|(_, destination)| destination)
    }

    /// Source and destination, if the header named a client.
    pub(crate) fn addresses(&self) -> Option<(SocketAddr, SocketAddr)> {
        self.addresses
    }
}

/// Most bytes of addresses and TLVs a v2 header may announce: more is refused as malformed.
pub(crate) const MAX_V2_BODY: usize = 1024;

/// The v2 header's fixed part: signature, version and command, family, length.
const V2_FIXED: usize = 16;

/// The longest PROXY header taken, in bytes: a v2 header with 1 KiB of addresses and TLVs (a
/// v1 header is at most 107); a longer v2 one is refused as malformed.
pub const MAX_PROXY_HEADER: usize = V2_FIXED + MAX_V2_BODY;

/// The v1 header's first bytes.
const V1_PREFIX: &[u8] = b"PROXY ";

/// The longest v1 header, `\r\n` included.
const V1_MAX: usize = 107;

/// What the first bytes of a connection hold ([`ProxyHeader::parse`]).
#[derive(Debug, PartialEq, Eq)]
pub enum ProxyRead {
    /// The start of a header: wait for more bytes.
    Incomplete,
    /// A whole header, `len` bytes long.
    Complete {
        /// What it said.
        header: ProxyHeader,
        /// Its length: the protocol's bytes start after it.
        len: usize,
    },
    /// Not a header this listener takes; says why.
    Invalid(String),
}

impl ProxyHeader {
    /// Reads the header at the start of `input` (all that has arrived so far: call again
    /// with more after [`ProxyRead::Incomplete`]), sent by `balancer`, for a listener that
    /// takes `accepts`. The reactors read every header with this; it is public for programs
    /// and tests that meet PROXY headers elsewhere.
    ///
    /// # Examples
    ///
    /// ```
    /// use turbine_reactor::{ProxyHeader, ProxyProtocol, ProxyRead};
    ///
    /// let balancer = "127.0.0.1:40000".parse().unwrap();
    /// let input = b"PROXY TCP4 203.0.113.7 192.0.2.1 51000 443\r\nPING\r\n";
    /// let ProxyRead::Complete { header, len } = ProxyHeader::parse(input, ProxyProtocol::Any, balancer)
    /// else {
    ///     panic!("a whole v1 header");
    /// };
    /// assert_eq!(&input[len..], b"PING\r\n");
    /// assert_eq!(header.source(), Some("203.0.113.7:51000".parse().unwrap()));
    /// assert_eq!(header.balancer(), balancer);
    /// assert_eq!(
    ///     ProxyHeader::parse(&input[..20], ProxyProtocol::Any, balancer),
    ///     ProxyRead::Incomplete
    /// );
    /// ```
    pub fn parse(input: &[u8], accepts: ProxyProtocol, balancer: SocketAddr) -> ProxyRead {
        parse(input, accepts, balancer)
    }
}

/// [`ProxyHeader::parse`].
fn parse(input: &[u8], accepts: ProxyProtocol, balancer: SocketAddr) -> ProxyRead {
    let version = if starts_like(input, v2::PROTOCOL_PREFIX) {
        ProxyVersion::V2
    } else if starts_like(input, V1_PREFIX) {
        ProxyVersion::V1
    } else {
        let shown = String::from_utf8_lossy(&input[..input.len().min(16)]).into_owned();
        return ProxyRead::Invalid(format!("no PROXY header: the connection starts {shown:?}"));
    };
    if input.is_empty() {
        return ProxyRead::Incomplete;
    }
    if !accepts.takes(version) {
        return ProxyRead::Invalid(format!(
            "a PROXY {version} header, but TURBINE_PROXY_PROTOCOL={accepts} takes the other \
             version only"
        ));
    }
    match version {
        ProxyVersion::V1 => parse_v1(input, balancer),
        ProxyVersion::V2 => parse_v2(input, balancer),
    }
}

/// Whether `input` is `prefix`'s start, or starts with `prefix`.
fn starts_like(input: &[u8], prefix: &[u8]) -> bool {
    let n = input.len().min(prefix.len());
    input[..n] == prefix[..n]
}

/// A version 1 header: `PROXY TCP4|TCP6 <source> <destination> <sport> <dport>\r\n`, or
/// `PROXY UNKNOWN ...\r\n`.
fn parse_v1(input: &[u8], balancer: SocketAddr) -> ProxyRead {
    // The header is one line: wait for its end (ppp takes some cut lines, such as one that
    // ends with the space before a port, for malformed ones).
    if !input.contains(&b'\n') && input.len() < V1_MAX {
        return ProxyRead::Incomplete;
    }
    let result = v1::Header::try_from(input);
    if result.is_incomplete() {
        return ProxyRead::Incomplete;
    }
    let header = match result {
        Ok(header) => header,
        Err(e) => return ProxyRead::Invalid(format!("malformed PROXY v1 header: {e}")),
    };
    let addresses = match header.addresses {
        v1::Addresses::Tcp4(a) => Some((
            SocketAddr::from((a.source_address, a.source_port)),
            SocketAddr::from((a.destination_address, a.destination_port)),
        )),
        v1::Addresses::Tcp6(a) => Some((
            SocketAddr::from((a.source_address, a.source_port)),
            SocketAddr::from((a.destination_address, a.destination_port)),
        )),
        v1::Addresses::Unknown => None,
    };
    ProxyRead::Complete {
        len: header.header.len(),
        header: ProxyHeader {
            version: ProxyVersion::V1,
            addresses,
            balancer,
            tlvs: Vec::new(),
        },
    }
}

/// A version 2 header, its body no longer than [`MAX_V2_BODY`].
fn parse_v2(input: &[u8], balancer: SocketAddr) -> ProxyRead {
    if input.len() >= V2_FIXED {
        let body = usize::from(u16::from_be_bytes([input[14], input[15]]));
        if body > MAX_V2_BODY {
            return ProxyRead::Invalid(format!(
                "PROXY v2 header announces {body} bytes of addresses and TLVs; at most \
                 {MAX_V2_BODY} are taken"
            ));
        }
    }
    let result = v2::Header::try_from(input);
    if result.is_incomplete() {
        return ProxyRead::Incomplete;
    }
    let header = match result {
        Ok(header) => header,
        Err(e) => return ProxyRead::Invalid(format!("malformed PROXY v2 header: {e}")),
    };
    let addresses = match (header.command, header.addresses) {
        (v2::Command::Local, _) => None,
        (v2::Command::Proxy, _) if header.protocol == v2::Protocol::Datagram => {
            return ProxyRead::Invalid("PROXY v2 header for a datagram (UDP) connection".into());
        }
        (v2::Command::Proxy, v2::Addresses::IPv4(a)) => Some((
            SocketAddr::from((a.source_address, a.source_port)),
            SocketAddr::from((a.destination_address, a.destination_port)),
        )),
        (v2::Command::Proxy, v2::Addresses::IPv6(a)) => Some((
            SocketAddr::from((a.source_address, a.source_port)),
            SocketAddr::from((a.destination_address, a.destination_port)),
        )),
        (v2::Command::Proxy, other) => {
            return ProxyRead::Invalid(format!(
                "PROXY v2 header with the PROXY command and the {:?} address family, which \
                 names no TCP client",
                other.address_family()
            ));
        }
    };
    let tlvs = match header.tlvs().collect::<Result<Vec<_>, _>>() {
        Ok(tlvs) => tlvs
            .into_iter()
            .map(|t| Tlv {
                kind: t.kind,
                value: t.value.into_owned(),
            })
            .collect(),
        Err(e) => return ProxyRead::Invalid(format!("malformed PROXY v2 TLVs: {e}")),
    };
    ProxyRead::Complete {
        len: header.len(),
        header: ProxyHeader {
            version: ProxyVersion::V2,
            addresses,
            balancer,
            tlvs,
        },
    }
}

#[cfg(test)]
mod tests;
