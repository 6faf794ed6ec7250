//! `ReadBuf`: received bytes waiting to be decoded.

use std::io::{self, Read};
use std::ops::Deref;

/// Received bytes not yet decoded, consumed from the front.
///
/// Decoders look at the unconsumed bytes through [`Deref`] (`&src[..]`) and remove a frame with
/// [`advance`](ReadBuf::advance) or [`split_to`](ReadBuf::split_to). Consuming is O(1): the
/// buffer keeps a start offset and only moves the remaining bytes to the front when it needs room
/// for a read, so decoding many small frames out of one read costs no memmove per frame.
///
/// The whole allocation is kept initialized so bytes can be read into it without `unsafe`.
#[derive(Default, Clone)]
pub struct ReadBuf {
    /// Storage; `buf.len()` is the usable capacity, every byte initialized.
    buf: Vec<u8>,
    /// Offset of the first unconsumed byte.
    start: usize,
    /// Offset one past the last received byte.
    end: usize,
}

impl ReadBuf {
    /// An empty buffer that owns no memory.
    pub const fn new() -> Self {
        ReadBuf {
            buf: Vec::new(),
            start: 0,
            end: 0,
        }
    }

    /// An empty buffer with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        ReadBuf {
            buf: vec![0; capacity],
            start: 0,
            end: 0,
        }
    }

    /// Number of unconsumed bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether every received byte has been consumed.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Bytes of memory the buffer holds (consumed, unconsumed and free).
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Free bytes after the unconsumed ones: what the next read can fill without moving or
    /// growing anything.
    pub fn spare_capacity(&self) -> usize {
        self.buf.len() - self.end
    }

    /// Consumes the first `n` bytes.
    ///
    /// # Panics
    ///
    /// If `n` is more than [`len`](ReadBuf::len).
    pub fn advance(&mut self, n: usize) {
        assert!(
            n <= self.len(),
            "advance({n}) past the {} buffered bytes",
            self.len()
        );
        self.start += n;
        if self.start == self.end {
            // Empty again: the next read starts at the front and needs no compaction.
            self.start = 0;
            self.end = 0;
        }
    }

    /// Removes the first `n` bytes and returns them as a vector of exactly that length.
    ///
    /// # Panics
    ///
    /// If `n` is more than [`len`](ReadBuf::len).
    pub fn split_to(&mut self, n: usize) -> Vec<u8> {
        let frame = self[..n].to_vec();
        self.advance(n);
        frame
    }

    /// Consumes every byte.
    pub fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// Appends `data`, growing the buffer if needed.
    pub fn extend_from_slice(&mut self, data: &[u8]) {
        self.reserve(data.len());
        self.buf[self.end..self.end + data.len()].copy_from_slice(data);
        self.end += data.len();
    }

    /// Makes room for at least `additional` more bytes after the unconsumed ones: first by moving
    /// them to the front, then by growing.
    pub fn reserve(&mut self, additional: usize) {
        if self.buf.len() - self.end >= additional {
            return;
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let needed = self.end + additional;
        if self.buf.len() < needed {
            self.buf.resize(needed, 0);
        }
    }

    /// Makes room for `want` bytes and does one `read` of at most `want` bytes into it (free
    /// space beyond is left alone: the caller's `want` bounds what one read takes).
    ///
    /// Returns what `read` returned: `Ok(0)` is end of stream (or `want == 0`).
    ///
    /// # Errors
    ///
    /// Whatever `src.read` returns, `WouldBlock` included; the buffer is unchanged then.
    pub fn read_from<R: Read + ?Sized>(&mut self, src: &mut R, want: usize) -> io::Result<usize> {
        self.reserve(want);
        let n = src.read(&mut self.buf[self.end..self.end + want])?;
        self.end += n;
        Ok(n)
    }

    /// Releases memory down to what the unconsumed bytes need plus `spare`.
    pub fn shrink_to(&mut self, spare: usize) {
        if self.buf.len() <= self.len() + spare {
            return;
        }
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        self.buf.truncate(self.end + spare);
        self.buf.shrink_to_fit();
    }
}

impl Deref for ReadBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }
}

impl AsRef<[u8]> for ReadBuf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl From<&[u8]> for ReadBuf {
    fn from(data: &[u8]) -> Self {
        ReadBuf {
            buf: data.to_vec(),
            start: 0,
            end: data.len(),
        }
    }
}

impl std::fmt::Debug for ReadBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadBuf")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Consuming and refilling keeps the unconsumed bytes in order across compaction and growth.
    #[test]
    fn consume_compact_grow() {
        let mut b = ReadBuf::with_capacity(8);
        b.extend_from_slice(b"abcdef");
        b.advance(4);
        assert_eq!(&b[..], b"ef");
        b.extend_from_slice(b"ghijklmn");
        assert_eq!(&b[..], b"efghijklmn");
        assert_eq!(b.split_to(3), b"efg");
        b.shrink_to(0);
        assert_eq!(b.capacity(), 7);
        assert_eq!(&b[..], b"hijklmn");
        b.advance(7);
        assert!(b.is_empty());
    }

    /// `read_from` appends exactly what the reader gave and reports end of stream as 0.
    #[test]
    fn read_from_reader() {
        let mut b = ReadBuf::new();
        let mut src: &[u8] = b"hello";
        assert_eq!(b.read_from(&mut src, 3).unwrap(), 3);
        assert_eq!(b.read_from(&mut src, 16).unwrap(), 2);
        assert_eq!(b.read_from(&mut src, 16).unwrap(), 0);
        assert_eq!(&b[..], b"hello");
    }

    /// One read takes at most `want` bytes, however much free space the buffer has.
    #[test]
    fn a_read_takes_at_most_want() {
        let mut b = ReadBuf::new();
        b.reserve(64);
        let mut src: &[u8] = &[7; 100];
        assert_eq!(b.read_from(&mut src, 10).unwrap(), 10);
        assert!(b.spare_capacity() >= 50);
        assert_eq!(b.read_from(&mut src, 20).unwrap(), 20);
        assert_eq!(b.len(), 30);
        assert_eq!(src.len(), 70);
    }
}
