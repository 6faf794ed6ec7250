//! `Reply`: what a RESP2 server answers, and its encoding.

use std::borrow::Cow;

use crate::CodecError;

/// A RESP2 reply.
///
/// Simple strings and errors take a [`Cow`], so the fixed replies a server sends most (`OK`,
/// `PONG`, its error messages) cost no allocation: [`Reply::OK`], [`Reply::simple`]`("PONG")`.
///
/// # Examples
///
/// ```
/// use turbine_codec::{Encoder, Reply, RespCodec};
///
/// let mut output = Vec::new();
/// let mut codec = RespCodec::new(1024);
/// codec.encode(Reply::OK, &mut output).unwrap();
/// codec.encode(Reply::error("ERR unknown command 'x'"), &mut output).unwrap();
/// codec.encode(Reply::Integer(-7), &mut output).unwrap();
/// codec.encode(Reply::NullArray, &mut output).unwrap();
/// assert_eq!(output, b"+OK\r\n-ERR unknown command 'x'\r\n:-7\r\n*-1\r\n");
///
/// // A line break would end the line early: refused, and nothing written.
/// let before = output.len();
/// assert!(codec.encode(Reply::simple("two\nlines"), &mut output).is_err());
/// assert_eq!(output.len(), before);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+<text>\r\n`: a short status such as `OK` or `PONG`. Must not contain `\r` or `\n`.
    Simple(Cow<'static, str>),
    /// `-<text>\r\n`: an error, its first word its kind by convention (`ERR`, `WRONGTYPE`).
    /// Must not contain `\r` or `\n` (Redis turns them into spaces before replying).
    Error(Cow<'static, str>),
    /// `:<n>\r\n`: a signed 64-bit integer.
    Integer(i64),
    /// `$<len>\r\n<bytes>\r\n`: any bytes.
    Bulk(Vec<u8>),
    /// `$-1\r\n`: the null bulk string (`GET` of a missing key).
    Null,
    /// `*<n>\r\n` then each element: an array, possibly nested.
    Array(Vec<Reply>),
    /// `*-1\r\n`: the null array.
    NullArray,
    /// A whole reply already in RESP2's encoding, written as it is: built in one buffer by
    /// [`Reply::bulk_array`], so a reply of many elements (an `LRANGE`) costs one allocation,
    /// not one per element. A server can also hand its bytes straight to the connection's
    /// output ([`Encoded::into_bytes`]) and skip the copy the encoder would make.
    Encoded(Encoded),
}

/// The bytes of a whole RESP2 reply, encoded as it was built ([`Reply::Encoded`]); only this
/// crate's constructors make one, so it always holds exactly one well-formed reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded(Vec<u8>);

impl Encoded {
    /// The encoded reply.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The encoded reply, to write as it is.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl Reply {
    /// `+OK\r\n`.
    pub const OK: Reply = Reply::Simple(Cow::Borrowed("OK"));

    /// A simple string.
    pub fn simple(text: impl Into<Cow<'static, str>>) -> Reply {
        Reply::Simple(text.into())
    }

    /// An error reply; `text` starts with its kind, e.g. `ERR syntax error`.
    pub fn error(text: impl Into<Cow<'static, str>>) -> Reply {
        Reply::Error(text.into())
    }

    /// A bulk string.
    pub fn bulk(bytes: impl Into<Vec<u8>>) -> Reply {
        Reply::Bulk(bytes.into())
    }

    /// An array of bulk strings (`*<n>` then `$<len>` and the bytes of each), encoded at once
    /// into one buffer of the exact size: the elements are copied once, with no allocation of
    /// their own.
    ///
    /// ```
    /// use turbine_codec::Reply;
    ///
    /// let list = ["a", "bc"];
    /// let Reply::Encoded(bytes) = Reply::bulk_array(list.iter().map(|e| e.as_bytes())) else {
    ///     unreachable!();
    /// };
    /// assert_eq!(bytes.as_bytes(), b"*2\r\n$1\r\na\r\n$2\r\nbc\r\n");
    /// ```
    pub fn bulk_array<I, B>(elements: I) -> Reply
    where
        I: IntoIterator<Item = B>,
        I::IntoIter: ExactSizeIterator + Clone,
        B: AsRef<[u8]>,
    {
        let elements = elements.into_iter();
        // The elements are in memory already, so their encoding fits in memory too.
        let mut dst = Vec::with_capacity(bulk_array_len(elements.clone()) as usize);
        push_bulk_array(&mut dst, elements);
        Reply::Encoded(Encoded(dst))
    }

    /// Appends the encoding to `dst`, or leaves `dst` as it was and fails.
    pub(crate) fn encode(self, dst: &mut Vec<u8>) -> Result<(), CodecError> {
        let start = dst.len();
        let result = self.write(dst);
        if result.is_err() {
            dst.truncate(start);
        }
        result
    }

    /// Appends the encoding to `dst`; on error part of it may have been written.
    fn write(self, dst: &mut Vec<u8>) -> Result<(), CodecError> {
        match self {
            Reply::Simple(text) => push_line(dst, b'+', &text)?,
            Reply::Error(text) => push_line(dst, b'-', &text)?,
            Reply::Integer(n) => {
                dst.push(b':');
                push_signed(dst, n);
                dst.extend_from_slice(b"\r\n");
            }
            Reply::Bulk(bytes) => {
                push_header(dst, b'$', bytes.len() as u64);
                dst.extend_from_slice(&bytes);
                dst.extend_from_slice(b"\r\n");
            }
            Reply::Null => dst.extend_from_slice(b"$-1\r\n"),
            Reply::Array(items) => {
                push_header(dst, b'*', items.len() as u64);
                for item in items {
                    item.write(dst)?;
                }
            }
            Reply::NullArray => dst.extend_from_slice(b"*-1\r\n"),
            Reply::Encoded(Encoded(bytes)) => dst.extend_from_slice(&bytes),
        }
        Ok(())
    }
}

/// Appends `<prefix><text>\r\n`, refusing a `text` with a line break in it.
fn push_line(dst: &mut Vec<u8>, prefix: u8, text: &str) -> Result<(), CodecError> {
    if memchr::memchr2(b'\r', b'\n', text.as_bytes()).is_some() {
        let kind = if prefix == b'+' {
            "simple string"
        } else {
            "error"
        };
        return Err(CodecError::invalid(format!(
            "a RESP {kind} cannot contain CR or LF"
        )));
    }
    dst.reserve(text.len() + 3);
    dst.push(prefix);
    dst.extend_from_slice(text.as_bytes());
    dst.extend_from_slice(b"\r\n");
    Ok(())
}

/// Appends an array of bulk strings: `*<n>\r\n`, then `$<len>\r\n<bytes>\r\n` each (a
/// command as a client sends it, or a reply such as `LRANGE`'s).
pub(crate) fn push_bulk_array<B: AsRef<[u8]>>(
    dst: &mut Vec<u8>,
    items: impl ExactSizeIterator<Item = B>,
) {
    push_header(dst, b'*', items.len() as u64);
    for item in items {
        let bytes = item.as_ref();
        push_header(dst, b'$', bytes.len() as u64);
        dst.extend_from_slice(bytes);
        dst.extend_from_slice(b"\r\n");
    }
}

/// Bytes [`push_bulk_array`] writes for `items`, computed without writing them (saturating).
pub(crate) fn bulk_array_len<B: AsRef<[u8]>>(items: impl ExactSizeIterator<Item = B>) -> u64 {
    let header = header_len(items.len());
    items.fold(header, |total, item| {
        let len = item.as_ref().len();
        total
            .saturating_add(header_len(len))
            .saturating_add(len as u64 + 2)
    })
}

/// Bytes of a `*<n>\r\n` or `$<n>\r\n` header.
fn header_len(n: usize) -> u64 {
    let digits = n.checked_ilog10().map_or(1, |log| log + 1);
    u64::from(digits) + 3
}

/// Appends `<prefix><n>\r\n`: an array or bulk string header.
pub(crate) fn push_header(dst: &mut Vec<u8>, prefix: u8, n: u64) {
    dst.push(prefix);
    push_unsigned(dst, n);
    dst.extend_from_slice(b"\r\n");
}

/// Appends `n` in decimal.
fn push_signed(dst: &mut Vec<u8>, n: i64) {
    if n < 0 {
        dst.push(b'-');
    }
    push_unsigned(dst, n.unsigned_abs());
}

/// Appends `n` in decimal, without the formatting machinery: replies are mostly numbers and
/// lengths, written for every command.
fn push_unsigned(dst: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    dst.extend_from_slice(&digits[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Integers at the edges of `i64` are written in full.
    #[test]
    fn integers_at_the_edges() {
        for (n, text) in [
            (0, "0"),
            (-1, "-1"),
            (i64::MAX, "9223372036854775807"),
            (i64::MIN, "-9223372036854775808"),
        ] {
            let mut out = Vec::new();
            Reply::Integer(n).encode(&mut out).unwrap();
            assert_eq!(out, format!(":{text}\r\n").as_bytes());
        }
    }

    /// An array encoded at once is the same bytes as the array of bulks, and decodes back.
    #[test]
    fn bulk_array_is_the_array_of_bulks() {
        let elements: Vec<Vec<u8>> = vec![b"".to_vec(), b"a\r\nb".to_vec(), vec![0xFF; 300]];
        let mut by_element = Vec::new();
        Reply::Array(elements.iter().cloned().map(Reply::Bulk).collect())
            .encode(&mut by_element)
            .unwrap();
        let mut at_once = Vec::new();
        let encoded = Reply::bulk_array(elements.iter());
        encoded.clone().encode(&mut at_once).unwrap();
        assert_eq!(at_once, by_element);
        let Reply::Encoded(bytes) = &encoded else {
            panic!("encoded");
        };
        assert_eq!(bytes.as_bytes(), &by_element[..]);
        let value = crate::Value::from(encoded);
        assert_eq!(
            value,
            crate::Value::Array(elements.into_iter().map(crate::Value::Bulk).collect())
        );
        let mut empty = Vec::new();
        Reply::bulk_array(Vec::<Vec<u8>>::new())
            .encode(&mut empty)
            .unwrap();
        assert_eq!(empty, b"*0\r\n");
    }

    /// A bad element deep in an array leaves the output as it was.
    #[test]
    fn nested_refusal_rolls_back() {
        let mut out = b"before".to_vec();
        let reply = Reply::Array(vec![
            Reply::Integer(1),
            Reply::Array(vec![Reply::Bulk(b"x".to_vec()), Reply::error("a\rb")]),
        ]);
        assert!(reply.encode(&mut out).is_err());
        assert_eq!(out, b"before");
    }
}
