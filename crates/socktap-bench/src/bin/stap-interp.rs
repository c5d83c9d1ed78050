//! `stap-interp [SECONDS] [TRACE.jsonl]`: how many times per second the
//! interpreter of `socktap stap` runs a handler of the shape of
//! SystemTap's socktop `socket.send` handler, on one core, over recorded
//! events (by default `data/workload-trace.jsonl`, a `socktap trace
//! --json` recording of the CLI tests' workload), with the clearing of
//! socktop's report every 500,000 events. Prints the rate as JSON; the
//! issue's target is 1,000,000 per second.

use std::time::{Duration, Instant};

use socktap_stap::event::{Event, Fired};
use socktap_stap::interp::{Interp, Limits};
use socktap_stap::source::Source;
use socktap_stap::{compile, Options};

/// A handler of socktop's shape, written for this benchmark: per event it
/// does what socktop's `socket.send` handler does (leave on failure;
/// remember the command and uid of the pid; add the size to a statistic
/// and a total keyed by pid, protocol and family), and a timer clears it
/// all as socktop's report does.
const SOCKTOP_SHAPED: &str = r#"
global names, uids, sent, totals, reports

probe socket.send {
    if (!success) next
    names[pid()] = execname()
    uids[pid()] = uid()
    sent[pid(), protocol, family] <<< size
    totals[pid(), protocol, family] += size
}

probe timer.s(5) {
    foreach ([p, prot, fam] in totals- limit 10)
        reports += @count(sent[p, prot, fam]) + strlen(names[p]) + uids[p]
    delete names
    delete uids
    delete sent
    delete totals
}
"#;

fn main() {
    let seconds = socktap_bench::arg(1, 3);
    let path = std::env::args().nth(2).unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/data/workload-trace.jsonl").to_string()
    });
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let events: Vec<Event> = text
        .lines()
        .filter_map(Event::from_json)
        .filter(|e| e.fired == Fired::Socket(socktap::Probe::Send))
        .collect();
    assert!(!events.is_empty(), "no socket.send events in {path}");
    let src = Source {
        name: "<input>".into(),
        text: SOCKTOP_SHAPED.as_bytes().to_vec(),
    };
    let c = compile(vec![src], &Options::default()).unwrap_or_else(|e| panic!("{e}"));
    let mut interp = Interp::new(&c.program, &c.sources, Limits::default(), 0);
    let (timer, _, pp) = interp.timers()[0].clone();
    interp.begin();
    let budget = Duration::from_secs(seconds);
    let start = Instant::now();
    let mut runs: u64 = 0;
    while start.elapsed() < budget {
        // A report (and its clearing) every 5 s of events at 100,000
        // sends a second: every 500,000 events.
        for _ in 0..(500_000 / events.len()) {
            for ev in &events {
                interp.fire(ev);
            }
        }
        runs += (500_000 / events.len() * events.len()) as u64;
        interp.timer(timer, pp.clone());
    }
    let elapsed = start.elapsed().as_secs_f64();
    assert!(
        !interp.failed(),
        "{}",
        String::from_utf8_lossy(&interp.take_diagnostics())
    );
    println!(
        "{{\"bench\":\"stap-interp\",\"handler\":\"socktop-shaped socket.send\",\"events\":{},\"invocations\":{runs},\"seconds\":{elapsed:.3},\"per_second\":{:.0}}}",
        events.len(),
        runs as f64 / elapsed
    );
}
