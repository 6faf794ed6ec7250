//! Connection and server commands: `PING`, `ECHO`, `SELECT`, `QUIT`, `INFO`, `CONFIG GET`,
//! `COMMAND` and `DEBUG SET-ACTIVE-EXPIRE`: what `redis-cli` and `redis-benchmark` ask at
//! start-up, and what Redis's own tests use.

use std::fmt::Write as _;

use turbine::codec::Reply;

use super::args::{Args, Outcome, SYNTAX, error, integer, is, unknown_subcommand, wrong_arity};
use super::store::Store;
use super::{COMMANDS, Spec, lookup};

/// `PING [message]`: `PONG`, or the message.
pub(super) fn ping(_store: &Store, args: &Args) -> Outcome {
    match args.len() {
        1 => Ok(Reply::simple("PONG")),
        2 => Ok(Reply::Bulk(args[1].to_vec())),
        _ => Err(wrong_arity("ping")),
    }
}

/// `ECHO message`: the message.
pub(super) fn echo(_store: &Store, args: &Args) -> Outcome {
    Ok(Reply::Bulk(args[1].to_vec()))
}

/// `SELECT index`: there is one database, 0.
pub(super) fn select(_store: &Store, args: &Args) -> Outcome {
    match integer(&args[1])? {
        0 => Ok(Reply::OK),
        _ => Err(Reply::error("ERR DB index is out of range")),
    }
}

/// `QUIT`: `OK`; the connection closes once it is sent (the client handler does that).
pub(super) fn quit(_store: &Store, _args: &Args) -> Outcome {
    Ok(Reply::OK)
}

/// `INFO [section ...]`: `server` and `keyspace` (all of them by default, or with `all`,
/// `default` or `everything`); an unknown section gives an empty text, as in Redis.
pub(super) fn info(store: &Store, args: &Args) -> Outcome {
    let wants = |section: &str| {
        args.len() == 1
            || args
                .args()
                .skip(1)
                .any(|a| is(a, section) || is(a, "ALL") || is(a, "DEFAULT") || is(a, "EVERYTHING"))
    };
    let mut text = String::new();
    if wants("SERVER") {
        let uptime = store.uptime().as_secs();
        // The version clients see: this server answers like Redis 7.0 (RESP2, its error texts).
        let _ = write!(
            text,
            "# Server\r\nredis_version:7.0.0\r\nredis_mode:standalone\r\nos:{} {}\r\n\
             arch_bits:{}\r\nmultiplexing_api:epoll\r\nprocess_id:{}\r\n\
             uptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nhz:10\r\n\
             server_name:turbine-kv\r\nkeyspace_shards:{}\r\n",
            std::env::consts::OS,
            std::env::consts::ARCH,
            usize::BITS,
            std::process::id(),
            uptime / 86_400,
            store.shard_count(),
        );
    }
    if wants("KEYSPACE") {
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        text.push_str("# Keyspace\r\n");
        let (keys, expires) = store.len();
        if keys > 0 {
            let _ = write!(text, "db0:keys={keys},expires={expires},avg_ttl=0\r\n");
        }
    }
    Ok(Reply::Bulk(text.into_bytes()))
}

/// The parameters `CONFIG GET` knows, with their values: enough for `redis-benchmark`, which
/// asks for `save` and `appendonly` at start-up, and for tools that read the usual ones.
const PARAMETERS: &[(&str, &str)] = &[
    ("appendonly", "no"),
    ("databases", "1"),
    ("maxmemory", "0"),
    ("maxmemory-policy", "noeviction"),
    ("save", ""),
    ("timeout", "0"),
];

/// `CONFIG GET pattern [pattern ...]`: each known parameter matching a pattern (`*` and `?`
/// wildcards, any case), then its value. Other subcommands are not supported (the table has
/// only `config|get`, so `resolve` refused them and a short `GET` already).
pub(super) fn config(_store: &Store, args: &Args) -> Outcome {
    let mut pairs = Vec::new();
    for (name, value) in PARAMETERS {
        if args.args().skip(2).any(|p| glob(p, name.as_bytes())) {
            pairs.push(Reply::bulk(*name));
            pairs.push(Reply::bulk(*value));
        }
    }
    Ok(Reply::Array(pairs))
}

