//! Backpressure: a client that writes without reading is stopped by TCP flow control, and the
//! server's output buffer stays bounded while it is.

mod util;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use util::{ByteStream, Echo, config, connect, start};

/// Bytes the client sends.
const TOTAL: u64 = 64 << 20;
/// Bytes per `write` call.
const PIECE: usize = 64 << 10;
/// Seed of the byte stream.
const SEED: u64 = 0xBAC4;

/// A raw echo client writes 64 MiB without reading: its writes block well before 64 MiB while the
/// server holds at most `write_limit` of output, and once it reads, every byte comes back intact
/// and the server's output peak is still within the limit.
#[test]
fn non_reading_client_blocks_and_output_stays_bounded() {
    let write_limit = 1 << 20;
    let cfg = config()
        .reactors(1)
        .write_high_watermark(64 << 10)
        .write_low_watermark(32 << 10)
        .write_limit(write_limit)
        // Should an assertion fail while the client is not reading, the server's drop does not
        // wait long for it.
        .shutdown_timeout(Duration::from_secs(2));
    let running = start(cfg, |_| Echo::raw());

    let mut stream = connect(running.local_addr());
    // The writer may be blocked for a while by design; give it room.
    stream
        .set_write_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let progress = Arc::new(AtomicU64::new(0));
    let written = Arc::clone(&progress);
    let writing = std::thread::spawn(move || {
        let mut bytes = ByteStream::new(SEED);
        let mut piece = vec![0; PIECE];
        let mut sent = 0;
        while sent < TOTAL {
            bytes.fill(&mut piece);
            writer.write_all(&piece).expect("write");
            sent += PIECE as u64;
            written.store(sent, Ordering::Relaxed);
        }
        writer.shutdown(Shutdown::Write).unwrap();
    });

    // Wait until the writer has made no progress for a second (bounded by 30 s in all).
    let stalled_at = util::wait_stalled(&progress, Duration::from_secs(1), Duration::from_secs(30))
        .unwrap_or_else(|| {
            panic!(
                "the writer never stalled (at {} bytes)",
                progress.load(Ordering::Relaxed)
            )
        });
    eprintln!("writer stalled at {stalled_at} bytes");
    assert!(
        stalled_at < TOTAL / 2,
        "the writer stalled only at {stalled_at} of {TOTAL} bytes"
    );
    let stats = running.stats().total();
    eprintln!("while stalled: {stats:?}");
    assert!(
        stats.output_buffered <= write_limit as u64,
        "output over the write limit while stalled: {stats:?}"
    );
    assert!(
        stats.output_peak <= write_limit as u64,
        "output peak over the write limit: {stats:?}"
    );
    assert!(
        stats.output_buffered > 0,
        "the server should hold some output: {stats:?}"
    );

    // Now read everything back and compare with the regenerated stream as it arrives.
    let mut expected = ByteStream::new(SEED);
    let mut buf = vec![0; 256 << 10];
    let mut want = vec![0; 256 << 10];
    let mut received = 0u64;
    loop {
        let n = stream.read(&mut buf).expect("read the echo");
        if n == 0 {
            break;
        }
        expected.fill(&mut want[..n]);
        if buf[..n] != want[..n] {
            let i = buf[..n].iter().zip(&want[..n]).position(|(a, b)| a != b);
            panic!("echo differs at byte {}", received + i.unwrap_or(0) as u64);
        }
        received += n as u64;
        assert!(received <= TOTAL, "more bytes came back than were sent");
    }
    assert_eq!(received, TOTAL, "the echo ended early");
    writing.join().expect("writer thread");

    let stats = running.stats_handle();
    running.shutdown().unwrap();
    let total = stats.snapshot().total();
    assert!(
        total.output_peak <= write_limit as u64,
        "output peak over the write limit: {total:?}"
    );
    assert_eq!(total.bytes_in, TOTAL);
    assert_eq!(total.bytes_out, TOTAL);
}
