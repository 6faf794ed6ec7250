//! Draining a mailbox: each message goes to the connection it names, if it is still there.

use crossbeam_channel::Receiver;

use crate::core::Core;
use crate::mailbox::Message;
use crate::{FrameOut, Handler};

/// The receiving end of one handler type's mailbox on one reactor.
pub(crate) trait Inbox {
    /// Delivers up to `budget` messages; returns how many it took.
    fn drain(&self, core: &mut Core, budget: usize) -> usize;
}

/// The inbox of `H`'s connections.
struct Typed<H: Handler> {
    /// Messages posted by handles, jobs and broadcasts.
    rx: Receiver<Message<FrameOut<H>>>,
}

/// The inbox the reactor drains for `H`'s mailbox.
pub(crate) fn inbox_for<H: Handler>(rx: Receiver<Message<FrameOut<H>>>) -> Box<dyn Inbox> {
    Box::new(Typed::<H> { rx })
}

impl<H: Handler> Inbox for Typed<H> {
    fn drain(&self, core: &mut Core, budget: usize) -> usize {
        let mut taken = 0;
        while taken < budget {
            let Ok(msg) = self.rx.try_recv() else {
                break;
            };
            taken += 1;
            msg.open(|key, serial, letter| {
                core.step_typed::<H>(key, serial, |conn, core| conn.deliver(core, letter));
            });
        }
        taken
    }
}
