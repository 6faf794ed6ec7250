//! The mailbox: frames from handles, offloaded results and broadcasts, delivered in order.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{MAILBOX_PER_TURN, Reactor};
use crate::connection::Phase;
use crate::mailbox::Message;
use crate::offload::{self, Outcome};
use crate::{FrameOut, Handler};

impl<H, F> Reactor<H, F>
where
    H: Handler,
    F: Fn(std::net::SocketAddr) -> H,
{
    /// Delivers up to `MAILBOX_PER_TURN` messages; notes whether more may wait.
    pub(super) fn drain_inbox(&mut self) {
        for _ in 0..MAILBOX_PER_TURN {
            match self.inbox.try_recv() {
                Ok(msg) => self.deliver(msg),
                Err(_) => {
                    self.inbox_more = false;
                    return;
                }
            }
        }
        self.inbox_more = true;
    }

    /// Hands a mailbox message to its connection.
    pub(super) fn deliver(&mut self, msg: Message<FrameOut<H>>) {
        match msg {
            Message::Send {
                key,
                generation,
                frame,
            } => self.deliver_frame(key, generation, frame),
            Message::Offloaded {
                key,
                generation,
                seq,
                outcome,
            } => self.deliver_outcome(key, generation, seq, outcome),
            Message::Broadcast { payload, targets } => self.deliver_broadcast(&payload, targets),
        }
    }

    /// Queues a broadcast payload, by reference, on each target still open; a target whose
    /// output would pass the write limit gets `on_overflow` instead.
    pub(super) fn deliver_broadcast(&mut self, payload: &Arc<[u8]>, targets: Vec<(usize, u64)>) {
        let limit = self.env.config.write_limit;
        for (key, generation) in targets {
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            let io = &mut conn.io;
            // A closing connection takes no new broadcast: its goodbye stays its last line.
            if io.id.generation != generation || io.phase != Phase::Open {
                continue;
            }
            if io.pending_output() + payload.len() > limit {
                if !self.callback(key, |h, ctx| h.on_overflow(ctx)) {
                    continue;
                }
            } else {
                io.output.push_shared(Arc::clone(payload));
                self.stats.frames_out += 1;
            }
            self.enqueue(key);
        }
    }

    /// Files an offloaded job's result in its slot and runs every continuation whose turn has
    /// come. A result for a connection that is gone is dropped.
    pub(super) fn deliver_outcome(
        &mut self,
        key: usize,
        generation: u64,
        seq: u64,
        outcome: Outcome,
    ) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let io = &mut conn.io;
        let Some(front) = io.offloads.front() else {
            return;
        };
        if io.id.generation != generation || seq < front.seq {
            return;
        }
        let Some(pending) = io.offloads.get_mut((seq - front.seq) as usize) else {
            return;
        };
        pending.outcome = Some(outcome);
        if self.callback(key, offload::complete) {
            self.enqueue(key);
        }
    }

    /// Encodes a frame from a `ConnHandle` if its connection is still the one it was sent to.
    pub(super) fn deliver_frame(&mut self, key: usize, generation: u64, frame: FrameOut<H>) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let io = &mut conn.io;
        if io.id.generation != generation {
            return; // the slot was reused: the frame was for a connection that is gone
        }
        if io.phase != Phase::Lingering {
            // (A lingering connection's write side is shut: the frame is dropped.)
            let stats = &mut self.stats;
            if catch_unwind(AssertUnwindSafe(|| io.encode(frame, stats))).is_err() {
                self.panicked(key);
                return;
            }
        }
        if let Some(shared) = &io.shared {
            // Publish the grown output before the frame stops counting as in flight, so a
            // sender always sees it in one or the other: what handles can make a connection
            // buffer stays within the write limit plus the frames in flight.
            shared.output.store(io.pending_output(), Ordering::SeqCst);
            shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
        self.enqueue(key);
    }
}
