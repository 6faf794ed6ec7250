//! Offload server: a CPU-heavy request runs on the worker pool, so the reactor stays free for the
//! cheap ones.
//!
//! Shows [`Context::offload`]. One request per line, one reply line per request:
//!
//! - `PING` is answered `PONG` on the reactor, at once, even with every worker busy.
//! - `HASH <text>` is answered with the lowercase hex (128 digits) of the 64-byte
//!   PBKDF2-HMAC-SHA512 key of `<text>` (everything after the single space), computed on a
//!   worker thread: 100,000 iterations by default, tens of milliseconds of CPU. A full worker
//!   queue answers `ERR busy` at once instead of queueing without bound; a job that panics
//!   answers `ERR internal`.
//! - Anything else is answered `ERR unknown command`.
//!
//! Replies keep request order on each connection, however long each hash takes.
//!
//! ```text
//! cargo run --release --example offload            # 127.0.0.1:7880
//! nc 127.0.0.1 7880                                # then type:
//! PING                                             # -> PONG
//! HASH password                                    # -> 128 hex digits, computed on the pool
//! HELLO                                            # -> ERR unknown command
//! printf 'HASH a\nPING\n' | nc -q1 127.0.0.1 7880  # pipelined: the hash first, then PONG
//! ```
//!
//! Settings, read at start (a bad value stops the program with exit code 2, as for `TURBINE_*`):
//!
//! - `OFFLOAD_SALT` (default `turbine`): the PBKDF2 salt.
//! - `OFFLOAD_ITERATIONS` (default 100000, from 1 to 10000000): PBKDF2 iterations.
//! - `OFFLOAD_INLINE` (default `0`; `1`, `0`, `true`, `false`): `1` hashes on the reactor
//!   thread instead of the pool. That is the mistake this example exists to avoid; it is kept so
//!   `cargo bench --bench offload` can show both side by side.
//!
//! Every `TURBINE_*` variable applies as well (see the README): `TURBINE_ADDR` moves it,
//! `TURBINE_WORKERS`, `TURBINE_WORKER_QUEUE` and `TURBINE_WORKER_PRIORITY` shape the pool.

use std::ffi::OsString;
use std::fmt::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;

use sha2::Sha512;
use turbine::{ByteLinesCodec, Config, ConfigError, Context, Handler, OffloadError};

/// Where the server listens unless `TURBINE_ADDR` says otherwise.
const DEFAULT_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 7880);

/// Bounds of `OFFLOAD_ITERATIONS`: at least one; at most about ten seconds of CPU per request.
const ITERATIONS: (u32, u32) = (1, 10_000_000);

/// One connection: the protocol is in [`on_frame`](Offload::on_frame).
///
/// `pub(crate)`, as are the other items `tests/offload.rs` uses: that test includes this file as
/// a module to run the same handler over real sockets.
pub(crate) struct Offload {
    /// Salt, iterations and where to hash; shared by every connection.
    settings: Arc<Settings>,
}

impl Offload {
    /// A connection's handler.
    pub(crate) fn new(settings: Arc<Settings>) -> Self {
        Offload { settings }
    }
}

impl Handler for Offload {
    type Codec = ByteLinesCodec;

    fn codec(&mut self, config: &Config) -> ByteLinesCodec {
        // Requests up to TURBINE_MAX_FRAME, replies up to TURBINE_MAX_FRAME_OUT. Lines as
        // bytes: the text of a `HASH` is whatever bytes follow the space, UTF-8 or not.
        ByteLinesCodec::new(config.frame_limits())
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: Vec<u8>) {
        if line == b"PING" {
            ctx.send("PONG");
        } else if let Some(text) = line.strip_prefix(b"HASH ") {
            if self.settings.inline {
                // The anti-pattern: every other connection of this reactor waits meanwhile.
                ctx.send(self.settings.hash(text));
            } else {
                let settings = Arc::clone(&self.settings);
                let text = text.to_vec();
                offload_reply(ctx, move || settings.hash(&text));
            }
        } else {
            ctx.send("ERR unknown command");
        }
    }
}

