//! HttpCodec: requests split at every byte, keep-alive rules, every refusal, and responses.

use super::*;

/// Decodes `input` fed in pieces of `chunk` bytes, then the end of the stream.
fn decode_in_pieces(codec: &mut HttpCodec, input: &[u8], chunk: usize) -> Vec<Incoming> {
    let mut src = ReadBuf::new();
    let mut out = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        src.extend_from_slice(piece);
        while let Some(item) = codec.decode(&mut src).unwrap() {
            out.push(item);
        }
    }
    while let Some(item) = codec.decode_eof(&mut src).unwrap() {
        out.push(item);
    }
    out
}

fn request(item: &Incoming) -> &Request {
    match item {
        Incoming::Request(request) => request,
        other => panic!("expected a request, got {other:?}"),
    }
}

const PIPELINE: &[u8] = b"GET /a%20b?q=1 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n\
\r\nPOST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
HEAD / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n";

/// Three pipelined requests (one with a body, a blank line between two) decode the same
/// whatever the split, byte by byte included.
#[test]
fn pipelined_requests_split_at_every_byte() {
    let whole = decode_in_pieces(&mut HttpCodec::new(1024), PIPELINE, PIPELINE.len());
    assert_eq!(whole.len(), 3);
    let get = request(&whole[0]);
    assert_eq!(
        (get.method(), get.path(), get.query()),
        ("GET", "/a%20b", Some("q=1"))
    );
    assert_eq!(get.version(), Version::Http11);
    assert_eq!(get.header("ACCEPT"), Some(&b"*/*"[..]));
    assert!(get.body().is_empty());
    let post = request(&whole[1]);
    assert_eq!((post.method(), post.body()), ("POST", &b"hello"[..]));
    let head = request(&whole[2]);
    assert_eq!((head.method(), head.version()), ("HEAD", Version::Http10));
    assert!(head.keep_alive());
    for chunk in 1..PIPELINE.len() {
        let pieces = decode_in_pieces(&mut HttpCodec::new(1024), PIPELINE, chunk);
        assert_eq!(pieces, whole, "pieces of {chunk} bytes");
    }
    for split in 0..=PIPELINE.len() {
        let mut codec = HttpCodec::new(1024);
        let mut src = ReadBuf::from(&PIPELINE[..split]);
        let mut out = Vec::new();
        while let Some(item) = codec.decode(&mut src).unwrap() {
            out.push(item);
        }
        src.extend_from_slice(&PIPELINE[split..]);
        while let Some(item) = codec.decode_eof(&mut src).unwrap() {
            out.push(item);
        }
        assert_eq!(out, whole, "split at {split}");
    }
}

