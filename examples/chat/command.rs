//! `Command`: what one line from a member asks for.

/// One line a member sent, parsed; borrowed from the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command<'a> {
    /// Text for the room: a line not starting with `/`, or a `//` line with one `/` removed.
    Say(&'a str),
    /// `/nick <name>`: the name as written (checked later).
    Nick(&'a str),
    /// `/join <room>`: the room as written (checked later).
    Join(&'a str),
    /// `/rooms`.
    Rooms,
    /// `/who`.
    Who,
    /// `/msg <nick> <text>`: everything after the first space following the nick is the text.
    Msg {
        /// The nick the message is for.
        to: &'a str,
        /// The text, possibly empty.
        text: &'a str,
    },
    /// `/quit`.
    Quit,
    /// `/help`.
    Help,
    /// Any other `/word`: the word, slash included.
    Unknown(&'a str),
}

impl<'a> Command<'a> {
    /// Parses a non-empty line. A command is the word up to the first space; its argument is
    /// everything after that space, as written. Commands that take no argument ignore one.
    pub(crate) fn parse(line: &'a str) -> Command<'a> {
        if let Some(escaped) = line.strip_prefix("//") {
            // One slash is removed: `//path` says `/path`.
            return Command::Say(&line[line.len() - escaped.len() - 1..]);
        }
        if !line.starts_with('/') {
            return Command::Say(line);
        }
        let (word, arg) = line.split_once(' ').unwrap_or((line, ""));
        match word {
            "/nick" => Command::Nick(arg),
            "/join" => Command::Join(arg),
            "/rooms" => Command::Rooms,
            "/who" => Command::Who,
            "/msg" => {
                let (to, text) = arg.split_once(' ').unwrap_or((arg, ""));
                Command::Msg { to, text }
            }
            "/quit" => Command::Quit,
            "/help" => Command::Help,
            other => Command::Unknown(other),
        }
    }
}

/// Whether `name` is a valid nick or room name: `[A-Za-z0-9_-]{1,32}`.
pub(crate) fn is_valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}
