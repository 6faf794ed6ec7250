//! The lingering close: used where unread input could turn our close into a reset that destroys
//! replies in flight, and nowhere else.

mod util;

use std::io::Write;
use std::net::Shutdown;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use turbine::{Config, Context, Handler, LinesCodec};
use util::hardening::{End, read_until_end};
use util::{Echo, config, connect, start, wait_until};

/// With the linger timeout at 30 s, `Running::shutdown()` with one idle client connected (it
/// sent nothing, or its last request was answered long ago) returns long before the linger
/// timeout: an idle connection has nothing in flight and is closed at once, not lingered on.
/// The client sees a clean EOF.
#[test]
fn shutdown_does_not_linger_on_an_idle_client() {
    let running = start(
        config()
            .reactors(1)
            .linger_timeout(Some(Duration::from_secs(30))),
        |_| Echo::lines(),
    );
    let mut client = connect(running.local_addr());
    assert!(
        wait_until(Duration::from_secs(10), || running.stats().total().open
            == 1),
        "the client is accepted"
    );
    let began = Instant::now();
    running.shutdown().expect("shutdown");
    let took = began.elapsed();
    assert!(took < Duration::from_secs(10), "shutdown took {took:?}");
    let (got, end) = read_until_end(&mut client, Duration::from_secs(5));
    assert_eq!((got.len(), end), (0, End::Eof));
    eprintln!("shutdown with one idle client took {took:?}");
}

/// Lines of the reply to `big`.
const BIG_LINES: usize = 2000;

/// Echoes lines; `big` answers with [`BIG_LINES`] lines of 1,000 bytes; `quit` closes.
struct Quitter;

impl Handler for Quitter {
    type Codec = LinesCodec;

    fn codec(&mut self, config: &Config) -> LinesCodec {
        LinesCodec::new(config.frame_limits())
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
        match line.as_str() {
            "quit" => ctx.close(),
            "big" => (0..BIG_LINES).for_each(|i| ctx.send(format!("{i:0>1000}"))),
            _ => ctx.send(line),
        }
    }
}

/// A client that pipelines requests after `quit` while it reads a large reply slowly: the
/// server's close finds input it will never read, arriving as it closes. The server lingers
/// (our FIN after the last reply byte, then reads and discards until the client's FIN), so the
/// client reads the whole reply and a clean EOF; closing at once would answer the late input
/// with a reset that destroys the tail of the reply still in the server's kernel buffers.
#[test]
fn close_with_input_still_coming_lingers_and_the_reply_arrives() {
    let running = start(config().reactors(1), |_| Quitter);
    for round in 0..3 {
        let mut client = util::small_window_client(running.local_addr(), 8 << 10);
        let mut writer = client.try_clone().unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&done);
        let writing = std::thread::spawn(move || {
            writer.write_all(b"big\nquit\n").expect("write");
            // Requests the server will never answer, until the client has read to the end.
            while !stop.load(Ordering::Relaxed) {
                if writer.write_all(b"more\n").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            let _ = writer.shutdown(Shutdown::Write);
        });
        std::thread::sleep(Duration::from_millis(100));
        let (got, end) = read_until_end(&mut client, Duration::from_secs(20));
        done.store(true, Ordering::Relaxed);
        writing.join().expect("writer");
        assert_eq!(
            end,
            End::Eof,
            "round {round}: a reset instead of a clean close"
        );
        assert_eq!(
            got.len(),
            BIG_LINES * 1001,
            "round {round}: the reply was cut"
        );
    }
    running.shutdown().expect("shutdown");
}
