//! `CLIENT ID`, `INFO`, `LIST`, `SETNAME`, `GETNAME` and `HELP`: the connection's id and name,
//! and every open connection, in Redis 7.0's formats. The command table has checked the
//! subcommand and its arity.

use turbine::codec::Reply;

use super::args::{Args, Outcome, SYNTAX, error, is, parse_i64, shown, unknown_subcommand};
use super::clients::{Caller, ClientEntry};

/// `CLIENT <subcommand> ...`.
pub(super) fn client(caller: &Caller<'_>, args: &Args) -> Outcome {
    let sub = &args[1];
    if is(sub, "ID") {
        Ok(Reply::Integer(caller.me.id() as i64))
    } else if is(sub, "INFO") {
        Ok(lines(caller, [caller.me], args))
    } else if is(sub, "LIST") {
        list(caller, args)
    } else if is(sub, "SETNAME") {
        set_name(caller.me, &args[2])
    } else if is(sub, "GETNAME") {
        let name = caller.me.name();
        Ok(if name.is_empty() {
            Reply::Null
        } else {
            Reply::Bulk(name.into_bytes())
        })
    } else if is(sub, "HELP") {
        Ok(Reply::Array(
            HELP.iter().map(|line| Reply::simple(*line)).collect(),
        ))
    } else {
        Err(unknown_subcommand("client", sub))
    }
}

/// `CLIENT LIST`, `CLIENT LIST TYPE <type>` (every client here is `normal`), `CLIENT LIST ID
/// <id> [<id> ...]`: one line per client, with Redis's errors for anything else.
fn list(caller: &Caller<'_>, args: &Args) -> Outcome {
    let entries = if args.len() == 2 {
        caller.clients.all()
    } else if args.len() == 4 && is(&args[2], "TYPE") {
        let kind = &args[3];
        if is(kind, "NORMAL") {
            caller.clients.all()
        } else if ["MASTER", "REPLICA", "SLAVE", "PUBSUB"]
            .iter()
            .any(|k| is(kind, k))
        {
            Vec::new()
        } else {
            return Err(Reply::error(format!(
                "ERR Unknown client type '{}'",
                shown(kind)
            )));
        }
    } else if args.len() > 3 && is(&args[2], "ID") {
        let ids = args
            .args()
            .skip(3)
            .map(parse_i64)
            .collect::<Option<Vec<i64>>>()
            .ok_or_else(|| error("ERR Invalid client ID"))?;
        caller.clients.find(&ids)
    } else {
        return Err(error(SYNTAX));
    };
    Ok(lines(caller, entries.iter().map(|e| &**e), args))
}

/// The lines of `entries` in one bulk string; the caller's shows the size of `args`.
fn lines<'e>(
    caller: &Caller<'_>,
    entries: impl IntoIterator<Item = &'e ClientEntry>,
    args: &Args,
) -> Reply {
    let argv_mem: usize = args.args().map(<[u8]>::len).sum();
    let mut text = String::new();
    for entry in entries {
        let mine = std::ptr::eq(entry, caller.me);
        entry.write_line(&mut text, caller.now, if mine { argv_mem } else { 0 });
    }
    Reply::Bulk(text.into_bytes())
}

/// `CLIENT SETNAME <name>`: names the connection, or clears its name when `name` is empty.
/// Refuses what would break `CLIENT LIST`'s space-separated fields: any byte outside `!` to
/// `~`, as Redis does.
fn set_name(me: &ClientEntry, name: &[u8]) -> Outcome {
    if !name.iter().all(|b| (b'!'..=b'~').contains(b)) {
        return Err(error(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    // Printable ASCII only, so the bytes are UTF-8.
    me.set_name(String::from_utf8_lossy(name).into_owned());
    Ok(Reply::OK)
}

/// `CLIENT HELP`, in Redis's words for the subcommands this server has.
const HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "    * ID <client-id> [<client-id> ...]",
    "      Return clients of specified IDs only.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "HELP",
    "    Prints this help.",
];
