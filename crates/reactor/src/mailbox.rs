//! A reactor's mailbox: frames from other threads, and the one wake-up that announces them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::{Receiver, Sender};
use mio::Waker;

use crate::offload::Outcome;

/// A message for a reactor from another thread.
pub(crate) enum Message<F> {
    /// Encode `frame` onto the connection in slot `key` if it is still generation `generation`.
    Send {
        /// Slab key of the connection.
        key: usize,
        /// Generation the sender saw; a different one means the slot was reused.
        generation: u64,
        /// The frame to encode.
        frame: F,
    },
    /// The result of the job number `seq` that connection `key` offloaded.
    Offloaded {
        /// Slab key of the connection.
        key: usize,
        /// Generation of the connection that offloaded the job.
        generation: u64,
        /// The job's place in that connection's sequence.
        seq: u64,
        /// Its result.
        outcome: Outcome,
    },
    /// Queue `payload` (already encoded) on each target connection that is still the same.
    Broadcast {
        /// The bytes, shared by every target.
        payload: Arc<[u8]>,
        /// Slab key and generation of each target on this reactor.
        targets: Vec<(usize, u64)>,
    },
}

/// The sending side, shared by every [`ConnHandle`](crate::ConnHandle) of one reactor.
///
/// Senders push onto an unbounded channel (each handle bounds its own frames in flight) and wake
/// the reactor only if no wake-up is pending: a burst of sends costs one `eventfd` write, not one
/// per message.
pub(crate) struct Mailbox<F> {
    /// Messages for the reactor.
    tx: Sender<Message<F>>,
    /// Wakes the reactor's `Poll`; shared with the shutdown handle.
    waker: Arc<Waker>,
    /// Set by the first sender after the reactor last emptied the channel; cleared by the reactor.
    notified: AtomicBool,
}

impl<F> Mailbox<F> {
    /// A mailbox and the receiving end the reactor keeps.
    pub(crate) fn new(waker: Arc<Waker>) -> (Arc<Self>, Receiver<Message<F>>) {
        let (tx, rx) = crossbeam_channel::unbounded();
        let mailbox = Mailbox {
            tx,
            waker,
            notified: AtomicBool::new(false),
        };
        (Arc::new(mailbox), rx)
    }

    /// Posts a message, waking the reactor if it may be asleep. Hands the message back if the
    /// reactor has stopped.
    pub(crate) fn post(&self, msg: Message<F>) -> Result<(), Message<F>> {
        self.tx.send(msg).map_err(|e| e.0)?;
        // SeqCst pairs with `take_notification`: either the reactor sees this message in the
        // drain that follows its reset, or this swap sees `false` and wakes it again.
        if !self.notified.swap(true, Ordering::SeqCst) {
            // A failed wake means the poll instance is gone, i.e. the reactor stopped; the
            // message is then dropped with the channel.
            let _ = self.waker.wake();
        }
        Ok(())
    }

    /// Called by the reactor before it drains the channel: later posts will wake it again.
    pub(crate) fn take_notification(&self) {
        self.notified.store(false, Ordering::SeqCst);
    }
}
