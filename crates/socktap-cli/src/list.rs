//! `socktap list`: the probes, their variables and this kernel's coverage.

use std::io::Write;

use socktap::coverage::{coverage, KernelFeatures};
use socktap::probe::glob_match;

use crate::cli::ListArgs;
use crate::UsageError;

pub fn run(args: &ListArgs) -> anyhow::Result<()> {
    let features = KernelFeatures::probe();
    let rows: Vec<_> = coverage(&features)
        .into_iter()
        .filter(|c| {
            args.pattern
                .as_deref()
                .is_none_or(|p| glob_match(p, c.probe.name()))
        })
        .collect();
    if rows.is_empty() {
        let pat = args.pattern.as_deref().unwrap_or_default();
        return Err(UsageError(format!("no probe matches '{pat}'")).into());
    }
    let mut out = std::io::stdout().lock();
    if args.verbose {
        for c in &rows {
            writeln!(out, "{}", c.probe)?;
            if let Some(of) = c.probe.alias_of() {
                writeln!(out, "  alias of:  {of}")?;
            }
            writeln!(out, "  fires on:  {}", c.probe.description())?;
            writeln!(out, "  variables: {}", c.probe.variables().join(" "))?;
            writeln!(
                out,
                "  context:   timestamp cpu pid tid comm uid cgroup ino cookie local remote"
            )?;
            writeln!(out, "  mechanism: {}", c.mechanism)?;
            writeln!(out, "  hooks:     {}", c.hooks)?;
            writeln!(out, "  coverage:  {}", c.coverage)?;
            writeln!(out)?;
        }
    } else {
        writeln!(
            out,
            "{:<26} {:<11} {:<52} COVERAGE",
            "PROBE", "MECHANISM", "VARIABLES"
        )?;
        for c in &rows {
            writeln!(
                out,
                "{:<26} {:<11} {:<52} {}",
                c.probe.name(),
                c.mechanism,
                c.probe.variables().join(" "),
                c.coverage
            )?;
        }
    }
    out.flush()?;
    Ok(())
}
