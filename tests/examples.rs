//! The examples' own unit tests (their `#[cfg(test)]` modules, which drive each handler in memory
//! with `TestConnection`), compiled here so that `cargo test` runs them while `cargo build`
//! still makes the example binaries the other integration tests start. (`tests/offload.rs`
//! includes the offload example itself, so its unit tests run there.)

#[allow(dead_code)]
#[path = "../examples/echo.rs"]
mod echo;

#[allow(dead_code)]
#[path = "../examples/chat/main.rs"]
mod chat;

#[allow(dead_code)]
#[path = "../examples/kv/main.rs"]
mod kv;

#[allow(dead_code)]
#[path = "../examples/http/main.rs"]
mod http;
