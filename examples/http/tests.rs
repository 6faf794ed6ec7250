//! The handler in memory (`TestConnection`, whose socket takes file regions as a plain TCP
//! socket does): order, pacing, closing. `tests/http.rs` holds the spec line by line over real
//! sockets.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use turbine::{CloseReason, Config, Handler, TestConnection};

use super::client::Http;
use super::files::Site;

/// A directory under the system's temporary one, removed on drop.
struct Root(PathBuf);

impl Root {
    fn new() -> Root {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "turbine-http-unit-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        Root(path)
    }

    fn write(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.0.join(name), bytes).unwrap();
    }

    fn site(&self) -> Arc<Site> {
        Arc::new(Site::new(&self.0).unwrap())
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs jobs and takes output until the handler has nothing more to do (requests waiting, an
/// answer under way, output unwritten).
fn settle(conn: &mut TestConnection<Http>) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..100_000 {
        assert!(conn.finish_offloads(Duration::from_secs(10)));
        let taken = conn.take_output();
        let busy = conn.handler().is_busy() || conn.output_len() > 0;
        if taken.is_empty() && !busy {
            break;
        }
        out.extend_from_slice(&taken);
    }
    out
}

/// The status codes of the responses in `output`, in order.
fn statuses(output: &[u8]) -> Vec<u16> {
    let text = String::from_utf8_lossy(output);
    text.match_indices("HTTP/1.1 ")
        .filter_map(|(i, _)| text[i + 9..i + 12].parse().ok())
        .collect()
}

/// Pipelined requests of every kind, fed in pieces cut at many points, are answered in the
/// order they came.
#[test]
fn pipelined_answers_keep_request_order() {
    let root = Root::new();
    root.write("a.txt", b"alpha\n");
    root.write("index.html", b"<p>home</p>\n");
    let site = root.site();
    let input: &[u8] = b"GET /a.txt HTTP/1.1\r\n\r\nDELETE / HTTP/1.1\r\n\r\n\
        HEAD / HTTP/1.1\r\n\r\nGET /missing HTTP/1.1\r\n\r\nGET /a.txt HTTP/1.1\r\n\
        Range: bytes=1-2\r\n\r\nGET / HTTP/1.1\r\n\r\n";
    for cut in (0..input.len()).step_by(13) {
        let mut conn = TestConnection::new(Http::new(Arc::clone(&site)));
        conn.push(&input[..cut]);
        conn.push(&input[cut..]);
        let out = settle(&mut conn);
        assert_eq!(
            statuses(&out),
            [200, 405, 200, 404, 206, 200],
            "cut at {cut}"
        );
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("\r\n\r\nalpha\n"));
        assert!(text.contains("\r\n\r\nlp"));
        assert!(text.ends_with("<p>home</p>\n"));
        assert!(!conn.is_closed());
    }
}

/// A body many windows long, to a peer that reads a little at a time, keeps the output under
/// the write limit (watermarks of 8/16 KiB, limit 64 KiB) and arrives whole; the request
/// behind it is answered after it.
#[test]
fn a_large_body_is_paced_and_followed_in_order() {
    let root = Root::new();
    let big: Vec<u8> = (0..600_000u32).map(|i| (i * 7 % 251) as u8).collect();
    root.write("big.bin", &big);
    root.write("b.txt", b"after\n");
    let config = Config::new()
        .write_low_watermark(8 << 10)
        .write_high_watermark(16 << 10)
        .write_limit(64 << 10);
    let mut conn = TestConnection::with_config(Http::new(root.site()), config);
    conn.set_peer_window(Some(5000));
    conn.push(b"GET /big.bin HTTP/1.1\r\n\r\nGET /b.txt HTTP/1.1\r\n\r\n");
    let mut out = Vec::new();
    for _ in 0..100_000 {
        assert!(conn.finish_offloads(Duration::from_secs(10)));
        assert!(conn.output_len() <= 64 << 10, "{}", conn.output_len());
        out.extend_from_slice(&conn.take_output());
        if out.ends_with(b"after\n") {
            break;
        }
    }
    assert_eq!(statuses(&out), [200, 200]);
    let start = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(out[start..].starts_with(&big), "the body, byte for byte");
}

