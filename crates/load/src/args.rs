//! The binary's command line: hand-written parsing into a [`Command`].

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use turbine_load::{HoldConfig, LoadConfig, MAX_SIZE, RateConfig, TlsConfig, TlsVersion};

/// `--help` text.
pub(crate) const USAGE: &str = "\
turbine-load: echo load (closed loop, fixed rate or churn) over TCP or TLS, with checked
replies, latency and server CPU figures

USAGE:
    turbine-load [OPTIONS]               closed loop: keep --depth messages in flight per connection
    turbine-load --rate N [OPTIONS]      fixed rate: send N messages/s on a timetable, whatever the
                                         server does; latency counts from each intended send time
    turbine-load --churn [OPTIONS]       churn: each of -c slots connects, sends one message, checks
                                         the echo, closes, and starts over; reports connections/s
    turbine-load --hold N [OPTIONS]      hold N idle connections; report server memory per connection

    Load runs apply load for --warmup, then measure for --duration.

OPTIONS:
        --addr IP:PORT        server address [default: 127.0.0.1:7878]
    -c, --connections N       connections (churn: cycles under way at once) [default: 100]
    -t, --threads N           client threads, each with its own event loop [default: 1]
        --size BYTES          bytes per message on the wire, framing included: 64, 4KiB, 1MiB
                              (at least 1 raw, 2 lines, 5 length) [default: 64]
        --depth N             messages in flight per connection; closed loop only [default: 1]
        --rate N              fixed rate: N messages per second in all, spread evenly over the
                              connections and threads; messages that cannot go out when due
                              are counted late or backlogged, never skipped
        --max-outstanding N   with --rate: most messages awaiting replies per connection;
                              messages due beyond it wait, counted as backlogged [default: 10000]
        --churn               churn mode; unbound sockets, so the kernel may reuse ports in
                              TIME_WAIT (loopback only by default: see the crate docs)
        --duration DURATION   measured time: 500ms, 10s, 2m, 1h [default: 10s]
        --warmup DURATION     load before measuring, 0s for none [default: 2s]
        --framing KIND        raw, lines or length, as the server's ECHO_FRAMING [default: raw]
        --pid PID             server process: report its CPU time (load) or memory (--hold)
        --no-progress         no progress line each second on stderr
        --hold N              hold mode: open N connections (uses --addr, --size, --framing, --pid
                              and the TLS options)
    -h, --help                this text

TLS (every mode):
        --tls                 speak TLS to the server (rustls client, ring crypto); the messages
                              are the plaintext. Load runs complete each connection's handshake
                              before the warm-up; churn makes a full handshake every cycle and
                              reports handshakes/s (and per server CPU-second with --pid); hold
                              completes each handshake before holding. Sessions are never
                              resumed. A failed handshake counts as a failed connect; the first
                              of each thread is printed with its reason
        --ca FILE             PEM certificate(s) to trust: the server's self-signed certificate,
                              or the CA that signed it; required with --tls
        --server-name NAME    name sent as SNI and that the certificate must be valid for; a DNS
                              name or an IP address [default: localhost]
        --tls-version V       1.2 or 1.3: the one version offered [default: 1.3]
        --alpn PROTO          an ALPN protocol to offer, e.g. h2 [default: none offered]

EXAMPLES:
    turbine-load --addr 127.0.0.1:7878 -c 100 --depth 16 --duration 10s --pid $(pgrep -f examples/echo)
    turbine-load --framing lines -c 1000 -t 2 --size 128
    turbine-load --rate 50000 -c 100 --duration 30s --pid $(pgrep -f examples/echo)
    turbine-load --churn -c 32 --duration 10s --pid $(pgrep -f examples/echo)
    turbine-load --hold 10000 --pid $(pgrep -f examples/echo)
    turbine-load --tls --ca cert.pem --addr 127.0.0.1:7443 -c 100 --depth 16
    turbine-load --tls --ca cert.pem --tls-version 1.2 --churn -c 32 --pid $SERVER_PID
";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Command {
    /// Print [`USAGE`].
    Help,
    /// Apply closed-loop load.
    Load(LoadConfig),
    /// Apply fixed-rate load.
    Rate(RateConfig),
    /// Churn connections.
    Churn(LoadConfig),
    /// Hold idle connections.
    Hold(HoldConfig),
}

