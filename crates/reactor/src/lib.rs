//! Turbine's core: one mio event loop (reactor) per core, each with its own SO_REUSEPORT
//! listener on the same address, serving connections through a user's [`Handler`].
//!
//! # Layout
//!
//! - [`Config`]: every setting declared once in `settings.rs` (field, default, bounds,
//!   `TURBINE_*` variable, meaning) through the macro in `settings/declare.rs`; the value
//!   kinds (`settings/kind.rs`, the text ones in `settings/text_kinds.rs`) and their grammar
//!   (`settings/grammar.rs`); `TURBINE_*` variables no setting reads (`settings/unknown.rs`);
//!   tests holding the README's table to the declarations (`settings/readme.rs`). Reading,
//!   checking and showing them in `config.rs`, tested in `config/tests.rs`.
//! - [`Server`] and [`Running`] (`server.rs`): bind the listeners (`listener.rs`), start and
//!   join the reactors, run periodic tasks on them (`periodic.rs`); [`run`] (`run.rs`) adds
//!   signal handling for a program's `main`.
//! - The reactor loop (`reactor.rs`) and its parts (`reactor/`): what a thread is handed
//!   (`setup.rs`), accepting (`accept.rs`), draining the mailboxes (`inbox.rs`), graceful stop
//!   (`stop.rs`).
//! - What a reactor lends its connections (`core.rs`): clock, buffers, run queue, the deadline
//!   heap (`timers.rs`), counters, reactor-local state, and the connections themselves: the
//!   connection table (`core/conns.rs`), out of which a connection is taken while it runs, so
//!   that its callbacks can reach the others; opening an outbound connection
//!   (`core/connect.rs`).
//! - A connection (`connection.rs` and `connection/`): its state with one owner, the serve path
//!   top to bottom (`serve.rs`), closing (`close.rs`), deadlines (`deadlines.rs`), messages
//!   (`deliver.rs`), connecting and what partners do to each other (`outbound.rs`), the state
//!   enums (`life.rs`); its output queue (`output.rs`: bytes, shared payloads, and
//!   [`FileRegion`]s (`file_region.rs`) the socket sends with `sendfile`), its own timers
//!   (`conn_timers.rs`), socket options (`socket.rs`), limits shared across reactors
//!   (`limits.rs`).
//! - TLS: the rustls server configuration from `TURBINE_TLS_*`, the certificate that SIGHUP
//!   reloads and what a handler learns of a session (`tls.rs`); a TCP stream with a rustls
//!   session on it (`tls_stream.rs`); a connection's socket, plain or TLS (`stream.rs`).
//! - The user-facing API: [`Handler`] (`handler.rs`), [`Context`] (`context.rs`), [`ConnHandle`]
//!   (`handle.rs`) backed by each reactor's mailboxes (`mailbox.rs`), [`ShutdownHandle`]
//!   (`shutdown.rs`) and [`Stats`] (`stats.rs`; counts by reason in `stats/reasons.rs`, the
//!   loop's busy-time histogram in `stats/busy.rs`).
//! - Metrics (`metrics.rs`): the [`Metrics`] registry (`prometheus-client`) with the server's
//!   own figures read from the stats at scrape time (`metrics/collector.rs`), and the
//!   `TURBINE_METRICS_ADDR` listener's HTTP handler (`metrics/endpoint.rs`), which picks the
//!   format from `Accept` (`metrics/negotiate.rs`).
//! - Outbound connections: [`Context::connect`] and [`Context::connect_partner`] take a
//!   [`Connect`] and fail to start with a [`ConnectError`] (`connect.rs`); a [`Connector`]
//!   (`connector.rs`) opens them from other threads.
//! - Offloading (`offload.rs`): [`Context::offload`] runs CPU-bound jobs on a worker pool
//!   (`turbine-pool`) and brings results back in request order.
//! - [`broadcast`] (`broadcast.rs`): one [`Payload`], encoded once, to many connections, one
//!   mailbox message per reactor, stored once (`output.rs` queues it by reference).
//! - [`TestConnection`] (`test_connection.rs`): a handler and its codec driven by the same
//!   connection code over an in-memory socket (`memory_socket.rs`), for testing a protocol
//!   without a reactor.
//!
//! # Guarantees
//!
//! - A reactor never blocks: sockets are non-blocking, outbound connects included, names are
//!   never resolved on it ([`Context::resolve`] uses the worker pool), and every loop over one
//!   connection is bounded (reads per turn, accepts per turn, mailbox messages per turn).
//! - An idle connection holds no buffer: reads land in the reactor's shared buffer, and a
//!   connection keeps bytes only for an unfinished frame or unsent output.
//! - Backpressure is enforced: reading from a connection pauses while its output, or its
//!   partner's, is above the high watermark; sends from other threads fail past the write
//!   limit.
//! - A panic in a handler closes that connection only.
//! - Outbound connections are connections like the others: the same connection cap, timeouts,
//!   backpressure, panic isolation, graceful shutdown and stats.
//! - A callback reaching another connection ([`Context::with_conn`],
//!   [`Context::with_partner`]) never re-enters it: a connection is out of the reactor's table
//!   while it runs a callback, so a call that would reach it (from the connection it called,
//!   say) does nothing and `with_conn` gives `None`.
//!
//! # Example
//!
//! ```
//! use turbine_reactor::{Config, Context, Handler, Server};
//! use turbine_codec::LinesCodec;
//!
//! struct Echo;
//!
//! impl Handler for Echo {
//!     type Codec = LinesCodec;
//!     fn codec(&mut self, config: &Config) -> LinesCodec {
//!         LinesCodec::new(config.frame_limits())
//!     }
//!     fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
//!         ctx.send(line);
//!     }
//! }
//!
//! let server = Server::bind(Config::new().addr("127.0.0.1:0".parse().unwrap()))?;
//! let running = server.start(|_peer| Echo)?;
//! running.shutdown()?;
//! # Ok::<(), std::io::Error>(())
//! ```

