//! `Command`: one request a RESP client sent, as its arguments.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Index;

use super::reply::push_bulk_array;

/// A command as a RESP client sent it: the command's name followed by its arguments, each an
/// arbitrary byte string.
///
/// The decoder never produces an empty command (empty inline lines and `*0` are skipped), so
/// [`name`](Command::name) is the first argument as sent, in whatever case the client used.
///
/// The arguments lie in one buffer (for a multibulk command, the bytes received, headers
/// included), with each argument's position beside it: decoding a command costs two
/// allocations whatever its number of arguments, and a server that stores an argument copies
/// just that one out.
///
/// # Examples
///
/// ```
/// use turbine_codec::Command;
///
/// let command = Command::from(["set", "key", "value"]);
/// assert!(command.name().eq_ignore_ascii_case(b"SET"));
/// assert_eq!(command.len(), 3);
/// assert_eq!(&command[1], b"key");
/// assert_eq!(command.args().skip(1).collect::<Vec<_>>(), [&b"key"[..], b"value"]);
///
/// let mut wire = Vec::new();
/// command.encode(&mut wire);
/// assert_eq!(wire, b"*3\r\n$3\r\nset\r\n$3\r\nkey\r\n$5\r\nvalue\r\n");
/// ```
#[derive(Clone, Default)]
pub struct Command {
    /// The bytes the arguments lie in.
    bytes: Vec<u8>,
    /// Each argument's start and end in `bytes`, the name first.
    spans: Vec<(usize, usize)>,
}

impl Command {
    /// A command made of `args`: the name first.
    pub fn new<A: AsRef<[u8]>>(args: impl IntoIterator<Item = A>) -> Self {
        let mut command = Command::default();
        for arg in args {
            let arg = arg.as_ref();
            let start = command.bytes.len();
            command.bytes.extend_from_slice(arg);
            command.spans.push((start, command.bytes.len()));
        }
        command
    }

    /// A command whose arguments lie in `bytes` at `spans`, each within `bytes`.
    pub(crate) fn from_parts(bytes: Vec<u8>, spans: Vec<(usize, usize)>) -> Self {
        debug_assert!(spans.iter().all(|&(s, e)| s <= e && e <= bytes.len()));
        Command { bytes, spans }
    }

    /// The command's name (its first argument), or `b""` for an empty command.
    pub fn name(&self) -> &[u8] {
        self.arg(0).unwrap_or_default()
    }

    /// Argument `index` (the name being 0), if there is one.
    pub fn arg(&self, index: usize) -> Option<&[u8]> {
        self.spans.get(index).map(|&(s, e)| &self.bytes[s..e])
    }

    /// Every argument, the name first.
    pub fn args(&self) -> impl DoubleEndedIterator<Item = &[u8]> + ExactSizeIterator + '_ {
        self.spans.iter().map(|&(s, e)| &self.bytes[s..e])
    }

    /// How many arguments, the name included.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there is no argument, not even a name.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The arguments as separate vectors, the name first (one allocation each).
    pub fn into_args(self) -> Vec<Vec<u8>> {
        self.args().map(<[u8]>::to_vec).collect()
    }

    /// Appends the command in the multibulk form a client sends: `*<n>\r\n` then each
    /// argument as `$<len>\r\n<bytes>\r\n`.
    pub fn encode(&self, dst: &mut Vec<u8>) {
        push_bulk_array(dst, self.args());
    }
}

/// Commands are equal when their arguments are, however they were laid out.
impl PartialEq for Command {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.args().eq(other.args())
    }
}

impl Eq for Command {}

impl Hash for Command {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.len().hash(state);
        for arg in self.args() {
            arg.hash(state);
        }
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.args().map(String::from_utf8_lossy))
            .finish()
    }
}

impl From<Vec<Vec<u8>>> for Command {
    fn from(args: Vec<Vec<u8>>) -> Self {
        Command::new(args)
    }
}

impl<const N: usize> From<[&str; N]> for Command {
    fn from(args: [&str; N]) -> Self {
        Command::new(args)
    }
}

impl Index<usize> for Command {
    type Output = [u8];

    /// Argument `index`, the name being 0.
    ///
    /// # Panics
    ///
    /// If `index` is not below [`len`](Command::len).
    fn index(&self, index: usize) -> &[u8] {
        let (start, end) = self.spans[index];
        &self.bytes[start..end]
    }
}
