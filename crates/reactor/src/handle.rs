//! `ConnHandle`: send frames to a connection from any thread.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::mailbox::{Mailbox, Message};

/// How many frames may be in a reactor's mailbox for one connection at once. With the write
/// limit this bounds what other threads can make a connection buffer: the write limit plus this
/// many frames.
pub const MAX_FRAMES_IN_FLIGHT: usize = 1024;

/// Names one connection: unique in the process for its whole life, across every server and
/// [`TestConnection`](crate::TestConnection) the process runs, so a registry keyed by it never
/// confuses two connections.
///
/// It also says where the connection lives (its reactor and slab slot), which is how a
/// [`ConnHandle`] reaches it; slots are reused, serial numbers never are, so a handle to a
/// closed connection can never reach the next connection in its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    /// Serial number in the process; first, so ids order by age.
    serial: u64,
    /// Index of the reactor that owns the connection.
    reactor: usize,
    /// Slot in that reactor's slab.
    key: usize,
}

impl ConnId {
    pub(crate) fn new(reactor: usize, key: usize, serial: u64) -> Self {
        ConnId {
            serial,
            reactor,
            key,
        }
    }

    /// Index of the reactor that owns the connection (0-based).
    pub fn reactor(&self) -> usize {
        self.reactor
    }

    /// The connection's slot in its reactor's table; a later connection may reuse it.
    pub fn slot(&self) -> usize {
        self.key
    }

    /// A number no other connection of this process has had or will have.
    pub fn serial(&self) -> u64 {
        self.serial
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.serial)
    }
}

/// State a connection shares with its handles; created when the first handle is.
#[derive(Debug)]
pub(crate) struct ConnShared {
    /// Set by the reactor when the connection stops taking messages (it is closing, or gone);
    /// sends fail from then on.
    closed: AtomicBool,
    /// Output bytes waiting on the connection, as the reactor last published.
    output: AtomicUsize,
    /// Frames posted through handles and not yet taken by the reactor.
    in_flight: AtomicUsize,
}

