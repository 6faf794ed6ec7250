//! `Peer`: the six echo servers this benchmark compares (and Turbine's two with the metrics
//! listener on, for `--metrics`), and starting one in this process.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};
use turbine::Running;

use crate::{blocking_echo, mio_echo, tokio_echo, turbine_echo};

/// Listen backlog of every peer's listener: Turbine's default (`TURBINE_BACKLOG`), so no server
/// refuses a burst of connects that another accepts.
const BACKLOG: i32 = 1024;

/// What a server expects on the wire, which decides how the load generator frames messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wire {
    /// Any bytes; each read's bytes go back as they came.
    Raw,
    /// `\n`-terminated lines, decoded and encoded one by one.
    Lines,
}

impl Wire {
    /// The name used in tables and file names.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Wire::Raw => "raw",
            Wire::Lines => "lines",
        }
    }

    /// The load generator's framing for this wire format.
    pub(crate) fn framing(self) -> turbine_load::Framing {
        match self {
            Wire::Raw => turbine_load::Framing::Raw,
            Wire::Lines => turbine_load::Framing::Lines,
        }
    }
}

/// One of the echo servers under comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Peer {
    /// Turbine, one reactor, `RawCodec`.
    TurbineRaw,
    /// Turbine, one reactor, `LinesCodec`.
    TurbineLines,
    /// A bare mio loop on one thread: the least code that echoes correctly.
    MioRaw,
    /// The standard tokio echo: `current_thread` runtime, a task per connection.
    TokioRaw,
    /// tokio with tokio-util's `Framed<TcpStream, LinesCodec>`, one task per connection.
    TokioLines,
    /// A thread per connection with blocking `read` and `write_all`.
    BlockingRaw,
    /// [`TurbineRaw`](Peer::TurbineRaw) with the metrics listener on, scraped once a second.
    TurbineRawMetrics,
    /// [`TurbineLines`](Peer::TurbineLines) with the metrics listener on, scraped once a
    /// second.
    TurbineLinesMetrics,
}

impl Peer {
    /// Every peer, in the order tables list them.
    pub(crate) const ALL: [Peer; 6] = [
        Peer::TurbineRaw,
        Peer::MioRaw,
        Peer::TokioRaw,
        Peer::BlockingRaw,
        Peer::TurbineLines,
        Peer::TokioLines,
    ];

    /// The pairs `--metrics` compares: each Turbine server with the metrics listener off and
    /// on.
    pub(crate) const METRICS: [(Peer, Peer); 2] = [
        (Peer::TurbineRaw, Peer::TurbineRawMetrics),
        (Peer::TurbineLines, Peer::TurbineLinesMetrics),
    ];

    /// The name given to `--serve` and shown in tables.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Peer::TurbineRaw => "turbine-raw",
            Peer::TurbineLines => "turbine-lines",
            Peer::MioRaw => "mio-raw",
            Peer::TokioRaw => "tokio-raw",
            Peer::TokioLines => "tokio-lines",
            Peer::BlockingRaw => "blocking-raw",
            Peer::TurbineRawMetrics => "turbine-raw-metrics",
            Peer::TurbineLinesMetrics => "turbine-lines-metrics",
        }
    }

    /// The peer called `name`, if any.
    pub(crate) fn from_name(name: &str) -> Option<Peer> {
        let metrics = Peer::METRICS.into_iter().map(|(_, on)| on);
        Peer::ALL
            .into_iter()
            .chain(metrics)
            .find(|peer| peer.name() == name)
    }

    /// The arguments that make this binary serve this peer (see the `--serve` mode).
    pub(crate) fn serve_args(self) -> [&'static str; 2] {
        ["--serve", self.name()]
    }

    /// What the server expects on the wire.
    pub(crate) fn wire(self) -> Wire {
        match self {
            Peer::TurbineLines | Peer::TokioLines | Peer::TurbineLinesMetrics => Wire::Lines,
            _ => Wire::Raw,
        }
    }

    /// Binds `addr` and starts serving on threads of this process; returns at once. With
    /// `threads` (the scaling mode), Turbine raw runs that many reactors and tokio raw a
    /// multi-threaded runtime of that many workers; otherwise every peer serves on one thread.
    ///
    /// # Errors
    ///
    /// Binding the listener or spawning the serving thread failed.
    pub(crate) fn serve(self, addr: SocketAddr, threads: Option<usize>) -> io::Result<Serving> {
        match (self, threads) {
            (Peer::TurbineRaw, threads) => turbine_echo::start_raw(addr, threads.unwrap_or(1)),
            (Peer::TokioRaw, Some(workers)) => {
                tokio_echo::start_raw_multi(addr, workers).map(Serving::detached)
            }
            (peer, _) => peer.serve_one(addr),
        }
    }

    /// [`serve`](Peer::serve) on one thread.
    fn serve_one(self, addr: SocketAddr) -> io::Result<Serving> {
        match self {
            Peer::TurbineRaw => turbine_echo::start_raw(addr, 1),
            Peer::TurbineLines => turbine_echo::start_lines(addr),
            Peer::TurbineRawMetrics => turbine_echo::start_raw_metrics(addr),
            Peer::TurbineLinesMetrics => turbine_echo::start_lines_metrics(addr),
            Peer::MioRaw => mio_echo::start(addr).map(Serving::detached),
            Peer::TokioRaw => tokio_echo::start_raw(addr).map(Serving::detached),
            Peer::TokioLines => tokio_echo::start_lines(addr).map(Serving::detached),
            Peer::BlockingRaw => blocking_echo::start(addr).map(Serving::detached),
        }
    }
}

/// A server started in this process.
pub(crate) struct Serving {
    /// The address its listener is bound to, with the port the kernel chose for port 0.
    pub addr: SocketAddr,
    /// Turbine's reactors stop when this drops; the other peers serve on detached threads and
    /// stop with the process.
    _running: Option<Running>,
}

impl Serving {
    /// A Turbine server: its reactors run as long as `running` lives.
    pub(crate) fn turbine(running: Running) -> Serving {
        Serving {
            addr: running.local_addr(),
            _running: Some(running),
        }
    }

    /// A server whose threads are detached: nothing to keep.
    fn detached(addr: SocketAddr) -> Serving {
        Serving {
            addr,
            _running: None,
        }
    }
}

/// A blocking listener on `addr` with SO_REUSEADDR, SO_REUSEPORT and a backlog of [`BACKLOG`],
/// the same socket options as Turbine's listeners; callers make it non-blocking as they need.
///
/// # Errors
///
/// `socket`, `setsockopt`, `bind` or `listen` failed.
pub(crate) fn bind_listener(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}