/// Runs `job` on the worker pool and answers with the line it returns.
///
/// A full queue is answered `ERR busy` at once: `OffloadError::Busy` hands the job back, and
/// it is dropped here rather than run on the reactor, which never waits. A job that panics is
/// answered `ERR internal` (the pool catches the panic and keeps its thread), and so is a pool
/// that is shutting down or could not start. Either way the answer takes the request's place
/// in the connection's reply order: frames sent while jobs are pending wait behind them.
pub(crate) fn offload_reply<H>(
    ctx: &mut Context<'_, H>,
    job: impl FnOnce() -> String + Send + 'static,
) where
    H: Handler<Codec = ByteLinesCodec>,
{
    let offloaded = ctx.offload(job, |_handler, ctx, result| match result {
        Ok(reply) => ctx.send(reply),
        Err(_) => ctx.send("ERR internal"),
    });
    match offloaded {
        Ok(()) => {}
        Err(OffloadError::Busy(_)) => ctx.send("ERR busy"),
        Err(_) => ctx.send("ERR internal"),
    }
}

/// What the `OFFLOAD_*` variables set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settings {
    /// `OFFLOAD_SALT`: the PBKDF2 salt.
    pub(crate) salt: String,
    /// `OFFLOAD_ITERATIONS`: PBKDF2 iterations.
    pub(crate) iterations: u32,
    /// `OFFLOAD_INLINE`: hash on the reactor thread instead of the pool.
    pub(crate) inline: bool,
}

impl Settings {
    /// The lowercase hex (128 digits) of the 64-byte PBKDF2-HMAC-SHA512 key of `text`.
    pub(crate) fn hash(&self, text: &[u8]) -> String {
        let key =
            pbkdf2::pbkdf2_hmac_array::<Sha512, 64>(text, self.salt.as_bytes(), self.iterations);
        let mut hex = String::with_capacity(2 * key.len());
        for byte in key {
            let _ = write!(hex, "{byte:02x}"); // writing to a String cannot fail
        }
        hex
    }

    /// Reads the `OFFLOAD_*` variables of the process.
    ///
    /// # Errors
    ///
    /// See [`from_vars`](Settings::from_vars).
    fn from_env() -> Result<Settings, ConfigError> {
        Settings::from_vars(std::env::var_os)
    }

    /// Reads the `OFFLOAD_*` variables through `lookup`; an unset one keeps its default.
    ///
    /// # Errors
    ///
    /// A value that is not UTF-8, an empty salt, an iteration count that is not a whole number
    /// in range, or a boolean other than `1`, `0`, `true`, `false`: the error names the
    /// variable, the value and what is accepted.
    fn from_vars(
        lookup: impl Fn(&'static str) -> Option<OsString>,
    ) -> Result<Settings, ConfigError> {
        const SALT: &str = "a non-empty string";
        const BOOL: &str = "1, 0, true or false";
        let (min, max) = ITERATIONS;
        let count = format!("a whole number from {min} to {max}");
        let text = |name: &'static str, expected: &str| -> Result<Option<String>, ConfigError> {
            lookup(name)
                .map(|value| {
                    value
                        .into_string()
                        .map_err(|value| refused(name, &value.to_string_lossy(), expected))
                })
                .transpose()
        };
        let mut settings = Settings::default();
        if let Some(salt) = text("OFFLOAD_SALT", SALT)? {
            if salt.is_empty() {
                return Err(refused("OFFLOAD_SALT", &salt, SALT));
            }
            settings.salt = salt;
        }
        if let Some(value) = text("OFFLOAD_ITERATIONS", &count)? {
            settings.iterations = value
                .trim()
                .parse()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| refused("OFFLOAD_ITERATIONS", &value, &count))?;
        }
        if let Some(value) = text("OFFLOAD_INLINE", BOOL)? {
            settings.inline = match value.trim().to_ascii_lowercase().as_str() {
                "1" | "true" => true,
                "0" | "false" => false,
                _ => return Err(refused("OFFLOAD_INLINE", &value, BOOL)),
            };
        }
        Ok(settings)
    }
}

impl Default for Settings {
    /// Salt `turbine`, 100,000 iterations, on the pool.
    fn default() -> Self {
        Settings {
            salt: "turbine".to_string(),
            iterations: 100_000,
            inline: false,
        }
    }
}

