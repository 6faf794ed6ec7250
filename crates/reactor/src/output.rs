//! `Output`: a connection's bytes waiting to be written, owned or shared, frame by frame.

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

/// The bytes a connection still has to write, in order, and where each frame ends.
///
/// Frames encoded on the reactor are appended to an owned buffer; a broadcast payload is queued
/// by reference, so one payload sent to a thousand connections is stored once. Several chunks
/// leave in one `writev`. An empty `Output` owns no memory unless it is the reactor's spare
/// (whose buffers are lent to whichever connection is producing output, and returned).
///
/// Offsets below count bytes in the connection's output stream since this value was created:
/// `appended` is the end of everything queued, `appended - len` the end of what was written.
/// Frame ends are kept so that [`truncate_to_frame`](Output::truncate_to_frame) can drop the
/// frames not yet started without tearing the one being written.
#[derive(Default)]
pub(crate) struct Output {
    /// Chunks in stream order; when nothing is pending, at most one empty owned buffer kept for
    /// its capacity.
    queue: VecDeque<Chunk>,
    /// Bytes of the front chunk already written.
    written: usize,
    /// Bytes not yet written, over all chunks.
    len: usize,
    /// Stream offset of the end of everything queued.
    appended: u64,
    /// Stream offset where each frame not completely written ends, in order.
    ends: VecDeque<u64>,
    /// Stream offset where the first frame not completely written begins.
    frame_start: u64,
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

    /// Runs `encode` on the owned buffer at the end of the stream (creating one after a shared
    /// chunk) and records what it appended as one frame.
    pub(crate) fn push_frame<R>(&mut self, encode: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        if !matches!(self.queue.back(), Some(Chunk::Owned(_))) {
            self.queue.push_back(Chunk::Owned(Vec::new()));
        }
        let Some(Chunk::Owned(tail)) = self.queue.back_mut() else {
            unreachable!("an owned tail was just ensured");
        };
        let before = tail.len();
        let result = encode(tail);
        let added = tail.len() - before;
        self.note_frame(added);
        result
    }

    /// Queues bytes already encoded, one frame: a large buffer is queued as it is (moved, not
    /// copied); a small one is copied into the tail, which is cheaper than a chunk of its own.
    pub(crate) fn push_encoded(&mut self, bytes: Vec<u8>) {
        /// Below this, copying beats a chunk (and a `writev` slot) of its own.
        const MOVE_AT: usize = 4096;
        if bytes.len() < MOVE_AT {
            self.push_frame(|dst| dst.extend_from_slice(&bytes));
            return;
        }
        let len = bytes.len();
        self.push_chunk(Chunk::Owned(bytes));
        self.note_frame(len);
    }

    /// Queues a shared payload, one frame, by reference.
    pub(crate) fn push_shared(&mut self, payload: Arc<[u8]>) {
        if payload.is_empty() {
            return;
        }
        let len = payload.len();
        self.push_chunk(Chunk::Shared(payload));
        self.note_frame(len);
    }

    /// Moves every frame of `other` (which was never written) to the end of this output.
    pub(crate) fn append(&mut self, mut other: Output) {
        let base = self.appended - other.frame_start;
        for end in other.ends.drain(..) {
            self.ends.push_back(base + end);
        }
        self.appended += other.len as u64;
        self.len += other.len;
        for chunk in other.queue.drain(..) {
            if !chunk.bytes().is_empty() {
                self.push_chunk(chunk);
            }
        }
    }

    /// Queues a chunk, dropping a lone empty buffer that would otherwise sit before it.
    fn push_chunk(&mut self, chunk: Chunk) {
        if self.len == 0 {
            self.queue.clear();
            self.written = 0;
        }
        self.queue.push_back(chunk);
    }

    /// Counts `len` bytes just queued as one frame.
    fn note_frame(&mut self, len: usize) {
        if len == 0 {
            return;
        }
        self.len += len;
        self.appended += len as u64;
        self.ends.push_back(self.appended);
    }

