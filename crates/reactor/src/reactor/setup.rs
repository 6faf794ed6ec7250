//! `Setup`: everything a reactor thread needs, handed over by the server.

use std::sync::Arc;
use std::time::Duration;

use mio::Poll;
use mio::net::TcpListener;

use super::Accept;
use crate::limits::Limits;
use crate::mailbox::Bell;
use crate::offload::PoolCell;
use crate::periodic::Task;
use crate::stats::StatsHandle;
use crate::{Config, ShutdownHandle};

/// What the server hands a reactor thread when it starts it.
pub(crate) struct Setup {
    /// The reactor's index.
    pub(crate) index: usize,
    /// Its epoll instance, with its listeners and waker registered.
    pub(crate) poll: Poll,
    /// Its socket of each of the server's listeners, with the acceptor of that listener's
    /// handler, in the order of their tokens.
    pub(crate) listeners: Vec<(TcpListener, Arc<dyn Accept>)>,
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
}
