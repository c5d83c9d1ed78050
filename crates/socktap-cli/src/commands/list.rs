//! `socktap list`: the probes, their variables and this kernel's coverage.

use std::io::Write;

use socktap::coverage::{coverage, KernelFeatures};
use socktap::tapset::parse::glob_match;

use crate::args::ListArgs;
use crate::UsageError;

pub fn run(args: &ListArgs) -> anyhow::Result<()> {
    let features = KernelFeatures::probe();
    // The truth comes from trying: load and attach what each probe needs,
    // then detach. Without privileges, predict from the kernel's BTF.
    let (plan, note) = if let Some(why) = &features.btf_error {
        // Nothing can load without BTF, and there is nothing to predict from.
        (None, Some(format!("{why}; nothing can be traced here")))
    } else if socktap::can_trace() {
        match socktap::coverage::probe_plan(args.backend.settings()) {
            Ok(plan) => (Some(plan), None),
            Err(e) => (
                None,
                Some(format!(
                    "could not load the BPF programs ({e}); coverage predicted from BTF"
                )),
            ),
        }
    } else {
        (None, Some("not privileged (CAP_BPF, CAP_PERFMON): coverage predicted from the kernel's BTF, not tried".to_string()))
    };
    // Coverage of the probes asked for; a pattern that matches none is a
    // usage error rather than an empty table.
    let rows: Vec<_> = coverage(&features, plan.as_ref())
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
    // On stderr, so that scripts reading the table are not disturbed.
    if let Some(note) = &note {
        crate::shared::say::note!("socktap: {note}");
    }
    if args.verbose {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        writeln!(
            out,
            "kernel {}; backend {}",
            release.trim(),
            plan.as_ref()
                .map_or("(predicted)".to_string(), |p| p.to_string())
        )?;
        writeln!(out)?;
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
