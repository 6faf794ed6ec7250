//! Message contents: deterministic per (connection, sequence number), so that the expected
//! reply can be regenerated instead of kept.

use crate::Framing;

/// The bytes a line may hold: 64 printable ASCII characters, so one random byte's low six bits
/// pick one. No `'\n'`, no `'\r'` (a lines codec would strip it) and no space.
const LINE_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Bytes in a `Framing::Length` header.
pub(crate) const LENGTH_HEADER: usize = 4;

/// Appends message number `seq` of connection `conn` to `out`: exactly `size` bytes, framing
/// included.
///
/// The same arguments always give the same bytes; different connections or sequence numbers
/// give unrelated ones, so a reply meant for another message, or a shifted one, does not match.
/// `size` must be at least [`Framing::min_size`]; the caller checks it.
pub(crate) fn write_message(framing: Framing, size: usize, conn: u64, seq: u64, out: &mut Vec<u8>) {
    debug_assert!(size >= framing.min_size());
    out.reserve(size);
    let mut rng = Rng::new(conn, seq);
    match framing {
        Framing::Raw => rng.fill(out, size, |b| b),
        Framing::Lines => {
            rng.fill(out, size - 1, |b| LINE_ALPHABET[usize::from(b & 63)]);
            out.push(b'\n');
        }
        Framing::Length => {
            let payload = size - LENGTH_HEADER;
            // A payload over 4 GiB cannot be framed; `LoadConfig` validation refuses it first.
            let len = u32::try_from(payload).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            rng.fill(out, payload, |b| b);
        }
    }
}

/// SplitMix64: tiny, fast, and good enough to make every message distinct.
struct Rng {
    /// The generator's state, advanced by a constant per output word.
    state: u64,
}

impl Rng {
    /// The generator for message `seq` of connection `conn`.
    fn new(conn: u64, seq: u64) -> Rng {
        // Mixing each input separately keeps (conn, seq) and (seq, conn) apart.
        Rng {
            state: mix(mix(conn ^ 0x5851_F42D_4C95_7F2D) ^ seq),
        }
    }

    /// The next 64 random bits.
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.state)
    }

    /// Appends `n` random bytes to `out`, each passed through `map`.
    fn fill(&mut self, out: &mut Vec<u8>, n: usize, map: impl Fn(u8) -> u8) {
        let mut left = n;
        while left > 0 {
            let word = self.next().to_le_bytes();
            let take = left.min(word.len());
            out.extend(word[..take].iter().map(|&b| map(b)));
            left -= take;
        }
    }
}

/// SplitMix64's output function: a bijection that scatters every input bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One message as a fresh vector.
    fn message(framing: Framing, size: usize, conn: u64, seq: u64) -> Vec<u8> {
        let mut out = Vec::new();
        write_message(framing, size, conn, seq, &mut out);
        out
    }

    /// Every framing writes exactly `size` bytes, and appends rather than overwrites.
    #[test]
    fn size_is_exact() {
        for framing in [Framing::Raw, Framing::Lines, Framing::Length] {
            for size in framing.min_size()..200 {
                let mut out = b"keep".to_vec();
                write_message(framing, size, 3, 9, &mut out);
                assert_eq!(out.len(), 4 + size, "{framing} size {size}");
                assert_eq!(&out[..4], b"keep");
            }
        }
    }

    /// A line is printable ASCII with one `'\n'`, at its end, and no `'\r'`.
    #[test]
    fn lines_hold_one_newline_at_the_end() {
        for seq in 0..500 {
            for size in [2, 3, 8, 9, 64, 1000] {
                let line = message(Framing::Lines, size, seq % 7, seq);
                let (last, body) = line.split_last().unwrap();
                assert_eq!(*last, b'\n');
                assert!(body.iter().all(|&b| b.is_ascii_graphic()), "{body:?}");
            }
        }
    }

    /// A length-framed message announces its payload length, big-endian, in four bytes.
    #[test]
    fn length_header_counts_the_payload() {
        for size in [5, 6, 64, 300, 70_000] {
            let m = message(Framing::Length, size, 1, 2);
            let len = u32::from_be_bytes([m[0], m[1], m[2], m[3]]) as usize;
            assert_eq!(len, size - 4);
        }
        assert_eq!(&message(Framing::Length, 260, 0, 0)[..4], &[0, 0, 1, 0]);
    }

    /// The same (connection, sequence) gives the same bytes; any other gives different ones.
    #[test]
    fn deterministic_and_distinct() {
        let a = message(Framing::Raw, 64, 5, 10);
        assert_eq!(a, message(Framing::Raw, 64, 5, 10));
        assert_ne!(a, message(Framing::Raw, 64, 5, 11));
        assert_ne!(a, message(Framing::Raw, 64, 6, 10));
        assert_ne!(a, message(Framing::Raw, 64, 10, 5));
        // A shorter message is not simply a prefix of another sequence number's.
        assert_ne!(&a[..8], &message(Framing::Raw, 8, 5, 11)[..]);
    }
}