impl ConnShared {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(ConnShared {
            closed: AtomicBool::new(false),
            output: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
        })
    }

    /// The connection takes no more messages.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// Publishes the connection's pending output.
    pub(crate) fn publish(&self, output: usize) {
        self.output.store(output, Ordering::Relaxed);
    }

    /// The reactor took one frame sent through a handle; `output` is the connection's pending
    /// output with it.
    pub(crate) fn took_frame(&self, output: usize) {
        // Publish the grown output before the frame stops counting as in flight, so a sender
        // always sees it in one or the other: what handles can make a connection buffer stays
        // within the write limit plus the frames in flight.
        self.output.store(output, Ordering::SeqCst);
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Sends frames to one connection from any thread; `Send + Clone`, cheap to clone.
///
/// Get one with [`Context::handle`](crate::Context::handle). A send goes through the owning
/// reactor's mailbox, is encoded there by the connection's encoder, and leaves in the same
/// write as anything else queued in that turn. Frames from one handle (or from clones used on
/// one thread) arrive in the order they were sent.
///
/// A send never blocks and never buffers without bound: it fails, handing the frame back, when
/// the connection is closing or closed, or when its output is over the configured write limit
/// (or [`MAX_FRAMES_IN_FLIGHT`] frames are already on their way to it). A handle to a closed
/// connection can never reach a later connection that reuses its slot.
pub struct ConnHandle<F> {
    /// Which connection.
    id: ConnId,
    /// The owning reactor's mailbox.
    mailbox: Arc<Mailbox<F>>,
    /// Flags and counters shared with the connection.
    shared: Arc<ConnShared>,
    /// Output bytes above which sends fail with [`SendError::Full`].
    write_limit: usize,
}

impl<F> ConnHandle<F> {
    pub(crate) fn new(
        id: ConnId,
        mailbox: Arc<Mailbox<F>>,
        shared: Arc<ConnShared>,
        write_limit: usize,
    ) -> Self {
        ConnHandle {
            id,
            mailbox,
            shared,
            write_limit,
        }
    }

    /// Queues `frame` for the connection.
    ///
    /// `Ok` means the reactor will encode and write it unless the connection starts closing
    /// first.
    ///
    /// # Errors
    ///
    /// [`SendError::Closed`] if the connection is closing or gone, [`SendError::Full`] if its
    /// output is over the write limit (`TURBINE_WRITE_LIMIT`) or [`MAX_FRAMES_IN_FLIGHT`]
    /// frames are already on their way to it; both hand `frame` back.
    pub fn send(&self, frame: F) -> Result<(), SendError<F>> {
        if self.is_closed() {
            return Err(SendError::Closed(frame));
        }
        // Count the frame in flight first, then look at the output: the reactor publishes a
        // delivered frame's output before it stops counting it in flight, so no frame is ever
        // missed by both checks.
        let in_flight = self.shared.in_flight.fetch_add(1, Ordering::SeqCst);
        let output = self.shared.output.load(Ordering::SeqCst);
        if in_flight >= MAX_FRAMES_IN_FLIGHT || output > self.write_limit {
            self.shared.in_flight.fetch_sub(1, Ordering::SeqCst);
            return Err(SendError::Full(frame));
        }
        let msg = Message::Send {
            key: self.id.key,
            serial: self.id.serial,
            frame,
        };
        self.mailbox.post(msg).map_err(|msg| {
            self.shared.in_flight.fetch_sub(1, Ordering::SeqCst);
            let Message::Send { frame, .. } = msg else {
                unreachable!("the mailbox hands back the message it was given")
            };
            SendError::Closed(frame)
        })
    }

    /// Closes the connection from any thread, as [`Context::close`](crate::Context::close) does
    /// on its reactor: frames sent before this call (from this thread) are written, then the
    /// connection closes with [`CloseReason::Closed`](crate::CloseReason::Closed). Does nothing
    /// if it is already closing.
    pub fn close(&self) {
        if self.is_closed() {
            return;
        }
        let msg = Message::Close {
            key: self.id.key,
            serial: self.id.serial,
        };
        // Fails only if the reactor has stopped: the connection is gone then.
        let _ = self.mailbox.post(msg);
    }

    /// Whether the connection is known to be closing or closed: sends fail from then on.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// The connection this handle names.
    pub fn id(&self) -> ConnId {
        self.id
    }

    /// The owning reactor's mailbox (for [`broadcast`](crate::broadcast)).
    pub(crate) fn mailbox(&self) -> &Arc<Mailbox<F>> {
        &self.mailbox
    }
}

impl<F> Clone for ConnHandle<F> {
    fn clone(&self) -> Self {
        ConnHandle {
            id: self.id,
            mailbox: Arc::clone(&self.mailbox),
            shared: Arc::clone(&self.shared),
            write_limit: self.write_limit,
        }
    }
}

impl<F> fmt::Debug for ConnHandle<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnHandle")
            .field("id", &self.id)
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Why a [`ConnHandle::send`] failed; holds the frame that was not sent.
pub enum SendError<F> {
    /// The connection is closing or closed (or its reactor has stopped).
    Closed(F),
    /// The connection's output is over the write limit, or [`MAX_FRAMES_IN_FLIGHT`] frames are
    /// already on their way to it; retry later or drop the frame.
    Full(F),
}

impl<F> SendError<F> {
    /// The frame that was not sent.
    pub fn into_inner(self) -> F {
        match self {
            SendError::Closed(f) | SendError::Full(f) => f,
        }
    }
}

impl<F> fmt::Debug for SendError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed(_) => f.write_str("Closed(..)"),
            SendError::Full(_) => f.write_str("Full(..)"),
        }
    }
}

impl<F> fmt::Display for SendError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed(_) => f.write_str("connection closed"),
            SendError::Full(_) => f.write_str("connection output over its write limit"),
        }
    }
}

impl<F> std::error::Error for SendError<F> {}
