//! `run`: the whole life of a server program, signals included.

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::tls::TlsFiles;
use crate::{Config, ConfigError, Handler, Server, ShutdownHandle};

/// Exit code for a configuration error, as the README promises: distinct from a failure to run.
const EXIT_CONFIG: u8 = 2;

/// Runs a server until SIGINT or SIGTERM, the way a program's `main` wants it.
///
/// - A configuration error is printed to stderr (naming the variable, its value and what is
///   accepted) and the exit code is 2, before anything is bound.
/// - A bind failure is printed and the exit code is 1.
/// - SIGHUP reloads the TLS certificate and key (`TURBINE_TLS_CERT`, `TURBINE_TLS_KEY`): new
///   handshakes use the new pair, open connections keep theirs; a pair that does not load
///   leaves the old one in service and logs an error saying why.
/// - The first SIGINT or SIGTERM starts a graceful shutdown (listeners close at once, output is
///   flushed, connections close, bounded by the shutdown timeout); then `run` returns exit
///   code 0. A second signal exits the process at once with 128 + the signal number.
///
/// # Examples
///
/// ```no_run
/// use std::process::ExitCode;
/// use turbine_reactor::{Config, Context, Handler};
/// use turbine_codec::LinesCodec;
///
/// struct Echo;
///
/// impl Handler for Echo {
///     type Codec = LinesCodec;
///     fn codec(&mut self, config: &Config) -> LinesCodec {
///         LinesCodec::new(config.frame_limits())
///     }
///     fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
///         ctx.send(line);
///     }
/// }
///
/// fn main() -> ExitCode {
///     turbine_reactor::run(Config::from_env(), |_peer| Echo)
/// }
/// ```
pub fn run<H, F>(config: Result<Config, ConfigError>, factory: F) -> ExitCode
where
    H: Handler,
    F: Fn(SocketAddr) -> H + Send + Sync + 'static,
{
    run_with(config, Ok, factory)
}

/// [`run`], with `setup` applied to the bound server before it starts: the place for
/// [`Server::every`], more listeners ([`Server::listen`]) and anything else a program adds to
/// its server. An error from `setup` (a listener that cannot bind) is printed and the exit code
/// is 1.
///
/// # Examples
///
/// ```no_run
/// use std::process::ExitCode;
/// use std::time::Duration;
/// use turbine_reactor::{Config, Context, Handler};
/// use turbine_codec::LinesCodec;
///
/// struct Echo;
///
/// impl Handler for Echo {
///     type Codec = LinesCodec;
///     fn codec(&mut self, config: &Config) -> LinesCodec {
///         LinesCodec::new(config.frame_limits())
///     }
///     fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
///         ctx.send(line);
///     }
/// }
///
/// fn main() -> ExitCode {
///     turbine_reactor::run_with(
///         Config::from_env(),
///         |server| Ok(server.every(Duration::from_secs(1), |reactor| log::debug!("tick {reactor}"))),
///         |_peer| Echo,
///     )
/// }
/// ```
pub fn run_with<H, F>(
    config: Result<Config, ConfigError>,
    setup: impl FnOnce(Server) -> io::Result<Server>,
    factory: F,
) -> ExitCode
where
    H: Handler,
    F: Fn(SocketAddr) -> H + Send + Sync + 'static,
{
    let config = match config.and_then(|c| c.validate().map(|()| c)) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let addr = config.addr;
    let server = match Server::bind(config) {
        Ok(server) => server,
        Err(e) => {
            // TLS files that do not load are configuration errors, named by their variable.
            if let Some(config_error) = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<ConfigError>())
            {
                eprintln!("configuration error: {config_error}");
                return ExitCode::from(EXIT_CONFIG);
            }
            eprintln!("cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let server = match setup(server) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("cannot set the server up: {e}");
            return ExitCode::FAILURE;
        }
    };
    let signals = match Signals::new([SIGINT, SIGTERM, SIGHUP]) {
        Ok(signals) => signals,
        Err(e) => {
            eprintln!("cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let signals_handle = signals.handle();
    let shutdown = server.shutdown_handle();
    let tls = server.tls_files();
    let watcher = std::thread::Builder::new()
        .name("turbine-signals".into())
        .spawn(move || watch(signals, shutdown, tls));
    let result = server.run(factory);
    signals_handle.close();
    if let Ok(watcher) = watcher {
        let _ = watcher.join();
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("server failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// First SIGINT or SIGTERM: graceful shutdown. Second: exit now. SIGHUP: reload the TLS
/// certificate and key.
fn watch(mut signals: Signals, shutdown: ShutdownHandle, tls: Option<TlsFiles>) {
    for signal in signals.forever() {
        if signal == SIGHUP {
            match &tls {
                None => log::info!("SIGHUP: no TLS certificate to reload"),
                Some(files) => match files.reload() {
                    Ok(()) => log::info!("SIGHUP: TLS certificate reloaded; new handshakes use it"),
                    Err(e) => {
                        log::error!("SIGHUP: TLS certificate not reloaded, the old one stays: {e}")
                    }
                },
            }
            continue;
        }
        let name = if signal == SIGINT {
            "SIGINT"
        } else {
            "SIGTERM"
        };
        if shutdown.is_requested() {
            eprintln!("{name} again: exiting now");
            std::process::exit(128 + signal);
        }
        log::info!("{name}: shutting down gracefully (send it again to exit at once)");
        shutdown.shutdown();
    }
}
