//! `Value`: a RESP2 reply as a client reads it.

use std::fmt;

use super::{PubSub, Reply};

/// A RESP2 reply as a client decodes it: what [`RespClientCodec`](crate::RespClientCodec)
/// hands out.
///
/// It has the same seven shapes as [`Reply`], the type a server builds to send, but holds
/// every string as bytes. That is why it is a type of its own rather than [`Reply`] reused:
///
/// - [`Reply`] keeps simple strings and errors as `Cow<'static, str>`, so that a server's fixed
///   answers (`OK`, its error texts) cost no allocation. A server's status and error lines are
///   bytes, though: nothing in RESP2 makes them UTF-8, and Redis puts client-supplied bytes in
///   some errors (`ERR unknown command '<name>'`). Decoding into [`Reply`] would mean a UTF-8
///   check on every status line and a choice between refusing a valid reply and altering it.
/// - What a client wants from a reply (its bytes, its integer, its elements, whether it is a
///   pub/sub push: [`pubsub`](Value::pubsub)) is not what a server wants from the reply it
///   builds, so each type keeps the methods of its side.
///
/// [`Value::from`] turns a [`Reply`] into the value a client decodes from its encoding, which
/// is handy for a test double playing the server.
///
/// # Memory
///
/// Every string is copied once, from the read buffer into its own vector, when its last byte
/// has arrived. Each element is a `Value` (32 bytes on a 64-bit target) and takes at least 3
/// bytes on the wire (`+\r\n`), so the values of a reply take at most about 11 times its size
/// on the wire besides the strings' bytes (up to twice that while an array arriving in pieces
/// grows its vector).
///
/// Dropping, cloning, comparing and printing a value recurse through its arrays: the decoder
/// refuses values nested deeper than its [`max_depth`](crate::RespClientCodec::max_depth) (64
/// by default), which keeps that recursion shallow.
///
/// # Examples
///
/// ```
/// use turbine_codec::{Decoder, ReadBuf, RespClientCodec, Value};
///
/// let mut codec = RespClientCodec::new(1 << 20);
/// let mut input = ReadBuf::from(&b"*3\r\n$1\r\na\r\n$-1\r\n:7\r\n-ERR no\r\n"[..]);
/// let reply = codec.decode(&mut input).unwrap().unwrap();
/// let items = reply.as_array().unwrap();
/// assert_eq!(items[0].as_bytes(), Some(&b"a"[..]));
/// assert!(items[1].is_null());
/// assert_eq!(items[2].as_integer(), Some(7));
///
/// let error = codec.decode(&mut input).unwrap().unwrap();
/// assert_eq!(error, Value::error("ERR no"));
/// assert_eq!(error.as_error(), Some(&b"ERR no"[..]));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// `+<text>\r\n`: a status such as `OK` or `PONG`; never contains `\r` or `\n`.
    Simple(Vec<u8>),
    /// `-<text>\r\n`: an error, its first word its kind by convention (`ERR`, `WRONGTYPE`);
    /// never contains `\r` or `\n`.
    Error(Vec<u8>),
    /// `:<n>\r\n`: a signed 64-bit integer.
    Integer(i64),
    /// `$<len>\r\n<bytes>\r\n`: any bytes.
    Bulk(Vec<u8>),
    /// `$-1\r\n`: the null bulk string (`GET` of a missing key).
    Null,
    /// `*<n>\r\n` then each element: an array, possibly nested, whose elements may be errors or
    /// nulls (`EXEC`, `MGET`).
    Array(Vec<Value>),
    /// `*-1\r\n`: the null array (`BLPOP` that timed out, `EXEC` of an aborted transaction).
    NullArray,
}

impl Value {
    /// A simple string.
    pub fn simple(text: impl Into<Vec<u8>>) -> Value {
        Value::Simple(text.into())
    }

    /// An error.
    pub fn error(text: impl Into<Vec<u8>>) -> Value {
        Value::Error(text.into())
    }

    /// A bulk string.
    pub fn bulk(bytes: impl Into<Vec<u8>>) -> Value {
        Value::Bulk(bytes.into())
    }

