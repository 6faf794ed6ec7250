//! PROXY headers of both versions read from every prefix of their bytes (so split across reads
//! in any way), with the protocol's bytes after them, and every kind of malformed header.

use std::net::SocketAddr;

use super::*;

/// The balancer every test header comes from.
fn balancer() -> SocketAddr {
    "127.0.0.1:40000".parse().unwrap()
}

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

/// A v2 header: signature, `version_command`, `family_protocol`, then `body` (addresses and
/// TLVs) with its length.
fn v2(version_command: u8, family_protocol: u8, body: &[u8]) -> Vec<u8> {
    let mut header = v2::PROTOCOL_PREFIX.to_vec();
    header.push(version_command);
    header.push(family_protocol);
    header.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
    header.extend_from_slice(body);
    header
}

/// The 12 address bytes of a v2 IPv4 header.
fn ipv4_body(source: [u8; 4], destination: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let mut body = source.to_vec();
    body.extend_from_slice(&destination);
    body.extend_from_slice(&sport.to_be_bytes());
    body.extend_from_slice(&dport.to_be_bytes());
    body
}

/// Reads `header` followed by protocol bytes from every prefix: each prefix shorter than the
/// header is incomplete, and every longer one gives the same header, `header.len()` long.
fn read_at_every_split(header: &[u8], accepts: ProxyProtocol) -> ProxyHeader {
    let mut input = header.to_vec();
    input.extend_from_slice(b"\x16\x03\x01 then the protocol");
    for end in 0..header.len() {
        assert_eq!(
            ProxyHeader::parse(&input[..end], accepts, balancer()),
            ProxyRead::Incomplete,
            "prefix of {end} bytes"
        );
    }
    let mut whole = None;
    for end in header.len()..=input.len() {
        match ProxyHeader::parse(&input[..end], accepts, balancer()) {
            ProxyRead::Complete { header: read, len } => {
                assert_eq!(len, header.len(), "prefix of {end} bytes");
                if let Some(first) = &whole {
                    assert_eq!(&read, first, "prefix of {end} bytes");
                }
                whole = Some(read);
            }
            other => panic!("prefix of {end} bytes: {other:?}"),
        }
    }
    whole.unwrap()
}

/// The reason a header is refused.
fn refused(input: &[u8], accepts: ProxyProtocol) -> String {
    match ProxyHeader::parse(input, accepts, balancer()) {
        ProxyRead::Invalid(why) => why,
        other => panic!(
            "{:?}: expected a refusal, got {other:?}",
            String::from_utf8_lossy(input)
        ),
    }
}

/// v1 TCP4 and TCP6 headers give the client and the address it reached, whole or split.
#[test]
fn v1_addresses() {
    let header = read_at_every_split(
        b"PROXY TCP4 203.0.113.7 192.0.2.1 51000 443\r\n",
        ProxyProtocol::V1,
    );
    assert_eq!(header.version(), ProxyVersion::V1);
    assert_eq!(header.source(), Some(addr("203.0.113.7:51000")));
    assert_eq!(header.destination(), Some(addr("192.0.2.1:443")));
    assert_eq!(header.balancer(), balancer());
    assert!(!header.is_local());
    assert!(header.tlvs().is_empty());

    let header = read_at_every_split(
        b"PROXY TCP6 2001:db8::7 2001:db8::1 51000 443\r\n",
        ProxyProtocol::Any,
    );
    assert_eq!(header.source(), Some(addr("[2001:db8::7]:51000")));
    assert_eq!(header.destination(), Some(addr("[2001:db8::1]:443")));
}

/// v1 `UNKNOWN` names no client: the connection keeps its own addresses.
#[test]
fn v1_unknown_keeps_the_socket_addresses() {
    let header = read_at_every_split(b"PROXY UNKNOWN\r\n", ProxyProtocol::V1);
    assert!(header.is_local());
    assert_eq!(header.source(), None);
    let header = read_at_every_split(
        b"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n",
        ProxyProtocol::V1,
    );
    assert!(header.is_local());
}