/// Whether the connection stays open: HTTP/1.1 unless `close`, HTTP/1.0 only with
/// `keep-alive` and without `close`, tokens in a list and in any case.
#[test]
fn keep_alive_rules() {
    let cases: [(&[u8], bool); 7] = [
        (b"GET / HTTP/1.1\r\n\r\n", true),
        (b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false),
        (
            b"GET / HTTP/1.1\r\nConnection: Upgrade, Close\r\n\r\n",
            false,
        ),
        (b"GET / HTTP/1.0\r\n\r\n", false),
        (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true),
        (
            b"GET / HTTP/1.0\r\nConnection: x\r\nConnection: Keep-Alive\r\n\r\n",
            true,
        ),
        (
            b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
            false,
        ),
    ];
    for (input, keep) in cases {
        let items = decode_in_pieces(&mut HttpCodec::new(1024), input, input.len());
        assert_eq!(
            request(&items[0]).keep_alive(),
            keep,
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}

/// The refusal of `input` by a codec with a 256-byte head bound and 16-byte body bound.
fn refusal(input: &[u8]) -> Refusal {
    let mut codec = HttpCodec::new(256).with_max_body(16);
    let mut src = ReadBuf::from(input);
    match codec.decode(&mut src).unwrap() {
        Some(Incoming::Refused(refusal)) => {
            assert!(src.is_empty(), "a refused connection's input is dropped");
            refusal
        }
        other => panic!(
            "{:?}: expected a refusal, got {other:?}",
            String::from_utf8_lossy(input)
        ),
    }
}

/// Every refusal, with the status it answers and the method where the head was read whole.
#[test]
fn refusals_and_their_statuses() {
    let long = [&b"GET / HTTP/1.1\r\nX: "[..], &[b'a'; 300], b"\r\n\r\n"].concat();
    assert_eq!(refusal(&long), Refusal::HeadTooLarge);
    // Refused as soon as the bound is passed, not at the head's end.
    assert_eq!(refusal(&long[..260]), Refusal::HeadTooLarge);
    let mut many = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..=MAX_HEADERS {
        many.extend_from_slice(format!("h{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    let mut codec = HttpCodec::new(64 * 1024);
    let items = decode_in_pieces(&mut codec, &many, many.len());
    assert_eq!(items, [Incoming::Refused(Refusal::TooManyHeaders)]);
    let cases: [(&[u8], Refusal, u16); 6] = [
        (
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            Refusal::Ambiguous,
            400,
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            Refusal::TransferEncoding {
                method: "POST".into(),
            },
            400,
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            Refusal::Ambiguous,
            400,
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\n",
            Refusal::Malformed("Content-Length is not a length".into()),
            400,
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 3 4\r\n\r\n",
            Refusal::Malformed("Content-Length is not a length".into()),
            400,
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 17\r\n\r\n",
            Refusal::BodyTooLarge {
                len: 17,
                method: "POST".into(),
            },
            413,
        ),
    ];
    for (input, expected, status) in cases {
        let got = refusal(input);
        assert_eq!(got, expected, "{}", String::from_utf8_lossy(input));
        assert_eq!(got.status(), status, "{}", String::from_utf8_lossy(input));
        let read_whole = matches!(
            got,
            Refusal::TransferEncoding { .. } | Refusal::BodyTooLarge { .. }
        );
        let method = read_whole.then_some("POST");
        assert_eq!(got.method(), method, "{}", String::from_utf8_lossy(input));
    }
    let head = refusal(b"HEAD / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!(head.method(), Some("HEAD"));
    assert_eq!(refusal(&long).method(), None);
    for garbage in [
        &b"\x16\x03\x01\x00\x10garbage\r\n\r\n"[..],
        b"GET / HTTP/2.0\r\n\r\n",
        // A folded header line (obsolete line folding).
        b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
        b"GET\r\n\r\n",
        b"G T / HTTP/1.1\r\n\r\n",
        // A head httparse would end at a bare `\n\n`, hiding the rest from the codec.
        b"GET /a HTTP/1.1\nHost: x\n\nGET /b HTTP/1.1\r\n\r\n",
    ] {
        let got = refusal(garbage);
        assert!(matches!(got, Refusal::Malformed(_)), "{garbage:?}: {got:?}");
        assert_eq!(got.status(), 400, "{garbage:?}");
    }
    // Equal duplicate lengths are one length.
    let items = decode_in_pieces(
        &mut HttpCodec::new(256),
        b"POST / HTTP/1.1\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nok",
        1,
    );
    assert_eq!(request(&items[0]).body(), b"ok");
}

/// After a refusal nothing more is read: the requests behind it never come out.
#[test]
fn nothing_after_a_refusal() {
    let input = b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n";
    for chunk in [1, 7, input.len()] {
        let items = decode_in_pieces(&mut HttpCodec::new(1024), input, chunk);
        assert_eq!(
            items,
            [Incoming::Refused(Refusal::TransferEncoding {
                method: "GET".into()
            })],
            "pieces of {chunk}"
        );
    }
}

/// The stream ending inside a request is a truncation; blank lines at the end are not.
#[test]
fn end_of_stream() {
    let mut codec = HttpCodec::new(1024);
    let mut src = ReadBuf::from(&b"GET / HTTP/1.1\r\nHost"[..]);
    assert!(matches!(
        codec.decode_eof(&mut src),
        Err(CodecError::Truncated { .. })
    ));
    let mut src = ReadBuf::from(&b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nab"[..]);
    assert!(matches!(
        HttpCodec::new(1024).decode_eof(&mut src),
        Err(CodecError::Truncated { .. })
    ));
    let mut src = ReadBuf::from(&b"\r\n\r\n"[..]);
    assert_eq!(HttpCodec::new(1024).decode_eof(&mut src), Ok(None));
}

/// Responses: status line and reason, the codec's `Content-Length`, an announced length with
/// no body (HEAD, or a body streamed apart), none on 304 (a body given one is neither written
/// nor counted against the bound).
#[test]
fn responses() {
    let mut codec = HttpCodec::new(1024);
    let mut out = Vec::new();
    codec
        .encode(Response::new(404).body("gone"), &mut out)
        .unwrap();
    assert_eq!(
        out,
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\ngone"
    );
    out.clear();
    let head = Response::new(200).header("ETag", "\"x\"").announce(1 << 40);
    codec.encode(head, &mut out).unwrap();
    assert_eq!(
        out,
        b"HTTP/1.1 200 OK\r\nETag: \"x\"\r\nContent-Length: 1099511627776\r\n\r\n"
    );
    out.clear();
    codec
        .encode(Response::new(304).header("ETag", "\"x\""), &mut out)
        .unwrap();
    assert_eq!(out, b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n");
    out.clear();
    let mut small = HttpCodec::new(FrameLimits::new(1024, 64));
    small
        .encode(Response::new(304).body(vec![b'x'; 100]), &mut out)
        .unwrap();
    assert_eq!(out, b"HTTP/1.1 304 Not Modified\r\n\r\n");
}

/// What could split a response or break the bound is refused, the output left as it was.
#[test]
fn bad_responses_are_refused() {
    let mut codec = HttpCodec::new(FrameLimits::new(1024, 64));
    let mut out = b"before".to_vec();
    let bad = [
        Response::new(200).header("X", "a\r\nSet-Cookie: evil"),
        Response::new(200).header("Bad Name", "v"),
        Response::new(200).header("Content-Length", "3"),
        Response::new(42),
        Response::new(200).body(vec![b'x'; 64]),
    ];
    for response in bad {
        assert!(codec.encode(response, &mut out).is_err());
        assert_eq!(out, b"before");
    }
}

/// A request's head and body together stay within the decode bound, whatever the body bound
/// says (the reactor closes a connection whose unfinished input passes it): a body that fits
/// its own bound but not beside its head is refused with 413 at the head, not waited for.
#[test]
fn a_request_stays_within_the_decode_bound() {
    let head = b"POST / HTTP/1.1\r\nContent-Length: 200\r\n\r\n";
    let mut codec = HttpCodec::new(200);
    let mut src = ReadBuf::from(&head[..]);
    assert!(matches!(
        codec.decode(&mut src).unwrap(),
        Some(Incoming::Refused(Refusal::BodyTooLarge { len: 200, .. }))
    ));
    // The same head with a body of 200 minus its length (still three digits): exactly 200.
    let fits = 200 - head.len();
    let head = format!("POST / HTTP/1.1\r\nContent-Length: {fits}\r\n\r\n");
    assert_eq!(head.len() + fits, 200);
    let request = [head.as_bytes(), &vec![b'b'; fits]].concat();
    let mut src = ReadBuf::from(&request[..]);
    match HttpCodec::new(200).decode(&mut src).unwrap() {
        Some(Incoming::Request(request)) => assert_eq!(request.body().len(), fits),
        other => panic!("expected the request, got {other:?}"),
    }
}
