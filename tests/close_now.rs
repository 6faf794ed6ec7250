//! `close_now` on a connection whose peer is not reading: whole frames, then the goodbye, then
//! EOF; never a torn frame.

mod util;

use std::io::Read;
use std::time::Duration;

use turbine::{Config, Context, Handler, LinesCodec};
use util::{config, start};

/// Frames the handler queues; far more than the socket buffers hold.
const FRAMES: usize = 400;
/// Bytes of each frame's text: odd, so writes stop inside frames.
const FRAME_TEXT: usize = 3001;

/// On `go`, queues [`FRAMES`] numbered lines and, 100 ms later, cuts the connection off with
/// `close_now` and a goodbye, as a slow-consumer policy would.
struct Feeder;

impl Handler for Feeder {
    type Codec = LinesCodec;

    fn codec(&mut self, config: &Config) -> LinesCodec {
        LinesCodec::new(config.frame_limits())
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
        if line == "go" {
            for i in 0..FRAMES {
                ctx.send(format!("{i:05} {}", "x".repeat(FRAME_TEXT - 6)));
            }
            ctx.set_timer(Duration::from_millis(100), 0)
                .expect("a timer");
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, _tag: u64) {
        ctx.close_now();
        ctx.send("! too slow");
    }
}

/// Five times: a client asks for 1.2 MB and reads nothing until the server cuts it off with
/// `close_now` and `! too slow`; then it reads everything: whole numbered frames in order (the
/// one being written when the cut came is finished, the rest are dropped), then the goodbye,
/// then a clean EOF.
#[test]
fn close_now_finishes_the_frame_then_sends_the_goodbye() {
    let running = start(config().reactors(1).send_buffer(Some(8 << 10)), |_| Feeder);
    for round in 0..5 {
        let mut client = util::small_window_client(running.local_addr(), 4 << 10);
        std::io::Write::write_all(&mut client, b"go\n").expect("write");
        std::thread::sleep(Duration::from_millis(300));
        let mut got = Vec::new();
        client.read_to_end(&mut got).expect("a clean EOF");
        let text = String::from_utf8(got).expect("lines of text");
        assert!(
            text.ends_with('\n'),
            "round {round}: the stream ends inside a line"
        );
        let lines: Vec<&str> = text.lines().collect();
        let (goodbye, frames) = lines.split_last().expect("at least the goodbye");
        assert_eq!(*goodbye, "! too slow", "round {round}");
        assert!(frames.len() < FRAMES, "round {round}: nothing was dropped");
        for (i, frame) in frames.iter().enumerate() {
            assert_eq!(frame.len(), FRAME_TEXT, "round {round}: frame {i} is torn");
            assert_eq!(&frame[..6], format!("{i:05} "), "round {round}: frame {i}");
        }
        eprintln!(
            "round {round}: {} whole frames, then the goodbye",
            frames.len()
        );
    }
    running.shutdown().expect("shutdown");
}
