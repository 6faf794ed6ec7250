//! Reading a command's arguments, and the error replies Redis gives when they are wrong.

use turbine::codec::{Command, Reply};

/// A command's arguments, its name first (`args[0]`), in one buffer: a command copies out only
/// what it stores.
pub(crate) type Args = Command;

/// What a command returns: its reply, or the error reply that stopped it (both are sent).
pub(crate) type Outcome = Result<Reply, Reply>;

/// A key holding another type than the command works on.
pub(crate) const WRONGTYPE: &str =
    "WRONGTYPE Operation against a key holding the wrong kind of value";
/// An argument (or a stored value) that must be an `i64` and is not.
pub(crate) const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
/// A score that is not a number.
pub(crate) const NOT_FLOAT: &str = "ERR value is not a valid float";
/// Options that do not go together, or an unknown one.
pub(crate) const SYNTAX: &str = "ERR syntax error";
/// An `INCR` family result outside `i64`.
pub(crate) const OVERFLOW: &str = "ERR increment or decrement would overflow";
/// A negative (or non-numeric) count for `LPOP`, `SPOP`, `ZPOPMIN` and the like.
pub(crate) const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";

/// `ERR wrong number of arguments for '<name>' command`.
pub(crate) fn wrong_arity(name: &str) -> Reply {
    Reply::error(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

/// Redis's reply to an unknown command: its name and the start of its arguments, quoted, up
/// to about 128 bytes of each.
pub(crate) fn unknown_command(command: &Args) -> Reply {
    const SHOWN: usize = 128;
    let name = command.name();
    let name = &name[..name.len().min(SHOWN)];
    let mut listed = String::new();
    for arg in command.args().skip(1) {
        if listed.len() >= SHOWN {
            break;
        }
        let room = SHOWN - listed.len();
        listed.push('\'');
        listed.push_str(&shown(&arg[..arg.len().min(room)]));
        listed.push_str("' ");
    }
    Reply::error(format!(
        "ERR unknown command '{}', with args beginning with: {listed}",
        shown(name)
    ))
}

/// `ERR unknown subcommand '<sub>'. Try <COMMAND> HELP.`, Redis's reply to a subcommand it
/// does not know, quoting at most 128 bytes of it.
pub(crate) fn unknown_subcommand(command: &str, sub: &[u8]) -> Reply {
    const SHOWN: usize = 128;
    Reply::error(format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        shown(&sub[..sub.len().min(SHOWN)]),
        command.to_ascii_uppercase()
    ))
}

/// `ERR invalid expire time in '<name>' command`.
pub(crate) fn invalid_expire(name: &str) -> Reply {
    Reply::error(format!("ERR invalid expire time in '{name}' command"))
}

/// An argument quoted in an error reply as Redis quotes it: lossy UTF-8, and `\r` and `\n`
/// turned into spaces (they would end the reply's line).
pub(crate) fn shown(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).replace(['\r', '\n'], " ")
}

/// An error reply for a fixed message.
pub(crate) fn error(text: &'static str) -> Reply {
    Reply::error(text)
}

/// `arg` as an `i64`, or the reply Redis gives for a bad integer.
pub(crate) fn integer(arg: &[u8]) -> Result<i64, Reply> {
    parse_i64(arg).ok_or_else(|| error(NOT_INTEGER))
}

/// `arg` as a count of at least zero, or `ERR value is out of range, must be positive`.
pub(crate) fn count(arg: &[u8]) -> Result<usize, Reply> {
    parse_i64(arg)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| error(NOT_POSITIVE))
}

/// Whether `arg` is the option `name` (upper case), in any case.
pub(crate) fn is(arg: &[u8], name: &str) -> bool {
    arg.eq_ignore_ascii_case(name.as_bytes())
}

/// A decimal `i64` the one way Redis's `string2ll` reads it (the RESP codec's own parser).
pub(crate) use turbine::codec::parse_resp_integer as parse_i64;

/// Replaces `dst` with `n` in decimal, reusing its allocation.
pub(crate) fn write_i64(dst: &mut Vec<u8>, n: i64) {
    dst.clear();
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        dst.push(b'-');
    }
    dst.extend_from_slice(&digits[at..]);
}

/// Ranks `start..=stop` of a sequence of `len` as `LRANGE` and `ZRANGE` read them (negative
/// counts from the end, out-of-range ends clamped), or `None` when the range is empty.
pub(crate) fn rank_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (start + len).max(0)
    } else {
        start
    };
    let stop = if stop < 0 {
        stop + len
    } else {
        stop.min(len - 1)
    };
    (start <= stop && start < len).then_some((start as usize, stop as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Integers are read as strictly as Redis reads them, and written back the same.
    #[test]
    fn integers() {
        for text in [
            "0",
            "-1",
            "42",
            "9223372036854775807",
            "-9223372036854775808",
        ] {
            let n = parse_i64(text.as_bytes()).unwrap();
            let mut out = b"junk".to_vec();
            write_i64(&mut out, n);
            assert_eq!(out, text.as_bytes());
        }
        for text in [
            "",
            "-",
            "-0",
            "01",
            "+1",
            " 1",
            "1.0",
            "9223372036854775808",
        ] {
            assert_eq!(parse_i64(text.as_bytes()), None, "{text}");
        }
    }

    /// Ranges clamp like Redis's `LRANGE`.
    #[test]
    fn ranges() {
        assert_eq!(rank_range(0, -1, 5), Some((0, 4)));
        assert_eq!(rank_range(-100, 100, 5), Some((0, 4)));
        assert_eq!(rank_range(-2, -1, 5), Some((3, 4)));
        assert_eq!(rank_range(3, 1, 5), None);
        assert_eq!(rank_range(5, 10, 5), None);
        assert_eq!(rank_range(0, -1, 0), None);
        assert_eq!(rank_range(0, -6, 5), None);
    }
}
