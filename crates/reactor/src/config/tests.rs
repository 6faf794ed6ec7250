//! `Config` read from variables: applied, refused with the variable named, cross-checked, and
//! shown on one line.

use std::time::Duration;

use crate::{Config, ConfigError};

fn config_from(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::new().with_vars(|name| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    })
}

/// Every variable is applied, and an unset variable leaves the default.
#[test]
fn variables_override_defaults() {
    let c = config_from(&[
        ("TURBINE_ADDR", "[::1]:9000"),
        ("TURBINE_REACTORS", "3"),
        ("TURBINE_MAX_FRAME", "1MiB"),
        ("TURBINE_IDLE_TIMEOUT", "250ms"),
        ("TURBINE_PIN_CORES", "1"),
    ])
    .unwrap();
    assert_eq!(c.addr, "[::1]:9000".parse().unwrap());
    assert_eq!(c.reactors, 3);
    assert_eq!(c.max_frame, 1 << 20);
    assert_eq!(c.idle_timeout, Some(Duration::from_millis(250)));
    assert!(c.pin_cores);
    assert_eq!(c.backlog, Config::new().backlog);
}

/// Each refused value names its variable and the value in the message.
#[test]
fn bad_values_name_the_variable() {
    for (var, value) in [
        ("TURBINE_REACTORS", "0"),
        ("TURBINE_REACTORS", "abc"),
        ("TURBINE_MAX_FRAME", "-1"),
        ("TURBINE_ADDR", "localhost:x"),
        ("TURBINE_SHUTDOWN_TIMEOUT", "soon"),
    ] {
        let err = config_from(&[(var, value)]).unwrap_err();
        assert_eq!(err.var, var);
        assert_eq!(err.value, value);
        assert!(err.to_string().contains(var), "{err}");
    }
    let err = config_from(&[
        ("TURBINE_WRITE_LOW_WATERMARK", "128KiB"),
        ("TURBINE_WRITE_HIGH_WATERMARK", "64KiB"),
    ])
    .unwrap_err();
    assert_eq!(err.var, "TURBINE_WRITE_LOW_WATERMARK");
    assert!(err.expected.contains("TURBINE_WRITE_HIGH_WATERMARK"));
}

