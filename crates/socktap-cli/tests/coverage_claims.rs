//! `socktap list`'s coverage claims against `socktap conformance` on the
//! same kernel, under every backend: what list says a mechanism serves, the
//! conformance cases of that probe show served (they pass); where list says
//! a probe is unavailable, nothing is claimed, and the table does not run
//! either, for list's reason.

use std::process::{Command, Output};

use serde_json::Value;
use socktap::Probe;
use socktap_conformance::privileged;

const BIN: &str = env!("CARGO_BIN_EXE_socktap");

fn socktap(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("runs socktap")
}

/// One row of `socktap list`.
#[derive(Debug)]
struct Claim {
    probe: Probe,
    mechanism: String,
    /// "full", "partial: …" or "unavailable: …".
    coverage: String,
}

/// What `socktap list --backend NAME` claims, probe by probe.
fn claims(backend: &str) -> Vec<Claim> {
    let o = socktap(&["list", "--backend", backend]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "list --backend {backend}: {o:?}");
    let rows: Vec<Claim> = out
        .lines()
        .skip(1)
        .map(|line| {
            let mut cells = line.split_whitespace();
            let name = cells.next().unwrap_or_default();
            let probe = Probe::from_name(name).unwrap_or_else(|| panic!("{line}"));
            let mechanism = cells.next().unwrap_or_default().to_string();
            let coverage = [" partial: ", " unavailable: "]
                .iter()
                .find_map(|k| line.find(k).map(|i| line[i + 1..].to_string()))
                .or_else(|| line.ends_with(" full").then(|| "full".to_string()))
                .unwrap_or_else(|| panic!("no coverage in {line:?}"));
            Claim {
                probe,
                mechanism,
                coverage,
            }
        })
        .collect();
    assert_eq!(rows.len(), Probe::ALL.len(), "{out}");
    rows
}

/// Whether a conformance case's expected events include `probe`'s.
fn exercises(case: &Value, probe: Probe) -> bool {
    let names: Vec<&str> = probe.paths().iter().map(|p| p.name()).collect();
    case["expected"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|e| e.split_whitespace().next())
        .any(|path| names.contains(&path))
}

/// The miss socket.create's coverage declares where the syscall
/// tracepoints lose a just-forked process's first syscalls: the exit case's
/// child's socket(2).
const FORKED_MISS: &str = "the first syscalls of a process forked a moment before";

#[test]
fn list_claims_only_what_the_conformance_table_shows_on_this_kernel() {
    if !privileged("list's claims against conformance") {
        return;
    }
    let mut ran = Vec::new();
    for backend in ["auto", "tracepoint", "fentry", "kprobe", "syscall"] {
        let claims = claims(backend);
        let o = socktap(&["conformance", "--json", "--backend", backend]);
        let err = String::from_utf8_lossy(&o.stderr);
        let unavailable: Vec<&Claim> = claims
            .iter()
            .filter(|c| c.coverage.starts_with("unavailable: "))
            .collect();
        if !unavailable.is_empty() {
            // Nothing is claimed for these, and the table refuses to run
            // for the same reason rather than pass without them.
            assert_eq!(o.status.code(), Some(1), "{backend}: {err}");
            assert!(o.stdout.is_empty(), "{backend}: results despite {err}");
            for c in unavailable {
                assert_eq!(c.mechanism, "-", "{c:?}");
                let why = c.coverage.trim_start_matches("unavailable: ");
                assert!(err.contains(why), "{backend}: {c:?} but: {err}");
            }
            continue;
        }
        ran.push(backend);
        let out = String::from_utf8_lossy(&o.stdout);
        let cases: Vec<Value> = out
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| serde_json::from_str(l).expect("a JSON case"))
            .collect();
        assert!(!cases.is_empty(), "{backend}: {out}{err}");
        let create = claims
            .iter()
            .find(|c| c.probe == Probe::Create)
            .map(|c| c.coverage.as_str())
            .unwrap_or_default();
        for case in &cases {
            // A failing case is one of list's declared misses, or a claim
            // the kernel does not bear out.
            let declared = case["operation"] == "exit open" && create.contains(FORKED_MISS);
            assert!(
                case["passed"] == true || declared,
                "{backend}: list claims {:?}, but this case fails: {case}",
                claims
                    .iter()
                    .filter(|c| exercises(case, c.probe))
                    .map(|c| format!("{} {} {}", c.probe.name(), c.mechanism, c.coverage))
                    .collect::<Vec<_>>()
            );
        }
        for c in &claims {
            assert_ne!(c.mechanism, "-", "{backend}: {c:?}");
            let passed = cases
                .iter()
                .filter(|case| case["passed"] == true && exercises(case, c.probe))
                .count();
            assert!(
                passed > 0,
                "{backend}: list says {} is served ({}), but no case shows it",
                c.probe.name(),
                c.coverage
            );
        }
    }
    // auto takes what the kernel has for each probe: the syscall layer at
    // least.
    assert!(ran.contains(&"auto"), "ran: {ran:?}");
}
