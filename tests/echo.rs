//! Echo round trips through an in-process server, for each stock framing, and the isolation of a
//! decode error to its own connection.

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::time::Duration;

use util::{Echo, Rng, assert_same_bytes, config, connect, echo_through, start, wait_until};

/// Total payload of each round trip.
const TOTAL: usize = 1 << 20;
/// Largest piece one `write` sends.
const MAX_PIECE: usize = 64 << 10;

/// Raw framing: 1 MiB of random bytes written in random pieces comes back byte for byte, and
/// the server counted every byte both ways.
#[test]
fn raw_round_trip() {
    let running = start(config(), |_| Echo::raw());
    let mut rng = Rng::new(1);
    let data = rng.bytes(TOTAL);
    let received = echo_through(running.local_addr(), &data, &mut rng, MAX_PIECE);
    assert_same_bytes(&received, &data, "raw echo");

    let stats = running.stats_handle();
    running.shutdown().unwrap();
    let total = stats.snapshot().total();
    assert_eq!(total.accepted, 1);
    assert_eq!(total.closed, 1);
    assert_eq!(total.bytes_in, TOTAL as u64);
    assert_eq!(total.bytes_out, TOTAL as u64);
    assert_eq!(total.frames_in, total.frames_out);
}

/// Lines framing: about 1 MiB of random printable lines (each sent with `\n`, the stream cut in
/// random pieces) comes back byte for byte, one frame per line.
#[test]
fn lines_round_trip() {
    let running = start(config().max_frame(16 << 10), |_| Echo::lines());
    let mut rng = Rng::new(2);
    let mut data = Vec::with_capacity(TOTAL + (16 << 10));
    let mut lines = 0u64;
    while data.len() < TOTAL {
        let len = rng.range(0, 8 << 10);
        data.extend_from_slice(rng.printable(len).as_bytes());
        data.push(b'\n');
        lines += 1;
    }
    let received = echo_through(running.local_addr(), &data, &mut rng, MAX_PIECE);
    assert_same_bytes(&received, &data, "line echo");

    let stats = running.stats_handle();
    running.shutdown().unwrap();
    let total = stats.snapshot().total();
    assert_eq!(total.frames_in, lines);
    assert_eq!(total.frames_out, lines);
    assert_eq!(total.bytes_in, data.len() as u64);
    assert_eq!(total.bytes_out, data.len() as u64);
}

/// Length-delimited framing: random frames of 0..=64 KiB payload (4-byte big-endian length,
/// then the payload; about 1 MiB in all, cut in random pieces) come back byte for byte.
#[test]
fn length_delimited_round_trip() {
    let running = start(config().max_frame(64 << 10), |_| Echo::length());
    let mut rng = Rng::new(3);
    let mut data = Vec::with_capacity(TOTAL + (64 << 10) + 4);
    let mut frames = 0u64;
    let mut empty_seen = false;
    while data.len() < TOTAL {
        // Make sure the edge cases are in: an empty frame and a frame of exactly the maximum.
        let len = match frames {
            3 => 0,
            5 => 64 << 10,
            _ => rng.range(0, 64 << 10),
        };
        empty_seen |= len == 0;
        data.extend_from_slice(&u32::try_from(len).unwrap().to_be_bytes());
        data.extend_from_slice(&rng.bytes(len));
        frames += 1;
    }
    assert!(empty_seen);
    let received = echo_through(running.local_addr(), &data, &mut rng, MAX_PIECE);
    assert_same_bytes(&received, &data, "length-delimited echo");

    let stats = running.stats_handle();
    running.shutdown().unwrap();
    let total = stats.snapshot().total();
    assert_eq!(total.frames_in, frames);
    assert_eq!(total.frames_out, frames);
    assert_eq!(total.bytes_out, data.len() as u64);
}

/// A decode error (a 4 KiB line with `max_frame` 1024) closes that connection only: its client
/// gets its earlier reply and then EOF, while another client on the same server keeps echoing.
#[test]
fn decode_error_closes_only_that_connection() {
    let running = start(config().reactors(1).max_frame(1024), |_| Echo::lines());
    let addr = running.local_addr();

    let mut good = BufReader::new(connect(addr));
    let mut round_trip = |text: &str| {
        good.get_mut()
            .write_all(format!("{text}\n").as_bytes())
            .unwrap();
        let mut reply = String::new();
        good.read_line(&mut reply).unwrap();
        assert_eq!(reply, format!("{text}\n"));
    };
    round_trip("before");

    let mut bad = connect(addr);
    bad.write_all(b"fine\n").unwrap();
    let mut rng = Rng::new(4);
    bad.write_all(rng.printable(4096).as_bytes()).unwrap();
    let mut received = Vec::new();
    // `read_to_end` fails on a reset or a timeout: the connection must end in a clean EOF.
    bad.read_to_end(&mut received)
        .expect("the bad client should see EOF, not an error");
    assert_eq!(received, b"fine\n");
    drop(bad); // our FIN lets the server finish its close without waiting out its linger

    round_trip("after");
    round_trip("and again");
    assert!(
        wait_until(Duration::from_secs(10), || running.stats().total().closed
            == 1),
        "the bad connection should be closed: {:?}",
        running.stats()
    );
    let total = running.stats().total();
    assert_eq!(total.open, 1, "the good connection stays open");
    assert_eq!(total.panics, 0);
}
