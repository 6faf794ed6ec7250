//! `Setup`: everything a reactor thread needs, handed over by the server.

use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Receiver;
use mio::net::TcpListener;
use mio::{Poll, Registry};

use super::Accept;
use crate::connector::Command;
use crate::limits::Limits;
use crate::mailbox::Bell;
use crate::offload::PoolCell;
use crate::periodic::Task;
use crate::stats::StatsHandle;
use crate::{Config, ShutdownHandle};

/// A reactor's socket of one listener, the acceptor of its handler type, its TLS, and whether
/// its connections start with a PROXY header.
pub(crate) type Listener = (
    TcpListener,
    Arc<dyn Accept>,
    Option<Arc<rustls::ServerConfig>>,
    bool,
);

/// What the server hands a reactor thread when it starts it.
pub(crate) struct Setup {
    /// The reactor's index.
    pub(crate) index: usize,
    /// Its epoll instance, with its listeners and waker registered.
    pub(crate) poll: Poll,
    /// A second handle on that instance, for registering outbound sockets from connections.
    pub(crate) registry: Registry,
    /// A descriptor held in reserve (`/dev/null`), to shed the backlog when the process runs
    /// out of descriptors; made here, before the thread starts, so the server's descriptors
    /// are all open once `start` returns.
    pub(crate) spare_fd: Option<std::fs::File>,
    /// Its socket of each of the server's listeners, with the acceptor of that listener's
    /// handler, in the order of their tokens.
    pub(crate) listeners: Vec<Listener>,
    /// Rung to wake it.
    pub(crate) bell: Arc<Bell>,
    /// The server's configuration.
    pub(crate) config: Arc<Config>,
    /// The worker pool shared by every reactor.
    pub(crate) pool: Arc<PoolCell>,
    /// Connection caps shared by every reactor.
    pub(crate) limits: Arc<Limits>,
    /// Where it publishes its counters.
    pub(crate) stats: StatsHandle,
    /// The server's shutdown flag.
    pub(crate) shutdown: ShutdownHandle,
    /// Tasks to run every period.
    pub(crate) periodic: Vec<(Duration, Task)>,
    /// Work other threads hand it ([`Connector`](crate::Connector)).
    pub(crate) commands: Receiver<Command>,
}
