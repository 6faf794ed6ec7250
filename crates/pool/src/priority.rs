//! Lowering the calling thread's scheduling priority.

use thread_priority::unix::{
    NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
    thread_native_id,
};
use thread_priority::{ThreadPriority, ThreadPriorityValue};

use crate::WorkerPriority;

/// The crate's cross-platform value (0 lowest to 99 highest) that gives nice +10: for normal
/// policies it sets nice = trunc(39 * (1 - value / 99)) - 20, and 22 gives trunc(30.3) - 20.
/// The pool's tests read the nice value back from /proc.
const NICE_10: u8 = 22;

/// Applies `priority` to the calling thread. Returns why not, if the system refused.
pub(crate) fn apply(priority: WorkerPriority) -> Result<(), String> {
    let (policy, value) = match priority {
        WorkerPriority::Normal => return Ok(()),
        WorkerPriority::Low => (NormalThreadSchedulePolicy::Batch, nice_10()?),
        WorkerPriority::Idle => (NormalThreadSchedulePolicy::Idle, ThreadPriority::Min),
    };
    set_thread_priority_and_policy(
        thread_native_id(),
        value,
        ThreadSchedulePolicy::Normal(policy),
    )
    .map_err(|e| format!("{e:?}"))
}

/// Nice +10 as the crate's priority value.
fn nice_10() -> Result<ThreadPriority, String> {
    ThreadPriorityValue::try_from(NICE_10)
        .map(ThreadPriority::Crossplatform)
        .map_err(|e| format!("{e:?}"))
}