/// A v2 IPv4 header, and an IPv6 one with TLVs, whole or split at every byte.
#[test]
fn v2_addresses_and_tlvs() {
    let body = ipv4_body([203, 0, 113, 7], [192, 0, 2, 1], 51000, 443);
    let header = read_at_every_split(&v2(0x21, 0x11, &body), ProxyProtocol::V2);
    assert_eq!(header.version(), ProxyVersion::V2);
    assert_eq!(header.source(), Some(addr("203.0.113.7:51000")));
    assert_eq!(header.destination(), Some(addr("192.0.2.1:443")));

    let mut body = "2001:db8::7"
        .parse::<std::net::Ipv6Addr>()
        .unwrap()
        .octets()
        .to_vec();
    body.extend_from_slice(
        &"2001:db8::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    body.extend_from_slice(&51000u16.to_be_bytes());
    body.extend_from_slice(&443u16.to_be_bytes());
    body.extend_from_slice(&[0x02, 0, 11]); // PP2_TYPE_AUTHORITY
    body.extend_from_slice(b"example.com");
    body.extend_from_slice(&[0xE0, 0, 3, 1, 2, 3]); // a balancer's own type
    let header = read_at_every_split(&v2(0x21, 0x21, &body), ProxyProtocol::Any);
    assert_eq!(header.source(), Some(addr("[2001:db8::7]:51000")));
    assert_eq!(header.tlv(0x02), Some(&b"example.com"[..]));
    assert_eq!(header.tlv(0xE0), Some(&[1, 2, 3][..]));
    assert_eq!(header.tlv(0x05), None);
    assert_eq!(header.tlvs().len(), 2);
    assert_eq!(header.tlvs()[1].kind(), 0xE0);
}

/// The v2 LOCAL command (a balancer's health check) names no client, whatever its family.
#[test]
fn v2_local_keeps_the_socket_addresses() {
    let header = read_at_every_split(&v2(0x20, 0x00, &[]), ProxyProtocol::V2);
    assert!(header.is_local());
    let body = ipv4_body([10, 0, 0, 1], [10, 0, 0, 2], 1, 2);
    let header = read_at_every_split(&v2(0x20, 0x11, &body), ProxyProtocol::V2);
    assert!(header.is_local());
    assert_eq!(header.source(), None);
}

/// A connection that starts with anything but a header is refused at its first byte.
#[test]
fn no_header_is_refused() {
    for input in [
        &b"GET / HTTP/1.1\r\n"[..],
        b"PING\r\n",
        b"\x16\x03\x01\x02\x00",
        b"\r\n\r\nx",
    ] {
        let why = refused(input, ProxyProtocol::Any);
        assert!(why.contains("no PROXY header"), "{why}");
    }
    assert!(refused(b"PROXX", ProxyProtocol::Any).contains("no PROXY header"));
    // The start of a header is not refused: more may come.
    assert_eq!(
        ProxyHeader::parse(b"P", ProxyProtocol::Any, balancer()),
        ProxyRead::Incomplete
    );
}

/// Malformed v1 headers: bad protocol, addresses, ports, a missing `\r\n` past 107 bytes.
#[test]
fn malformed_v1_is_refused() {
    for input in [
        &b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"[..],
        b"PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
        b"PROXY TCP4 2001:db8::1 5.6.7.8 1 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
    ] {
        let why = refused(input, ProxyProtocol::V1);
        assert!(why.contains("v1"), "{why}");
    }
    let long = [&b"PROXY UNKNOWN "[..], &[b'x'; 100]].concat();
    assert!(refused(&long, ProxyProtocol::V1).contains("v1"));
}

/// Malformed v2 headers: a bad version or command, an unknown family with the PROXY command,
/// a datagram, a body over 1 KiB, addresses or TLVs that overrun the length.
#[test]
fn malformed_v2_is_refused() {
    let ipv4 = ipv4_body([1, 2, 3, 4], [5, 6, 7, 8], 1, 2);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (v2(0x11, 0x11, &ipv4), "malformed"), // version 1 in a v2 header
        (v2(0x22, 0x11, &ipv4), "malformed"), // command 2
        (v2(0x21, 0x41, &ipv4), "malformed"), // family 4
        (v2(0x21, 0x01, &[]), "names no TCP client"), // PROXY with AF_UNSPEC
        (v2(0x21, 0x31, &[0; 216]), "names no TCP client"), // PROXY with AF_UNIX
        (v2(0x21, 0x12, &ipv4), "datagram"),  // UDP
        (v2(0x21, 0x11, &ipv4[..8]), "malformed"), // addresses cut short
        (
            v2(0x21, 0x11, &[ipv4.clone(), vec![0x02, 0, 9, b'x']].concat()),
            "TLV",
        ),
        (v2(0x21, 0x11, &[ipv4.clone(), vec![0x02]].concat()), "TLV"),
    ];
    for (input, expected) in cases {
        let why = refused(&input, ProxyProtocol::V2);
        assert!(why.contains(expected), "{input:?}: {why}");
    }
    // Over 1 KiB is refused as soon as the length field arrives, before the body.
    let mut big = v2(0x21, 0x11, &[]);
    big[14..16].copy_from_slice(&1025u16.to_be_bytes());
    assert!(refused(&big, ProxyProtocol::V2).contains("at most 1024"));
}

