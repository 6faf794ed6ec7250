//! Echo server: every frame that arrives goes straight back.
//!
//! Shows the smallest complete Turbine program: a handler generic over its codec, started with
//! `turbine::run`, configured from the environment, stopped by Ctrl-C or SIGTERM.
//!
//! ```text
//! cargo run --release --example echo                      # raw bytes on 127.0.0.1:7878
//! ECHO_FRAMING=lines cargo run --release --example echo   # one line at a time
//! ECHO_FRAMING=length cargo run --release --example echo  # 4-byte big-endian length + payload
//! nc 127.0.0.1 7878                                       # type; every line comes back
//! ```
//!
//! Every `TURBINE_*` variable applies (see the README), e.g. `TURBINE_REACTORS=1` or
//! `TURBINE_ADDR=[::1]:9000`; `RUST_LOG=debug` shows each connection's close.

use std::process::ExitCode;

use turbine::{
    Config, Context, Decoder, Encoder, Handler, LengthDelimitedCodec, LinesCodec, RawCodec,
};

/// Echoes each frame back, whatever the framing: the codec decides what a frame is.
struct Echo<C> {
    /// Builds this connection's codec from the configuration.
    codec: fn(&Config) -> C,
}

impl<C, T> Handler for Echo<C>
where
    C: Decoder<Item = T> + Encoder<Item = T> + 'static,
    T: Send + 'static,
{
    type Codec = C;

    fn codec(&mut self, config: &Config) -> C {
        (self.codec)(config)
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, frame: T) {
        ctx.send(frame);
    }
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let config = Config::from_env();
    match std::env::var("ECHO_FRAMING").as_deref() {
        Err(_) | Ok("raw") => turbine::run(config, |_peer| Echo {
            codec: |_| RawCodec::new(),
        }),
        Ok("lines") => turbine::run(config, |_peer| Echo {
            codec: |c| LinesCodec::new(c.frame_limits()),
        }),
        Ok("length") => turbine::run(config, |_peer| Echo {
            codec: |c| LengthDelimitedCodec::new(c.frame_limits()),
        }),
        Ok(other) => {
            eprintln!("configuration error: ECHO_FRAMING={other:?}: expected raw, lines or length");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use turbine::{CloseReason, CodecError, TestConnection};

    /// Lines come back one frame at a time, however the input is split.
    #[test]
    fn lines_echo_whatever_the_chunking() {
        let input = b"one\r\ntwo\nthree\n";
        for split in 0..=input.len() {
            let mut conn = TestConnection::new(Echo {
                codec: |c: &Config| LinesCodec::new(c.frame_limits()),
            });
            conn.push(&input[..split]);
            conn.push(&input[split..]);
            assert_eq!(conn.take_output(), b"one\ntwo\nthree\n", "split at {split}");
        }
    }

    /// Length-delimited frames, the empty one included, come back framed the same way.
    #[test]
    fn length_frames_echo() {
        let mut conn = TestConnection::new(Echo {
            codec: |c: &Config| LengthDelimitedCodec::new(c.frame_limits()),
        });
        let input = [&[0, 0, 0, 2][..], b"hi", &[0, 0, 0, 0]].concat();
        conn.push(&input);
        assert_eq!(conn.take_output(), input);
    }

    /// A line over the maximum closes the connection with a decode error; what was echoed
    /// before it still goes out.
    #[test]
    fn too_long_line_closes() {
        let config = Config::new().max_frame(8);
        let mut conn = TestConnection::with_config(
            Echo {
                codec: |c: &Config| LinesCodec::new(c.frame_limits()),
            },
            config,
        );
        conn.push(b"short\nthis line is too long");
        assert_eq!(conn.take_output(), b"short\n");
        assert!(matches!(
            conn.close_reason(),
            Some(CloseReason::Decode(CodecError::FrameTooLong { max: 8, .. }))
        ));
    }

    /// Raw bytes come back as they arrived, and end of stream closes cleanly.
    #[test]
    fn raw_echo_then_eof() {
        let mut conn = TestConnection::new(Echo {
            codec: |_: &Config| RawCodec::new(),
        });
        conn.push(b"\x00\xffbytes");
        conn.push_eof();
        assert_eq!(conn.take_output(), b"\x00\xffbytes");
        assert_eq!(conn.close_reason(), Some(&CloseReason::PeerClosed));
    }
}
