//! Static file server: HTTP/1.1 `GET` and `HEAD` for the files under a directory, with
//! keep-alive, pipelining, conditional requests and single byte ranges, and a reactor that never
//! waits on the disk.
//!
//! Shows the worker pool doing what libuv's thread pool does for Node's `fs.promises`: every
//! file system call (resolving the path, opening, reading) runs in an offloaded job, and the
//! reactor only moves bytes. A body goes in windows, each brought by a job and the next asked
//! for only while the connection is writable, so memory per connection stays under the write
//! limit whatever the file's size. On plain TCP a window is only brought into the page cache
//! (by a `sendfile` to `/dev/null` on the pool) and the reactor sends it with `sendfile`
//! (`Context::send_file`), the way nginx pairs `aio threads` with `sendfile`; on TLS the
//! window is read into memory and encrypted. Exact to `shared/specs/http.md`.
//!
//! ```text
//! HTTP_ROOT=/var/www cargo run --release --example http      # on 127.0.0.1:8080
//! curl -i http://127.0.0.1:8080/                             # index.html
//! curl -i -r 0-99 http://127.0.0.1:8080/big.bin              # 206 Partial Content
//! curl -i -H 'If-None-Match: "…"' http://127.0.0.1:8080/    # 304 with the ETag it gave
//! printf 'GET / HTTP/1.1\r\n\r\nHEAD / HTTP/1.1\r\n\r\n' | nc 127.0.0.1 8080   # pipelined
//! wrk -t1 -c50 -d5s http://127.0.0.1:8080/index.html         # Debian's wrk
//! ```
//!
//! Settings: `HTTP_ROOT` (the directory served, default the current one; it must exist, or
//! the server exits with code 2 before binding) and every `TURBINE_*` variable (`TURBINE_ADDR`
//! defaults to `127.0.0.1:8080`; `TURBINE_MAX_FRAME` bounds a request head, 64 KiB;
//! `TURBINE_FRAME_TIMEOUT` is the slow-loris defence, `TURBINE_WRITE_TIMEOUT` closes a client
//! that stops reading; with `TURBINE_TLS_CERT` and `TURBINE_TLS_KEY` it speaks HTTPS;
//! `TURBINE_WORKER_PRIORITY` defaults to `normal` here, since the jobs are short system calls:
//! see `config.rs`).
//!
//! # Requests
//!
//! - `GET` and `HEAD`; another method gets 405 with `Allow: GET, HEAD`.
//! - The path is percent-decoded once and resolved under the root: a `..` segment (plain or
//!   encoded), a NUL byte, a bad escape, or a symbolic link leading out of the root is 404,
//!   like a missing file; `/` and a directory serve its `index.html`, if any; the query is
//!   ignored.
//! - `If-None-Match` and `If-Modified-Since` give 304; `Range: bytes=a-b`, `a-` or `-n` (one
//!   range; `If-Range` honoured) gives 206, a range past the end 416; several ranges are
//!   ignored (200). Every file response has `Content-Type` (by extension), `Last-Modified`,
//!   an `ETag` (inode, length, modification time) and `Accept-Ranges: bytes`.
//! - A head over `TURBINE_MAX_FRAME` or with more than 100 fields: 431; malformed, with both
//!   `Content-Length` and `Transfer-Encoding`, any `Transfer-Encoding`, or a body too large
//!   to skip: 400; each then closes the connection.
//! - HTTP/1.1 keeps the connection unless `Connection: close`; HTTP/1.0 closes unless
//!   `Connection: keep-alive`. Pipelined requests are answered in order, one at a time;
//!   reading pauses while 32 wait. A client's FIN after its requests still gets their answers.
//! - A file that changes while it is sent (its length or modification time, checked before
//!   each window) or ends early closes the connection: the body never has other bytes than
//!   announced, only fewer, with the connection's end to tell.
//!
//! # Layout
//!
//! - `client.rs`: the connection's handler: the queue of requests and the answer's states.
//! - `files.rs`: the worker pool's jobs: resolving under the root, opening, windows.
//! - `answer.rs`: 200, 206, 304 or 416 from the metadata and the request's fields;
//!   `Content-Type`.
//! - `responses.rs`: the responses' fields; `target.rs`: request target to path;
//!   `date.rs`: HTTP dates; `config.rs`: `HTTP_ROOT` and `TURBINE_*`.

mod answer;
mod client;
mod config;
mod date;
mod files;
mod responses;
mod target;
#[cfg(test)]
mod tests;

use std::process::ExitCode;
use std::sync::Arc;

use client::Http;
use files::Site;

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let (config, root) = match config::from_vars(|name| std::env::var(name).ok()) {
        Ok(both) => both,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let site = match Site::new(&root) {
        Ok(site) => Arc::new(site),
        Err(e) => {
            eprintln!("configuration error: HTTP_ROOT={:?}: {e}", root.display());
            return ExitCode::from(2);
        }
    };
    log::info!("serving {}", site.root.display());
    turbine::run(Ok(config), move |_peer| Http::new(Arc::clone(&site)))
}
