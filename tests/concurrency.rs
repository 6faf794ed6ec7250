//! Many connections at once: a thousand clients echoing concurrently, and connections spread
//! over the reactors.

mod util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use util::{Echo, config, connect, start, wait_until};

/// Clients connected at once.
const CLIENTS: usize = 1000;
/// Client threads; each owns `CLIENTS / THREADS` connections.
const THREADS: usize = 8;
/// Messages each client echoes.
const ROUNDS: usize = 100;

/// The message client `client` sends in round `round`: unique per client and round.
fn message(client: usize, round: usize) -> String {
    format!(
        "client {client:04} round {round:03} {}\n",
        "x".repeat(client % 17)
    )
}

/// 1,000 clients, all connected at once to a 2-reactor line echo server, each echo 100 unique
/// messages correctly; the stats then count 1,000 accepted connections and exactly the frames
/// and bytes that were sent.
#[test]
fn thousand_concurrent_clients() {
    let running = start(config().reactors(2), |_| Echo::lines());
    let addr = running.local_addr();

    // Connect every client before any message is sent, so all 1,000 are open together.
    let per_thread = CLIENTS / THREADS;
    let mut groups: Vec<Vec<(usize, TcpStream)>> = (0..THREADS)
        .map(|t| {
            (0..per_thread)
                .map(|i| {
                    let client = t * per_thread + i;
                    (client, connect(addr))
                })
                .collect()
        })
        .collect();
    assert!(
        wait_until(Duration::from_secs(20), || running.stats().total().open
            == CLIENTS as u64),
        "all clients should be open at once: {:?}",
        running.stats().total()
    );

    let threads: Vec<_> = groups
        .drain(..)
        .map(|mut streams| {
            std::thread::spawn(move || {
                let mut sent = 0u64;
                let mut reply = Vec::new();
                for round in 0..ROUNDS {
                    for (client, stream) in &mut streams {
                        let msg = message(*client, round);
                        stream.write_all(msg.as_bytes()).expect("write");
                        sent += msg.len() as u64;
                    }
                    for (client, stream) in &mut streams {
                        let msg = message(*client, round);
                        reply.resize(msg.len(), 0);
                        stream.read_exact(&mut reply).expect("read reply");
                        assert_eq!(
                            reply,
                            msg.as_bytes(),
                            "client {client} round {round}: wrong reply"
                        );
                    }
                }
                sent
            })
        })
        .collect();
    let sent: u64 = threads
        .into_iter()
        .map(|t| t.join().expect("client thread"))
        .sum();

    // Every stream was moved into (and dropped with) its thread: all clients have closed.
    let stats = running.stats_handle();
    running.shutdown().unwrap();
    let total = stats.snapshot().total();
    assert_eq!(total.accepted, CLIENTS as u64);
    assert_eq!(total.closed, CLIENTS as u64);
    assert_eq!(total.open, 0);
    assert_eq!(total.rejected, 0);
    assert_eq!(total.panics, 0);
    assert_eq!(total.frames_in, (CLIENTS * ROUNDS) as u64);
    assert_eq!(total.frames_out, (CLIENTS * ROUNDS) as u64);
    assert_eq!(total.bytes_in, sent);
    assert_eq!(total.bytes_out, sent);
    assert_eq!(total.output_buffered, 0);
}

/// With 4 reactors, 64 connections (each proven accepted by one echo) land on more than one
/// reactor, and the per-reactor counts add up.
#[test]
fn connections_spread_over_reactors() {
    const CONNS: usize = 64;
    let running = start(config().reactors(4), |_| Echo::raw());
    let addr = running.local_addr();
    let mut streams = Vec::new();
    for i in 0..CONNS {
        let mut stream = connect(addr);
        let msg = format!("hello {i}");
        stream.write_all(msg.as_bytes()).unwrap();
        let mut reply = vec![0; msg.len()];
        stream.read_exact(&mut reply).unwrap();
        assert_eq!(reply, msg.as_bytes());
        streams.push(stream);
    }
    // Stats are published once per loop turn: wait for the last turn's.
    assert!(wait_until(Duration::from_secs(10), || {
        running.stats().total().accepted == CONNS as u64
    }));
    let stats = running.stats();
    assert_eq!(stats.reactors.len(), 4);
    let busy = stats.reactors.iter().filter(|r| r.accepted > 0).count();
    assert!(
        busy >= 2,
        "all {CONNS} connections landed on one reactor: {:?}",
        stats.reactors
    );
    for r in &stats.reactors {
        assert_eq!(r.open, r.accepted, "nothing closed yet: {r:?}");
    }
}
