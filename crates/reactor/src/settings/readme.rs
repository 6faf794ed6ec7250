//! Tests that hold the declarations to what people read: the README's Configuration table is
//! the one the declarations render, and every default shown reads back as the default.

use std::ops::ControlFlow;

use super::{Kind, Setting, Visit};
use crate::Config;

/// The table's header, as the README has it.
const HEADER: &str = "| Variable | Default | Accepted | Meaning |\n|---|---|---|---|\n";

/// Collects one README row per setting.
struct Rows(String);

impl Visit for Rows {
    type Break = ();

    fn setting<K: Kind>(&mut self, s: &Setting, kind: &K, _: &K::Value) -> ControlFlow<()> {
        let accepted = kind.accepted();
        let row = format!(
            "| `{}` | {} | {accepted} | {} |\n",
            s.var, s.default, s.meaning
        );
        self.0.push_str(&row);
        ControlFlow::Continue(())
    }
}

/// The Configuration table as the declarations render it.
fn expected_table() -> String {
    let mut rows = Rows(HEADER.to_string());
    let _ = Config::new().visit(&mut rows);
    rows.0
}

/// The first table under `## Configuration` in `readme`: its lines from the header on, up to
/// the first line that is not a table row.
fn configuration_table(readme: &str) -> String {
    let section = readme
        .split_once("\n## Configuration\n")
        .map_or("", |(_, rest)| rest);
    let mut table = String::new();
    for line in section
        .lines()
        .skip_while(|line| !line.starts_with("| Variable |"))
        .take_while(|line| line.starts_with('|'))
    {
        table.push_str(line);
        table.push('\n');
    }
    table
}

/// The README's Configuration table (the first table of that section; the examples' own
/// variables are in a second table after it, not compared) is exactly the one the declarations
/// render, so a setting cannot be added, changed or removed without the README following.
#[test]
fn readme_table_matches_the_declarations() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let readme = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let expected = expected_table();
    assert!(
        configuration_table(&readme) == expected,
        "README.md's Configuration table differs from the settings declared in \
         crates/reactor/src/settings.rs; the table they declare is:\n\n{expected}"
    );
}

/// Checks each setting's default: in bounds, written and read back unchanged, and shown (when
/// the shown default is a value in backticks, not prose such as `available cores`) as a value
/// that reads as the default.
struct Defaults(Vec<String>);

impl Visit for Defaults {
    type Break = ();

    fn setting<K: Kind>(&mut self, s: &Setting, kind: &K, value: &K::Value) -> ControlFlow<()> {
        let rendered = kind.render(value);
        if kind.parse(&rendered).as_ref() != Some(value) {
            self.0
                .push(format!("{}: {rendered:?} reads back differently", s.var));
        }
        if let Err(expected) = kind.check(value) {
            self.0
                .push(format!("{}: default out of bounds ({expected})", s.var));
        }
        if let Some(shown) = s.default.split('`').nth(1) {
            if kind.parse(shown).as_ref() != Some(value) {
                self.0
                    .push(format!("{}: shown as {shown:?}, is {value:?}", s.var));
            }
        }
        ControlFlow::Continue(())
    }
}

/// Every declared setting's default round-trips through its kind and matches its shown form.
#[test]
fn defaults_round_trip() {
    let mut defaults = Defaults(Vec::new());
    let _ = Config::new().visit(&mut defaults);
    assert!(defaults.0.is_empty(), "{:#?}", defaults.0);
}

/// Every setting's variable is distinct and has the `TURBINE_` prefix and the field's name.
#[test]
fn variables_follow_the_field_names() {
    struct Names(Vec<(&'static str, &'static str)>);
    impl Visit for Names {
        type Break = ();
        fn setting<K: Kind>(&mut self, s: &Setting, _: &K, _: &K::Value) -> ControlFlow<()> {
            self.0.push((s.name, s.var));
            ControlFlow::Continue(())
        }
    }
    let mut names = Names(Vec::new());
    let _ = Config::new().visit(&mut names);
    for (name, var) in names.0 {
        assert_eq!(var, format!("TURBINE_{}", name.to_ascii_uppercase()));
    }
}
