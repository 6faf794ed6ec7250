//! How long one full handshake keeps a reactor busy: a rustls client and server in memory, in
//! this thread, with only the server's part timed (what a reactor runs when the client's
//! flights arrive: `read_tls`, `process_new_packets`, `write_tls`).

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::{ClientConnection, ServerConnection, SupportedProtocolVersion};

use crate::certs::{self, Pair};

/// Handshakes made before timing starts, to warm caches and the allocator.
const WARMUP: usize = 20;

/// The most flights a handshake may take before it is called stuck (TLS 1.2 takes 4).
const MAX_FLIGHTS: usize = 8;

/// The server's time for each of `count` full handshakes with `pair`, client and server
/// offering only `version`.
///
/// # Errors
///
/// The configurations could not be built, or a handshake failed or did not finish.
pub(crate) fn measure(
    pair: &Pair,
    version: &'static SupportedProtocolVersion,
    count: usize,
) -> io::Result<Vec<Duration>> {
    let server_config = Arc::new(certs::server_config(pair)?);
    let client_config = Arc::new(certs::client_config(pair, version)?);
    let mut times = Vec::with_capacity(count);
    for n in 0..WARMUP + count {
        let name = "localhost".try_into().map_err(io::Error::other)?;
        let client =
            ClientConnection::new(Arc::clone(&client_config), name).map_err(io::Error::other)?;
        let server = ServerConnection::new(Arc::clone(&server_config)).map_err(io::Error::other)?;
        let spent = handshake(client, server)?;
        if n >= WARMUP {
            times.push(spent);
        }
    }
    Ok(times)
}

/// Runs one handshake to its end; returns the time spent in the server's calls.
fn handshake(mut client: ClientConnection, mut server: ServerConnection) -> io::Result<Duration> {
    let mut spent = Duration::ZERO;
    let mut wire = Vec::with_capacity(8192);
    for _ in 0..MAX_FLIGHTS {
        if !client.is_handshaking() && !server.is_handshaking() && !server.wants_write() {
            return Ok(spent);
        }
        wire.clear();
        while client.wants_write() {
            client.write_tls(&mut wire)?;
        }
        let start = Instant::now();
        let mut input = &wire[..];
        while !input.is_empty() {
            server.read_tls(&mut input)?;
            server.process_new_packets().map_err(io::Error::other)?;
        }
        let mut reply = Vec::with_capacity(8192);
        while server.wants_write() {
            server.write_tls(&mut reply)?;
        }
        spent += start.elapsed();
        let mut input = &reply[..];
        while !input.is_empty() {
            client.read_tls(&mut input)?;
            client.process_new_packets().map_err(io::Error::other)?;
        }
    }
    Err(io::Error::other(format!(
        "the handshake did not finish in {MAX_FLIGHTS} flights"
    )))
}

/// The `percent` percentile of `times` (sorted in place), in microseconds.
pub(crate) fn percentile_us(times: &mut [Duration], percent: f64) -> f64 {
    times.sort_unstable();
    let index = ((times.len() as f64 - 1.0) * percent / 100.0).round() as usize;
    times.get(index).map_or(0.0, |t| t.as_secs_f64() * 1e6)
}
