//! `churn`: connections opened and closed as fast as the server takes them, and what each
//! costs.

use std::fmt;
use std::io;
use std::time::Duration;

use crate::churner::Churner;
use crate::crew::{Crew, Outcome};
use crate::progress::Columns;
use crate::tls::Tls;
use crate::units::Nanos;
use crate::{Histogram, LoadConfig, TlsVersion, server_cpu_time};

/// What [`churn`] measured during its measured window (warm-up excluded).
#[derive(Debug, Clone, Default)]
pub struct ChurnReport {
    /// Cycles completed in the window: connect, over TLS a full handshake, one message sent,
    /// its echo read and checked, close. Cycles with a mismatched echo are included.
    pub cycles: u64,
    /// Length of the measured window.
    pub elapsed: Duration,
    /// Time of each cycle completed in the window, in nanoseconds: from just before its
    /// `connect` to the read that completed its echo (the TCP handshake, the TLS handshake
    /// if any, one round trip and the server's accept).
    pub latency: Histogram,
    /// Connects that failed during the whole run (warm-up included): refused, reset, not
    /// done within 5 s, or refused at once by this host (no local port, no file descriptor);
    /// over TLS, also failed handshakes. The slot tries again 10 ms later.
    pub failed_connects: u64,
    /// Of `failed_connects`, those that failed with `EADDRNOTAVAIL`: no local port was free
    /// for the address pair, typically because closed connections hold them in TIME_WAIT.
    pub out_of_ports: u64,
    /// Of `failed_connects`, those that connected but whose TLS handshake failed (an
    /// untrusted certificate or one not valid for the server name, an alert from the server,
    /// the server closing) or did not finish within 5 s of the connect; the first failure of
    /// each client thread is logged at warning level with rustls's reason.
    pub failed_handshakes: u64,
    /// Cycles that connected but ended without their echo during the whole run: a read or
    /// write error, the server closing first, or no echo within 5 s of the connect.
    pub errors: u64,
    /// Echoes with at least one byte different from the message, bytes after it, or no
    /// delimiter where one was due, during the whole run.
    pub mismatches: u64,
    /// CPU time the server process used during the window, when its pid was given.
    pub server_cpu: Option<Duration>,
    /// The TLS version of every cycle's full handshake, or `None` for plain TCP; the summary
    /// then counts cycles as handshakes.
    pub tls: Option<TlsVersion>,
}

impl ChurnReport {
    /// Cycles completed per second over the window (over TLS: full handshakes, each with
    /// its connection); 0 for an empty window.
    pub fn connections_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.cycles as f64 / secs
        } else {
            0.0
        }
    }

    /// Cycles completed per second of server CPU time; `None` without a server pid or when
    /// the server used no measurable CPU time.
    pub fn connections_per_server_cpu_sec(&self) -> Option<f64> {
        let cpu = self.server_cpu?.as_secs_f64();
        (cpu > 0.0).then(|| self.cycles as f64 / cpu)
    }

    /// Adds a thread's share.
    fn merge(&mut self, part: &ChurnReport) {
        self.cycles += part.cycles;
        self.latency.merge(&part.latency);
        self.failed_connects += part.failed_connects;
        self.out_of_ports += part.out_of_ports;
        self.failed_handshakes += part.failed_handshakes;
        self.errors += part.errors;
        self.mismatches += part.mismatches;
    }
}