/// A bad command line: says which argument, which value, and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArgError(String);

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses the arguments after the program name.
///
/// Options take their value as the next argument or after `=` (`--size 64`, `--size=64`).
///
/// # Errors
///
/// An unknown option, a missing or malformed value, a value out of range, an option that
/// does not apply to the mode asked for, or two modes at once.
pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, ArgError> {
    let mut load = LoadConfig::default();
    let mut hold: Option<usize> = None;
    let mut rate: Option<u64> = None;
    let mut max_outstanding: Option<usize> = None;
    let mut churn = false;
    let mut depth_given = false;
    // The first option given that only a load run uses, to refuse it with --hold.
    let mut load_only: Option<String> = None;
    let mut tls = false;
    let mut settings = TlsConfig::new("");
    let mut ca: Option<PathBuf> = None;
    // The first TLS option given, to refuse it without --tls.
    let mut tls_only: Option<String> = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name.to_string(), Some(value)),
            _ => (arg.clone(), None),
        };
        let mut value = |accepted: &str| -> Result<String, ArgError> {
            match inline {
                Some(v) => Ok(v.to_string()),
                None => args
                    .next()
                    .ok_or_else(|| ArgError(format!("{name} needs a value: expected {accepted}"))),
            }
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--addr" => {
                let v = value("IP:PORT")?;
                load.addr = parse_value(&name, &v, "IP:PORT, e.g. 127.0.0.1:7878 or [::1]:7878")?;
            }
            "-c" | "--connections" => load.connections = count(&name, &value(COUNT)?)?,
            "-t" | "--threads" => load.threads = count(&name, &value(COUNT)?)?,
            "--depth" => {
                load.depth = count(&name, &value(COUNT)?)?;
                depth_given = true;
            }
            "--rate" => rate = Some(count(&name, &value(COUNT)?)? as u64),
            "--max-outstanding" => max_outstanding = Some(count(&name, &value(COUNT)?)?),
            "--churn" if inline.is_none() => churn = true,
            "--size" => load.size = size(&name, &value(SIZE)?)?,
            "--duration" => load.duration = duration(&name, &value(DURATION)?)?,
            "--warmup" => load.warmup = duration(&name, &value(DURATION)?)?,
            "--framing" => {
                let v = value("raw, lines or length")?;
                load.framing = parse_value(&name, &v, "raw, lines or length")?;
            }
            "--pid" => {
                let v = value("a process id")?;
                load.server_pid = Some(parse_value(&name, &v, "a process id, a whole number")?);
            }
            "--no-progress" if inline.is_none() => load.progress = false,
            "--hold" => hold = Some(count(&name, &value(COUNT)?)?),
            "--tls" if inline.is_none() => tls = true,
            "--ca" => {
                let v = value("a PEM file")?;
                if v.is_empty() {
                    return Err(bad(&name, &v, "a PEM file"));
                }
                ca = Some(PathBuf::from(v));
            }
            "--server-name" => {
                let v = value(SERVER_NAME)?;
                let name_only = TlsConfig {
                    server_name: v.clone(),
                    ..TlsConfig::new("")
                };
                if name_only.validate().is_err() {
                    return Err(bad(&name, &v, SERVER_NAME));
                }
                settings.server_name = v;
            }
            "--tls-version" => {
                settings.version = match value("1.2 or 1.3")?.as_str() {
                    "1.2" => TlsVersion::Tls12,
                    "1.3" => TlsVersion::Tls13,
                    v => return Err(bad(&name, v, "1.2 or 1.3")),
                };
            }
            "--alpn" => {
                let v = value(ALPN)?;
                if !(1..=255).contains(&v.len()) {
                    return Err(bad(&name, &v, ALPN));
                }
                settings.alpn = Some(v);
            }
            _ => {
                return Err(ArgError(format!(
                    "unknown argument {arg:?}: see --help for the options"
                )));
            }
        }
        let only_for_load = [
            "-c",
            "--connections",
            "-t",
            "--threads",
            "--depth",
            "--duration",
            "--warmup",
            "--no-progress",
            "--rate",
            "--max-outstanding",
            "--churn",
        ];
        let only_for_tls = ["--ca", "--server-name", "--tls-version", "--alpn"];
        if tls_only.is_none() && only_for_tls.contains(&name.as_str()) {
            tls_only = Some(name.clone());
        }
        if load_only.is_none() && only_for_load.contains(&name.as_str()) {
            load_only = Some(name);
        }
    }
    if load.size < load.framing.min_size() {
        return Err(ArgError(format!(
            "--size {}: {} framing needs at least {} bytes per message",
            load.size,
            load.framing,
            load.framing.min_size()
        )));
    }
    load.tls = match (tls, ca) {
        (false, _) => match tls_only {
            Some(option) => {
                return Err(ArgError(format!(
                    "{option} applies to --tls runs only: add --tls to speak TLS"
                )));
            }
            None => None,
        },
        (true, None) => {
            return Err(ArgError(
                "--tls needs --ca FILE: the PEM certificate to trust, the server's own \
                 (self-signed) or its CA's"
                    .into(),
            ));
        }
        (true, Some(ca)) => Some(TlsConfig { ca, ..settings }),
    };
    if let Some(connections) = hold {
        if let Some(option) = load_only {
            return Err(ArgError(format!(
                "{option} applies to load runs, not to --hold"
            )));
        }
        return Ok(Command::Hold(HoldConfig {
            addr: load.addr,
            connections,
            server_pid: load.server_pid,
            size: load.size,
            framing: load.framing,
            tls: load.tls,
        }));
    }
    match (rate, churn) {
        (Some(_), true) => Err(ArgError(
            "--rate and --churn do not go together: a churn run opens connections as fast \
             as the server takes them"
                .into(),
        )),
        (Some(_), false) if depth_given => Err(ArgError(
            "--depth and --rate do not go together: a fixed-rate run sends on a timetable, \
             not on replies, so messages in flight follow from the rate and the latency \
             (bound them with --max-outstanding)"
                .into(),
        )),
        (Some(rate), false) => Ok(Command::Rate(RateConfig {
            load,
            rate,
            max_outstanding: max_outstanding.unwrap_or(RateConfig::default().max_outstanding),
        })),
        (None, _) if max_outstanding.is_some() => Err(ArgError(
            "--max-outstanding applies to --rate runs only".into(),
        )),
        (None, true) if depth_given => Err(ArgError(
            "--depth and --churn do not go together: each churn cycle sends one message".into(),
        )),
        (None, true) => Ok(Command::Churn(load)),
        (None, false) => Ok(Command::Load(load)),
    }
}

