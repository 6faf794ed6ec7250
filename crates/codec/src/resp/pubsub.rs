//! `PubSub`: what a subscribed connection receives, told apart without copying.

use super::Value;

/// A push a Redis server sends to a connection that has subscribed, borrowed from the
/// [`Value`] it arrived in: [`Value::pubsub`] returns it.
///
/// In RESP2 a push is an ordinary array whose first element names its kind: a published
/// message is `*3\r\n$7\r\nmessage\r\n$<channel>\r\n$<payload>\r\n`, a confirmation of
/// `SUBSCRIBE` is `*3\r\n$9\r\nsubscribe\r\n$<channel>\r\n:<count>\r\n` (one per channel
/// named), where the count is how many subscriptions the connection now holds.
///
/// Once a RESP2 connection has subscribed, these pushes are all it carries, apart from the
/// replies to the few commands Redis then allows: `PING` (answered with the
/// [`Pong`](PubSub::Pong) push), `RESET` and `QUIT` (`+RESET`, `+OK`), and an error for any
/// other command. It is back to ordinary replies once it holds no subscription of any kind
/// (the counts of the confirmations reach 0).
///
/// Only call [`Value::pubsub`] on a subscribed connection: since a push is an ordinary array,
/// an ordinary reply can have the same shape (`LRANGE` of a list holding `message`, `a`, `b`).
///
/// Telling a value apart costs a comparison of its first element with the kinds below;
/// channels, patterns and payloads are borrowed, not copied.
///
/// # Examples
///
/// ```
/// use turbine_codec::{Decoder, PubSub, ReadBuf, RespClientCodec};
///
/// let mut codec = RespClientCodec::new(1 << 20);
/// let mut input = ReadBuf::from(
///     &b"*3\r\n$9\r\nsubscribe\r\n$4\r\nchat\r\n:1\r\n\
///        *3\r\n$7\r\nmessage\r\n$4\r\nchat\r\n$2\r\nhi\r\n"[..],
/// );
/// let confirmation = codec.decode(&mut input).unwrap().unwrap();
/// assert_eq!(
///     confirmation.pubsub(),
///     Some(PubSub::Subscribe { channel: b"chat", count: 1 })
/// );
/// let message = codec.decode(&mut input).unwrap().unwrap();
/// match message.pubsub() {
///     Some(PubSub::Message { channel, payload }) => {
///         assert_eq!((channel, payload), (&b"chat"[..], &b"hi"[..]));
///     }
///     other => panic!("not a message: {other:?}"),
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PubSub<'a> {
    /// `message`: `payload` was published to `channel`, subscribed to by name.
    Message {
        /// The channel it was published to.
        channel: &'a [u8],
        /// What was published.
        payload: &'a [u8],
    },
    /// `pmessage`: `payload` was published to `channel`, which matches the subscribed
    /// `pattern`.
    PMessage {
        /// The pattern subscribed to with `PSUBSCRIBE`.
        pattern: &'a [u8],
        /// The channel it was published to.
        channel: &'a [u8],
        /// What was published.
        payload: &'a [u8],
    },
    /// `smessage`: `payload` was published to the shard channel `channel` (Redis 7's
    /// `SPUBLISH`).
    SMessage {
        /// The shard channel it was published to.
        channel: &'a [u8],
        /// What was published.
        payload: &'a [u8],
    },
    /// `subscribe`: the connection now listens to `channel`.
    Subscribe {
        /// The channel subscribed to.
        channel: &'a [u8],
        /// Subscriptions the connection now holds, channels and patterns together.
        count: i64,
    },
    /// `psubscribe`: the connection now listens to channels matching `pattern`.
    PSubscribe {
        /// The pattern subscribed to.
        pattern: &'a [u8],
        /// Subscriptions the connection now holds, channels and patterns together.
        count: i64,
    },
    /// `ssubscribe`: the connection now listens to the shard channel `channel`.
    SSubscribe {
        /// The shard channel subscribed to.
        channel: &'a [u8],
        /// Shard subscriptions the connection now holds.
        count: i64,
    },
    /// `unsubscribe`: the connection no longer listens to `channel`; `None` when an
    /// `UNSUBSCRIBE` without arguments found no channel to leave.
    Unsubscribe {
        /// The channel left.
        channel: Option<&'a [u8]>,
        /// Subscriptions the connection still holds, channels and patterns together.
        count: i64,
    },
    /// `punsubscribe`: the connection no longer listens to `pattern`; `None` when a
    /// `PUNSUBSCRIBE` without arguments found no pattern to leave.
    PUnsubscribe {
        /// The pattern left.
        pattern: Option<&'a [u8]>,
        /// Subscriptions the connection still holds, channels and patterns together.
        count: i64,
    },
    /// `sunsubscribe`: the connection no longer listens to the shard channel `channel`;
    /// `None` when an `SUNSUBSCRIBE` without arguments found none to leave.
    SUnsubscribe {
        /// The shard channel left.
        channel: Option<&'a [u8]>,
        /// Shard subscriptions the connection still holds.
        count: i64,
    },
    /// `pong`: the answer to `PING` on a subscribed connection, with `PING`'s argument (empty
    /// without one).
    Pong {
        /// `PING`'s argument.
        payload: &'a [u8],
    },
}

