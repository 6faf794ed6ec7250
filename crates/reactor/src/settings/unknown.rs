//! Spotting `TURBINE_*` variables that no setting reads, usually a misspelt name that would
//! otherwise be ignored without a word.

use std::fmt;

use crate::Config;

/// The prefix every setting's variable has; other variables are none of Turbine's business.
const PREFIX: &str = "TURBINE_";

/// A `TURBINE_*` variable that no setting reads, and the known name it is probably a typo of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnknownVariable {
    /// The variable as set.
    pub(crate) name: String,
    /// The nearest known variable by edit distance, when it is close enough to be a typo.
    pub(crate) nearest: Option<&'static str>,
}

impl fmt::Display for UnknownVariable {
    /// The warning `Config::with_env` logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.nearest {
            Some(known) => write!(f, "unknown variable {}: did you mean {known}?", self.name),
            None => write!(
                f,
                "unknown variable {}: see the README for the known ones",
                self.name
            ),
        }
    }
}

/// The names among `names` (say, the process environment's) that start with `TURBINE_` but
/// are not a setting's variable, in the order given.
pub(crate) fn unknown_variables(names: impl IntoIterator<Item = String>) -> Vec<UnknownVariable> {
    names
        .into_iter()
        .filter(|name| name.starts_with(PREFIX) && !Config::VARIABLES.contains(&name.as_str()))
        .map(|name| {
            let nearest = nearest(&name);
            UnknownVariable { name, nearest }
        })
        .collect()
}

/// The known variable closest to `name`, ignoring case, if it is within a third of the name's
/// length after the prefix (at least 1 edit): close enough to be a slip, not another word.
fn nearest(name: &str) -> Option<&'static str> {
    let upper = name.to_ascii_uppercase();
    let allowed = (upper.len().saturating_sub(PREFIX.len()) / 3).max(1);
    Config::VARIABLES
        .iter()
        .map(|known| (edit_distance(&upper, known), *known))
        .filter(|(distance, _)| *distance <= allowed)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, known)| known)
}

/// Levenshtein distance between two ASCII strings (insertions, deletions, substitutions).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    // One row of the usual table: `row[j]` is the distance from the prefix of `a` seen so far
    // to `b[..j]`.
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unknown(names: &[&str]) -> Vec<UnknownVariable> {
        unknown_variables(names.iter().map(|name| name.to_string()))
    }

    /// Known variables and variables without the prefix are not reported.
    #[test]
    fn known_and_foreign_names_pass() {
        let mut names: Vec<&str> = Config::VARIABLES.to_vec();
        names.extend([
            "RUST_LOG",
            "ECHO_FRAMING",
            "PATH",
            "turbine_reactors",
            "TURBINE",
        ]);
        assert_eq!(unknown(&names), []);
    }

    /// A slip of a letter or an underscore, or the wrong case, gets the intended name.
    #[test]
    fn typos_get_the_nearest_name() {
        let found = unknown(&[
            "TURBINE_MAXFRAME",
            "TURBINE_WORKER",
            "TURBINE_max_frame",
            "TURBINE_KEEPALIVE_INTERVALS",
            "TURBINE_REACTOR",
        ]);
        let nearest: Vec<_> = found.iter().map(|u| u.nearest).collect();
        assert_eq!(
            nearest,
            [
                Some("TURBINE_MAX_FRAME"),
                Some("TURBINE_WORKERS"),
                Some("TURBINE_MAX_FRAME"),
                Some("TURBINE_KEEPALIVE_INTERVAL"),
                Some("TURBINE_REACTORS"),
            ]
        );
        assert_eq!(
            found[0].to_string(),
            "unknown variable TURBINE_MAXFRAME: did you mean TURBINE_MAX_FRAME?"
        );
    }

    /// A name far from every known one points to the README instead of guessing.
    #[test]
    fn strangers_point_to_the_readme() {
        let found = unknown(&["TURBINE_FOO", "TURBINE_LOG_LEVEL"]);
        assert!(found.iter().all(|u| u.nearest.is_none()), "{found:?}");
        assert_eq!(
            found[0].to_string(),
            "unknown variable TURBINE_FOO: see the README for the known ones"
        );
    }

    /// The distance counts insertions, deletions and substitutions.
    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
