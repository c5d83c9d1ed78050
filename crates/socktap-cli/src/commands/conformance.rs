//! `socktap conformance`: the conformance table for the running kernel.

use std::io::Write;

use socktap_conformance::Expect;

use crate::args::ConformanceArgs;

/// Runs the table; true if every case passed (the exit status says so).
pub fn run(args: &ConformanceArgs) -> anyhow::Result<bool> {
    // A filter that selects nothing would pass with "0 passed, 0 failed".
    if let Some(only) = &args.only {
        if socktap_conformance::selected(Some(only)).is_empty() {
            return Err(crate::UsageError(format!(
                "no case matches '{only}' (labels are \"OPERATION SOCKET\", e.g. \"sendmsg INET/TCP\")"
            ))
            .into());
        }
    }
    let results = socktap_conformance::run(args.only.as_deref(), args.backend.settings())?;
    let mut out = std::io::stdout().lock();
    let passed = results.iter().filter(|r| r.passed).count();
    if args.json {
        for r in &results {
            let rec = serde_json::json!({
                "operation": r.op.label(),
                "socket": r.kind.label(),
                "passed": r.passed,
                "expected": r.expected.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "got": r.got.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "detail": r.detail,
            });
            writeln!(out, "{rec}")?;
        }
    } else {
        writeln!(
            out,
            "{:<14} {:<14} {:<6} EXPECTED",
            "OPERATION", "SOCKET", "RESULT"
        )?;
        for r in &results {
            let probes: Vec<String> = summarize(&r.expected);
            writeln!(
                out,
                "{:<14} {:<14} {:<6} {}",
                r.op.label(),
                r.kind.label(),
                if r.passed { "pass" } else { "FAIL" },
                probes.join(", ")
            )?;
            if !r.passed {
                writeln!(out, "    {}", r.detail)?;
            }
        }
    }
    writeln!(out, "{} passed, {} failed", passed, results.len() - passed)?;
    out.flush()?;
    Ok(passed == results.len())
}

/// "socket.sendmsg size=100" style short names, with repeats counted.
fn summarize(expected: &[Expect]) -> Vec<String> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for e in expected {
        let mut s = e.path.name().trim_start_matches("socket.").to_string();
        if let Some(size) = e.size {
            s.push_str(&format!("({size})"));
        }
        match out.last_mut() {
            Some((last, n)) if *last == s => *n += 1,
            _ => out.push((s, 1)),
        }
    }
    if out.is_empty() {
        return vec!["(none)".into()];
    }
    out.into_iter()
        .map(|(s, n)| if n > 1 { format!("{s}×{n}") } else { s })
        .collect()
}