impl<'a> PubSub<'a> {
    /// The push `value` is, if it has the shape of one: an array of a bulk string naming the
    /// kind (in lower case, as Redis sends it) and the kind's elements, each of its type.
    pub(crate) fn parse(value: &'a Value) -> Option<Self> {
        let [Value::Bulk(kind), rest @ ..] = value.as_array()? else {
            return None;
        };
        let push = match (kind.as_slice(), rest) {
            (b"message", [channel, payload]) => PubSub::Message {
                channel: bulk(channel)?,
                payload: bulk(payload)?,
            },
            (b"pmessage", [pattern, channel, payload]) => PubSub::PMessage {
                pattern: bulk(pattern)?,
                channel: bulk(channel)?,
                payload: bulk(payload)?,
            },
            (b"smessage", [channel, payload]) => PubSub::SMessage {
                channel: bulk(channel)?,
                payload: bulk(payload)?,
            },
            (b"subscribe", [channel, count]) => PubSub::Subscribe {
                channel: bulk(channel)?,
                count: count.as_integer()?,
            },
            (b"psubscribe", [pattern, count]) => PubSub::PSubscribe {
                pattern: bulk(pattern)?,
                count: count.as_integer()?,
            },
            (b"ssubscribe", [channel, count]) => PubSub::SSubscribe {
                channel: bulk(channel)?,
                count: count.as_integer()?,
            },
            (b"unsubscribe", [channel, count]) => PubSub::Unsubscribe {
                channel: nullable(channel)?,
                count: count.as_integer()?,
            },
            (b"punsubscribe", [pattern, count]) => PubSub::PUnsubscribe {
                pattern: nullable(pattern)?,
                count: count.as_integer()?,
            },
            (b"sunsubscribe", [channel, count]) => PubSub::SUnsubscribe {
                channel: nullable(channel)?,
                count: count.as_integer()?,
            },
            (b"pong", [payload]) => PubSub::Pong {
                payload: bulk(payload)?,
            },
            _ => return None,
        };
        Some(push)
    }
}

/// The bytes of a bulk string: channels, patterns and payloads are sent as bulk strings.
fn bulk(value: &Value) -> Option<&[u8]> {
    match value {
        Value::Bulk(bytes) => Some(bytes),
        _ => None,
    }
}

/// The bytes of a bulk string, or `Some(None)` for the null bulk string an unsubscription
/// with nothing to leave names.
fn nullable(value: &Value) -> Option<Option<&[u8]>> {
    match value {
        Value::Bulk(bytes) => Some(Some(bytes)),
        Value::Null => Some(None),
        _ => None,
    }
}