impl fmt::Display for ChurnReport {
    /// A multi-line summary, for example:
    ///
    /// ```text
    /// window     10.00 s
    /// cycles     201234 (20123 connections/s: connect, echo, close)
    /// latency    p50=95.0us p90=120us p99=250us p99.9=1.20ms max=3.10ms mean=101us
    /// errors     0 (mismatches 0, failed connects 0, of which for want of a local port 0)
    /// server     7.80 s CPU (78.0 % of a core), 25799 connections per CPU-second
    /// ```
    ///
    /// Over TLS, cycles count as handshakes, and failed handshakes among the failed
    /// connects:
    ///
    /// ```text
    /// cycles     40123 (4012 handshakes/s: connect, TLS 1.3 handshake, echo, close)
    /// errors     0 (mismatches 0, failed connects 0, of which for want of a local port 0, TLS handshakes 0)
    /// server     9.10 s CPU (91.0 % of a core), 4409 handshakes per CPU-second
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = &self.latency;
        let unit = if self.tls.is_some() {
            "handshakes"
        } else {
            "connections"
        };
        writeln!(f, "window     {:.2} s", self.elapsed.as_secs_f64())?;
        write!(
            f,
            "cycles     {} ({:.0} {unit}/s: connect, ",
            self.cycles,
            self.connections_per_sec()
        )?;
        if let Some(version) = self.tls {
            write!(f, "{version} handshake, ")?;
        }
        writeln!(f, "echo, close)")?;
        writeln!(
            f,
            "latency    p50={} p90={} p99={} p99.9={} max={} mean={}",
            Nanos(l.percentile(50.0)),
            Nanos(l.percentile(90.0)),
            Nanos(l.percentile(99.0)),
            Nanos(l.percentile(99.9)),
            Nanos(l.max()),
            Nanos(l.mean() as u64),
        )?;
        write!(
            f,
            "errors     {} (mismatches {}, failed connects {}, of which for want of a local \
             port {}",
            self.errors, self.mismatches, self.failed_connects, self.out_of_ports
        )?;
        if self.tls.is_some() {
            write!(f, ", TLS handshakes {}", self.failed_handshakes)?;
        }
        f.write_str(")")?;
        if let Some(cpu) = self.server_cpu {
            let secs = self.elapsed.as_secs_f64();
            let share = if secs > 0.0 {
                cpu.as_secs_f64() / secs
            } else {
                0.0
            };
            write!(
                f,
                "\nserver     {:.2} s CPU ({:.1} % of a core)",
                cpu.as_secs_f64(),
                100.0 * share
            )?;
            if let Some(rate) = self.connections_per_server_cpu_sec() {
                write!(f, ", {rate:.0} {unit} per CPU-second")?;
            }
        }
        Ok(())
    }
}

