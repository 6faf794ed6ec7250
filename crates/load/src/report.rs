//! `Report`: what a load run measured, and its printed summary.

use std::fmt;
use std::time::Duration;

use crate::units::Nanos;
use crate::{Histogram, Pacing, TlsVersion};

/// What [`run`](crate::run()) or [`run_at_rate`](crate::run_at_rate()) measured during its
/// measured window (warm-up excluded).
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Replies completed in the window, all connections together; mismatched ones included.
    pub messages: u64,
    /// Reply bytes received in those replies, framing included (an echo sends as many).
    pub bytes: u64,
    /// Length of the measured window.
    pub elapsed: Duration,
    /// Round-trip latency of each reply in the window, in nanoseconds, up to the read that
    /// completed it. From the moment its message was queued for writing in a closed-loop run
    /// (with `depth > 1` this includes the time a message waits behind the others in
    /// flight); from its *intended* send time in a fixed-rate run, so time a message spent
    /// waiting to be sent counts too.
    pub latency: Histogram,
    /// Connections closed by a read or write error, or by the server closing them, during
    /// the whole run (warm-up included); they are not reopened.
    pub errors: u64,
    /// Replies with at least one byte different from the message sent, plus connections whose
    /// replies could no longer be delimited (which are then closed), during the whole run
    /// (warm-up included: a wrong byte is wrong whenever it comes).
    pub mismatches: u64,
    /// Connections that could not be established: refused, failed or not done within 5 s,
    /// TLS handshake included.
    pub failed_connects: u64,
    /// Of `failed_connects`, those that connected but whose TLS handshake failed (an
    /// untrusted certificate or one not valid for the server name, an alert from the server,
    /// the server closing) or did not finish within the 5 s; the first failure of each client
    /// thread is logged at warning level with rustls's reason.
    pub failed_handshakes: u64,
    /// The TLS version spoken, or `None` for plain TCP.
    pub tls: Option<TlsVersion>,
    /// CPU time the server process used during the window, when its pid was given (10 ms
    /// resolution; see [`server_cpu_time`](crate::server_cpu_time)).
    pub server_cpu: Option<Duration>,
    /// How a fixed-rate run kept to its schedule; `None` for a closed-loop run.
    pub pacing: Option<Pacing>,
}

impl Report {
    /// Replies per second over the measured window; 0 for an empty window.
    pub fn messages_per_sec(&self) -> f64 {
        per_sec(self.messages as f64, self.elapsed)
    }

    /// Messages sent per second in the window of a fixed-rate run, to read beside
    /// [`Pacing::target`]; `None` for a closed-loop run.
    pub fn sent_per_sec(&self) -> Option<f64> {
        let pacing = self.pacing.as_ref()?;
        Some(per_sec(pacing.sent as f64, self.elapsed))
    }

    /// Reply bandwidth in MiB (2^20 bytes) per second, one direction.
    pub fn mib_per_sec(&self) -> f64 {
        per_sec(self.bytes as f64 / (1024.0 * 1024.0), self.elapsed)
    }

    /// Replies per second of server CPU time: how much work the server does per core-second
    /// used, a figure that holds up even when the server is not the bottleneck. `None` without
    /// a server pid or when the server used no measurable CPU time.
    pub fn messages_per_server_cpu_sec(&self) -> Option<f64> {
        let cpu = self.server_cpu?.as_secs_f64();
        (cpu > 0.0).then(|| self.messages as f64 / cpu)
    }
}

/// The lines of a fixed-rate run: rates, what fell behind, and the send lag.
fn write_pacing(f: &mut fmt::Formatter<'_>, p: &Pacing, elapsed: Duration) -> fmt::Result {
    writeln!(
        f,
        "rate       target {} msgs/s, sent {:.0} msgs/s (late {}, backlogged {}, unsent {}; \
         {} in flight at the end)",
        p.target,
        per_sec(p.sent as f64, elapsed),
        p.late,
        p.backlogged,
        p.unsent,
        p.in_flight_at_end
    )?;
    let lag = &p.send_lag;
    writeln!(
        f,
        "send lag   p50={} p99={} max={} (intended send time to write)",
        Nanos(lag.percentile(50.0)),
        Nanos(lag.percentile(99.0)),
        Nanos(lag.max()),
    )?;
    if p.behind() > 0 {
        writeln!(
            f,
            "behind     {} messages did not go out on schedule (late, backlogged or unsent \
             above); latencies count from their intended send times",
            p.behind()
        )?;
    }
    Ok(())
}

/// `amount / elapsed`, or 0 when no time elapsed.
fn per_sec(amount: f64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { amount / secs } else { 0.0 }
}

