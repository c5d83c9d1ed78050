//! Runs scripts over made-up events, with no kernel: what the language
//! tests share.
#![allow(dead_code)]

use socktap_stap::event::Event;
use socktap_stap::interp::{Interp, Limits};
use socktap_stap::source::Source;
use socktap_stap::{compile, Options};

/// What a run printed: stdout, stderr (warnings and runtime errors).
pub struct Run {
    pub out: String,
    pub err: String,
    pub failed: bool,
}

fn source(script: &str) -> Vec<Source> {
    vec![Source {
        name: "<input>".into(),
        text: script.as_bytes().to_vec(),
    }]
}

/// Compiles with `args`; panics on a compile error.
pub fn compiled(script: &str, args: &[&str]) -> socktap_stap::Compiled {
    let opts = Options {
        args: args.iter().map(|s| s.to_string()).collect(),
        ..Options::default()
    };
    match compile(source(script), &opts) {
        Ok(c) => c,
        Err(e) => panic!("does not compile:\n{e}"),
    }
}

/// The runtime's plan for a script once `begin` has run (with `-x
/// target`); `count`: whether handlers may be counted in the kernel.
pub fn plan_after_begin(
    script: &str,
    target: i64,
    count: bool,
) -> (socktap_stap::Compiled, socktap_stap::runtime::Plan) {
    let c = compiled(script, &[]);
    let mut i = Interp::new(&c.program, &c.sources, Limits::default(), target);
    i.begin();
    let plan = socktap_stap::runtime::plan_after_begin(&c.program, &i, count);
    drop(i);
    (c, plan)
}

/// The compile error's text (stap's messages), or panics if it compiles.
pub fn compile_error(script: &str) -> String {
    match compile(source(script), &Options::default()) {
        Ok(_) => panic!("compiles, but should not:\n{script}"),
        Err(e) => format!("{e}{}\n", e.pass_line()),
    }
}

/// Runs begin, the events (with `ticks` runs of every timer after
/// them), then end, as socktap's runtime would.
pub fn run_full(
    script: &str,
    args: &[&str],
    events: &[Event],
    ticks: usize,
    limits: Limits,
) -> Run {
    let c = compiled(script, args);
    let mut i = Interp::new(&c.program, &c.sources, limits, 4242);
    i.begin();
    for ev in events {
        if i.exiting() {
            break;
        }
        i.fire(ev);
    }
    for _ in 0..ticks {
        for (h, _, pp) in i.timers() {
            i.timer(h, pp);
        }
    }
    i.end();
    Run {
        out: String::from_utf8_lossy(&i.take_output()).into_owned(),
        err: String::from_utf8_lossy(&i.take_diagnostics()).into_owned(),
        failed: i.failed(),
    }
}

/// Runs with no arguments, events or timer ticks, under `limits`.
pub fn run_limited(script: &str, limits: Limits) -> Run {
    run_full(script, &[], &[], 0, limits)
}

/// Runs with no arguments, no timer ticks and the default limits.
pub fn run(script: &str, events: &[Event]) -> Run {
    run_full(script, &[], events, 0, Limits::default())
}

/// stdout of a begin/end-only script.
pub fn out(script: &str) -> String {
    let r = run(script, &[]);
    assert!(r.err.is_empty(), "stderr: {}", r.err);
    r.out
}
