//! Value kinds of text: a file path, a comma-separated list of names, and one of CIDR blocks.

use std::path::PathBuf;

use super::kind::Kind;
use crate::Cidr;

/// A path to a file (read when the server is set up, not here).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FilePath;

impl Kind for FilePath {
    type Value = PathBuf;

    fn parse(&self, text: &str) -> Option<PathBuf> {
        (!text.is_empty()).then(|| PathBuf::from(text))
    }

    fn render(&self, value: &PathBuf) -> String {
        value.display().to_string()
    }

    fn expected(&self) -> String {
        "a path to a file".into()
    }

    fn accepted(&self) -> String {
        "a file path".into()
    }
}

/// A comma-separated list of names (`h2,http/1.1`): printable ASCII, no spaces, 1 to 255
/// bytes each; empty or `off` for none.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NameList;

impl Kind for NameList {
    type Value = Vec<String>;

    fn parse(&self, text: &str) -> Option<Vec<String>> {
        if text.is_empty() || text.eq_ignore_ascii_case("off") {
            return Some(Vec::new());
        }
        text.split(',')
            .map(|name| {
                let name = name.trim();
                let ok =
                    (1..=255).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_graphic());
                ok.then(|| name.to_string())
            })
            .collect()
    }

    fn render(&self, value: &Vec<String>) -> String {
        if value.is_empty() {
            "off".into()
        } else {
            value.join(",")
        }
    }

    fn expected(&self) -> String {
        "a comma-separated list of names (printable ASCII, no spaces), e.g. h2,http/1.1, or off"
            .into()
    }

    fn accepted(&self) -> String {
        "comma-separated names, or `off`".into()
    }
}

/// A comma-separated list of CIDR blocks (`10.0.0.0/8,::1/128`), at least one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CidrList;

impl Kind for CidrList {
    type Value = Vec<Cidr>;

    fn parse(&self, text: &str) -> Option<Vec<Cidr>> {
        text.split(',')
            .map(|block| block.trim().parse().ok())
            .collect()
    }

    fn render(&self, value: &Vec<Cidr>) -> String {
        value
            .iter()
            .map(Cidr::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }

    fn expected(&self) -> String {
        "a comma-separated list of CIDR blocks, e.g. 10.0.0.0/8,::1/128 (0.0.0.0/0,::/0 trusts \
         every address)"
            .into()
    }

    fn accepted(&self) -> String {
        "comma-separated CIDR blocks".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lists parse strictly and render back; paths take any non-empty text.
    #[test]
    fn lists_and_paths() {
        assert_eq!(
            NameList.parse("h2, http/1.1"),
            Some(vec!["h2".into(), "http/1.1".into()])
        );
        assert_eq!(NameList.parse("off"), Some(vec![]));
        assert_eq!(NameList.parse("a,,b"), None);
        assert_eq!(NameList.parse("has space"), None);
        assert_eq!(NameList.render(&vec!["a".into(), "b".into()]), "a,b");
        assert_eq!(
            FilePath.parse("/etc/x.pem"),
            Some(PathBuf::from("/etc/x.pem"))
        );
        assert_eq!(FilePath.parse(""), None);
        let blocks = CidrList.parse("10.0.0.0/8, ::1").unwrap();
        assert_eq!(CidrList.render(&blocks), "10.0.0.0/8,::1/128");
        assert_eq!(CidrList.parse(""), None);
        assert_eq!(CidrList.parse("10.0.0.0/8,"), None);
        assert_eq!(CidrList.parse("10.0.0.0/40"), None);
    }
}
