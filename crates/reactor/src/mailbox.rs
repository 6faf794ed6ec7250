//! A reactor's mailboxes: messages for its connections from other threads, and the one wake-up
//! that announces them.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::{Receiver, Sender};
use mio::Waker;

use crate::offload::Outcome;
use crate::reactor::{Inbox, inbox_for};
use crate::{FrameOut, Handler};

/// A message for one of a reactor's connections, from another thread (or from a job).
pub(crate) enum Message<F> {
    /// Encode `frame` onto connection `key` if it is still the one numbered `serial`.
    Send {
        /// Slab key of the connection.
        key: usize,
        /// Serial number of the connection the sender meant.
        serial: u64,
        /// The frame to encode.
        frame: F,
    },
    /// The result of job number `seq` that connection `key` offloaded.
    Offloaded {
        /// Slab key of the connection.
        key: usize,
        /// Serial number of the connection that offloaded the job.
        serial: u64,
        /// The job's place in that connection's sequence.
        seq: u64,
        /// Its result.
        outcome: Outcome,
    },
    /// Queue `payload` (already encoded) on each target that is still the same connection.
    Broadcast {
        /// The bytes, shared by every target.
        payload: Arc<[u8]>,
        /// Slab key and serial number of each target on this reactor.
        targets: Vec<(usize, u64)>,
    },
    /// Close connection `key` once what was sent before this message is flushed.
    Close {
        /// Slab key of the connection.
        key: usize,
        /// Serial number of the connection the sender meant.
        serial: u64,
    },
}

/// What a [`Message`] asks of one connection.
pub(crate) enum Letter<F> {
    /// Encode and send a frame.
    Frame(F),
    /// Queue a broadcast payload.
    Broadcast(Arc<[u8]>),
    /// A job's result.
    Outcome {
        /// The job's place in the connection's sequence.
        seq: u64,
        /// Its result.
        outcome: Outcome,
    },
    /// Close after what came before.
    Close,
}

impl<F> Message<F> {
    /// Calls `deliver` with each addressee (slab key, serial) and what is for it: one for most
    /// messages, one per target of a broadcast.
    pub(crate) fn open(self, mut deliver: impl FnMut(usize, u64, Letter<F>)) {
        match self {
            Message::Send { key, serial, frame } => deliver(key, serial, Letter::Frame(frame)),
            Message::Offloaded {
                key,
                serial,
                seq,
                outcome,
            } => deliver(key, serial, Letter::Outcome { seq, outcome }),
            Message::Broadcast { payload, targets } => {
                for (key, serial) in targets {
                    deliver(key, serial, Letter::Broadcast(Arc::clone(&payload)));
                }
            }
            Message::Close { key, serial } => deliver(key, serial, Letter::Close),
        }
    }
}

/// Wakes one reactor: its `Waker` and a flag that collapses a burst of posts into one wake-up.
pub(crate) struct Bell {
    /// Wakes the reactor's `Poll`; shared with the shutdown handle.
    waker: Arc<Waker>,
    /// Set by the first post after the reactor last answered; cleared by the reactor.
    rung: AtomicBool,
}

impl Bell {
    pub(crate) fn new(waker: Arc<Waker>) -> Arc<Bell> {
        Arc::new(Bell {
            waker,
            rung: AtomicBool::new(false),
        })
    }

    /// The reactor's waker (for the shutdown handle).
    pub(crate) fn waker(&self) -> Arc<Waker> {
        Arc::clone(&self.waker)
    }

    /// Wakes the reactor unless a wake-up is already pending.
    pub(crate) fn ring(&self) {
        // SeqCst pairs with `answer`: either the reactor sees the message in the drain that
        // follows its reset, or this swap sees `false` and wakes it again.
        if !self.rung.swap(true, Ordering::SeqCst) {
            // A failed wake means the poll instance is gone, i.e. the reactor stopped; the
            // message is then dropped with the channel.
            let _ = self.waker.wake();
        }
    }

    /// Called by the reactor before it drains its mailboxes: later posts ring again.
    pub(crate) fn answer(&self) {
        self.rung.store(false, Ordering::SeqCst);
    }
}

/// Where one kind of handler's connections on one reactor get their messages; shared by every
/// [`ConnHandle`](crate::ConnHandle) to them.
///
/// Senders push onto an unbounded channel (each handle bounds its own frames in flight, each
/// job its one result) and ring the reactor's bell: a burst of sends costs one `eventfd` write.
/// One channel per handler type keeps frames typed (no boxing per send) and keeps every
/// message from one thread to one connection in order.
pub(crate) struct Mailbox<F> {
    /// Messages for the reactor.
    tx: Sender<Message<F>>,
    /// The reactor's bell, shared by all its mailboxes.
    bell: Arc<Bell>,
}

impl<F> Mailbox<F> {
    /// Posts a message, waking the reactor if it may be asleep. Hands the message back if the
    /// reactor has stopped.
    pub(crate) fn post(&self, msg: Message<F>) -> Result<(), Message<F>> {
        self.tx.send(msg).map_err(|e| e.0)?;
        self.bell.ring();
        Ok(())
    }
}

/// One handler type's mailbox and the end the reactor reads.
struct Typed<F> {
    /// Given to handles.
    mailbox: Arc<Mailbox<F>>,
    /// Read by the reactor (or a test connection).
    inbox: Receiver<Message<F>>,
}

/// A reactor's mailboxes, one per handler type, made when a connection of that type first
/// needs one (a handle, an offload).
pub(crate) struct Mailboxes {
    /// The reactor's bell.
    bell: Arc<Bell>,
    /// `Typed<FrameOut<H>>` by `TypeId` of `H`.
    by_handler: HashMap<TypeId, Box<dyn Any>>,
    /// Inboxes made since the reactor last collected them.
    opened: Vec<Box<dyn Inbox>>,
}

impl Mailboxes {
    pub(crate) fn new(bell: Arc<Bell>) -> Self {
        Mailboxes {
            bell,
            by_handler: HashMap::new(),
            opened: Vec::new(),
        }
    }

    /// `H`'s mailbox, made now if this is the first use.
    pub(crate) fn mailbox<H: Handler>(&mut self) -> &Arc<Mailbox<FrameOut<H>>> {
        &self.typed::<H>().mailbox
    }

    /// The receiving end of `H`'s mailbox (for a test connection, which drains it itself).
    pub(crate) fn inbox<H: Handler>(&mut self) -> Receiver<Message<FrameOut<H>>> {
        self.typed::<H>().inbox.clone()
    }

    /// Inboxes made since the last call, for the reactor to drain from now on.
    pub(crate) fn take_opened(&mut self) -> Vec<Box<dyn Inbox>> {
        std::mem::take(&mut self.opened)
    }

    fn typed<H: Handler>(&mut self) -> &Typed<FrameOut<H>> {
        let Mailboxes {
            bell,
            by_handler,
            opened,
        } = self;
        by_handler
            .entry(TypeId::of::<H>())
            .or_insert_with(|| {
                let (tx, rx) = crossbeam_channel::unbounded();
                let mailbox = Arc::new(Mailbox {
                    tx,
                    bell: Arc::clone(bell),
                });
                opened.push(inbox_for::<H>(rx.clone()));
                Box::new(Typed { mailbox, inbox: rx })
            })
            .downcast_ref()
            .expect("a mailbox is stored under its own handler type")
    }
}