/// Whether `text` matches `pattern` (`*`: any run, `?`: any byte, other bytes themselves in
/// any case), in O(pattern × text) at worst: the classic greedy match that backtracks only to
/// the last `*`.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c.eq_ignore_ascii_case(&text[t]) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// `COMMAND`, `COMMAND COUNT`, `COMMAND INFO [name ...]`, `COMMAND LIST` and `COMMAND DOCS`
/// (an empty answer: this server has no docs, and `redis-cli` then shows no hints).
pub(super) fn command(_store: &Store, args: &Args) -> Outcome {
    let Some(sub) = args.arg(1) else {
        return Ok(Reply::Array(COMMANDS.iter().map(describe).collect()));
    };
    // `resolve` checked the subcommand and its arity against the table.
    if is(sub, "COUNT") {
        Ok(Reply::Integer(COMMANDS.len() as i64))
    } else if is(sub, "INFO") {
        if args.len() == 2 {
            return Ok(Reply::Array(COMMANDS.iter().map(describe).collect()));
        }
        Ok(Reply::Array(
            args.args()
                .skip(2)
                .map(|name| lookup(name).map_or(Reply::Null, describe))
                .collect(),
        ))
    } else if is(sub, "LIST") {
        if args.len() > 2 {
            return Err(error(SYNTAX)); // `FILTERBY` is not supported
        }
        Ok(Reply::Array(
            COMMANDS.iter().map(|s| Reply::bulk(s.name)).collect(),
        ))
    } else if is(sub, "DOCS") {
        Ok(Reply::Array(Vec::new()))
    } else {
        Err(unknown_subcommand("COMMAND", sub))
    }
}

/// One command as Redis 7's `COMMAND INFO` describes it: name, arity, flags, first key, last
/// key, key step, ACL categories, tips, key specs and subcommands (the last four empty).
fn describe(spec: &Spec) -> Reply {
    let (first, last, step) = spec.keys;
    Reply::Array(vec![
        Reply::bulk(spec.name),
        Reply::Integer(spec.arity),
        Reply::Array(spec.flags.iter().map(|f| Reply::simple(*f)).collect()),
        Reply::Integer(first),
        Reply::Integer(last),
        Reply::Integer(step),
        Reply::Array(Vec::new()),
        Reply::Array(Vec::new()),
        Reply::Array(Vec::new()),
        Reply::Array(Vec::new()),
    ])
}

/// `DEBUG SET-ACTIVE-EXPIRE 0|1`: turns the background expiry off or on (Redis's tests use it
/// to watch lazy expiry alone). No other `DEBUG` subcommand exists here.
pub(super) fn debug(store: &Store, args: &Args) -> Outcome {
    if !is(&args[1], "SET-ACTIVE-EXPIRE") {
        return Err(unknown_subcommand("DEBUG", &args[1]));
    }
    if args.len() != 3 {
        return Err(wrong_arity("debug"));
    }
    store.set_active_expire(integer(&args[2])? != 0);
    Ok(Reply::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Wildcards match like Redis's `stringmatch` (without classes), in any case, and a
    /// pattern of many stars stays fast.
    #[test]
    fn glob_patterns() {
        assert!(glob(b"*", b"save"));
        assert!(glob(b"SAVE", b"save"));
        assert!(glob(b"s?ve", b"save"));
        assert!(glob(b"*max*", b"maxmemory-policy"));
        assert!(glob(b"a*e*y", b"appendonly"));
        assert!(!glob(b"save?", b"save"));
        assert!(!glob(b"x*", b"save"));
        assert!(glob(b"", b""));
        let stars = "*a".repeat(5000) + "b";
        assert!(!glob(stars.as_bytes(), "a".repeat(5000).as_bytes()));
    }
}
