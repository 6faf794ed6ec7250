//! Counts by reason: why connections closed ([`ClosedBy`]) and why they were refused at accept
//! ([`RejectedBy`]). Each field's name is its metric's `reason` label.

use crate::{CloseReason, Rejection};

/// Declares a struct of `u64` counts, one public field per reason, with the labels (the field
/// names), the conversion to and from an array (for publishing), and the sum of two.
macro_rules! counts_by_reason {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[doc = $doc:literal])+ $field:ident, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct $name {
            $( $(#[doc = $doc])+ pub $field: u64, )+
        }

        impl $name {
            /// Every reason's label (the field's name), in declaration order.
            pub const LABELS: &'static [&'static str] = &[$(stringify!($field)),+];
            /// How many reasons there are.
            pub(crate) const LEN: usize = Self::LABELS.len();

            /// Each reason's label and count, in declaration order.
            pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + use<> {
                Self::LABELS.iter().copied().zip(self.values())
            }

            /// The sum over every reason.
            pub fn total(&self) -> u64 {
                self.values().iter().sum()
            }

            /// The counts in declaration order.
            pub(crate) fn values(&self) -> [u64; Self::LEN] {
                [$(self.$field),+]
            }

            /// The counts from [`values`](Self::values)'s order.
            pub(crate) fn from_values(values: [u64; Self::LEN]) -> Self {
                let [$($field),+] = values;
                $name { $($field),+ }
            }

            /// Adds `other`'s counts to these.
            pub(crate) fn add(&mut self, other: &Self) {
                $(self.$field += other.$field;)+
            }
        }
    };
}

counts_by_reason! {
    /// Connections closed since start, by [`CloseReason`]; each field is named after its
    /// reason's [`label`](CloseReason::label).
    pub struct ClosedBy {
        /// [`CloseReason::PeerClosed`].
        peer,
        /// [`CloseReason::Closed`].
        closed,
        /// [`CloseReason::Shutdown`].
        shutdown,
        /// [`CloseReason::Decode`].
        decode,
        /// [`CloseReason::Encode`].
        encode,
        /// [`CloseReason::IdleTimeout`].
        idle_timeout,
        /// [`CloseReason::FrameTimeout`].
        frame_timeout,
        /// [`CloseReason::WriteTimeout`].
        write_timeout,
        /// [`CloseReason::Overflow`].
        overflow,
        /// [`CloseReason::Forced`].
        forced,
        /// [`CloseReason::Io`].
        io,
        /// [`CloseReason::Panicked`].
        panic,
        /// [`CloseReason::ConnectFailed`].
        connect_failed,
        /// [`CloseReason::Reset`].
        reset,
        /// [`CloseReason::Tls`].
        tls,
        /// [`CloseReason::HandshakeTimeout`].
        handshake_timeout,
    }
}

impl ClosedBy {
    /// Counts one close for `reason`.
    pub(crate) fn count(&mut self, reason: &CloseReason) {
        let field = match reason {
            CloseReason::PeerClosed => &mut self.peer,
            CloseReason::Closed => &mut self.closed,
            CloseReason::Shutdown => &mut self.shutdown,
            CloseReason::Decode(_) => &mut self.decode,
            CloseReason::Encode(_) => &mut self.encode,
            CloseReason::IdleTimeout => &mut self.idle_timeout,
            CloseReason::FrameTimeout => &mut self.frame_timeout,
            CloseReason::WriteTimeout => &mut self.write_timeout,
            CloseReason::Overflow => &mut self.overflow,
            CloseReason::Forced => &mut self.forced,
            CloseReason::Io(_) => &mut self.io,
            CloseReason::Panicked => &mut self.panic,
            CloseReason::ConnectFailed(_) => &mut self.connect_failed,
            CloseReason::Reset => &mut self.reset,
            CloseReason::Tls(_) => &mut self.tls,
            CloseReason::HandshakeTimeout => &mut self.handshake_timeout,
        };
        *field += 1;
    }
}

counts_by_reason! {
    /// Connections refused at accept since start, by reason; the fields sum to
    /// [`ReactorStats::rejected`](crate::ReactorStats::rejected).
    pub struct RejectedBy {
        /// Over `TURBINE_MAX_CONNECTIONS` ([`Rejection::MaxConnections`]).
        max_connections,
        /// Over `TURBINE_MAX_CONNECTIONS_PER_IP` ([`Rejection::MaxConnectionsPerIp`]).
        per_ip,
        /// Shed from the backlog while the process was out of descriptors.
        descriptors,
    }
}

impl RejectedBy {
    /// Counts one connection refused by a cap.
    pub(crate) fn count(&mut self, reason: Rejection) {
        match reason {
            Rejection::MaxConnections => self.max_connections += 1,
            Rejection::MaxConnectionsPerIp => self.per_ip += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::ErrorKind;

    use turbine_codec::CodecError;

    use super::*;

    /// Every close reason is counted under the field its label names.
    #[test]
    fn closes_land_under_their_label() {
        let reasons = [
            CloseReason::PeerClosed,
            CloseReason::Closed,
            CloseReason::Shutdown,
            CloseReason::Decode(CodecError::invalid("x")),
            CloseReason::Encode(CodecError::invalid("x")),
            CloseReason::IdleTimeout,
            CloseReason::FrameTimeout,
            CloseReason::WriteTimeout,
            CloseReason::Overflow,
            CloseReason::Forced,
            CloseReason::Io(ErrorKind::ConnectionReset),
            CloseReason::Panicked,
            CloseReason::ConnectFailed(ErrorKind::ConnectionRefused),
            CloseReason::Reset,
            CloseReason::Tls("bad record".into()),
            CloseReason::HandshakeTimeout,
        ];
        assert_eq!(reasons.len(), ClosedBy::LEN);
        for reason in &reasons {
            let mut closed = ClosedBy::default();
            closed.count(reason);
            let counted: Vec<_> = closed.iter().filter(|(_, n)| *n > 0).collect();
            assert_eq!(counted, [(reason.label(), 1)], "{reason:?}");
        }
        let mut round = ClosedBy::default();
        round.count(&CloseReason::Reset);
        assert_eq!(ClosedBy::from_values(round.values()), round);
        assert_eq!(round.total(), 1);
    }
}
