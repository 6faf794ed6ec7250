//! `SortedSet`: members ordered by score, then by their bytes, as Redis orders them.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// A score that is never NaN, ordered as numbers are (`-0` equals `0`).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Score(f64);

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        // Never NaN: `ZADD` refuses it and an increment that would make one is an error.
        self.0.partial_cmp(&other.0).unwrap_or(Ordering::Equal)
    }
}

/// A sorted set: each member's score by member, and the members in order.
///
/// Both halves share each member's bytes through an `Arc`. Adding, updating and popping the
/// lowest cost O(log n); a range by rank walks from the nearest end, O(rank + count).
#[derive(Default)]
pub(crate) struct SortedSet {
    /// Each member's score.
    scores: HashMap<Arc<[u8]>, f64>,
    /// The members by score, then by bytes.
    order: BTreeSet<(Score, Arc<[u8]>)>,
}

impl SortedSet {
    /// The score of `member`, if it is in the set.
    pub(crate) fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    /// Adds `member` with `score`, or moves it to `score`. `score` must not be NaN.
    pub(crate) fn insert(&mut self, member: &[u8], score: f64) {
        match self.scores.get_key_value(member) {
            // The same score (`-0` and `0` alike, as in Redis): nothing moves.
            Some((_, &old)) if Score(old) == Score(score) => {}
            Some((key, &old)) => {
                let key = Arc::clone(key);
                self.order.remove(&(Score(old), Arc::clone(&key)));
                self.order.insert((Score(score), Arc::clone(&key)));
                self.scores.insert(key, score);
            }
            None => {
                let key: Arc<[u8]> = Arc::from(member);
                self.order.insert((Score(score), Arc::clone(&key)));
                self.scores.insert(key, score);
            }
        }
    }

    /// How many members there are.
    pub(crate) fn len(&self) -> usize {
        self.scores.len()
    }

    /// Removes and returns the member with the lowest score (the lowest bytes among equals).
    pub(crate) fn pop_min(&mut self) -> Option<(Vec<u8>, f64)> {
        let (Score(score), member) = self.order.pop_first()?;
        self.scores.remove(&member[..]);
        Some((member.to_vec(), score))
    }

    /// The members of ranks `start..=stop` (both within the set), lowest first, or highest
    /// first with `rev`.
    pub(crate) fn range(
        &self,
        start: usize,
        stop: usize,
        rev: bool,
    ) -> Box<dyn Iterator<Item = (&[u8], f64)> + '_> {
        let members = self.order.iter().map(|(Score(s), m)| (&m[..], *s));
        let count = stop + 1 - start;
        if rev {
            Box::new(members.rev().skip(start).take(count))
        } else {
            Box::new(members.skip(start).take(count))
        }
    }
}

/// A score as Redis reads it (`strtod`, refusing NaN, overflow to infinity and underflow to
/// zero); `inf`, `+inf` and `-inf` are fine. Unlike Redis, hexadecimal (`0x10`) is refused.
pub(crate) fn parse_score(text: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(text).ok()?;
    let value: f64 = text.parse().ok()?;
    if value.is_nan() {
        return None;
    }
    let unsigned = text.trim_start_matches(['+', '-']).to_ascii_lowercase();
    if value.is_infinite() && !unsigned.starts_with("inf") {
        return None; // too large: strtod's ERANGE
    }
    let mantissa = unsigned.split('e').next().unwrap_or_default();
    if value == 0.0 && mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
        return None; // too small: strtod's ERANGE
    }
    Some(value)
}

/// A score as Redis 7.2 and later write it: the shortest decimal that reads back as the same
/// number, in C's `%g` layout (an exponent below -4 or from 17 on is written `1.5e+20`),
/// `inf`, `-inf`, and `0` for either zero. (Redis 7.0 wrote 17 significant digits,
/// `0.10000000000000001` where this writes `0.1`.)
pub(crate) fn format_score(value: f64) -> String {
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if value == 0.0 {
        return "0".to_string();
    }
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("`{:e}` writes an exponent");
    let exponent: i32 = exponent.parse().expect("a decimal exponent");
    if (-4..17).contains(&exponent) {
        format!("{value}")
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Equal scores order by member bytes; `-0` and `0` are equal.
    #[test]
    fn order_by_score_then_member() {
        let mut set = SortedSet::default();
        for (member, score) in [("b", 1.0), ("a", 1.0), ("c", 0.0), ("d", -0.0), ("e", -1.5)] {
            set.insert(member.as_bytes(), score);
        }
        set.insert(b"e", 5.0);
        let order: Vec<&[u8]> = set.range(0, 4, false).map(|(m, _)| m).collect();
        assert_eq!(order, [&b"c"[..], b"d", b"a", b"b", b"e"]);
        assert_eq!(
            set.range(0, 1, true).map(|(m, _)| m).collect::<Vec<_>>(),
            [&b"e"[..], b"b"]
        );
        assert_eq!(set.pop_min(), Some((b"c".to_vec(), 0.0)));
        assert_eq!(set.len(), 4);
        assert_eq!(set.score(b"e"), Some(5.0));
    }

    /// Moving a member to the score it has (`-0` for `0` too) leaves it as it was, as Redis
    /// does; moving it to another score reorders it.
    #[test]
    fn the_same_score_moves_nothing() {
        let mut set = SortedSet::default();
        set.insert(b"a", 0.0);
        set.insert(b"b", 1.0);
        set.insert(b"a", -0.0);
        assert_eq!(set.score(b"a").map(f64::to_bits), Some(0.0f64.to_bits()));
        set.insert(b"a", 2.0);
        assert_eq!(set.pop_min(), Some((b"b".to_vec(), 1.0)));
        assert_eq!(set.pop_min(), Some((b"a".to_vec(), 2.0)));
        assert_eq!(set.len(), 0);
    }

    /// Scores print like Redis 7.2's replies.
    #[test]
    fn score_formats() {
        for (value, text) in [
            (1.0, "1"),
            (-2.0, "-2"),
            (1.5, "1.5"),
            (0.1, "0.1"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (1e300, "1e+300"),
            (-1.25e-300, "-1.25e-300"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (-0.0, "0"),
        ] {
            assert_eq!(format_score(value), text);
        }
    }

    /// Scores parse like `strtod` with Redis's checks.
    #[test]
    fn score_parsing() {
        for (text, value) in [
            ("1", Some(1.0)),
            ("+1.5", Some(1.5)),
            (".5", Some(0.5)),
            ("-inf", Some(f64::NEG_INFINITY)),
            ("+inf", Some(f64::INFINITY)),
            ("1e3", Some(1000.0)),
            ("0e5", Some(0.0)),
            ("nan", None),
            ("1e400", None),
            ("1e-400", None),
            (" 1", None),
            ("abc", None),
            ("", None),
        ] {
            assert_eq!(parse_score(text.as_bytes()), value, "{text}");
        }
    }
}
