//! `broadcast`: one encoded payload to many connections, batched per reactor, shared in memory.

use std::sync::Arc;

use crate::ConnHandle;
use crate::mailbox::{Mailbox, Message};

/// One reactor's share of a broadcast: its mailbox and the (slot, generation) of each target.
type Batch<'a, F> = (&'a Arc<Mailbox<F>>, Vec<(usize, u64)>);

/// Sends one already-encoded `payload` to every connection in `members`, from any thread.
///
/// The members may live on any reactors: each reactor gets one mailbox message with its share
/// of the targets and queues the payload on each of its connections by reference, so the bytes
/// are stored once however many members there are, and are written with `writev` next to the
/// connection's other output. The payload bypasses the encoder: it must already be in the
/// protocol's wire format (a chat line with its `\n`, say).
///
/// Messages from one thread reach each member in the order they were broadcast (and in order
/// with that thread's [`ConnHandle::send`]s to it). Nothing here waits or fails on a slow
/// member: when queueing the payload would take a member's output past the write limit
/// (`TURBINE_WRITE_LIMIT`), its reactor calls [`Handler::on_overflow`](crate::Handler::on_overflow)
/// instead (by default: the member is disconnected), and everyone else is unaffected.
///
/// Returns to how many members the payload was posted (closed members are skipped).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use turbine_reactor::{ConnHandle, broadcast};
///
/// fn announce(room: &[ConnHandle<String>], text: &str) -> usize {
///     let line: Arc<[u8]> = Arc::from(format!("* {text}\n").into_bytes());
///     broadcast(room, line)
/// }
/// ```
pub fn broadcast<'a, F: 'a>(
    members: impl IntoIterator<Item = &'a ConnHandle<F>>,
    payload: Arc<[u8]>,
) -> usize {
    // A server has a handful of reactors: a linear search over them beats hashing.
    let mut batches: Vec<Batch<'_, F>> = Vec::new();
    for member in members {
        if member.is_closed() {
            continue;
        }
        let id = member.id();
        let mailbox = member.mailbox();
        match batches.iter_mut().find(|(m, _)| Arc::ptr_eq(m, mailbox)) {
            Some((_, targets)) => targets.push((id.key, id.generation)),
            None => batches.push((mailbox, vec![(id.key, id.generation)])),
        }
    }
    let mut posted = 0;
    for (mailbox, targets) in batches {
        let count = targets.len();
        let msg = Message::Broadcast {
            payload: Arc::clone(&payload),
            targets,
        };
        if mailbox.post(msg).is_ok() {
            posted += count;
        }
    }
    posted
}
