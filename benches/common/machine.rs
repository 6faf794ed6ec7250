//! `Machine`: what the figures were measured on, for the reports.

use std::fs;
use std::process::Command;

/// The machine, toolchain and code a report's figures come from.
#[derive(Clone, Debug)]
pub(crate) struct Machine {
    /// `nproc` before this process pinned itself (cores it may use).
    pub cores: String,
    /// CPU model, from `/proc/cpuinfo`.
    pub cpu: String,
    /// `uname -r`.
    pub kernel: String,
    /// `rustc --version`.
    pub rustc: String,
    /// Versions of the crates the benchmarks' peers are built on, from `Cargo.lock`.
    pub crates: String,
    /// The commit measured, and whether the tree had changes on top of it.
    pub commit: String,
    /// When the report was made (UTC).
    pub date: String,
}

impl Machine {
    /// Gathers the description; anything that cannot be found reads `unknown`. Call it before
    /// pinning this process, or `nproc` counts only the pinned core.
    pub(crate) fn describe() -> Machine {
        let root = env!("CARGO_MANIFEST_DIR");
        let cpu = fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|line| line.starts_with("model name"))
                    .and_then(|line| line.split_once(':'))
                    .map(|(_, model)| model.trim().to_string())
            })
            .unwrap_or_else(unknown);
        let commit = match output("git", &["-C", root, "rev-parse", "--short", "HEAD"]) {
            Some(commit) => {
                let dirty = output("git", &["-C", root, "status", "--porcelain"])
                    .is_some_and(|status| !status.is_empty());
                if dirty {
                    format!("{commit} with uncommitted changes")
                } else {
                    commit
                }
            }
            None => unknown(),
        };
        let lock = fs::read_to_string(format!("{root}/Cargo.lock")).unwrap_or_default();
        let crates = [
            "tokio",
            "tokio-util",
            "mio",
            "socket2",
            "rustls",
            "tokio-rustls",
        ]
        .iter()
        .map(|name| format!("{name} {}", locked_version(&lock, name)))
        .collect::<Vec<_>>()
        .join(", ");
        Machine {
            cores: output("nproc", &[]).unwrap_or_else(unknown),
            cpu,
            kernel: output("uname", &["-r"]).unwrap_or_else(unknown),
            rustc: output("rustc", &["--version"]).unwrap_or_else(unknown),
            crates,
            commit,
            date: output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_else(unknown),
        }
    }

    /// The description as a Markdown list.
    pub(crate) fn markdown(&self) -> String {
        format!(
            "- `nproc`: {}; CPU: `{}`; kernel `{}` (`uname -r`)\n\
             - `{}`, bench profile; {}\n\
             - Turbine at commit `{}`; run on {}\n",
            self.cores, self.cpu, self.kernel, self.rustc, self.crates, self.commit, self.date
        )
    }
}

/// The placeholder for what could not be found.
fn unknown() -> String {
    "unknown".to_string()
}

/// The trimmed standard output of a command that succeeded.
fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The version `Cargo.lock` pins for package `name` (the first, if several).
fn locked_version(lock: &str, name: &str) -> String {
    let wanted = format!("name = \"{name}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == wanted {
            if let Some(version) = lines
                .next()
                .and_then(|v| v.strip_prefix("version = \""))
                .and_then(|v| v.strip_suffix('"'))
            {
                return version.to_string();
            }
        }
    }
    unknown()
}