/// A listener refuses a header of the version it does not take, as soon as it can tell.
#[test]
fn the_other_version_is_refused() {
    let v1 = b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n";
    assert!(refused(v1, ProxyProtocol::V2).contains("v1"));
    assert!(refused(&v1[..1], ProxyProtocol::V2).contains("v1"));
    let header = v2(0x21, 0x11, &ipv4_body([1, 2, 3, 4], [5, 6, 7, 8], 1, 2));
    assert!(refused(&header, ProxyProtocol::V1).contains("v2"));
    assert!(refused(&header[..1], ProxyProtocol::V1).contains("v2"));
    assert_eq!(
        ProxyHeader::parse(&[], ProxyProtocol::V1, balancer()),
        ProxyRead::Incomplete
    );
}

/// A v2 header with the largest body taken (1 KiB of TLVs) is read whole.
#[test]
fn largest_v2_header_is_read() {
    let mut body = ipv4_body([1, 2, 3, 4], [5, 6, 7, 8], 1, 2);
    let room = MAX_V2_BODY - body.len() - 3;
    body.push(0xE1);
    body.extend_from_slice(&u16::try_from(room).unwrap().to_be_bytes());
    body.resize(MAX_V2_BODY, 7);
    let input = v2(0x21, 0x11, &body);
    assert_eq!(input.len(), MAX_PROXY_HEADER);
    let header = read_at_every_split(&input, ProxyProtocol::V2);
    assert_eq!(header.tlv(0xE1).map(<[u8]>::len), Some(room));
}

/// The setting's names read back as written.
#[test]
fn setting_names() {
    for (text, value) in [
        ("off", ProxyProtocol::Off),
        ("v1", ProxyProtocol::V1),
        ("V2", ProxyProtocol::V2),
        ("any", ProxyProtocol::Any),
    ] {
        assert_eq!(text.parse::<ProxyProtocol>(), Ok(value));
        assert_eq!(value.to_string().parse::<ProxyProtocol>(), Ok(value));
    }
    assert!("v3".parse::<ProxyProtocol>().is_err());
}

/// What the fuzz target (`fuzz/fuzz_targets/proxy_header.rs`) checks, on valid headers with
/// random bytes changed, cut or added: the verdict never depends on how much has arrived.
#[test]
fn more_bytes_never_change_the_verdict() {
    let seeds = [
        b"PROXY TCP4 203.0.113.7 192.0.2.1 51000 443\r\n".to_vec(),
        b"PROXY TCP6 2001:db8::7 2001:db8::1 51000 443\r\n".to_vec(),
        b"PROXY UNKNOWN\r\n".to_vec(),
        v2(0x21, 0x11, &ipv4_body([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)),
        v2(
            0x21,
            0x11,
            &[
                ipv4_body([1, 2, 3, 4], [5, 6, 7, 8], 1, 2),
                vec![0x02, 0, 1, b'x'],
            ]
            .concat(),
        ),
        v2(0x20, 0x00, &[]),
    ];
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..3000 {
        let mut input = seeds[round % seeds.len()].clone();
        for _ in 0..(next() % 4) {
            let at = (next() as usize) % (input.len() + 1);
            match next() % 3 {
                0 if at < input.len() => input[at] = next() as u8,
                1 => input.truncate(at),
                _ => input.insert(at, next() as u8),
            }
        }
        input.extend_from_slice(b"payload");
        let accepts = [ProxyProtocol::V1, ProxyProtocol::V2, ProxyProtocol::Any][round % 3];
        let mut settled: Option<ProxyRead> = None;
        for end in 0..=input.len() {
            let read = ProxyHeader::parse(&input[..end], accepts, balancer());
            match (&settled, read) {
                (None, ProxyRead::Incomplete) => assert!(end < MAX_PROXY_HEADER),
                (None, read) => {
                    if let ProxyRead::Complete { len, .. } = &read {
                        assert_eq!(*len, end, "{input:?}: complete before its last byte");
                    }
                    settled = Some(read);
                }
                (Some(ProxyRead::Invalid(_)), ProxyRead::Invalid(_)) => {}
                (
                    Some(ProxyRead::Complete { header, len }),
                    ProxyRead::Complete { header: h, len: l },
                ) => {
                    assert_eq!((header, *len), (&h, l), "{input:?}");
                }
                (Some(before), after) => panic!("{input:?}: {before:?} became {after:?}"),
            }
        }
    }
}