/// What a count accepts.
const COUNT: &str = "a whole number, at least 1";

/// What a size accepts.
const SIZE: &str = "a byte count with an optional unit B, KiB or MiB, e.g. 64 or 4KiB";

/// What `--server-name` accepts.
const SERVER_NAME: &str = "a DNS name or an IP address, e.g. localhost";

/// What `--alpn` accepts.
const ALPN: &str = "a protocol name of 1 to 255 bytes, e.g. h2";

/// What a duration accepts.
const DURATION: &str = "a whole number with a unit ms, s, m or h, e.g. 500ms or 10s";

/// Parses `value` with `FromStr`, naming the option and what it accepts on failure.
fn parse_value<T: FromStr>(name: &str, value: &str, accepted: &str) -> Result<T, ArgError> {
    value.parse().map_err(|_| bad(name, value, accepted))
}

/// The error for `name value`, which should have been `accepted`.
fn bad(name: &str, value: &str, accepted: &str) -> ArgError {
    ArgError(format!("{name} {value:?}: expected {accepted}"))
}

/// A count of at least 1.
fn count(name: &str, value: &str) -> Result<usize, ArgError> {
    match value.parse() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(bad(name, value, COUNT)),
    }
}

/// A byte count: digits, then optionally `B`, `KiB` or `MiB`; at least 1, at most `MAX_SIZE`.
fn size(name: &str, value: &str) -> Result<usize, ArgError> {
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (digits, unit) = value.split_at(split);
    let scale = match unit {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        _ => return Err(bad(name, value, SIZE)),
    };
    match digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
    {
        Some(n) if (1..=MAX_SIZE).contains(&n) => Ok(n),
        Some(_) => Err(bad(name, value, &format!("1 B to {MAX_SIZE} B (64 MiB)"))),
        None => Err(bad(name, value, SIZE)),
    }
}

