//! The `echo` example's handling of bad configuration: exit code 2, a message naming the
//! variable and its value, and nothing bound; and exit code 1 when binding itself fails.

mod util;

use std::net::TcpListener;
use std::time::Duration;

use util::Example;

/// How long the example may take to start and exit.
const EXIT_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs the example with `env` and returns its exit code and output.
fn run_example(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut example = Example::spawn(env);
    let status = example
        .wait_exit(EXIT_TIMEOUT)
        .unwrap_or_else(|| panic!("the example did not exit; output: {}", example.output()));
    (status.code(), example.output())
}

/// Runs the example with one bad setting and the address of a listener of ours: it must exit
/// with code 2, naming `var` and one of `values` on stderr, without having tried to bind (a bind
/// would fail on our listener with exit code 1). Returns the output.
fn refused(bad: &[(&str, &str)], var: &str, values: &[&str]) -> String {
    // Bound without SO_REUSEPORT: any attempt to bind the same address fails.
    let occupied = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = occupied.local_addr().unwrap().to_string();
    let mut env = vec![("TURBINE_ADDR", addr.as_str())];
    env.extend_from_slice(bad);
    let (code, output) = run_example(&env);
    assert_eq!(code, Some(2), "{bad:?}: exit code; output:\n{output}");
    assert!(
        output.contains(var),
        "{bad:?}: {var} not named in:\n{output}"
    );
    assert!(
        values.iter().any(|v| output.contains(v)),
        "{bad:?}: none of {values:?} in:\n{output}"
    );
    assert!(
        !output.contains("listening"),
        "{bad:?}: the example started listening:\n{output}"
    );
    assert!(
        !output.contains("cannot listen"),
        "{bad:?}: the example tried to bind:\n{output}"
    );
    output
}

/// `TURBINE_REACTORS=0` (out of bounds) is refused with exit code 2 before anything is bound.
#[test]
fn zero_reactors() {
    refused(&[("TURBINE_REACTORS", "0")], "TURBINE_REACTORS", &["\"0\""]);
}

/// `TURBINE_REACTORS=abc` (not a number) is refused with exit code 2 before anything is bound.
#[test]
fn reactors_not_a_number() {
    refused(&[("TURBINE_REACTORS", "abc")], "TURBINE_REACTORS", &["abc"]);
}

/// `TURBINE_MAX_FRAME=-1` (not a size) is refused with exit code 2 before anything is bound.
#[test]
fn negative_max_frame() {
    refused(
        &[("TURBINE_MAX_FRAME", "-1")],
        "TURBINE_MAX_FRAME",
        &["\"-1\""],
    );
}

/// A low watermark above the high one is refused with exit code 2 before anything is bound;
/// the message names the low watermark and its value (as given, or in bytes).
#[test]
fn low_watermark_above_high() {
    refused(
        &[
            ("TURBINE_WRITE_LOW_WATERMARK", "128KiB"),
            ("TURBINE_WRITE_HIGH_WATERMARK", "64KiB"),
        ],
        "TURBINE_WRITE_LOW_WATERMARK",
        &["128KiB", "131072"],
    );
}

/// `TURBINE_KEEPALIVE_COUNT` without `TURBINE_KEEPALIVE` is refused with exit code 2 before
/// anything is bound, saying it needs `TURBINE_KEEPALIVE`.
#[test]
fn keepalive_count_without_keepalive() {
    refused(
        &[("TURBINE_KEEPALIVE_COUNT", "3")],
        "TURBINE_KEEPALIVE_COUNT",
        &["needs TURBINE_KEEPALIVE"],
    );
}

/// A misspelt `TURBINE_*` variable is logged as a warning naming the intended one (here before
/// a bad value stops the program, so nothing is bound).
#[test]
fn misspelt_variable_is_warned() {
    let output = refused(
        &[("TURBINE_MAXFRAME", "1MiB"), ("TURBINE_REACTORS", "0")],
        "TURBINE_REACTORS",
        &["\"0\""],
    );
    assert!(
        output.contains("unknown variable TURBINE_MAXFRAME: did you mean TURBINE_MAX_FRAME?"),
        "no warning about TURBINE_MAXFRAME in:\n{output}"
    );
}

/// `ECHO_FRAMING=xml` (the example's own setting) is refused with exit code 2 before anything
/// is bound.
#[test]
fn unknown_framing() {
    refused(&[("ECHO_FRAMING", "xml")], "ECHO_FRAMING", &["xml"]);
}

/// `TURBINE_ADDR=not-an-address` is refused with exit code 2 and never gets to listening.
#[test]
fn bad_address() {
    let (code, output) = run_example(&[("TURBINE_ADDR", "not-an-address")]);
    assert_eq!(code, Some(2), "exit code; output:\n{output}");
    assert!(output.contains("TURBINE_ADDR"), "{output}");
    assert!(output.contains("not-an-address"), "{output}");
    assert!(!output.contains("listening"), "{output}");
}

/// A good configuration on an address already in use fails differently: exit code 1 and a
/// message saying it cannot listen there (which is what the refusals above would have shown,
/// had they tried to bind).
#[test]
fn address_in_use_exits_with_1() {
    let occupied = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = occupied.local_addr().unwrap().to_string();
    let (code, output) = run_example(&[("TURBINE_ADDR", &addr), ("TURBINE_REACTORS", "2")]);
    assert_eq!(code, Some(1), "exit code; output:\n{output}");
    assert!(output.contains("cannot listen"), "{output}");
    assert!(output.contains(&addr), "{output}");
    // The server's own `listening on ADDR with N reactors` line never came.
    assert!(
        !output.contains(&format!("listening on {addr} with")),
        "{output}"
    );
}