/// `Connection: close` closes after its response: the requests behind it get none.
#[test]
fn connection_close_ends_the_exchange() {
    let root = Root::new();
    root.write("a.txt", b"alpha\n");
    let mut conn = TestConnection::new(Http::new(root.site()));
    conn.push(b"GET /a.txt HTTP/1.1\r\nConnection: close\r\n\r\nGET /a.txt HTTP/1.1\r\n\r\n");
    let out = settle(&mut conn);
    assert_eq!(statuses(&out), [200]);
    assert!(String::from_utf8_lossy(&out).contains("Connection: close\r\n"));
    assert_eq!(conn.close_reason(), Some(&CloseReason::Closed));
}

/// A refusal behind a request in progress is answered in its turn, then the connection
/// closes; what was smuggled after it is never answered.
#[test]
fn a_refusal_waits_its_turn() {
    let root = Root::new();
    root.write("a.txt", b"alpha\n");
    let mut conn = TestConnection::new(Http::new(root.site()));
    conn.push(
        b"GET /a.txt HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 3\r\n\
          Transfer-Encoding: chunked\r\n\r\nGET /a.txt HTTP/1.1\r\n\r\n",
    );
    let out = settle(&mut conn);
    assert_eq!(statuses(&out), [200, 400]);
    assert!(conn.is_closed());
}

/// A client that sends its requests and then its FIN still gets every answer, then the
/// connection closes.
#[test]
fn answers_after_the_peers_fin() {
    let root = Root::new();
    root.write("a.txt", b"alpha\n");
    let mut conn = TestConnection::new(Http::new(root.site()));
    conn.push(b"GET /a.txt HTTP/1.1\r\n\r\nGET /a.txt HTTP/1.1\r\n\r\n");
    conn.push_eof();
    let out = settle(&mut conn);
    assert_eq!(statuses(&out), [200, 200]);
    assert!(conn.is_closed());
}

/// A client that pipelines hundreds of requests and reads nothing holds at most the write
/// limit of answers: a request waits while the output is over the high watermark (one copy
/// of a file per request would grow without bound), and all are answered, in order, once the
/// client reads.
#[test]
fn pipelined_requests_to_a_peer_that_does_not_read_stay_bounded() {
    let root = Root::new();
    root.write("page.bin", &[7u8; 20 << 10]);
    let config = Config::new()
        .write_low_watermark(8 << 10)
        .write_high_watermark(16 << 10)
        .write_limit(64 << 10);
    let mut conn = TestConnection::with_config(Http::new(root.site()), config);
    conn.set_peer_window(Some(0));
    let requests = b"GET /page.bin HTTP/1.1\r\n\r\n".repeat(300);
    conn.push(&requests);
    for _ in 0..50 {
        assert!(conn.finish_offloads(Duration::from_secs(10)));
        assert!(conn.output_len() <= 64 << 10, "{}", conn.output_len());
    }
    conn.set_peer_window(None);
    let out = settle(&mut conn);
    assert_eq!(statuses(&out), [200; 300]);
    assert!(!conn.is_closed());
}

/// A request's file is looked up on the worker pool, never on the reactor: once the request is
/// read nothing is answered and the handler waits; the answer comes with the job's result.
#[test]
fn files_are_looked_up_on_the_worker_pool() {
    let root = Root::new();
    root.write("a.txt", b"alpha\n");
    let mut conn = TestConnection::new(Http::new(root.site()));
    conn.push(b"GET /a.txt HTTP/1.1\r\n\r\n");
    assert_eq!(conn.output_len(), 0, "answered on the reactor");
    assert!(conn.take_output().is_empty(), "answered on the reactor");
    assert!(conn.handler().is_busy());
    let out = settle(&mut conn);
    assert_eq!(statuses(&out), [200]);
    assert!(out.ends_with(b"alpha\n"));
}

/// A body over 64 KiB on a plain socket goes as a file region (`sendfile`), not as bytes
/// copied into memory: the file truncated once its window is queued gives a short body and
/// the close (a copy would have been sent whole).
#[test]
fn large_bodies_go_as_file_regions() {
    let root = Root::new();
    root.write("f.bin", &[b'x'; 200 << 10]);
    let mut conn = TestConnection::new(Http::new(root.site()));
    conn.set_peer_window(Some(0));
    conn.push(b"GET /f.bin HTTP/1.1\r\n\r\n");
    assert!(conn.finish_offloads(Duration::from_secs(10)));
    assert!(!conn.handler().is_busy(), "the whole body is queued");
    std::fs::OpenOptions::new()
        .write(true)
        .open(root.0.join("f.bin"))
        .unwrap()
        .set_len(0)
        .unwrap();
    conn.set_peer_window(None);
    let out = conn.take_output();
    let start = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(out.len() - start, 0, "a copy of the body was held");
    assert!(conn.is_closed());
}
