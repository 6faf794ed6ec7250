//! The Turbine echo handlers the benchmarks run (the echo example's handler, one per framing).

use turbine::{Config, Context, Handler, LinesCodec, RawCodec};

/// Echoes raw bytes: each read's bytes go back as they came.
pub(crate) struct RawEcho;

impl Handler for RawEcho {
    type Codec = RawCodec;

    fn codec(&mut self, _config: &Config) -> RawCodec {
        RawCodec::new()
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, bytes: Vec<u8>) {
        ctx.send(bytes);
    }
}

/// Echoes lines: the codec strips the `\n` on the way in and appends it on the way out.
pub(crate) struct LineEcho;

impl Handler for LineEcho {
    type Codec = LinesCodec;

    fn codec(&mut self, config: &Config) -> LinesCodec {
        LinesCodec::new(config.max_frame)
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
        ctx.send(line);
    }
}
