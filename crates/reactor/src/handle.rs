//! `ConnHandle`: send frames to a connection from any thread.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::mailbox::{Mailbox, Message};

/// How many frames may be in a reactor's mailbox for one connection at once. With the write
/// limit this bounds what other threads can make a connection buffer: the write limit plus this
/// many frames.
pub const MAX_FRAMES_IN_FLIGHT: usize = 1024;

/// Names one connection for its whole life: reactor, slab slot and generation.
///
/// Slots are reused after a connection closes; the generation (unique per reactor) tells the
/// new connection in a slot apart from the old one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId {
    /// Index of the reactor that owns the connection.
    pub reactor: usize,
    /// Slot in that reactor's slab.
    pub key: usize,
    /// Generation of the connection in that slot.
    pub generation: u64,
}

/// State a connection shares with its handles; created when the first handle is.
pub(crate) struct ConnShared {
    /// Set by the reactor when the connection closes; sends fail from then on.
    pub(crate) closed: AtomicBool,
    /// Output bytes waiting on the connection, as the reactor last published.
    pub(crate) output: AtomicUsize,
    /// Frames posted through handles and not yet taken by the reactor.
    pub(crate) in_flight: AtomicUsize,
}

impl ConnShared {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(ConnShared {
            closed: AtomicBool::new(false),
            output: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
        })
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
/// the connection has closed or when its output is over the configured write limit (or
/// [`MAX_FRAMES_IN_FLIGHT`] frames are already on their way to it). A handle to a closed
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
    /// `Ok` means the reactor will encode and write it unless the connection closes first.
    ///
    /// # Errors
    ///
    /// [`SendError::Closed`] if the connection is gone, [`SendError::Full`] if its output is
    /// over the write limit or too many frames are in flight; both hand `frame` back.
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
            generation: self.id.generation,
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

    /// Whether the connection is known to have closed.
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
    /// The connection has closed (or its reactor has stopped).
    Closed(F),
    /// The connection's output is over the write limit; retry later or drop the frame.
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
