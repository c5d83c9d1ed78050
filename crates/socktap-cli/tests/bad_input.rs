//! Bad input, the whole table: every bad value is refused with exit status
//! 2 and one clear line naming the flag and what it accepts, before any BPF
//! is loaded (no "Tracing …" line, and it works the same unprivileged).

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_socktap");

/// The cases: one a line, the arguments (split on spaces) and, after a tab,
/// what the one error line must contain.
const CASES: &str = include_str!("bad_input.cases");

fn cases() -> impl Iterator<Item = (Vec<&'static str>, &'static str)> {
    CASES
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (args, want) = l
                .split_once('\t')
                .expect("arguments, a tab, the expected text");
            (args.split(' ').collect(), want)
        })
}

#[test]
fn every_bad_value_exits_2_with_one_line_naming_its_flag() {
    let cases: Vec<_> = cases().collect();
    assert!(cases.len() > 40, "the table of bad inputs is read");
    for (args, flag) in cases {
        let o = Command::new(BIN)
            .args(&args)
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