    /// Drops every frame not yet started, keeping the rest of the one being written (if a
    /// write stopped inside it), so the peer never sees a torn frame. Returns the bytes dropped.
    pub(crate) fn truncate_to_frame(&mut self) -> usize {
        let done = self.appended - self.len as u64;
        let keep = if done > self.frame_start {
            // A frame is half written: its end is the first one recorded.
            let end = self.ends.front().copied().unwrap_or(self.appended);
            (end - done) as usize
        } else {
            0
        };
        let dropped = self.len - keep;
        if keep == 0 {
            self.queue.clear();
            self.written = 0;
            self.ends.clear();
            self.frame_start = done;
        } else {
            let mut left = keep;
            let mut chunks = 0;
            for (i, chunk) in self.queue.iter_mut().enumerate() {
                let skip = if i == 0 { self.written } else { 0 };
                let available = chunk.bytes().len() - skip;
                chunks += 1;
                if available >= left {
                    // A frame can end inside an owned chunk only: a shared payload is one
                    // whole frame.
                    if let Chunk::Owned(bytes) = chunk {
                        bytes.truncate(skip + left);
                    }
                    break;
                }
                left -= available;
            }
            self.queue.truncate(chunks);
            self.ends.truncate(1);
        }
        self.len = keep;
        self.appended = done + keep as u64;
        dropped
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
        let done = self.appended - self.len as u64;
        while self.ends.front().is_some_and(|&end| end <= done) {
            self.frame_start = self.ends.pop_front().unwrap_or(done);
        }
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
            let finished = self.queue.pop_front();
            if self.queue.is_empty() {
                // Keep the last owned buffer's capacity for the next frames.
                if let Some(Chunk::Owned(mut buf)) = finished {
                    buf.clear();
                    self.queue.push_back(Chunk::Owned(buf));
                }
            }
        }
        if self.len == 0 {
            self.written = 0;
        }
    }

    /// Keeps at most `capacity` bytes of spare buffer (after a large burst).
    pub(crate) fn shrink_to(&mut self, capacity: usize) {
        if self.len == 0 {
            if let Some(Chunk::Owned(buf)) = self.queue.front_mut() {
                buf.shrink_to(capacity);
            }
            self.ends.shrink_to(capacity / 64);
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

        /// Takes up to `limit` bytes across the slices, as `writev` does.
        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            let mut left = self.limit;
            for buf in bufs {
                let n = buf.len().min(left);
                self.got.extend_from_slice(&buf[..n]);
                left -= n;
            }
            Ok(self.limit - left)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn frame(out: &mut Output, bytes: &[u8]) {
        out.push_frame(|dst| dst.extend_from_slice(bytes));
    }

    fn drain(out: &mut Output, limit: usize) -> Vec<u8> {
        let mut sink = Trickle {
            got: Vec::new(),
            limit,
        };
        while !out.is_empty() {
            out.write_to(&mut sink).unwrap();
        }
        sink.got
    }

    /// Owned and shared chunks leave in stream order through partial writes, and an emptied
    /// output keeps one buffer for reuse.
    #[test]
    fn chunks_leave_in_order_through_partial_writes() {
        let shared: Arc<[u8]> = Arc::from(&b"SHARED"[..]);
        let mut out = Output::default();
        frame(&mut out, b"ab");
        out.push_shared(Arc::clone(&shared));
        frame(&mut out, b"cd");
        out.push_shared(Arc::clone(&shared));
        assert_eq!(out.len(), 16);
        assert_eq!(drain(&mut out, 3), b"abSHAREDcdSHARED");
        assert_eq!(Arc::strong_count(&shared), 1, "written chunks are released");
        assert!(out.is_allocated());
        assert!(out.ends.is_empty());
    }

    /// Truncating keeps exactly the rest of a half-written frame, at every cut point, and
    /// frames queued afterwards follow it.
    #[test]
    fn truncation_never_tears_a_frame() {
        let frames: [&[u8]; 4] = [b"one\n", b"two-two\n", b"three\n", b"four\n"];
        let stream: Vec<u8> = frames.concat();
        for cut in 0..stream.len() {
            let mut out = Output::default();
            for (i, f) in frames.iter().enumerate() {
                if i == 2 {
                    out.push_shared(Arc::from(*f));
                } else {
                    frame(&mut out, f);
                }
            }
            let mut sink = Trickle {
                got: Vec::new(),
                limit: cut,
            };
            if cut > 0 {
                out.write_to(&mut sink).unwrap();
            }
            out.truncate_to_frame();
            frame(&mut out, b"bye\n");
            let rest = drain(&mut out, 5);
            let mut seen = sink.got;
            seen.extend_from_slice(&rest);
            // Whole frames up to the one the cut fell in, then the goodbye.
            let mut want = Vec::new();
            for f in frames {
                if want.len() >= cut {
                    break;
                }
                want.extend_from_slice(f);
            }
            want.extend_from_slice(b"bye\n");
            assert_eq!(seen, want, "cut at {cut}");
        }
    }

    /// A large encoded buffer is queued as it is (moved: its heap block is the chunk) and a
    /// small one copied; both are whole frames for truncation.
    #[test]
    fn encoded_buffers_move_or_copy() {
        let mut out = Output::default();
        frame(&mut out, b"head\n");
        let big = vec![b'x'; 8192];
        let block = big.as_ptr();
        out.push_encoded(big);
        assert!(matches!(out.queue.back(), Some(Chunk::Owned(v)) if v.as_ptr() == block));
        out.push_encoded(b"tail\n".to_vec());
        assert_eq!(out.len(), 5 + 8192 + 5);
        let mut sink = Trickle {
            got: Vec::new(),
            limit: 100,
        };
        out.write_to(&mut sink).unwrap();
        out.truncate_to_frame();
        assert_eq!(
            drain(&mut out, 1 << 20).len(),
            8192 - 95,
            "the big frame is finished"
        );
    }

    /// Frames moved from another output keep their boundaries.
    #[test]
    fn appended_outputs_keep_frame_ends() {
        let mut out = Output::default();
        frame(&mut out, b"reply\n");
        let mut held = Output::default();
        frame(&mut held, b"held-1\n");
        frame(&mut held, b"held-2\n");
        out.append(held);
        let mut sink = Trickle {
            got: Vec::new(),
            limit: 8, // "reply\nhe": inside the first held frame
        };
        out.write_to(&mut sink).unwrap();
        out.truncate_to_frame();
        assert_eq!(drain(&mut out, 100), b"ld-1\n");
    }
}
