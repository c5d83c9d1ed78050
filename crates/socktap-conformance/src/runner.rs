//! Running the cases: one tracer filtered to this thread, the operation,
//! and a comparison of what the kernel reported with what was expected.

use std::io;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use socktap::{Filter, LoadSettings, Tracer};

use crate::cases::{cases, seen, Expect, Kind, Op};
use crate::collect::{base_probes, collect_events, Outcome};
use crate::error::{Error, Result};
use crate::exit_case::exit_open;
use crate::operations::Setup;
use crate::sockets::{flags, gettid};

/// Held for reading by every case from its set-up to its tear-down, and for
/// writing by the exit case, which forks: a forked child holds a copy of
/// every descriptor of the process, so while it lives no other case (in
/// another thread) may have a socket open, or that case's close would not be
/// the last one and its release would happen in the child.
static CASES: RwLock<()> = RwLock::new(());

/// The outcome of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The operation.
    pub op: Op,
    /// The socket kind.
    pub kind: Kind,
    /// Whether the events were exactly the expected ones.
    pub passed: bool,
    /// What was expected.
    pub expected: Vec<Expect>,
    /// What the kernel reported.
    pub got: Vec<Expect>,
    /// Why it failed, if it did.
    pub detail: String,
}

/// The cases whose "op kind" label contains `only` (all if `None`).
pub fn selected(only: Option<&str>) -> Vec<(Op, Kind)> {
    cases()
        .into_iter()
        .filter(|(op, kind)| {
            let label = format!("{} {}", op.label(), kind.label());
            only.is_none_or(|o| label.contains(o))
        })
        .collect()
}

/// Runs every case whose "op kind" label contains `only` (all if `None`),
/// with the given load settings (a backend converts into them).
pub fn run(only: Option<&str>, settings: impl Into<LoadSettings>) -> Result<Vec<CaseResult>> {
    let settings = settings.into();
    let mut out = Vec::new();
    // One tracer for all cases: they run in this thread, and loading the
    // programs once keeps the table fast on slow (emulated) machines.
    let mut shared = None;
    for (op, kind) in selected(only) {
        out.push(run_case_with(op, kind, settings, &mut shared)?);
    }
    Ok(out)
}

/// Runs one case. Errors are failures to trace at all (no privileges, no
/// BPF); a workload that misbehaves is a failed case, not an error.
pub fn run_case(op: Op, kind: Kind, settings: impl Into<LoadSettings>) -> Result<CaseResult> {
    run_case_with(op, kind, settings.into(), &mut None)
}

/// Reads and drops what is queued: events of set-up and tear-down.
fn discard(tracer: &mut Tracer) -> Result<()> {
    tracer.poll(Duration::ZERO)?;
    tracer.drain(|_| {});
    Ok(())
}

fn run_case_with(
    op: Op,
    kind: Kind,
    settings: LoadSettings,
    shared: &mut Option<Tracer>,
) -> Result<CaseResult> {
    let mut res = CaseResult {
        op,
        kind,
        passed: false,
        expected: Vec::new(),
        got: Vec::new(),
        detail: String::new(),
    };
    let me = Filter {
        tids: vec![gettid()],
        ..Default::default()
    };
    let outcome = match op {
        Op::ExitOpen => {
            let _alone = CASES.write().unwrap_or_else(PoisonError::into_inner);
            // Read once, with a socket of its own: not while a case is watched.
            flags(kind);
            exit_open(kind, settings)
        }
        _ => {
            let _case = CASES.read().unwrap_or_else(PoisonError::into_inner);
            flags(kind);
            let mut state = match Setup::new(op, kind) {
                Ok(s) => s,
                Err(e) => {
                    res.detail = format!("setting up: {e}");
                    return Ok(res);
                }
            };
            let tracer = match shared {
                Some(t) => t,
                None => shared.insert(
                    Tracer::builder()
                        .probes(&base_probes())
                        .filter(me)
                        .load_settings(settings)
                        .start()?,
                ),
            };
            discard(tracer)?;
            let expected = state.perform(op, kind);
            let outcome = collect(tracer, expected);
            drop(state);
            discard(tracer)?;
            outcome
        }
    };
    match outcome {
        Ok((mut expected, mut got)) => {
            if op == Op::Socketpair {
                // Two creations: the syscall layer reports both entries
                // first, function hooks each entry with its return.
                expected.sort_by_key(|e| e.path);
                got.sort_by_key(|e| e.path);
            }
            res.passed = expected == got;
            if !res.passed {
                res.detail = diff(&expected, &got);
            }
            res.expected = expected;
            res.got = got;
        }
        Err(e) => res.detail = e.to_string(),
    }
    Ok(res)
}

/// Reads everything the operation produced. The events of a thread's own
/// syscalls are in the ring buffer before the syscall returns, so one read
/// after a short wait finds them all.
fn collect(tracer: &mut Tracer, expected: io::Result<Vec<Expect>>) -> Outcome {
    let expected = expected.map_err(|e| Error::io("running the workload", e))?;
    let got = collect_events(tracer, expected.len())?
        .iter()
        .map(seen)
        .collect();
    Ok((expected, got))
}

pub(crate) fn diff(expected: &[Expect], got: &[Expect]) -> String {
    let mut s = String::new();
    let n = expected.len().max(got.len());
    for i in 0..n {
        let e = expected.get(i).map_or("-".to_string(), ToString::to_string);
        let g = got.get(i).map_or("-".to_string(), ToString::to_string);
        if e != g {
            s.push_str(&format!("#{i}: expected [{e}] got [{g}]; "));
        }
    }
    s
}
