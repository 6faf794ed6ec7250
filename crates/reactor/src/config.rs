//! What [`Config`] does with its settings (declared in `settings.rs`): read them from the
//! environment, check them, show them; and [`ConfigError`], the refusal that names a variable.

use std::fmt;
use std::ops::ControlFlow;

use turbine_codec::FrameLimits;
use turbine_pool::PoolConfig;

use crate::Config;
use crate::settings::{Kind, Setting, Visit, VisitMut, render_duration, unknown_variables};

impl Config {
    /// The defaults, overridden by every `TURBINE_*` variable that is set, then validated.
    ///
    /// # Errors
    ///
    /// A variable that does not parse or is out of bounds, or a combination that
    /// [`validate`](Config::validate) rejects; the error names the variable, its value and what
    /// is accepted.
    pub fn from_env() -> Result<Self, ConfigError> {
        Config::new().with_env()
    }

    /// Overrides this configuration with every `TURBINE_*` variable that is set, then validates.
    ///
    /// Values set on `self` before the call are the program's defaults; the environment wins
    /// over them. A `TURBINE_*` variable that no setting reads gets a warning in the log,
    /// naming the known variable it is closest to: a typo would otherwise go unnoticed.
    ///
    /// # Errors
    ///
    /// See [`Config::from_env`].
    pub fn with_env(self) -> Result<Config, ConfigError> {
        let names = std::env::vars_os().filter_map(|(name, _)| name.into_string().ok());
        for unknown in unknown_variables(names) {
            log::warn!("{unknown}");
        }
        self.with_vars(|name| std::env::var(name).ok())
    }

    /// Like [`with_env`](Config::with_env), reading variables through `lookup` instead of the
    /// process environment (for tests, or configuration kept elsewhere). Unknown variables are
    /// not reported: `lookup` cannot list them.
    ///
    /// Each value must parse completely, in the grammar of [`parse_size`](crate::parse_size),
    /// [`parse_duration`](crate::parse_duration) and [`parse_bool`](crate::parse_bool); `0` or
    /// `off` turns off an optional setting. Nothing is applied from a value that is refused.
    ///
    /// # Errors
    ///
    /// See [`Config::from_env`].
    pub fn with_vars(
        mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        if let ControlFlow::Break(e) = self.visit_mut(&mut FromVars(&lookup)) {
            return Err(e);
        }
        // Report a refused value as the user wrote it (`128KiB`), not as it was parsed.
        self.validate().map_err(|mut e| {
            if let Some(raw) = lookup(e.var) {
                e.value = raw;
            }
            e
        })?;
        Ok(self)
    }

    /// The frame bounds for a stock codec: `max_frame` for what a peer sends, `max_frame_out`
    /// for what the server writes (`LinesCodec::new(config.frame_limits())`).
    pub fn frame_limits(&self) -> FrameLimits {
        FrameLimits::new(self.max_frame, self.max_frame_out)
    }

    /// The worker pool's configuration.
    pub(crate) fn pool_config(&self) -> PoolConfig {
        PoolConfig::new()
            .workers(self.workers)
            .queue(self.worker_queue)
            .priority(self.worker_priority)
    }

