//! Messages from other threads and from jobs: frames sent through handles, broadcast payloads,
//! offloaded results, close requests. Each is applied at once and the connection queued for a
//! flush, so everything delivered in one turn leaves in one write.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use super::{Connection, Finish, Life, Step, Transport};
use crate::context::Route;
use crate::core::Core;
use crate::mailbox::Letter;
use crate::offload::{Outcome, Ready};
use crate::{CloseReason, FrameOut, Handler};

impl<H: Handler, S: Transport> Connection<H, S> {
    /// Applies a message for this connection.
    pub(crate) fn deliver(&mut self, core: &mut Core, letter: Letter<FrameOut<H>>) -> Step {
        match letter {
            Letter::Frame(frame) => self.deliver_frame(core, frame),
            Letter::Broadcast(payload) => self.deliver_broadcast(core, &payload),
            Letter::Outcome { seq, outcome } => self.deliver_outcome(core, seq, outcome),
            Letter::Close => self.close_requested(core),
        }
    }

    /// A frame sent through a `ConnHandle`: encoded behind pending jobs, unless the connection
    /// has stopped taking messages (closing: its last frame stays its last).
    fn deliver_frame(&mut self, core: &mut Core, frame: FrameOut<H>) -> Step {
        let encoded = if self.state.life.takes_messages() {
            let state = &mut self.state;
            catch_unwind(AssertUnwindSafe(|| state.send(frame, Route::InOrder, core)))
        } else {
            Ok(())
        };
        if let Some(shared) = &self.state.shared {
            shared.took_frame(self.state.pending_output());
        }
        if encoded.is_err() {
            return self.panicked(core);
        }
        self.enqueue(core);
        Step::Open
    }

    /// A broadcast payload: queued by reference, or `on_overflow` if it would take the output
    /// past the write limit. A closing connection takes none: its goodbye stays its last line.
    fn deliver_broadcast(&mut self, core: &mut Core, payload: &Arc<[u8]>) -> Step {
        if !self.state.life.takes_messages() {
            return Step::Open;
        }
        let limit = core.config().write_limit;
        if self.state.pending_output() + payload.len() > limit {
            if self
                .callback(core, Route::InOrder, |h, ctx| h.on_overflow(ctx))
                .is_err()
            {
                return self.panicked(core);
            }
        } else {
            self.state.output.push_shared(Arc::clone(payload));
            core.stats_mut().frames_out += 1;
        }
        self.enqueue(core);
        Step::Open
    }

    /// The result of offloaded job `seq`: runs every continuation whose turn has come, each
    /// reply followed by the frames held behind its job.
    fn deliver_outcome(&mut self, core: &mut Core, seq: u64, outcome: Outcome) -> Step {
        if !self.state.offloads.fill(seq, outcome) {
            return Step::Open; // dropped by `close_now`, or the connection closed
        }
        while let Some(Ready {
            done,
            outcome,
            held,
        }) = self.state.offloads.pop_ready()
        {
            core.stats_mut().offloads -= 1;
            let done = |h: &mut H, ctx: &mut crate::Context<'_, H>| done(h, ctx, outcome);
            if self.callback(core, Route::Direct, done).is_err() {
                return self.panicked(core);
            }
            // After `close_now` in the continuation, what was held behind is not sent.
            if matches!(
                self.state.life,
                Life::Open
                    | Life::Draining
                    | Life::Closing {
                        finish: Finish::Flush,
                        ..
                    }
            ) {
                self.state.output.append(held);
            }
        }
        self.enqueue(core);
        Step::Open
    }

    /// `ConnHandle::close`: closes after what was sent before it.
    fn close_requested(&mut self, core: &mut Core) -> Step {
        self.state.begin_close(CloseReason::Closed);
        self.enqueue(core);
        Step::Open
    }
}