/// Churns connections: each of `config.connections` slots repeatedly connects, sends one
/// `size`-byte message, reads and checks its echo, closes, and starts over at once. Reports
/// connections per second, the time of each connect-echo-close cycle, failed connects, and
/// with `server_pid` connections per server CPU-second.
///
/// With [`LoadConfig::tls`], every cycle makes a full TLS handshake after its connect: a new
/// session each time, and never a resumed one (the client keeps no session cache and sends no
/// tickets), so the figures are full handshakes per second and per server CPU-second, the
/// server's dearest operation. A failed handshake counts as a failed connect (and in
/// [`ChurnReport::failed_handshakes`]), and its slot rests 10 ms like any other. Each cycle
/// ends its session with a `close_notify` before the FIN.
///
/// The slots are spread over `threads` client threads; nothing is opened before the run
/// starts. The warm-up and the measured window are those of [`run`](crate::run()); cycles
/// still under way at the end are abandoned and not counted. A connect that fails is
/// counted and its slot retries 10 ms later; a cycle that has not finished 5 s after its
/// connect counts as failed (still connecting) or as an error (waiting for its echo).
///
/// # Closing, TIME_WAIT and local ports
///
/// Each cycle closes normally, from this side, once its echo is read: a FIN, not a reset.
/// The side that closes first keeps the connection in TIME_WAIT for 60 s, and with it the
/// local port, for that pair of addresses. Linux gives outgoing connections the ephemeral
/// ports 32768-60999 by default (`net.ipv4.ip_local_port_range`), about 28 000 per source
/// address, destination address and port.
///
/// The sockets are not bound: the kernel picks the source address and port inside
/// `connect`, knowing the destination, and may then reuse a port whose TIME_WAIT is at least
/// a second old when `net.ipv4.tcp_tw_reuse` allows it; its default (2) allows it on loopback.
/// So against a loopback server a churn run sustains about 28 000 connections per second
/// before ports run out; elsewhere, with the default settings, about 28 000 per minute
/// (470 per second) unless `tcp_tw_reuse` is set to 1. Ports that run out show as failed
/// connects counted in [`ChurnReport::out_of_ports`].
///
/// Binding each socket to a source address first, as [`hold`](crate::hold()) does past
/// 10 000 connections to spread them over `127.0.0.x`, does not help here: a `bind` to port
/// 0 picks the port without knowing the destination, among ports that no socket on that
/// address holds, TIME_WAIT included. Measured on Linux with loopback: 36 000 cycles bound
/// to one `127.0.0.x` ran at about 10 000 a second until some 14 000 ports were taken, then
/// fell to 130-600 a second as each `bind` searched for a port, with or without
/// `SO_REUSEADDR`; unbound, 60 000 cycles ran at 9 700 a second without a failure. (The
/// `IP_BIND_ADDRESS_NO_PORT` option would combine a chosen source address with the port
/// choice in `connect`, but is not reachable without unsafe code.)
///
/// # Errors
///
/// - `InvalidInput` when the configuration is out of bounds, or `depth` is not 1 (see
///   [`LoadConfig::validate_churn`]).
/// - With `tls`, the error reading its certificate file, or `InvalidInput` or
///   `InvalidData` when it holds no usable certificate.
/// - The error from `/proc` when `server_pid` is given but its CPU time cannot be read.
/// - An error when a client thread cannot create its event loop or panics.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use turbine_load::LoadConfig;
///
/// let report = turbine_load::churn(&LoadConfig {
///     addr: "127.0.0.1:7878".parse().unwrap(),
///     connections: 32,
///     duration: Duration::from_secs(5),
///     ..LoadConfig::default()
/// })?;
/// println!("{report}");
/// assert_eq!(report.out_of_ports, 0);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn churn(config: &LoadConfig) -> io::Result<ChurnReport> {
    config.validate_churn()?;
    if let Some(pid) = config.server_pid {
        // Fail before any load is applied rather than after it.
        server_cpu_time(pid)?;
    }
    // Read the certificates once, before anything connects; threads share the client.
    let tls = config.tls.as_ref().map(Tls::new).transpose()?;
    let (addr, framing, size) = (config.addr, config.framing, config.size);
    let crew = Crew::start(config, move |ids| {
        Churner::new(addr, tls.clone(), ids, framing, size)
    })?;
    let Outcome { parts, server_cpu } = crew.run(config, Columns::Connections)?;
    let mut report = ChurnReport::default();
    for part in &parts {
        report.merge(part);
    }
    report.elapsed = config.duration;
    report.server_cpu = server_cpu;
    report.tls = config.tls.as_ref().map(|tls| tls.version);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rates divide by the window; CPU rate needs a pid and a non-zero CPU time.
    #[test]
    fn rates() {
        let mut r = ChurnReport {
            cycles: 3000,
            elapsed: Duration::from_secs(2),
            ..ChurnReport::default()
        };
        assert_eq!(r.connections_per_sec(), 1500.0);
        assert_eq!(r.connections_per_server_cpu_sec(), None);
        r.server_cpu = Some(Duration::from_millis(500));
        assert_eq!(r.connections_per_server_cpu_sec(), Some(6000.0));
        let text = r.to_string();
        assert!(text.contains("1500 connections/s"), "{text}");
        assert!(text.contains("6000 connections per CPU-second"), "{text}");
        assert_eq!(ChurnReport::default().connections_per_sec(), 0.0);
        assert!(text.contains("connect, echo, close"), "{text}");

        r.tls = Some(TlsVersion::Tls12);
        r.failed_handshakes = 2;
        let text = r.to_string();
        assert!(
            text.contains("1500 handshakes/s: connect, TLS 1.2 handshake, echo, close"),
            "{text}"
        );
        assert!(text.contains("6000 handshakes per CPU-second"), "{text}");
        assert!(text.contains(", TLS handshakes 2)"), "{text}");
    }
}
