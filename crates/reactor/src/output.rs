//! `Output`: a connection's bytes waiting to be written, owned or shared, frame by frame, and
//! file regions the socket sends itself.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, IoSlice, Write};
use std::sync::Arc;

use crate::FileRegion;

/// Most chunks handed to one `writev`.
const MAX_SLICES: usize = 64;

/// Where output is written: a byte sink that may also send a file's bytes itself.
pub(crate) trait Sink: Write {
    /// Whether [`send_file`](Sink::send_file) works here (a plain TCP socket on Linux).
    fn sends_files(&self) -> bool {
        false
    }

    /// Writes bytes that a file region follows. On TCP, with `MSG_MORE`: the kernel keeps a
    /// last partial segment for the region's first bytes instead of sending a small packet of
    /// its own (a response head before its body; nginx's `tcp_nopush` does the same).
    ///
    /// # Errors
    ///
    /// The write's error, `WouldBlock` included.
    fn write_before_file(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.write_vectored(bufs)
    }

    /// Sends up to `len` bytes of `file` from `offset` without copying them through user space
    /// (`sendfile`); returns how many went, 0 only if the file ends at `offset`.
    ///
    /// # Errors
    ///
    /// `Unsupported` where the sink cannot (TLS encrypts in user space); otherwise the
    /// write's error, `WouldBlock` included.
    fn send_file(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize> {
        let _ = (file, offset, len);
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// One piece of output.
enum Chunk {
    /// Bytes this connection's encoder wrote; later frames are appended to the last one.
    Owned(Vec<u8>),
    /// A payload shared with other connections (a broadcast): held by reference, never copied.
    Shared(Arc<[u8]>),
    /// A range of a file, one whole frame, that the sink sends from the page cache.
    File(FileRegion),
}

impl Chunk {
    /// The bytes held in memory; `None` for a file region.
    fn bytes(&self) -> Option<&[u8]> {
        match self {
            Chunk::Owned(v) => Some(v),
            Chunk::Shared(b) => Some(b),
            Chunk::File(_) => None,
        }
    }

    /// Its length in bytes.
    fn len(&self) -> usize {
        match self {
            Chunk::Owned(v) => v.len(),
            Chunk::Shared(b) => b.len(),
            Chunk::File(region) => region.len(),
        }
    }
}

/// The bytes a connection still has to write, in order, and where each frame ends.
///
/// Frames encoded on the reactor are appended to an owned buffer; a broadcast payload is queued
/// by reference, so one payload sent to a thousand connections is stored once; a file region is
/// queued as the file and a range, and the sink sends it (`sendfile`), its bytes counted like
/// the others until they are written. Several memory chunks leave in one `writev`. An empty `Output` owns no memory unless it is the reactor's spare
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

    /// Queues a file region, one frame, for the sink to send itself.
    pub(crate) fn push_file(&mut self, region: FileRegion) {
        if region.is_empty() {
            return;
        }
        let len = region.len();
        self.push_chunk(Chunk::File(region));
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
            if chunk.len() > 0 {
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
                let available = chunk.len() - skip;
                chunks += 1;
                if available >= left {
                    // A frame can end inside an owned chunk only: a shared payload or a file
                    // region is one whole frame.
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

    /// One `write` (or `writev` for several chunks, up to the next file region) of what is
    /// pending, or one `send_file` of the file region in front; returns the bytes written.
    ///
    /// # Errors
    ///
    /// Whatever the write returns, `WouldBlock` included; `UnexpectedEof` if the file of the
    /// region in front ends before the region does (it shrank since it was queued: the peer
    /// cannot be given the bytes it was promised).
    pub(crate) fn write_to(&mut self, sink: &mut impl Sink) -> io::Result<usize> {
        let n = match self.queue.front() {
            Some(Chunk::File(region)) => {
                let left = region.len() - self.written;
                let at = region.offset() + self.written as u64;
                let n = sink.send_file(region.file(), at, left)?;
                if n == 0 && left > 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the file ended inside a region queued to send (it shrank)",
                    ));
                }
                n
            }
            // One chunk of bytes, the usual case (replies appended to one buffer): a plain
            // `write`, without filling the slice array first.
            Some(chunk) if self.queue.len() == 1 => {
                let bytes = chunk.bytes().unwrap_or_default();
                sink.write(&bytes[self.written..])?
            }
            _ => {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                let mut count = 0;
                for (i, chunk) in self.queue.iter().take(MAX_SLICES).enumerate() {
                    let Some(bytes) = chunk.bytes() else {
                        break; // a file region goes on its own
                    };
                    let skip = if i == 0 { self.written } else { 0 };
                    slices[i] = IoSlice::new(&bytes[skip..]);
                    count += 1;
                }
                // Two chunks at least (one alone took the arm above), so one slice here only
                // ever comes before a file region.
                if matches!(self.queue.get(count), Some(Chunk::File(_))) {
                    sink.write_before_file(&slices[..count])?
                } else {
                    sink.write_vectored(&slices[..count])?
                }
            }
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
            let left = front.len() - self.written;
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

    impl Sink for Trickle {
        fn sends_files(&self) -> bool {
            true
        }

        /// Reads the file, as `sendfile` does, up to `limit` bytes.
        fn send_file(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize> {
            use std::os::unix::fs::FileExt;
            let mut buf = vec![0; len.min(self.limit)];
            let n = file.read_at(&mut buf, offset)?;
            self.got.extend_from_slice(&buf[..n]);
            Ok(n)
        }
    }

    /// A file in the temporary directory holding `bytes`, removed when the test ends.
    struct TempFile {
        path: std::path::PathBuf,
        file: Arc<File>,
    }

    impl TempFile {
        fn new(name: &str, bytes: &[u8]) -> TempFile {
            let path =
                std::env::temp_dir().join(format!("turbine-output-{}-{name}", std::process::id()));
            std::fs::write(&path, bytes).unwrap();
            let file = Arc::new(File::open(&path).unwrap());
            TempFile { path, file }
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.path);
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

    /// File regions leave in stream order between memory chunks, through partial writes of
    /// every size, and count as pending bytes until sent; an empty region is no frame.
    #[test]
    fn file_regions_leave_in_order() {
        let contents: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let temp = TempFile::new("order", &contents);
        for limit in [1, 3, 7, 100, 1 << 20] {
            let mut out = Output::default();
            frame(&mut out, b"head\n");
            out.push_file(FileRegion::new(Arc::clone(&temp.file), 10, 500));
            out.push_file(FileRegion::new(Arc::clone(&temp.file), 0, 0));
            frame(&mut out, b"-");
            out.push_shared(Arc::from(&b"shared"[..]));
            out.push_file(FileRegion::new(Arc::clone(&temp.file), 990, 10));
            assert_eq!(out.len(), 5 + 500 + 1 + 6 + 10);
            let want = [
                &b"head\n"[..],
                &contents[10..510],
                b"-shared",
                &contents[990..],
            ]
            .concat();
            assert_eq!(drain(&mut out, limit), want, "writes of {limit}");
            assert_eq!(
                Arc::strong_count(&temp.file),
                1,
                "written regions are released"
            );
        }
    }

    /// Truncating keeps the rest of a half-sent file region and drops the regions behind it.
    #[test]
    fn truncation_finishes_a_file_region() {
        let contents = vec![b'f'; 100];
        let temp = TempFile::new("truncate", &contents);
        let mut out = Output::default();
        out.push_file(FileRegion::new(Arc::clone(&temp.file), 0, 100));
        out.push_file(FileRegion::new(Arc::clone(&temp.file), 0, 100));
        let mut sink = Trickle {
            got: Vec::new(),
            limit: 40,
        };
        out.write_to(&mut sink).unwrap();
        assert_eq!(out.truncate_to_frame(), 100);
        frame(&mut out, b"bye");
        let mut seen = sink.got;
        seen.extend_from_slice(&drain(&mut out, 30));
        assert_eq!(seen, [&contents[..], b"bye"].concat());
    }

    /// A file that ends inside its region (it shrank after being queued) is an error, not a
    /// short frame passed off as whole.
    #[test]
    fn a_shrunk_file_is_an_error() {
        let temp = TempFile::new("shrunk", b"0123456789");
        let mut out = Output::default();
        out.push_file(FileRegion::new(Arc::clone(&temp.file), 4, 20));
        let mut sink = Trickle {
            got: Vec::new(),
            limit: 100,
        };
        assert_eq!(out.write_to(&mut sink).unwrap(), 6);
        let e = out.write_to(&mut sink).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(sink.got, b"456789");
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
