//! Splitting an inline command line into arguments, as Redis's `sdssplitargs` does.

use super::Command;

/// Why a line could not be split: a quote was not closed, or a closing quote was followed by
/// something other than a space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UnbalancedQuotes;

/// Inside which quotes the splitter is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    /// Outside quotes: a space ends the argument.
    None,
    /// Inside `"..."`: escapes are interpreted.
    Double,
    /// Inside `'...'`: only `\'` is an escape.
    Single,
}

/// Splits `line` (without its line ending) into arguments.
///
/// Arguments are separated by blanks (space, `\t`, `\n`, `\v`, `\f`, `\r`). Inside double
/// quotes `\xHH` is a byte in hex and `\n`, `\r`, `\t`, `\b`, `\a` the usual control bytes; any
/// other escaped byte stands for itself. Inside single quotes `\'` is a quote. A closing quote
/// must be followed by a blank or the end of the line. A NUL byte ends the line, as it ends a C
/// string in Redis. A blank line gives an empty command.
pub(crate) fn split(line: &[u8]) -> Result<Command, UnbalancedQuotes> {
    let line = &line[..memchr::memchr(0, line).unwrap_or(line.len())];
    // The arguments' bytes, one after another, and where each lies: never longer than the line.
    let mut arg = Vec::with_capacity(line.len());
    let mut spans = Vec::with_capacity(4);
    let mut i = 0;
    loop {
        while i < line.len() && is_blank(line[i]) {
            i += 1;
        }
        if i == line.len() {
            return Ok(Command::from_parts(arg, spans));
        }
        let start = arg.len();
        let mut quote = Quote::None;
        loop {
            let Some(&byte) = line.get(i) else {
                if quote == Quote::None {
                    break;
                }
                return Err(UnbalancedQuotes);
            };
            let next = line.get(i + 1).copied();
            match quote {
                Quote::None => match byte {
                    // The only bytes that end an unquoted argument (`\v` and `\f` do not).
                    b' ' | b'\n' | b'\r' | b'\t' => break,
                    b'"' => quote = Quote::Double,
                    b'\'' => quote = Quote::Single,
                    _ => {
                        // The plain bytes up to the next one that means something, at once.
                        let run = line[i..]
                            .iter()
                            .position(|&b| matches!(b, b' ' | b'\n' | b'\r' | b'\t' | b'"' | b'\''))
                            .unwrap_or(line.len() - i);
                        arg.extend_from_slice(&line[i..i + run]);
                        i += run - 1;
                    }
                },
                Quote::Double => match (byte, next) {
                    (b'\\', Some(b'x'))
                        if line.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
                            && line.get(i + 3).is_some_and(u8::is_ascii_hexdigit) =>
                    {
                        arg.push(hex(line[i + 2]) << 4 | hex(line[i + 3]));
                        i += 3;
                    }
                    (b'\\', Some(escaped)) => {
                        arg.push(match escaped {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                        i += 1;
                    }
                    (b'"', next) => {
                        if next.is_some_and(|b| !is_blank(b)) {
                            return Err(UnbalancedQuotes);
                        }
                        i += 1;
                        break;
                    }
                    _ => arg.push(byte),
                },
                Quote::Single => match (byte, next) {
                    (b'\\', Some(b'\'')) => {
                        arg.push(b'\'');
                        i += 1;
                    }
                    (b'\'', next) => {
                        if next.is_some_and(|b| !is_blank(b)) {
                            return Err(UnbalancedQuotes);
                        }
                        i += 1;
                        break;
                    }
                    _ => arg.push(byte),
                },
            }
            i += 1;
        }
        spans.push((start, arg.len()));
    }
}

/// C's `isspace` in the C locale.
fn is_blank(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

/// The value of a hex digit.
fn hex(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Result<Vec<String>, UnbalancedQuotes> {
        split(line.as_bytes()).map(|command| {
            command
                .args()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
    }

    /// Blanks separate arguments; runs of them and blanks at either end give nothing.
    #[test]
    fn plain_words() {
        assert_eq!(
            args("  SET\tkey  value "),
            Ok(vec!["SET".into(), "key".into(), "value".into()])
        );
        assert_eq!(args(" \t "), Ok(vec![]));
        assert_eq!(args(""), Ok(vec![]));
    }

    /// Double quotes keep spaces and interpret escapes; single quotes only `\'`.
    #[test]
    fn quotes_and_escapes() {
        assert_eq!(
            args(r#"set "a b" "x\n\x41\"\\" 'it\'s' '\n'"#),
            Ok(vec![
                "set".into(),
                "a b".into(),
                "x\nA\"\\".into(),
                "it's".into(),
                "\\n".into()
            ])
        );
        assert_eq!(args(r#""""#), Ok(vec![String::new()]));
        // A quote inside a word opens a quoted part of that word.
        assert_eq!(args(r#"ab"c d""#), Ok(vec!["abc d".into()]));
        // `\x` without two hex digits is an escaped `x`.
        assert_eq!(args(r#""\xZZ" "\x4""#), Ok(vec!["xZZ".into(), "x4".into()]));
    }

    /// An unclosed quote, or a closing quote glued to the next word, is unbalanced.
    #[test]
    fn unbalanced() {
        for line in [
            r#"get "abc"#,
            "get 'abc",
            r#"get "a"b"#,
            "get 'a'b",
            r#"get "a\"#,
        ] {
            assert_eq!(args(line), Err(UnbalancedQuotes), "{line}");
        }
    }

    /// A NUL ends the line, as in Redis.
    #[test]
    fn nul_ends_the_line() {
        assert_eq!(split(b"get a\0b c"), Ok(Command::from(["get", "a"])));
        assert_eq!(split(b"get \"a\0b\""), Err(UnbalancedQuotes));
    }
}
