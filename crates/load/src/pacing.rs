//! `Pacing`: how well a fixed-rate run kept to its timetable.

use crate::Histogram;

/// How a fixed-rate run ([`run_at_rate`](crate::run_at_rate())) kept to its schedule: the
/// [`Report::pacing`](crate::Report::pacing) of such a run.
///
/// Every message has an intended send time fixed in advance (see
/// [`RateConfig`](crate::RateConfig)). A message that cannot go out then is not skipped: it
/// waits and goes out as soon as it can, and its latency still counts from its intended time.
/// The counts below say how many waited, and why, so a run that could not keep up says so
/// instead of quietly sending fewer.
///
/// `sent` and `send_lag` cover the measured window; the counts of messages that waited or
/// never went out cover the whole run, warm-up included, like
/// [`Report::errors`](crate::Report::errors).
#[derive(Debug, Clone, Default)]
pub struct Pacing {
    /// Messages per second asked for, all connections together.
    pub target: u64,
    /// Messages sent in the measured window: handed to the socket when due, or as soon after
    /// as the socket and [`RateConfig::max_outstanding`](crate::RateConfig::max_outstanding)
    /// allowed.
    pub sent: u64,
    /// For each message sent in the window, from its intended send time to the moment it
    /// was handed to the socket, in nanoseconds: this generator's own delay. The worker
    /// sleeps in `mio::Poll` only until about 1 ms before the next message is due and polls
    /// without sleeping from then on (epoll's timeout counts whole milliseconds), so the lag
    /// is the generator falling behind, not timer granularity.
    pub send_lag: Histogram,
    /// Messages that could not be sent when due because their connection's socket would
    /// take no more bytes (the server was not reading fast enough); sent later.
    pub late: u64,
    /// Messages that could not be sent when due because their connection already had
    /// `max_outstanding` messages awaiting replies; sent once replies made room.
    pub backlogged: u64,
    /// Messages that came due but were never sent: their connection had failed or closed,
    /// they were still waiting when the run ended, or the client thread fell too far behind
    /// to hand them out.
    pub unsent: u64,
    /// Messages sent that had no reply yet when the run ended; they are not in the latency
    /// histogram. A server that stalls at the very end shows here rather than in the
    /// percentiles.
    pub in_flight_at_end: u64,
}

impl Pacing {
    /// Adds another thread's figures to these.
    pub(crate) fn merge(&mut self, other: &Pacing) {
        self.target = self.target.max(other.target);
        self.sent += other.sent;
        self.send_lag.merge(&other.send_lag);
        self.late += other.late;
        self.backlogged += other.backlogged;
        self.unsent += other.unsent;
        self.in_flight_at_end += other.in_flight_at_end;
    }

    /// Messages that did not go out on schedule: late, backlogged or never sent.
    pub fn behind(&self) -> u64 {
        self.late + self.backlogged + self.unsent
    }
}