impl fmt::Display for Report {
    /// A multi-line summary, for example:
    ///
    /// ```text
    /// window     10.00 s
    /// messages   12345678 (1234567 msgs/s, 75.4 MiB/s)
    /// latency    p50=75.0us p90=90.1us p99=120us p99.9=310us max=2.10ms mean=78.2us
    /// errors     0 (mismatches 0, failed connects 0)
    /// server     9.87 s CPU (98.7 % of a core), 1250831 msgs per CPU-second
    /// ```
    ///
    /// Over TLS the errors line adds the failed handshakes among the failed connects:
    /// `failed connects 3, of which TLS handshakes 3`.
    ///
    /// A fixed-rate run adds its pacing after the latency, and a warning when messages did
    /// not go out on schedule:
    ///
    /// ```text
    /// rate       target 20000 msgs/s, sent 19998 msgs/s (late 0, backlogged 0, unsent 0; 21 in flight at the end)
    /// send lag   p50=510us p99=1.05ms max=1.31ms (intended send time to write)
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = &self.latency;
        writeln!(f, "window     {:.2} s", self.elapsed.as_secs_f64())?;
        writeln!(
            f,
            "messages   {} ({:.0} msgs/s, {:.1} MiB/s)",
            self.messages,
            self.messages_per_sec(),
            self.mib_per_sec()
        )?;
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
        if let Some(pacing) = &self.pacing {
            write_pacing(f, pacing, self.elapsed)?;
        }
        write!(
            f,
            "errors     {} (mismatches {}, failed connects {}",
            self.errors, self.mismatches, self.failed_connects
        )?;
        if self.tls.is_some() {
            write!(f, ", of which TLS handshakes {}", self.failed_handshakes)?;
        }
        f.write_str(")")?;
        if let Some(cpu) = self.server_cpu {
            write!(
                f,
                "\nserver     {:.2} s CPU ({:.1} % of a core)",
                cpu.as_secs_f64(),
                100.0 * per_sec(cpu.as_secs_f64(), self.elapsed)
            )?;
            if let Some(rate) = self.messages_per_server_cpu_sec() {
                write!(f, ", {rate:.0} msgs per CPU-second")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rates divide by the window; CPU rate needs a pid and a non-zero CPU time.
    #[test]
    fn rates() {
        let mut r = Report {
            messages: 1000,
            bytes: 2 * 1024 * 1024,
            elapsed: Duration::from_secs(2),
            ..Report::default()
        };
        assert_eq!(r.messages_per_sec(), 500.0);
        assert_eq!(r.mib_per_sec(), 1.0);
        assert_eq!(r.messages_per_server_cpu_sec(), None);
        r.server_cpu = Some(Duration::ZERO);
        assert_eq!(r.messages_per_server_cpu_sec(), None);
        r.server_cpu = Some(Duration::from_millis(500));
        assert_eq!(r.messages_per_server_cpu_sec(), Some(2000.0));
        let text = r.to_string();
        assert!(text.contains("500 msgs/s"), "{text}");
        assert!(text.contains("2000 msgs per CPU-second"), "{text}");
        assert_eq!(Report::default().messages_per_sec(), 0.0);
        assert_eq!(r.sent_per_sec(), None);
        assert!(!text.contains("rate"), "{text}");
    }

    /// A fixed-rate report shows the target beside the rate achieved, and warns when
    /// messages fell behind.
    #[test]
    fn pacing() {
        let mut r = Report {
            messages: 1000,
            elapsed: Duration::from_secs(2),
            pacing: Some(Pacing {
                target: 600,
                sent: 1100,
                ..Pacing::default()
            }),
            ..Report::default()
        };
        assert_eq!(r.sent_per_sec(), Some(550.0));
        let text = r.to_string();
        assert!(
            text.contains("target 600 msgs/s, sent 550 msgs/s"),
            "{text}"
        );
        assert!(!text.contains("behind"), "{text}");
        if let Some(p) = r.pacing.as_mut() {
            p.backlogged = 7;
            p.unsent = 3;
        }
        let text = r.to_string();
        assert!(text.contains("behind     10 messages"), "{text}");
    }

    /// A TLS run counts its failed handshakes among the failed connects.
    #[test]
    fn tls_handshakes() {
        let mut r = Report {
            failed_connects: 4,
            failed_handshakes: 3,
            ..Report::default()
        };
        assert!(r.to_string().ends_with("failed connects 4)"), "{r}");
        r.tls = Some(TlsVersion::Tls13);
        let text = r.to_string();
        assert!(
            text.ends_with("failed connects 4, of which TLS handshakes 3)"),
            "{text}"
        );
    }
}
