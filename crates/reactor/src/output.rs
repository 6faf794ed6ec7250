//! `Output`: a connection's bytes waiting to be written, owned or shared.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};
use std::sync::Arc;

/// Most chunks handed to one `writev`.
const MAX_SLICES: usize = 64;

/// One piece of output.
enum Chunk {
    /// Bytes this connection's encoder wrote; later frames are appended to the last one.
    Owned(Vec<u8>),
    /// A payload shared with other connections (a broadcast): held by reference, never copied.
    Shared(Arc<[u8]>),
}

impl Chunk {
    fn bytes(&self) -> &[u8] {
        match self {
            Chunk::Owned(v) => v,
            Chunk::Shared(b) => b,
        }
    }
}

/// The bytes a connection still has to write, in order.
///
/// Frames encoded on the reactor are appended to an owned buffer; a broadcast payload is queued
/// by reference, so one payload sent to a thousand connections is stored once. Several chunks
/// leave in one `writev`. An empty `Output` owns no memory unless it is the reactor's spare
/// (whose buffers are lent to whichever connection is producing output, and returned).
#[derive(Default)]
pub(crate) struct Output {
    /// Chunks in stream order; when nothing is pending, at most one empty owned buffer kept for
    /// its capacity.
    queue: VecDeque<Chunk>,
    /// Bytes of the front chunk already written.
    written: usize,
    /// Bytes not yet written, over all chunks.
    len: usize,
}

impl Output {
    /// Bytes not yet written.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether everything has been written.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether this output holds any memory.
    pub(crate) fn is_allocated(&self) -> bool {
        self.queue.capacity() > 0
    }

    /// Runs `append` on the owned buffer at the end of the stream (creating one after a shared
    /// chunk) and counts what it appended.
    pub(crate) fn append<R>(&mut self, append: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        if !matches!(self.queue.back(), Some(Chunk::Owned(_))) {
            self.queue.push_back(Chunk::Owned(Vec::new()));
        }
        let Some(Chunk::Owned(tail)) = self.queue.back_mut() else {
            unreachable!("an owned tail was just ensured");
        };
        let before = tail.len();
        let result = append(tail);
        self.len += tail.len() - before;
        result
    }

    /// Appends a copy of `bytes`.
    pub(crate) fn extend_from_slice(&mut self, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.append(|tail| tail.extend_from_slice(bytes));
        }
    }

    /// Queues a shared payload by reference.
    pub(crate) fn push_shared(&mut self, payload: Arc<[u8]>) {
        if payload.is_empty() {
            return;
        }
        // An empty owned buffer at the front would now sit before the payload: drop it.
        if self.len == 0 {
            self.queue.clear();
            self.written = 0;
        }
        self.len += payload.len();
        self.queue.push_back(Chunk::Shared(payload));
    }

    /// One `write` (or `writev` for several chunks) of what is pending; returns the bytes
    /// written.
    ///
    /// # Errors
    ///
    /// Whatever the write returns, `WouldBlock` included.
    pub(crate) fn write_to(&mut self, sink: &mut impl Write) -> io::Result<usize> {
        let n = if self.queue.len() == 1 {
            sink.write(&self.queue[0].bytes()[self.written..])?
        } else {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let mut count = 0;
            for (i, chunk) in self.queue.iter().take(MAX_SLICES).enumerate() {
                let skip = if i == 0 { self.written } else { 0 };
                slices[i] = IoSlice::new(&chunk.bytes()[skip..]);
                count += 1;
            }
            sink.write_vectored(&slices[..count])?
        };
        self.advance(n);
        Ok(n)
    }

    /// Drops `n` written bytes from the front.
    fn advance(&mut self, mut n: usize) {
        self.len -= n;
        while n > 0 {
            let Some(front) = self.queue.front() else {
                break;
            };
            let left = front.bytes().len() - self.written;
            if n < left {
                self.written += n;
                return;
            }
            n -= left;
            self.written = 0;
            let done = self.queue.pop_front();
            if self.queue.is_empty() {
                // Keep the last owned buffer's capacity for the next frames.
                if let Some(Chunk::Owned(mut buf)) = done {
                    buf.clear();
                    self.queue.push_back(Chunk::Owned(buf));
                }
            }
        }
        if self.len == 0 {
            self.written = 0;
        }
    }

    /// Copies out and removes everything pending (for `TestConnection`).
    pub(crate) fn take_bytes(&mut self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.len);
        for (i, chunk) in self.queue.iter().enumerate() {
            let skip = if i == 0 { self.written } else { 0 };
            bytes.extend_from_slice(&chunk.bytes()[skip..]);
        }
        *self = Output::default();
        bytes
    }

    /// Keeps at most `capacity` bytes of spare buffer (after a large burst).
    pub(crate) fn shrink_to(&mut self, capacity: usize) {
        if let Some(Chunk::Owned(buf)) = self.queue.front_mut() {
            if self.len == 0 {
                buf.shrink_to(capacity);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that accepts at most `limit` bytes per call.
    struct Trickle {
        got: Vec<u8>,
        limit: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(self.limit);
            self.got.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Owned and shared chunks leave in stream order through partial writes, and an emptied
    /// output keeps one buffer for reuse.
    #[test]
    fn chunks_leave_in_order_through_partial_writes() {
        let shared: Arc<[u8]> = Arc::from(&b"SHARED"[..]);
        let mut out = Output::default();
        out.extend_from_slice(b"ab");
        out.push_shared(Arc::clone(&shared));
        out.extend_from_slice(b"cd");
        out.push_shared(Arc::clone(&shared));
        assert_eq!(out.len(), 16);
        let mut sink = Trickle {
            got: Vec::new(),
            limit: 3,
        };
        while !out.is_empty() {
            out.write_to(&mut sink).unwrap();
        }
        assert_eq!(sink.got, b"abSHAREDcdSHARED");
        assert_eq!(Arc::strong_count(&shared), 1, "written chunks are released");
        assert!(out.is_allocated());
        out.extend_from_slice(b"x");
        assert_eq!(out.take_bytes(), b"x");
        assert!(!out.is_allocated());
    }
}