impl fmt::Display for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let place = if self.inline {
            "on the reactor (OFFLOAD_INLINE)"
        } else {
            "on the worker pool"
        };
        write!(
            f,
            "PBKDF2-HMAC-SHA512, salt {:?}, {} iterations, {place}",
            self.salt, self.iterations
        )
    }
}

/// The error for a refused `OFFLOAD_*` value, worded like those for `TURBINE_*`.
fn refused(var: &'static str, value: &str, expected: &str) -> ConfigError {
    ConfigError {
        var,
        value: value.to_string(),
        expected: expected.to_string(),
    }
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let settings = match Settings::from_env() {
        Ok(settings) => Arc::new(settings),
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    log::info!("HASH: {settings}");
    let config = Config::new().addr(DEFAULT_ADDR).with_env();
    turbine::run(config, move |_peer| Offload::new(Arc::clone(&settings)))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::*;
    use turbine::TestConnection;

    /// How long a test waits for offloaded jobs.
    const JOBS: Duration = Duration::from_secs(20);

    /// The spec's check value: Python's `hashlib.pbkdf2_hmac('sha512', b'password', b'salt', 1)`.
    const CHECK: &str = "867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252\
                         c02d470a285a0501bad999bfe943c08f050235d7d68b1da55e63f73b60a57fce";

    /// Salt `salt`, one iteration: the check value's parameters.
    fn check_settings() -> Arc<Settings> {
        Arc::new(Settings {
            salt: "salt".to_string(),
            iterations: 1,
            inline: false,
        })
    }

    /// The reply lines so far, after every pending job has answered.
    fn replies(conn: &mut TestConnection<Offload>) -> Vec<String> {
        assert!(conn.finish_offloads(JOBS), "jobs still pending");
        let output = String::from_utf8(conn.take_output()).expect("replies are UTF-8");
        output.lines().map(str::to_string).collect()
    }

    /// `HASH password` with salt `salt` and 1 iteration gives the spec's check value, computed on
    /// the pool and inline alike.
    #[test]
    fn hash_matches_the_check_value() {
        let mut conn = TestConnection::new(Offload::new(check_settings()));
        conn.push(b"HASH password\n");
        assert_eq!(replies(&mut conn), [CHECK]);

        let inline = Settings {
            inline: true,
            ..(*check_settings()).clone()
        };
        let mut conn = TestConnection::new(Offload::new(Arc::new(inline)));
        conn.push(b"HASH password\r\n");
        assert_eq!(conn.stats().offloads, 0, "inline mode does not offload");
        assert_eq!(replies(&mut conn), [CHECK]);
    }

    /// `PING` is answered on the reactor, with no job issued.
    #[test]
    fn ping_answers_pong_at_once() {
        let mut conn = TestConnection::new(Offload::new(check_settings()));
        conn.push(b"PING\n");
        assert_eq!(conn.stats().offloads, 0);
        assert_eq!(conn.take_output(), b"PONG\n");
    }

    /// Anything else, near misses included, is an unknown command; the connection stays open.
    #[test]
    fn other_lines_are_unknown_commands() {
        let mut conn = TestConnection::new(Offload::new(check_settings()));
        conn.push(b"HELLO\nping\nHASH\nHASHpassword\nPING \n\nPING\n");
        let mut want = vec!["ERR unknown command"; 6];
        want.push("PONG");
        assert_eq!(replies(&mut conn), want);
        assert!(!conn.is_closed());
    }

    /// The text is everything after the single space: spaces in it count, and it may be empty.
    #[test]
    fn hash_text_is_the_rest_of_the_line() {
        let settings = check_settings();
        let mut conn = TestConnection::new(Offload::new(Arc::clone(&settings)));
        conn.push(b"HASH  two words \nHASH \n");
        assert_eq!(
            replies(&mut conn),
            [settings.hash(b" two words "), settings.hash(b"")]
        );
        assert_ne!(settings.hash(b" two words "), settings.hash(b"two words "));
    }

    /// Pipelined HASH and PING requests are answered in request order: a PONG waits behind the
    /// hashes sent before it.
    #[test]
    fn pipelined_replies_keep_request_order() {
        let settings = check_settings();
        let mut conn = TestConnection::new(Offload::new(Arc::clone(&settings)));
        let mut input = String::new();
        let mut want = Vec::new();
        for i in 0..30 {
            if i % 3 == 1 {
                input.push_str("PING\n");
                want.push("PONG".to_string());
            } else {
                input.push_str(&format!("HASH {i}\n"));
                want.push(settings.hash(i.to_string().as_bytes()));
            }
        }
        conn.push(input.as_bytes());
        assert_eq!(replies(&mut conn), want);
        assert_eq!(conn.stats().offloads, 0);
    }

    /// A job that panics is answered `ERR internal`, in its place, through the same path as a
    /// hash.
    #[test]
    fn panicking_job_answers_err_internal() {
        /// `BOOM` offloads a job that panics; anything else is hashed.
        struct Boom(Arc<Settings>);

        impl Handler for Boom {
            type Codec = ByteLinesCodec;
            fn codec(&mut self, config: &Config) -> ByteLinesCodec {
                ByteLinesCodec::new(config.frame_limits())
            }
            fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: Vec<u8>) {
                if line == b"BOOM" {
                    offload_reply(ctx, || panic!("BOOM requested"));
                } else {
                    let settings = Arc::clone(&self.0);
                    offload_reply(ctx, move || settings.hash(&line));
                }
            }
        }

        let settings = check_settings();
        let mut conn = TestConnection::new(Boom(Arc::clone(&settings)));
        conn.push(b"password\nBOOM\npassword\n");
        assert!(conn.finish_offloads(JOBS));
        let output = String::from_utf8(conn.take_output()).unwrap();
        assert_eq!(output, format!("{CHECK}\nERR internal\n{CHECK}\n"));
    }

    /// Unset variables give the spec's defaults; set ones are read.
    #[test]
    fn settings_from_variables() {
        assert_eq!(
            Settings::from_vars(|_| None).unwrap(),
            Settings {
                salt: "turbine".to_string(),
                iterations: 100_000,
                inline: false,
            }
        );
        let vars = HashMap::from([
            ("OFFLOAD_SALT", " pepper "),
            ("OFFLOAD_ITERATIONS", "20000"),
            ("OFFLOAD_INLINE", "TRUE"),
        ]);
        let settings = Settings::from_vars(|name| vars.get(name).map(OsString::from)).unwrap();
        assert_eq!(settings.salt, " pepper ", "a salt is taken as it is");
        assert_eq!(settings.iterations, 20_000);
        assert!(settings.inline);
    }

    /// The default address is the spec's 127.0.0.1:7880, and `OFFLOAD_INLINE=1` (the spec's
    /// spelling) turns inline hashing on, `0` leaves it off.
    #[test]
    fn default_address_and_inline_by_1() {
        assert_eq!(DEFAULT_ADDR.to_string(), "127.0.0.1:7880");
        for (value, inline) in [("1", true), ("0", false)] {
            let settings =
                Settings::from_vars(|name| (name == "OFFLOAD_INLINE").then(|| value.into()))
                    .unwrap();
            assert_eq!(settings.inline, inline, "{value}");
        }
    }

    /// A bad value is refused with the variable, the value and what is accepted.
    #[test]
    fn bad_settings_are_refused() {
        let cases = [
            (
                "OFFLOAD_ITERATIONS",
                "0",
                "a whole number from 1 to 10000000",
            ),
            (
                "OFFLOAD_ITERATIONS",
                "1e5",
                "a whole number from 1 to 10000000",
            ),
            (
                "OFFLOAD_ITERATIONS",
                "10000001",
                "a whole number from 1 to 10000000",
            ),
            ("OFFLOAD_INLINE", "yes", "1, 0, true or false"),
            ("OFFLOAD_SALT", "", "a non-empty string"),
        ];
        for (var, value, expected) in cases {
            let error =
                Settings::from_vars(|name| (name == var).then(|| value.into())).expect_err(value);
            assert_eq!((error.var, error.value.as_str()), (var, value));
            assert_eq!(error.expected, expected);
            assert_eq!(
                error.to_string(),
                format!("{var}={value:?}: expected {expected}")
            );
        }
    }
}
