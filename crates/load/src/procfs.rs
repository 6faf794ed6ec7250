//! Reading a server's CPU time and memory from Linux's `/proc`.

use std::io;
use std::time::Duration;

/// Clock ticks per second in `/proc/PID/stat`: the kernel's `USER_HZ`, which is 100 on every
/// architecture Linux runs on today (it is what `getconf CLK_TCK` prints), independent of the
/// kernel's internal `HZ`. Assumed rather than asked for, since asking needs `sysconf`.
pub const CLK_TCK: u64 = 100;

/// CPU time process `pid` has used so far, all of its threads together, user plus system.
///
/// Reads `utime` and `stime` (fields 14 and 15) from `/proc/PID/stat` and converts clock ticks
/// at [`CLK_TCK`] per second, so the resolution is 10 ms: measure over seconds, not
/// milliseconds.
///
/// # Errors
///
/// The error from reading the file (`NotFound` when there is no such process, or off Linux),
/// or `InvalidData` when its contents cannot be parsed.
///
/// # Examples
///
/// ```
/// # #[cfg(target_os = "linux")] {
/// let cpu = turbine_load::server_cpu_time(std::process::id())?;
/// assert!(cpu.as_secs() < 60 * 60 * 24);
/// # }
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn server_cpu_time(pid: u32) -> io::Result<Duration> {
    let stat = read(&format!("/proc/{pid}/stat"))?;
    let ticks = parse_stat_cpu_ticks(&stat).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("cannot parse utime and stime in /proc/{pid}/stat"),
        )
    })?;
    Ok(Duration::from_millis(ticks * 1000 / CLK_TCK))
}

/// Resident memory of process `pid`, in bytes: `VmRSS` from `/proc/PID/status`.
///
/// # Errors
///
/// The error from reading the file (`NotFound` when there is no such process, or off Linux),
/// or `InvalidData` when it has no parsable `VmRSS` line (kernel threads have none).
///
/// # Examples
///
/// ```
/// # #[cfg(target_os = "linux")] {
/// assert!(turbine_load::server_rss(std::process::id())? > 0);
/// # }
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn server_rss(pid: u32) -> io::Result<u64> {
    let status = read(&format!("/proc/{pid}/status"))?;
    parse_status_rss(&status).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("no VmRSS line in /proc/{pid}/status"),
        )
    })
}

/// The contents of `path`; an error names the file and keeps its kind.
fn read(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path).map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))
}

/// `utime + stime`, in clock ticks, from the contents of a `/proc/PID/stat` file.
fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) is in parentheses and may itself hold spaces and ')', so
    // fields are counted from the last ')': the first one after it is field 3 (state).
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_ascii_whitespace().skip(14 - 3);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    utime.checked_add(stime)
}

/// `VmRSS` in bytes from the contents of a `/proc/PID/status` file (`VmRSS:   1234 kB`).
fn parse_status_rss(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    let kib: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fields are counted after the last ')', so a command name with spaces and parentheses
    /// does not shift them.
    #[test]
    fn stat_with_awkward_command_name() {
        let stat = "4242 (echo) (x) y) S 1 4242 4242 0 -1 4194560 1210 0 0 0 \
                    731 52 0 0 20 0 3 0 123456 12345678 456 18446744073709551615\n";
        assert_eq!(parse_stat_cpu_ticks(stat), Some(731 + 52));
        assert_eq!(parse_stat_cpu_ticks("4242 (echo) S 1 2"), None);
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
    }

    /// `VmRSS` is read in kB and returned in bytes.
    #[test]
    fn status_rss_in_bytes() {
        let status = "Name:\techo\nVmPeak:\t  9000 kB\nVmRSS:\t    1234 kB\nThreads:\t3\n";
        assert_eq!(parse_status_rss(status), Some(1234 * 1024));
        assert_eq!(parse_status_rss("Name:\tkthreadd\n"), None);
    }

    /// The test process's own figures are readable: some CPU time, some resident memory.
    #[test]
    #[cfg(target_os = "linux")]
    fn own_process() {
        let pid = std::process::id();
        // Burn a little CPU so that at least one 10 ms tick is on the books.
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(30) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        assert!(server_cpu_time(pid).unwrap() > Duration::ZERO);
        assert!(server_rss(pid).unwrap() > 1024 * 1024);
        assert_eq!(
            server_cpu_time(u32::MAX).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }
}
