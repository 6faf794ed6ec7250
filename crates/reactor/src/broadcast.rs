//! `broadcast`: one encoded payload to many connections, batched per reactor, shared in memory.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use turbine_codec::{CodecError, Encoder};

use crate::ConnHandle;
use crate::mailbox::{Mailbox, Message};

/// A frame encoded once, to be [`broadcast`] to many connections of one protocol.
///
/// Made by the protocol's own encoder ([`Payload::encode`]), so a line or length-prefixed
/// protocol cannot broadcast an unframed payload by mistake; the type parameter ties it to
/// handles of the same frame type. The bytes are reference-counted: however many members a
/// broadcast reaches, they are stored once.
pub struct Payload<F> {
    /// The encoded frame.
    bytes: Arc<[u8]>,
    /// The frame type it was encoded from.
    frame: PhantomData<fn(F)>,
}

impl<F> Payload<F> {
    /// Encodes `frame` with `encoder` (a codec of the protocol's type, set up as its
    /// connections' codecs are).
    ///
    /// # Errors
    ///
    /// The encoder's refusal (a frame over its encode bound, a line with a newline...).
    ///
    /// # Examples
    ///
    /// ```
    /// use turbine_reactor::Payload;
    /// use turbine_codec::LinesCodec;
    ///
    /// let mut codec = LinesCodec::new(1024);
    /// let payload = Payload::encode(&mut codec, "* ann joined".to_string())?;
    /// assert_eq!(payload.as_bytes(), b"* ann joined\n");
    /// # Ok::<(), turbine_codec::CodecError>(())
    /// ```
    pub fn encode<E: Encoder<Item = F>>(encoder: &mut E, frame: F) -> Result<Self, CodecError> {
        let mut bytes = Vec::new();
        encoder.encode(frame, &mut bytes)?;
        Ok(Payload::from_encoded_bytes(bytes))
    }

    /// Takes bytes that are already in the protocol's wire format, unchecked: the caller
    /// promises they are whole frames (a line with its `\n`, a length prefix and its payload).
    pub fn from_encoded_bytes(bytes: impl Into<Arc<[u8]>>) -> Self {
        Payload {
            bytes: bytes.into(),
            frame: PhantomData,
        }
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Encoded length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the encoding is empty (such a payload sends nothing).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

impl<F> Clone for Payload<F> {
    fn clone(&self) -> Self {
        Payload {
            bytes: Arc::clone(&self.bytes),
            frame: PhantomData,
        }
    }
}

impl<F> fmt::Debug for Payload<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Payload")
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// One reactor's share of a broadcast: its mailbox and the (slot, serial) of each target.
type Batch<'a, F> = (&'a Arc<Mailbox<F>>, Vec<(usize, u64)>);

/// Sends one encoded `payload` to every connection in `members`, from any thread (a handler
/// included).
///
/// The members may live on any reactors: each reactor gets one mailbox message with its share
/// of the targets and queues the payload on each of its connections by reference, so the bytes
/// are stored once however many members there are, and are written with `writev` next to the
/// connection's other output.
///
/// # Order
///
/// Messages from one thread reach each member in the order they were broadcast, and in order
/// with that thread's [`ConnHandle::send`]s to it. A broadcast goes through the reactor's
/// mailbox even to a member on the caller's own reactor: when a handler broadcasts to a group
/// that includes its own connection, the payload lands after every reply the handler sends in
/// the same turn of the loop (the same callback, and the other frames of the same read), and
/// before what it sends in later turns.
///
/// # Slow and closing members
///
/// Nothing here waits or fails on a slow member: when queueing the payload would take a
/// member's output past the write limit (`TURBINE_WRITE_LIMIT`), its reactor calls
/// [`Handler::on_overflow`](crate::Handler::on_overflow) instead (by default: the member is
/// disconnected), and everyone else is unaffected. A member that is closing takes no more
/// broadcasts, so its goodbye stays its last line.
///
/// Returns to how many members the payload was posted (closed members are skipped).
///
/// # Examples
///
/// ```
/// use turbine_reactor::{ConnHandle, Payload, broadcast};
/// use turbine_codec::LinesCodec;
///
/// fn announce(room: &[ConnHandle<String>], codec: &mut LinesCodec, text: &str) -> usize {
///     match Payload::encode(codec, format!("* {text}")) {
///         Ok(line) => broadcast(room, &line),
///         Err(_) => 0, // too long for the protocol
///     }
/// }
/// ```
pub fn broadcast<'a, F: 'a>(
    members: impl IntoIterator<Item = &'a ConnHandle<F>>,
    payload: &Payload<F>,
) -> usize {
    if payload.is_empty() {
        return 0;
    }
    // A server has a handful of reactors: a linear search over them beats hashing.
    let mut batches: Vec<Batch<'_, F>> = Vec::new();
    for member in members {
        if member.is_closed() {
            continue;
        }
        let id = member.id();
        let target = (id.slot(), id.serial());
        let mailbox = member.mailbox();
        match batches.iter_mut().find(|(m, _)| Arc::ptr_eq(m, mailbox)) {
            Some((_, targets)) => targets.push(target),
            None => batches.push((mailbox, vec![target])),
        }
    }
    let mut posted = 0;
    for (mailbox, targets) in batches {
        let count = targets.len();
        let msg = Message::Broadcast {
            payload: Arc::clone(&payload.bytes),
            targets,
        };
        if mailbox.post(msg).is_ok() {
            posted += count;
        }
    }
    posted
}