mod addrs;
mod broadcast;
mod cidr;
mod config;
mod conn_timers;
mod connect;
mod connection;
mod connector;
mod context;
mod core;
mod file_region;
mod handle;
mod handler;
mod limits;
mod listener;
mod mailbox;
mod memory_socket;
mod metrics;
mod offload;
mod output;
mod periodic;
mod preface;
mod proxy_protocol;
mod reactor;
mod run;
mod server;
mod settings;
mod shutdown;
mod socket;
mod stats;
mod stream;
mod test_connection;
mod timers;
mod tls;
mod tls_stream;

pub use broadcast::{Payload, broadcast};
pub use cidr::Cidr;
pub use config::ConfigError;
pub use conn_timers::{MAX_TIMERS, TimerError, TimerId};
pub use connect::{Connect, ConnectError};
pub use connector::Connector;
pub use context::Context;
pub use file_region::FileRegion;
pub use handle::{ConnHandle, ConnId, MAX_FRAMES_IN_FLIGHT, SendError};
pub use handler::{CloseReason, FrameIn, FrameOut, HalfClose, Handler, Rejection};
pub use metrics::{Metrics, MetricsFormat};
pub use offload::OffloadError;
/// The Prometheus client this crate is built with, whose registry [`Metrics`] holds: naming it
/// from here keeps the versions in step.
pub use prometheus_client;
pub use proxy_protocol::{
    MAX_PROXY_HEADER, ProxyHeader, ProxyProtocol, ProxyRead, ProxyVersion, Tlv,
};
pub use run::{run, run_with};
/// The rustls this crate is built with, for programs that build their own `ServerConfig`
/// ([`Server::with_tls`], [`Server::listen_tls`]): naming it from here keeps the versions in
/// step.
pub use rustls;
pub use server::{Running, Server};
pub use settings::{Config, parse_bool, parse_duration, parse_size};
pub use shutdown::ShutdownHandle;
pub use stats::{ClosedBy, LoopBusy, ReactorStats, RejectedBy, Stats, StatsHandle};
pub use test_connection::TestConnection;
pub use tls::{TlsInfo, tls_client_config};
pub use turbine_pool::{JobError, PoolStats, WorkerPriority};
