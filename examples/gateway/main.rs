//! Gateway: a line protocol in front of Redis that answers each request from two queries sent
//! at once, so a request takes as long as the slower query, not the sum, and one reactor keeps
//! thousands of requests in flight without a thread per request.
//!
//! Shows outbound connections owned by a reactor: each reactor keeps its own connections to
//! the back end (reactor-local state, no lock), pipelines every client's queries on them with
//! the RESP client codec, and hands each reply to the client connection waiting for it directly
//! (`with_conn`, no channel). Deadlines are connection timers. Exact to
//! `shared/specs/gateway.md`.
//!
//! ```text
//! redis-server --port 6379 &
//! redis-cli hset user:42 name Ann; redis-cli rpush orders:42 o1 o2
//! cargo run --release --example gateway          # on 127.0.0.1:7882
//! nc 127.0.0.1 7882                              # then: USER 42
//! {"user":{"name":"Ann"},"orders":["o1","o2"]}
//! ```
//!
//! Settings: `GATEWAY_REDIS` (default `127.0.0.1:6379`), `GATEWAY_TIMEOUT` (per request,
//! default 1s), `GATEWAY_BACKEND_CONNECTIONS` (per reactor, default 2) and every `TURBINE_*`
//! variable (`TURBINE_ADDR` defaults to `127.0.0.1:7882`).
//!
//! # Layout
//!
//! - `client.rs`: the client's handler: requests, their order, deadlines and answers.
//! - `backend.rs`: the reactor's back-end connections and their handler: pipelining,
//!   reconnecting with back-off, failing waiting requests when a connection drops.
//! - `json.rs`: the answer line; `config.rs`: the `GATEWAY_*` and `TURBINE_*` variables.

mod backend;
mod client;
mod config;
mod json;

use std::process::ExitCode;
use std::sync::Arc;

use client::Client;

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
        "back end {}, request timeout {:?}, {} back-end connections per reactor",
        settings.redis,
        settings.timeout,
        settings.backend_connections
    );
    let settings = Arc::new(settings);
    turbine::run(Ok(config), move |_peer| Client::new(Arc::clone(&settings)))
}