    /// The bytes of a bulk or simple string; `None` for anything else, nulls included.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bulk(bytes) | Value::Simple(bytes) => Some(bytes),
            _ => None,
        }
    }

    /// The number of an integer reply.
    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Value::Integer(n) => Some(*n),
            _ => None,
        }
    }

    /// The elements of an array; `None` for anything else, the null array included.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The text of an error reply.
    pub fn as_error(&self) -> Option<&[u8]> {
        match self {
            Value::Error(text) => Some(text),
            _ => None,
        }
    }

    /// Whether this is the null bulk string or the null array.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null | Value::NullArray)
    }

    /// What this value is as a pub/sub push (a message, a subscription's confirmation), or
    /// `None` if it has no push's shape; see [`PubSub`].
    ///
    /// Cheap: it compares the first element with the push kinds and borrows the rest, copying
    /// nothing.
    pub fn pubsub(&self) -> Option<PubSub<'_>> {
        PubSub::parse(self)
    }
}

/// Strings are shown as byte-string literals (`b"OK"`), escaping what is not printable ASCII.
impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let string = |f: &mut fmt::Formatter<'_>, name: &str, bytes: &[u8]| {
            f.debug_tuple(name)
                .field(&format_args!("b\"{}\"", bytes.escape_ascii()))
                .finish()
        };
        match self {
            Value::Simple(bytes) => string(f, "Simple", bytes),
            Value::Error(bytes) => string(f, "Error", bytes),
            Value::Integer(n) => f.debug_tuple("Integer").field(n).finish(),
            Value::Bulk(bytes) => string(f, "Bulk", bytes),
            Value::Null => f.write_str("Null"),
            Value::Array(items) => f.debug_tuple("Array").field(items).finish(),
            Value::NullArray => f.write_str("NullArray"),
        }
    }
}

/// The value a client decodes from what [`RespCodec`](crate::RespCodec) writes for `reply`.
///
/// # Examples
///
/// ```
/// use turbine_codec::{Reply, Value};
///
/// let reply = Reply::Array(vec![Reply::OK, Reply::Null, Reply::Integer(3)]);
/// assert_eq!(
///     Value::from(reply),
///     Value::Array(vec![Value::simple("OK"), Value::Null, Value::Integer(3)])
/// );
/// ```
impl From<Reply> for Value {
    fn from(reply: Reply) -> Self {
        match reply {
            Reply::Simple(text) => Value::Simple(text.into_owned().into_bytes()),
            Reply::Error(text) => Value::Error(text.into_owned().into_bytes()),
            Reply::Integer(n) => Value::Integer(n),
            Reply::Bulk(bytes) => Value::Bulk(bytes),
            Reply::Null => Value::Null,
            Reply::Array(items) => Value::Array(items.into_iter().map(Value::from).collect()),
            Reply::NullArray => Value::NullArray,
            Reply::Encoded(encoded) => {
                // Always one well-formed reply (only this crate encodes one): read it back with
                // the client's decoder, unbounded.
                let bytes = encoded.into_bytes();
                let mut codec = crate::RespClientCodec::new(bytes.len().max(1))
                    .with_max_bulk(bytes.len())
                    .with_max_array(bytes.len())
                    .with_max_line(bytes.len().max(32))
                    .with_max_depth(usize::MAX);
                let mut src = crate::ReadBuf::from(&bytes[..]);
                match crate::Decoder::decode(&mut codec, &mut src) {
                    Ok(Some(value)) => value,
                    _ => Value::Error(b"ERR unreadable encoded reply".to_vec()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The memory note in the type's docs holds: a value is 32 bytes on a 64-bit target.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn value_is_32_bytes() {
        assert_eq!(size_of::<Value>(), 32);
    }

    /// Debug shows strings as escaped byte literals, whatever their bytes.
    #[test]
    fn debug_escapes_bytes() {
        let value = Value::Array(vec![Value::bulk(&b"a\r\n\xff"[..]), Value::Null]);
        assert_eq!(format!("{value:?}"), r#"Array([Bulk(b"a\r\n\xff"), Null])"#);
    }
}