    /// Checks every value against its bounds, the watermarks against each other, and that the
    /// keepalive details come with keepalive itself.
    ///
    /// # Errors
    ///
    /// The first value refused, named by its environment variable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let ControlFlow::Break(e) = self.visit(&mut Bounds) {
            return Err(e);
        }
        let high = self.write_high_watermark;
        let low = self.write_low_watermark;
        if low > high {
            return Err(ConfigError::new(
                "TURBINE_WRITE_LOW_WATERMARK",
                low.to_string(),
                format!("a size no larger than TURBINE_WRITE_HIGH_WATERMARK ({high})"),
            ));
        }
        if self.write_limit < high {
            return Err(ConfigError::new(
                "TURBINE_WRITE_LIMIT",
                self.write_limit.to_string(),
                format!("a size no smaller than TURBINE_WRITE_HIGH_WATERMARK ({high})"),
            ));
        }
        // Probe timing without keepalive would be silently ignored: refuse it instead.
        if self.keepalive.is_none() {
            let interval = self.keepalive_interval.map(render_duration);
            let count = self.keepalive_count.map(|n| n.to_string());
            for (var, value) in [
                ("TURBINE_KEEPALIVE_INTERVAL", interval),
                ("TURBINE_KEEPALIVE_COUNT", count),
            ] {
                if let Some(value) = value {
                    return Err(ConfigError::new(
                        var,
                        value,
                        "off, as it needs TURBINE_KEEPALIVE, which is off",
                    ));
                }
            }
        }
        // A certificate without its key (or the reverse) would silently serve plaintext.
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), None) => {
                return Err(ConfigError::new(
                    "TURBINE_TLS_KEY",
                    "off".to_string(),
                    format!(
                        "a PEM private key file, as TURBINE_TLS_CERT is set ({})",
                        cert.display()
                    ),
                ));
            }
            (None, Some(key)) => {
                return Err(ConfigError::new(
                    "TURBINE_TLS_CERT",
                    "off".to_string(),
                    format!(
                        "a PEM certificate chain file, as TURBINE_TLS_KEY is set ({})",
                        key.display()
                    ),
                ));
            }
            _ => {}
        }
        // The metrics listener on the main listener's port would fail to bind after the main
        // one did, and the error would name the wrong address: refuse it here, by name.
        if let Some(metrics) = self.metrics_addr {
            let main = self.addr;
            let overlap = metrics.ip() == main.ip()
                || metrics.ip().is_unspecified()
                || main.ip().is_unspecified();
            if metrics.port() != 0 && metrics.port() == main.port() && overlap {
                return Err(ConfigError::new(
                    "TURBINE_METRICS_ADDR",
                    metrics.to_string(),
                    format!(
                        "an address with a port other than TURBINE_ADDR's ({main}), or port 0, \
                         or off"
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::new()
    }
}

/// Applies each variable that `.0` finds, stopping at the first that does not parse.
struct FromVars<'a, F>(&'a F);

impl<F: Fn(&str) -> Option<String>> VisitMut for FromVars<'_, F> {
    type Break = ConfigError;

    fn setting<K: Kind>(
        &mut self,
        setting: &Setting,
        kind: &K,
        value: &mut K::Value,
    ) -> ControlFlow<ConfigError> {
        let Some(raw) = (self.0)(setting.var) else {
            return ControlFlow::Continue(());
        };
        match kind.parse(raw.trim()) {
            Some(parsed) => {
                *value = parsed;
                ControlFlow::Continue(())
            }
            None => ControlFlow::Break(ConfigError::new(setting.var, raw, kind.expected())),
        }
    }
}

/// Checks each value against its kind's bounds, stopping at the first out of them.
struct Bounds;

impl Visit for Bounds {
    type Break = ConfigError;

    fn setting<K: Kind>(
        &mut self,
        setting: &Setting,
        kind: &K,
        value: &K::Value,
    ) -> ControlFlow<ConfigError> {
        match kind.check(value) {
            Ok(()) => ControlFlow::Continue(()),
            Err(expected) => {
                ControlFlow::Break(ConfigError::new(setting.var, kind.render(value), expected))
            }
        }
    }
}

/// Writes `name=value` for each setting, separated by spaces.
struct Line<'a, 'b> {
    /// Where the line goes.
    f: &'a mut fmt::Formatter<'b>,
    /// Whether a setting was written already (and the next needs a space).
    started: bool,
}

impl Visit for Line<'_, '_> {
    type Break = fmt::Error;

    fn setting<K: Kind>(
        &mut self,
        setting: &Setting,
        kind: &K,
        value: &K::Value,
    ) -> ControlFlow<fmt::Error> {
        let space = if self.started { " " } else { "" };
        self.started = true;
        match write!(self.f, "{space}{}={}", setting.name, kind.render(value)) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => ControlFlow::Break(e),
        }
    }
}

impl fmt::Display for Config {
    /// One line with every effective setting, for the start-up log: `addr=127.0.0.1:7878
    /// reactors=4 ...`, each value as its variable would take it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.visit(&mut Line { f, started: false }) {
            ControlFlow::Continue(()) => Ok(()),
            ControlFlow::Break(e) => Err(e),
        }
    }
}

/// A configuration value that was refused: which variable, what it held, what is accepted.
///
/// Its `Display` is the message a program prints before it exits with code 2, for example
/// `TURBINE_REACTORS="0": expected a value from 1 to 1024`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The environment variable (or, for a builder value, the variable it corresponds to).
    pub var: &'static str,
    /// The refused value as given.
    pub value: String,
    /// What the variable accepts.
    pub expected: String,
}

impl ConfigError {
    /// An error for `var`, which held `value`; `expected` says what it accepts. For a program's
    /// own settings, so its messages read like Turbine's.
    pub fn new(var: &'static str, value: String, expected: impl Into<String>) -> Self {
        ConfigError {
            var,
            value,
            expected: expected.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}={:?}: expected {}",
            self.var, self.value, self.expected
        )
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests;
