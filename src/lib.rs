//! Turbine: a framework for TCP servers that speak your own protocol, on one mio event loop per
//! core.
//!
//! This crate is the facade: it re-exports the reactor core ([`turbine_reactor`]) and the codecs
//! ([`turbine_codec`]) so a program depends on `turbine` alone. Start with [`run`], a
//! [`Handler`] and a codec; the [`guide`] walks through the rest.

pub mod guide;

pub use turbine_codec as codec;
pub use turbine_codec::{
    ByteLinesCodec, CodecError, Command, Decoder, DelimiterCodec, Encoder, FrameLimits, HttpCodec,
    LengthDelimitedBuilder, LengthDelimitedCodec, LinesCodec, Oversize, PubSub, RawCodec, ReadBuf,
    Reply, RespClientCodec, RespCodec, Value, VarintLengthCodec,
};
pub use turbine_pool as pool;
pub use turbine_reactor::{
    Cidr, CloseReason, ClosedBy, Config, ConfigError, ConnHandle, ConnId, Connect, ConnectError,
    Connector, Context, FileRegion, FrameIn, FrameOut, HalfClose, Handler, JobError, LoopBusy,
    MAX_FRAMES_IN_FLIGHT, MAX_PROXY_HEADER, MAX_TIMERS, Metrics, MetricsFormat, OffloadError,
    Payload, PoolStats, ProxyHeader, ProxyProtocol, ProxyRead, ProxyVersion, ReactorStats,
    RejectedBy, Rejection, Running, SendError, Server, ShutdownHandle, Stats, StatsHandle,
    TestConnection, TimerError, TimerId, TlsInfo, Tlv, WorkerPriority, broadcast, parse_bool,
    parse_duration, parse_size, prometheus_client, run, run_with, rustls, tls_client_config,
};

/// Compiles the README's code blocks as doc tests, so the README cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
