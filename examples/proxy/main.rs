//! TCP proxy: every client connection is relayed, byte for byte, to an upstream server, on the
//! same reactor as the client, coupled to it by backpressure.
//!
//! Shows outbound connections: each accepted client opens its upstream with
//! `ctx.connect_partner`, and the two handlers of the pair pass bytes to each other directly
//! (`with_partner`, no channel, no copy beyond the read buffer and the output queue). The
//! framework couples their backpressure, so memory per pair is bounded by the write limit in
//! each direction whatever the peers do; half-closes are relayed (`on_peer_closed` keeps a side
//! writing, `close_write` passes the FIN on), and a side that fails resets the other.
//! Exact to `shared/specs/proxy.md`.
//!
//! ```text
//! cargo run --release --example echo                                  # an upstream, :7878
//! PROXY_UPSTREAMS=127.0.0.1:7878 cargo run --release --example proxy  # on 127.0.0.1:7881
//! nc 127.0.0.1 7881                                                   # echoed through both
//! ```
//!
//! Settings: `PROXY_UPSTREAMS` (required: comma-separated `IP:port`), `PROXY_CONNECT_TIMEOUT`
//! (one upstream connect, default 3s) and every `TURBINE_*` variable (`TURBINE_ADDR` defaults
//! to `127.0.0.1:7881`). A new client goes to the upstream in service with the fewest
//! connections from this process (ties in list order); an upstream whose connect fails is
//! skipped for that client (the next one is tried) and for later ones during a back-off of
//! 1 s, doubling to 30 s. A client that no upstream takes is closed, and a warning logged
//! (at most one a second).
//!
//! # Layout
//!
//! - `relay.rs`: the two handlers of a pair, `Client` and `Upstream`.
//! - `upstreams.rs`: the upstream list, least connections, back-off, rate-limited warnings.
//! - `config.rs`: `PROXY_*` and `TURBINE_*` variables.

mod config;
mod relay;
mod upstreams;

use std::process::ExitCode;
use std::sync::Arc;

use relay::{Client, Shared};
use upstreams::Upstreams;

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let (config, settings) = match config::from_vars(|name| std::env::var(name).ok()) {
        Ok(both) => both,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    log::info!(
        "upstreams: {:?}, connect timeout {:?}",
        settings.upstreams,
        settings.connect_timeout
    );
    let shared = Arc::new(Shared {
        upstreams: Upstreams::new(&settings.upstreams),
        connect_timeout: settings.connect_timeout,
    });
    turbine::run(Ok(config), move |_peer| Client::new(Arc::clone(&shared)))
}