/// The messages read as before the settings were declared in one place.
#[test]
fn messages_are_unchanged() {
    let err = config_from(&[("TURBINE_REACTORS", "0")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "TURBINE_REACTORS=\"0\": expected a value from 1 to 1024"
    );
    let err = config_from(&[("TURBINE_READ_BUFFER", "1")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "TURBINE_READ_BUFFER=\"1\": expected a value from 1024 to 16777216"
    );
    let err = config_from(&[("TURBINE_FRAME_TIMEOUT", "30")]).unwrap_err();
    assert_eq!(
        err.expected,
        "a duration with a unit (ms, s, m, h), e.g. 500ms or 30s, or 0 or off to disable"
    );
    let err = config_from(&[("TURBINE_WORKER_PRIORITY", "high")]).unwrap_err();
    assert_eq!(err.expected, "normal, low or idle");
}

/// Each new variable is applied, in each of its forms.
#[test]
fn new_variables_apply() {
    let c = config_from(&[
        ("TURBINE_MAX_FRAME_OUT", "16MiB"),
        ("TURBINE_LINGER_TIMEOUT", "off"),
        ("TURBINE_CONNECT_TIMEOUT", "750ms"),
        ("TURBINE_SEND_BUFFER", "256KiB"),
        ("TURBINE_RECV_BUFFER", "0"),
        ("TURBINE_KEEPALIVE", "1m"),
        ("TURBINE_KEEPALIVE_INTERVAL", "10s"),
        ("TURBINE_KEEPALIVE_COUNT", "4"),
    ])
    .unwrap();
    assert_eq!(c.max_frame_out, 16 << 20);
    assert_eq!(c.linger_timeout, None);
    assert_eq!(c.connect_timeout, Duration::from_millis(750));
    assert_eq!(c.send_buffer, Some(256 << 10));
    assert_eq!(c.recv_buffer, None);
    assert_eq!(c.keepalive, Some(Duration::from_secs(60)));
    assert_eq!(c.keepalive_interval, Some(Duration::from_secs(10)));
    assert_eq!(c.keepalive_count, Some(4));

    let defaults = Config::new();
    assert_eq!(defaults.max_frame_out, 8 << 20);
    assert_eq!(defaults.linger_timeout, Some(Duration::from_secs(2)));
    assert_eq!(defaults.connect_timeout, Duration::from_secs(5));
    assert_eq!((defaults.send_buffer, defaults.recv_buffer), (None, None));
    assert_eq!(defaults.keepalive, None);

    let c = config_from(&[
        ("TURBINE_RECV_BUFFER", "4MiB"),
        ("TURBINE_LINGER_TIMEOUT", "500ms"),
    ])
    .unwrap();
    assert_eq!(c.recv_buffer, Some(4 << 20));
    assert_eq!(c.linger_timeout, Some(Duration::from_millis(500)));
}

/// Each new variable's bad values (not parsing, or out of bounds) are refused, naming the
/// variable and the value as given.
#[test]
fn new_variables_refuse_bad_values() {
    for (var, value) in [
        ("TURBINE_MAX_FRAME_OUT", "0"),
        ("TURBINE_MAX_FRAME_OUT", "2GiB"),
        ("TURBINE_MAX_FRAME_OUT", "8MB"),
        ("TURBINE_LINGER_TIMEOUT", "2"),
        ("TURBINE_LINGER_TIMEOUT", "never"),
        ("TURBINE_CONNECT_TIMEOUT", "off"),
        ("TURBINE_CONNECT_TIMEOUT", "5"),
        ("TURBINE_SEND_BUFFER", "512"),
        ("TURBINE_SEND_BUFFER", "2GiB"),
        ("TURBINE_RECV_BUFFER", "lots"),
        ("TURBINE_KEEPALIVE", "yes"),
        ("TURBINE_KEEPALIVE_COUNT", "128"),
        ("TURBINE_KEEPALIVE_COUNT", "-1"),
    ] {
        // Keepalive on, so the details are refused for their own value, not the cross check;
        // `config_from` takes the first entry of a name, so `(var, value)` wins.
        let err = config_from(&[(var, value), ("TURBINE_KEEPALIVE", "30s")]).unwrap_err();
        assert_eq!((err.var, err.value.as_str()), (var, value), "{err}");
    }
    let err = config_from(&[("TURBINE_SEND_BUFFER", "512")]).unwrap_err();
    assert_eq!(
        err.expected,
        "a value from 1024 to 1073741824, or 0 or off to disable"
    );
}

/// Keepalive interval or count without keepalive itself is refused, naming the detail and
/// saying it needs `TURBINE_KEEPALIVE`; with keepalive on, they are accepted.
#[test]
fn keepalive_details_need_keepalive() {
    for (var, value) in [
        ("TURBINE_KEEPALIVE_INTERVAL", "10s"),
        ("TURBINE_KEEPALIVE_COUNT", "3"),
    ] {
        let err = config_from(&[(var, value)]).unwrap_err();
        assert_eq!((err.var, err.value.as_str()), (var, value));
        assert!(err.to_string().contains("needs TURBINE_KEEPALIVE"), "{err}");
        let err = config_from(&[("TURBINE_KEEPALIVE", "off"), (var, value)]).unwrap_err();
        assert_eq!(err.var, var);
        assert!(config_from(&[("TURBINE_KEEPALIVE", "1m"), (var, value)]).is_ok());
    }
    // Builders go through the same check.
    let config = Config::new().keepalive_count(Some(3));
    assert_eq!(
        config.validate().unwrap_err().var,
        "TURBINE_KEEPALIVE_COUNT"
    );
    let config = config.keepalive(Some(Duration::from_secs(60)));
    assert!(config.validate().is_ok());
}

/// Builder values are checked against the same bounds as variables.
#[test]
fn builder_values_are_checked() {
    let err = Config::new().reactors(0).validate().unwrap_err();
    assert_eq!(
        err.to_string(),
        "TURBINE_REACTORS=\"0\": expected a value from 1 to 1024"
    );
    let err = Config::new().max_frame_out(0).validate().unwrap_err();
    assert_eq!(err.var, "TURBINE_MAX_FRAME_OUT");
    assert!(Config::new().send_buffer(Some(64 << 10)).validate().is_ok());
}

/// `Display` shows every setting as `name=value`, in a form its variable would take.
#[test]
fn display_lists_every_setting() {
    let config = Config::new().reactors(2).workers(3);
    let line = config.to_string();
    assert!(
        line.starts_with("addr=127.0.0.1:7878 reactors=2 pin_cores=false backlog=1024 "),
        "{line}"
    );
    for item in [
        "max_frame=64KiB",
        "max_frame_out=8MiB",
        "idle_timeout=off",
        "frame_timeout=30s",
        "linger_timeout=2s",
        "shutdown_timeout=25s",
        "connect_timeout=5s",
        "send_buffer=off",
        "keepalive_count=off",
        "workers=3",
        "worker_priority=low",
    ] {
        assert!(line.split(' ').any(|i| i == item), "{item} not in {line}");
    }
    assert_eq!(line.split(' ').count(), Config::VARIABLES.len());
}

/// The metrics listener on the main listener's port is refused before anything binds, naming
/// `TURBINE_METRICS_ADDR`; another port, port 0, or addresses that cannot clash are accepted.
#[test]
fn metrics_address_must_not_take_the_main_port() {
    for (addr, metrics) in [
        ("127.0.0.1:7000", "127.0.0.1:7000"),
        ("127.0.0.1:7000", "0.0.0.0:7000"),
        ("0.0.0.0:7000", "127.0.0.1:7000"),
        ("[::]:7000", "127.0.0.1:7000"),
    ] {
        let err =
            config_from(&[("TURBINE_ADDR", addr), ("TURBINE_METRICS_ADDR", metrics)]).unwrap_err();
        assert_eq!(err.var, "TURBINE_METRICS_ADDR", "{addr} and {metrics}");
        assert_eq!(err.value, metrics);
        assert!(err.to_string().contains(addr), "{err}");
    }
    for (addr, metrics) in [
        ("127.0.0.1:7000", "127.0.0.1:9100"),
        ("127.0.0.1:0", "127.0.0.1:0"),
        ("127.0.0.1:7000", "127.0.0.2:7000"),
    ] {
        config_from(&[("TURBINE_ADDR", addr), ("TURBINE_METRICS_ADDR", metrics)])
            .unwrap_or_else(|e| panic!("{addr} and {metrics}: {e}"));
    }
}
