//! Bad input, the whole table: every bad value is refused with exit status
//! 2 and one clear line naming the flag and what it accepts, before any BPF
//! is loaded (no "Tracing …" line, and it works the same unprivileged).

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_socktap");

/// (arguments, what the one error line must contain)
const TABLE: &[(&[&str], &str)] = &[
    (&["trace", "--duration", "1e20"], "--duration"),
    (&["trace", "--duration", "1e-12"], "--duration"),
    (&["trace", "--duration", "nan"], "--duration"),
    (&["trace", "--duration=-1"], "--duration"),
    (&["stat", "--duration", "0"], "--duration"),
    (&["top", "--batch", "-i", "1e19"], "--interval"),
    (&["top", "-i", "1e-12"], "--interval"),
    (&["stat", "-i", "1e20"], "--interval"),
    (&["stat", "-i", "-1"], "--interval"),
    (&["trace", "--buffer-kib", "0"], "--buffer-kib"),
    (&["trace", "--buffer-kib", "3"], "--buffer-kib"),
    (&["trace", "--buffer-kib", "4097"], "--buffer-kib"),
    (&["trace", "--buffer-kib", "1099511627776"], "--buffer-kib"),
    (&["trace", "--buffer-kib", "-4"], "--buffer-kib"),
    (&["stat", "--capacity", "0"], "--capacity"),
    (&["stat", "--capacity", "99999999999"], "--capacity"),
    (&["top", "--capacity", "-1"], "--capacity"),
    (&["serve", "--max-series", "0"], "--max-series"),
    (&["serve", "--max-series", "-5"], "--max-series"),
    (&["serve", "--listen", "999.1.1.1:80"], "--listen"),
    (&["serve", "--listen", "127.0.0.1:99999"], "--listen"),
    (&["serve", "--listen", "nonsense"], "--listen"),
    (&["serve", "--listen", "127.0.0.1"], "--listen"),
    (&["serve", "--labels", "host"], "--labels"),
    (&["serve", "--labels", "probe"], "--labels"),
    (&["serve", "--series-ttl", "0"], "--series-ttl"),
    (&["serve", "--series-ttl", "soon"], "--series-ttl"),
    (&["serve", "--otlp-endpoint", "nonsense"], "--otlp-endpoint"),
    (
        &["serve", "--otlp-endpoint", "localhost:4318"],
        "--otlp-endpoint",
    ),
    (
        &["serve", "--otlp-endpoint", "ftp://collector/"],
        "--otlp-endpoint",
    ),
    (
        &["serve", "--otlp-endpoint", "https://collector:4318"],
        "--otlp-endpoint",
    ),
    (
        &[
            "serve",
            "--otlp-endpoint",
            "http://c:4318",
            "--otlp-interval",
            "0",
        ],
        "--otlp-interval",
    ),
    (
        &[
            "serve",
            "--otlp-endpoint",
            "http://c:4318",
            "--otlp-header",
            "novalue",
        ],
        "--otlp-header",
    ),
    (
        &[
            "serve",
            "--otlp-endpoint",
            "http://c:4318",
            "--otlp-header",
            "bad name=x",
        ],
        "--otlp-header",
    ),
    (&["trace", "-p", "-1"], "--pid"),
    (&["trace", "-p", "x"], "--pid"),
    (&["trace", "--tid", "-7"], "--tid"),
    (&["trace", "--port", "99999"], "--port"),
    (&["trace", "--port", "-1"], "--port"),
    (&["trace", "-c", "0"], "--count"),
    (&["trace", "-c", "-3"], "--count"),
    (&["stat", "-c", "0"], "--count"),
    (&["top", "-N", "0"], "--rows"),
    (&["top", "-N", "-2"], "--rows"),
    (&["top", "--failed"], "--failed"),
    (&["stat", "--by", "pdi"], "--by"),
    (&["trace", "-f", "INTE"], "-f/--family"),
    (&["trace", "-P", "TPC"], "-P/--protocol"),
    (&["trace", "-t", "STRAEM"], "-t/--type"),
    (&["trace", "-P", "70000"], "-P/--protocol"),
    (&["trace", "-u", "no-such-user-here"], "-u/--uid"),
    (&["trace", "-n", "a-name-longer-than-15"], "-n/--comm"),
    (&["trace", "-p", "1,2,3,4,5,6,7,8,9"], "-p/--pid"),
    (&["trace", "socket.recv"], "socket.recv"),
    (&["trace", "--backend", "ebpf"], "--backend"),
    (&["list", "socket.nothing*"], "socket.nothing*"),
    (&["conformance", "nomatch"], "nomatch"),
    (&["trace", "--no-such-flag"], "--no-such-flag"),
];

#[test]
fn every_bad_value_exits_2_with_one_line_naming_its_flag() {
    for (args, flag) in TABLE {
        let o = Command::new(BIN)
            .args(*args)
            .output()
            .expect("runs socktap");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?}: wrote to stdout");
        let first = err.lines().next().unwrap_or_default();
        assert!(first.contains(flag), "{args:?}: {first}");
        assert!(
            first.starts_with("error:") || first.starts_with("socktap: error:"),
            "{first}"
        );
        // Nothing was loaded: the tracing banner comes only after the load.
        assert!(!err.contains("Tracing"), "{args:?}: {err}");
        // No panic, no bare errno.
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn a_pid_beyond_pid_max_is_warned_about() {
    if !socktap_conformance::privileged("pid_max warning") {
        return;
    }
    let o = Command::new(BIN)
        .args(["trace", "-p", "2000000000", "--duration", "0.2"])
        .output()
        .expect("runs socktap");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("warning: -p/--pid 2000000000 is not below pid_max"),
        "{err}"
    );
}
