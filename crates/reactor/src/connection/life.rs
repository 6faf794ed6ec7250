//! The states of a connection: its life cycle, its read side and its write side.

use std::time::Instant;

use crate::CloseReason;

/// Where a connection is in its life.
///
/// ```text
///   Connecting ──connected──> Open ──shutdown──> Draining ──quiet moment──┐
///   (outbound)  ──failed──> Closed  │                 │                   v
///                                   └─close, EOF, error, timeout, close_now──> Closing ──output out──> Lingering ──peer FIN──> Closed
///                                                                               │                       │  or deadline
///                                                                               └──nothing to wait for──────────────────> Closed
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Life {
    /// An outbound connection whose connect has not completed; frames sent to it wait.
    Connecting {
        /// When the connect times out.
        deadline: Instant,
    },
    /// A TLS connection whose handshake has not completed; `on_open` comes after it.
    Handshaking {
        /// When the handshake times out (`TURBINE_TLS_HANDSHAKE_TIMEOUT`).
        deadline: Instant,
    },
    /// Frames are decoded and delivered; replies flow.
    Open,
    /// The server is shutting down: served as usual until the first quiet moment (no partial
    /// frame, no output, no job in flight, the socket read until it would block), then closed.
    Draining,
    /// No more frames are delivered; what must still go out goes out, then our FIN.
    Closing {
        /// Why; the first reason wins.
        reason: CloseReason,
        /// What is still sent before the FIN.
        finish: Finish,
    },
    /// Our FIN is out and the peer may still be sending: its input is read and discarded
    /// until its FIN or `until`, so that our close never turns into a reset that could destroy
    /// replies it has not read yet.
    Lingering {
        /// Why the connection closed.
        reason: CloseReason,
        /// When to stop waiting for the peer.
        until: Instant,
    },
    /// Gone; the handler has had its `on_close`.
    Closed(CloseReason),
}

impl Life {
    /// Whether frames are decoded and delivered to the handler.
    pub(crate) fn delivers_frames(&self) -> bool {
        matches!(self, Life::Open | Life::Draining)
    }

    /// Whether the handler may still add output: until our FIN, unless an encoder refused a
    /// frame (the peer would see a gap) or the connection is being reset.
    pub(crate) fn accepts_output(&self) -> bool {
        match self {
            Life::Connecting { .. } | Life::Open | Life::Draining => true,
            Life::Closing { finish, .. } => matches!(finish, Finish::Flush | Finish::Abort { .. }),
            Life::Handshaking { .. } | Life::Lingering { .. } | Life::Closed(_) => false,
        }
    }

    /// Whether the connection still takes frames and broadcasts from other threads (an
    /// outbound one does while it connects: they go out once it is connected).
    pub(crate) fn takes_messages(&self) -> bool {
        matches!(self, Life::Connecting { .. } | Life::Open | Life::Draining)
    }
}

/// What a closing connection still sends before its FIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finish {
    /// Everything: pending output, and the replies of offloaded jobs still running.
    Flush,
    /// Only what was queued before an encoder refused a frame; nothing more is accepted.
    Refused,
    /// `close_now`: the frame being written and what the handler sent after the call, best
    /// effort until `deadline` (the write timeout), or one write if there is none.
    Abort {
        /// When to give up on the peer and close regardless.
        deadline: Option<Instant>,
    },
    /// `reset`: nothing more; the socket is closed with a reset (SO_LINGER 0).
    Reset,
}

/// Whether our side of the stream still sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sending {
    /// It does.
    Open,
    /// `close_write` was called: our FIN goes out once the output before it is written; the
    /// connection keeps reading.
    ShutAfterOutput,
    /// Our FIN is out.
    Shut,
}

/// What the socket's read side is known to hold. mio is edge-triggered: a readiness event comes
/// once, so the connection must remember it until a read shows the socket drained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadSide {
    /// The last read hit `WouldBlock` or came back short: nothing waits until the next event.
    Drained,
    /// Input may be waiting. `fin`: the event also reported the peer's FIN, which will not be
    /// reported again, so a short read does not prove the socket drained: read on until 0.
    Ready {
        /// The peer's FIN was reported.
        fin: bool,
    },
    /// A read returned 0: the peer closed its side.
    Eof,
}

impl ReadSide {
    /// After a readable event.
    pub(crate) fn readable(self, fin: bool) -> ReadSide {
        match self {
            ReadSide::Eof => ReadSide::Eof,
            ReadSide::Ready { fin: before } => ReadSide::Ready { fin: before || fin },
            ReadSide::Drained => ReadSide::Ready { fin },
        }
    }
}

/// Whether the connection is read at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Read as input arrives.
    Flowing,
    /// Output (its own, or its partner's) passed the high watermark: not read until it drains
    /// below the low one, so a peer that sends without reading is slowed by TCP itself.
    Paused,
    /// The handler paused reading (`Context::pause_reading`) until it resumes it.
    Held,
}

/// What the socket's write side is known to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteSide {
    /// Writes go through (as far as we know).
    Writable,
    /// The last write hit `WouldBlock`; a writable event ends this. `since`: when output last
    /// moved, for the write timeout.
    Blocked {
        /// When output last moved.
        since: Instant,
    },
}

/// Whether the output's draining is owed a word: the handler's
/// [`on_writable`](crate::Handler::on_writable), and the partner's wake-up (a partner stops
/// reading while this output is over the high watermark).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drain {
    /// The output has not been over the high watermark since they were last told.
    Clear,
    /// The output went over the high watermark (whatever put it there: a reply, a job's
    /// result, a timer, a partner's relay): tell them once it drains below the low one.
    Owed,
}
