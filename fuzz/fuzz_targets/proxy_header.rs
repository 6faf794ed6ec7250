//! PROXY headers (`ProxyHeader::parse`, what a reactor runs on the first bytes of a connection
//! behind a balancer) on arbitrary bytes: no panic, and the verdict on a stream does not depend
//! on how much of it has arrived: every prefix shorter than a complete header is incomplete,
//! every longer one gives the same header and length, and once refused, always refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use turbine_reactor::{MAX_PROXY_HEADER, ProxyHeader, ProxyProtocol, ProxyRead};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, input)) = data.split_first() else {
        return;
    };
    let accepts = match mode % 3 {
        0 => ProxyProtocol::V1,
        1 => ProxyProtocol::V2,
        _ => ProxyProtocol::Any,
    };
    let balancer = "127.0.0.1:40000".parse().unwrap();
    let mut settled: Option<ProxyRead> = None;
    for end in 0..=input.len() {
        let read = ProxyHeader::parse(&input[..end], accepts, balancer);
        match (&settled, read) {
            (None, ProxyRead::Incomplete) => {
                assert!(end < MAX_PROXY_HEADER, "incomplete after {end} bytes");
            }
            (None, read @ ProxyRead::Complete { .. }) => {
                let ProxyRead::Complete { len, .. } = &read else { unreachable!() };
                assert_eq!(*len, end, "complete before its last byte arrived");
                settled = Some(read);
            }
            (None, read @ ProxyRead::Invalid(_)) => settled = Some(read),
            (Some(ProxyRead::Complete { header, len }), ProxyRead::Complete { header: h, len: l }) => {
                assert_eq!((header, *len), (&h, l), "more bytes changed the header");
            }
            (Some(ProxyRead::Invalid(_)), ProxyRead::Invalid(_)) => {}
            (Some(before), after) => panic!("{before:?} became {after:?} with more bytes"),
        }
    }
});