/// A duration: digits, then `ms`, `s`, `m` or `h`.
fn duration(name: &str, value: &str) -> Result<Duration, ArgError> {
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (digits, unit) = value.split_at(split);
    let n: u64 = digits.parse().map_err(|_| bad(name, value, DURATION))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => n
            .checked_mul(60)
            .map(Duration::from_secs)
            .ok_or_else(|| bad(name, value, DURATION))?,
        "h" => n
            .checked_mul(3600)
            .map(Duration::from_secs)
            .ok_or_else(|| bad(name, value, DURATION))?,
        _ => return Err(bad(name, value, DURATION)),
    };
    if name == "--duration" && d.is_zero() {
        return Err(bad(name, value, "a positive duration, e.g. 10s"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use turbine_load::Framing;

    /// Parses a command line given as one string.
    fn parse_str(line: &str) -> Result<Command, ArgError> {
        parse(line.split_whitespace().map(String::from))
    }

    /// Every option lands in its field; both `--opt value` and `--opt=value` work.
    #[test]
    fn load_options() {
        let Ok(Command::Load(c)) = parse_str(
            "--addr 127.0.0.1:9000 -c 8 --threads=2 --size 4KiB --depth 16 --duration 500ms \
             --warmup 0s --framing lines --pid 42 --no-progress",
        ) else {
            panic!("did not parse");
        };
        assert_eq!(c.addr, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(
            (c.connections, c.threads, c.size, c.depth),
            (8, 2, 4096, 16)
        );
        assert_eq!(c.duration, Duration::from_millis(500));
        assert_eq!(c.warmup, Duration::ZERO);
        assert_eq!(c.framing, Framing::Lines);
        assert_eq!(c.server_pid, Some(42));
        assert!(!c.progress);
        assert_eq!(parse_str(""), Ok(Command::Load(LoadConfig::default())));
        assert_eq!(parse_str("-c 1 --help"), Ok(Command::Help));
    }

    /// `--hold` takes the address, size, framing and pid.
    #[test]
    fn hold_options() {
        let got = parse_str("--hold 10000 --pid 7 --framing length --size 16");
        let want = HoldConfig {
            connections: 10_000,
            server_pid: Some(7),
            framing: Framing::Length,
            size: 16,
            ..HoldConfig::default()
        };
        assert_eq!(got, Ok(Command::Hold(want)));
    }

    /// Errors name the argument and the value, and say what is accepted.
    #[test]
    fn errors() {
        let err = |line| parse_str(line).unwrap_err().to_string();
        assert_eq!(
            err("--connections 0"),
            "--connections \"0\": expected a whole number, at least 1"
        );
        assert!(
            err("--duration 10").contains("--duration \"10\": expected a whole number with a unit")
        );
        assert!(err("--duration 0s").contains("positive"));
        assert!(
            err("--framing json").contains("--framing \"json\": expected raw, lines or length")
        );
        assert!(err("--size 1GiB").contains("--size \"1GiB\""));
        assert!(err("--size 4 --framing length").contains("at least 5"));
        assert!(err("--addr").contains("--addr needs a value"));
        assert!(err("--bogus").contains("unknown argument \"--bogus\""));
        assert!(err("--no-progress=1").contains("unknown argument"));
        assert!(err("--hold 10 --depth 4").contains("--depth applies to load runs"));
    }

    /// `--rate` makes a fixed-rate run over the load options; `--max-outstanding` bounds it.
    #[test]
    fn rate_options() {
        let Ok(Command::Rate(r)) = parse_str("--rate 20000 -c 8 -t 2 --framing length --size 16")
        else {
            panic!("did not parse");
        };
        assert_eq!((r.rate, r.max_outstanding), (20_000, 10_000));
        assert_eq!((r.load.connections, r.load.threads), (8, 2));
        assert_eq!(
            (r.load.framing, r.load.size, r.load.depth),
            (Framing::Length, 16, 1)
        );
        let Ok(Command::Rate(r)) = parse_str("--max-outstanding=50 --rate=7") else {
            panic!("did not parse");
        };
        assert_eq!((r.rate, r.max_outstanding), (7, 50));
    }

    /// `--churn` makes a churn run over the load options.
    #[test]
    fn churn_options() {
        let Ok(Command::Churn(c)) = parse_str("--churn -c 32 --duration 1s --framing lines") else {
            panic!("did not parse");
        };
        assert_eq!(c.connections, 32);
        assert_eq!(c.duration, Duration::from_secs(1));
        assert_eq!(c.framing, Framing::Lines);
    }

    /// `--tls` with `--ca` speaks TLS in every mode; the other TLS options fill in the rest.
    #[test]
    fn tls_options() {
        let Ok(Command::Load(c)) = parse_str("--tls --ca cert.pem -c 2") else {
            panic!("did not parse");
        };
        assert_eq!(c.tls, Some(TlsConfig::new("cert.pem")));
        let Ok(Command::Churn(c)) = parse_str(
            "--churn --tls --ca=/tmp/ca.pem --server-name echo.example --tls-version 1.2 \
             --alpn http/1.1",
        ) else {
            panic!("did not parse");
        };
        let want = TlsConfig {
            ca: "/tmp/ca.pem".into(),
            server_name: "echo.example".into(),
            version: TlsVersion::Tls12,
            alpn: Some("http/1.1".into()),
        };
        assert_eq!(c.tls, Some(want));
        let Ok(Command::Rate(r)) = parse_str("--rate 10 --server-name 127.0.0.1 --tls --ca c.pem")
        else {
            panic!("did not parse");
        };
        let tls = r.load.tls.expect("TLS settings");
        assert_eq!(
            (tls.server_name.as_str(), tls.version),
            ("127.0.0.1", TlsVersion::Tls13)
        );
        let Ok(Command::Hold(h)) = parse_str("--hold 5 --tls --ca c.pem --tls-version=1.3") else {
            panic!("did not parse");
        };
        assert_eq!(h.tls, Some(TlsConfig::new("c.pem")));
    }

    /// TLS options are checked, need `--tls`, and `--tls` needs `--ca`.
    #[test]
    fn tls_errors() {
        let err = |line| parse_str(line).unwrap_err().to_string();
        assert!(
            err("--tls").starts_with("--tls needs --ca FILE"),
            "{}",
            err("--tls")
        );
        assert_eq!(
            err("--ca cert.pem"),
            "--ca applies to --tls runs only: add --tls to speak TLS"
        );
        assert!(err("--hold 3 --alpn h2 --server-name x").starts_with("--alpn applies to --tls"));
        assert_eq!(
            err("--tls --ca c.pem --tls-version 1.1"),
            "--tls-version \"1.1\": expected 1.2 or 1.3"
        );
        assert!(
            err("--tls --ca c.pem --server-name bad!name")
                .contains("--server-name \"bad!name\": expected a DNS name or an IP address")
        );
        assert!(err("--tls --ca c.pem --alpn=").contains("--alpn \"\": expected a protocol name"));
        assert!(err("--tls --ca=").contains("--ca \"\": expected a PEM file"));
        assert!(err("--tls=yes").contains("unknown argument \"--tls=yes\""));
        assert!(err("--tls --ca").contains("--ca needs a value"));
    }

    /// Modes that do not mix are refused, naming both options and why.
    #[test]
    fn mode_errors() {
        let err = |line| parse_str(line).unwrap_err().to_string();
        assert!(
            err("--rate 100 --depth 4").starts_with("--depth and --rate do not go together"),
            "{}",
            err("--rate 100 --depth 4")
        );
        // Even a depth of 1, the default, is refused when given.
        assert!(err("--depth 1 --rate 100").contains("--depth and --rate"));
        assert!(err("--churn --depth 2").starts_with("--depth and --churn do not go together"));
        assert!(err("--churn --rate 5").starts_with("--rate and --churn do not go together"));
        assert_eq!(
            err("--max-outstanding 9"),
            "--max-outstanding applies to --rate runs only"
        );
        assert_eq!(
            err("--rate 0"),
            "--rate \"0\": expected a whole number, at least 1"
        );
        assert!(err("--rate fast").contains("--rate \"fast\": expected a whole number"));
        assert!(err("--max-outstanding 0 --rate 5").contains("--max-outstanding \"0\""));
        assert!(err("--churn=yes").contains("unknown argument \"--churn=yes\""));
        assert!(err("--hold 10 --rate 5").contains("--rate applies to load runs, not to --hold"));
        assert!(err("--hold 10 --churn").contains("--churn applies to load runs"));
    }
}
