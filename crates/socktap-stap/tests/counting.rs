//! Which handlers the kernel counts instead of tracing (socktop's shape),
//! and that adding the kernel's rows into a script's arrays gives what
//! running the handlers on each event gives: no kernel needed.

mod common;
use common::*;

use std::collections::HashMap;

use socktap::{Counts, Path, Probe, RowKey};
use socktap_stap::counting::{self, Group};
use socktap_stap::event::Event;
use socktap_stap::interp::{Interp, Limits};
use socktap_stap::pushdown::Known;
use socktap_stap::runtime;

fn groups_after_begin(script: &str) -> (socktap_stap::Compiled, Vec<Group>) {
    let (c, plan) = plan_after_begin(script, 0, true);
    (c, plan.counted)
}

/// The handlers counted, by index.
fn counted(script: &str) -> Vec<u32> {
    counting::counted_handlers(&groups_after_begin(script).1)
}

/// socktop's shape, written for these tests: tests the kernel makes, then
/// counts, sums and the name of each process; a report every interval
/// that deletes what it printed.
const TOP: &str = r#"
global f_prot, names, tx, rx, bytes
probe begin { f_prot[6] = 1; f_prot[17] = 1 }
probe socket.send {
    if (!success) next
    if (1 && !(protocol in f_prot)) next
    names[pid()] = execname()
    tx[pid(), protocol, family] <<< size
    bytes[pid(), protocol, family] += size
}
probe socket.receive {
    if (!success) next
    if (1 && !(protocol in f_prot)) next
    names[pid()] = execname()
    rx[pid(), protocol, family] <<< size
    bytes[pid(), protocol, family] += size
}
probe timer.s(1) {
    foreach ([p, prot, fam] in bytes-) {
        printf("%s %d %d tx %d/%d rx %d/%d avg %d\n", names[p], prot, fam,
               @count(tx[p, prot, fam]), @sum(tx[p, prot, fam]),
               @count(rx[p, prot, fam]), @sum(rx[p, prot, fam]),
               @count(tx[p, prot, fam]) ? @avg(tx[p, prot, fam]) : 0)
    }
    print("--\n")
    delete names; delete tx; delete rx; delete bytes
}
"#;

#[test]
fn socktops_handlers_are_counted_in_the_kernel() {
    let (c, groups) = groups_after_begin(TOP);
    assert_eq!(groups.len(), 1);
    let g = &groups[0];
    assert_eq!(g.probes, [Probe::Send, Probe::Receive]);
    // Keyed by what the keys read, nothing else; the assigned name is
    // carried.
    assert_eq!(
        g.keys,
        socktap::Keys {
            pid: true,
            family: true,
            protocol: true,
            ..Default::default()
        }
    );
    assert_eq!(
        g.carry,
        socktap::Carry {
            uid: false,
            comm: true
        }
    );
    assert_eq!(g.filter.protocols, [6, 17]);
    assert!(g.filter.succeeded_only);
    // Nothing is left to trace.
    assert!(plan_after_begin(TOP, 0, true).1.probes.is_empty());
    // Before begin has filled f_prot, its test is not known: traced.
    let none = |_: u32| None;
    let before = runtime::plan(
        &c.program,
        &Known {
            target: 0,
            array: &none,
        },
        true,
    );
    assert!(before.counted.is_empty());
    assert_eq!(before.probes, [Probe::Send, Probe::Receive]);
    // The report reads the counts (and begin and the handlers touch them).
    let readers = counting::readers(&c.program, &groups);
    let timer = c.program.handlers.len() - 1;
    assert_eq!(readers.iter().filter(|r| **r).count(), 3);
    assert!(readers[timer]);
    assert_eq!(
        counting::describe(&groups),
        ["socket.send socket.receive by pid,family,protocol carrying execname; filter: protocol 6,17; successes only"]
    );
}

#[test]
fn handlers_that_do_more_than_count_are_traced() {
    let report = "probe end { foreach (p in a) printf(\"%d %d\\n\", p, @count(a[p])) }";
    let with = |handler: &str| format!("global a, b\nprobe socket.send {{ {handler} }}\n{report}");
    // The shape itself, on returns (leaving on failures) and on entries.
    assert_eq!(counted(&with("if (!success) next; a[pid()] <<< size")), [0]);
    assert_eq!(
        counted(&with("if (success == 0) next; a[uid()] <<< size")),
        [0]
    );
    assert_eq!(
        counted("global a probe socket.sendmsg { a[execname(), type] <<< size } probe end { print(@sum(a[\"x\", 1])) }"),
        [0]
    );
    // Printing, a local, a key the rows are not keyed by, a value not size.
    for h in [
        "if (!success) next; a[pid()] <<< size; printf(\"x\")",
        "if (!success) next; x = pid(); a[x] <<< size",
        "if (!success) next; a[tid()] <<< size",
        "if (!success) next; a[pid()] <<< size * 2",
        "if (!success) next; a[pid()] <<< state",
    ] {
        assert_eq!(counted(&with(h)), [] as [u32; 0], "{h}");
    }
    // Failures would add their -errno to the sums: returns must leave on
    // failure; a test the kernel cannot make exactly is not counted.
    assert_eq!(counted(&with("a[pid()] <<< size")), [] as [u32; 0]);
    for h in [
        "if (!success) next; if (size > 100) next; a[pid()] <<< size",
        "if (!success || protocol == 6) next; a[pid()] <<< size",
        "if (!success) next; if (protocol != 6 && family == 2) next; a[pid()] <<< size",
    ] {
        assert_eq!(counted(&with(h)), [] as [u32; 0], "{h}");
    }
    // An optional probe point may be dropped at start.
    assert_eq!(
        counted(&format!(
            "global a probe socket.send ? {{ if (!success) next; a[pid()] <<< size }}\n{report}"
        )),
        [] as [u32; 0]
    );
}

#[test]
fn arrays_read_beyond_counts_and_sums_are_traced() {
    let send = "global a, b probe socket.send { if (!success) next; a[pid()] <<< size }";
    for (reader, counts) in [
        (
            "probe end { foreach (p in a) print(@count(a[p]) + @sum(a[p]) + @avg(a[p])) }",
            true,
        ),
        ("probe end { foreach (p in a) print(@max(a[p])) }", false),
        ("probe end { foreach (p in a) print(@min(a[p])) }", false),
        (
            "probe end { foreach (p in a) print(@variance(a[p])) }",
            false,
        ),
        (
            "probe end { foreach (p in a) print(@hist_log(a[p])) }",
            false,
        ),
        ("probe end { foreach (p in a @max-) print(p) }", false),
        // Through a function.
        (
            "function f(p) { return @max(a[p]) } probe end { foreach (p in a) print(f(p)) }",
            false,
        ),
        // Never read: stap prints it at exit with @min and @max.
        ("probe end { print(1) }", false),
    ] {
        let got = counted(&format!("{send}\n{reader}"));
        assert_eq!(!got.is_empty(), counts, "{reader}");
    }
}

#[test]
fn arrays_other_handlers_on_events_touch_are_traced() {
    let send = "global a, b probe socket.send { if (!success) next; a[pid()] += size } probe end { foreach (p in a) print(a[p]) }";
    // Another socket handler (directly or through a function) would read
    // it without the counts of the moment.
    assert_eq!(
        counted(&format!("{send} probe socket.close {{ print(a[pid()]) }}")),
        [] as [u32; 0]
    );
    assert_eq!(
        counted(&format!(
            "{send} function f() {{ delete a }} probe socket.create {{ f() }}"
        )),
        [] as [u32; 0]
    );
    assert_eq!(
        counted(&format!("{send} probe netdev.receive {{ a[0] = length }}")),
        [] as [u32; 0]
    );
    // Timers, begin and end may: the counts are added before they run.
    assert_eq!(
        counted(&format!(
            "{send} probe begin {{ a[1] = 5 }} probe timer.ms(10) {{ delete a }}"
        )),
        [0]
    );
    // Sums and assignments on one array: their order among events matters.
    assert_eq!(
        counted("global a probe socket.send { if (!success) next; a[pid()] += size } probe socket.receive { if (!success) next; a[pid()] = uid() } probe end { foreach (p in a) print(a[p]) }"),
        [] as [u32; 0]
    );
}

#[test]
fn handlers_with_different_tests_count_in_different_groups() {
    let (_, groups) = groups_after_begin(
        "global a, b probe socket.send { if (!success) next; if (pid() != 7) next; a[protocol]++ } probe socket.receive { if (!success) next; b <<< size } probe end { print(@count(b)); foreach (p in a) print(a[p]) }",
    );
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].filter.pids, [7]);
    assert!(groups[0].keys.protocol);
    assert_eq!(groups[1].filter.pids, [] as [u32; 0]);
    assert_eq!(groups[1].keys, socktap::Keys::default());
}

/// Counts events into rows as the kernel does for a group: keyed by path
/// and by the group's keys; errors counted apart, their sizes not summed.
fn rows(g: &Group, events: &[Event]) -> HashMap<RowKey, Counts> {
    let mut out: HashMap<RowKey, Counts> = HashMap::new();
    for ev in events {
        let s = &ev.sock;
        let k = g.keys;
        // Carried like keys: each process here has one name and uid.
        let key = RowKey {
            path: s.path,
            pid: if k.pid { s.pid } else { 0 },
            uid: if k.uid || g.carry.uid { s.uid } else { 0 },
            comm: if k.comm || g.carry.comm {
                s.comm().to_string()
            } else {
                String::new()
            },
            cgroup: 0,
            family: if k.family { s.family } else { 0 },
            protocol: if k.protocol { s.protocol } else { 0 },
            sock_type: if k.sock_type { s.sock_type } else { 0 },
            port: 0,
        };
        let c = out.entry(key).or_insert(Counts {
            count: 0,
            bytes: 0,
            errors: 0,
            hist: None,
        });
        c.count += 1;
        if s.size < 0 {
            c.errors += 1;
        } else {
            c.bytes += s.size as u64;
        }
    }
    out
}

fn event(probe: Probe, comm: &str, pid: u32, size: i64, protocol: i32) -> Event {
    let mut e = Event::socket(probe, comm, pid, size);
    e.sock.protocol = protocol;
    e.sock.family = 2;
    e
}

#[test]
fn rows_added_before_each_report_print_what_the_events_would() {
    use Probe::{Receive as R, Send as S};
    // Two intervals; failures and a protocol the filter drops in each.
    let first = [
        event(S, "alpha", 10, 100, 6),
        event(S, "alpha", 10, 300, 6),
        event(R, "alpha", 10, 50, 6),
        event(S, "beta", 20, 7, 17),
        event(S, "beta", 20, -11, 17),
        event(R, "beta", 20, 1000, 132),
    ];
    let second = [event(R, "beta", 20, 9, 17), event(S, "gamma", 30, 4000, 6)];
    let (c, groups) = groups_after_begin(TOP);
    // The kernel filter's part: what the group keeps.
    let kept = |evs: &[Event]| -> Vec<Event> {
        evs.iter()
            .filter(|e| e.sock.size >= 0 && [6, 17].contains(&e.sock.protocol))
            .cloned()
            .collect()
    };
    let mut traced = Interp::new(&c.program, &c.sources, Limits::default(), 0);
    let mut counts = Interp::new(&c.program, &c.sources, Limits::default(), 0);
    counts.count_in_kernel(&counting::counted_handlers(&groups));
    traced.begin();
    counts.begin();
    let (timer, _, pp) = traced.timers()[0].clone();
    for interval in [&first[..], &second[..]] {
        for ev in interval {
            traced.fire(ev);
            // Counted handlers no longer run on events.
            counts.fire(ev);
        }
        traced.timer(timer, pp.clone());
        counting::add_rows(&groups[0], rows(&groups[0], &kept(interval)), &mut counts);
        counts.timer(timer, pp.clone());
    }
    traced.end();
    counts.end();
    let out = String::from_utf8(traced.take_output()).unwrap();
    assert_eq!(
        out,
        "alpha 6 2 tx 2/400 rx 1/50 avg 200\nbeta 17 2 tx 1/7 rx 0/0 avg 7\n--\n\
         gamma 6 2 tx 1/4000 rx 0/0 avg 4000\nbeta 17 2 tx 0/0 rx 1/9 avg 0\n--\n"
    );
    assert_eq!(String::from_utf8(counts.take_output()).unwrap(), out);
}

#[test]
fn an_overflow_while_adding_rows_is_the_statements_error() {
    let script = "global a[2] probe socket.send { if (!success) next; a[pid()] <<< size } probe end { foreach (p in a) print(@count(a[p])) }";
    let (c, groups) = groups_after_begin(script);
    let events: Vec<Event> = (1..=3)
        .map(|pid| event(Probe::Send, "x", pid, 1, 6))
        .collect();
    let mut i = Interp::new(&c.program, &c.sources, Limits::default(), 0);
    i.count_in_kernel(&counting::counted_handlers(&groups));
    counting::add_rows(&groups[0], rows(&groups[0], &events), &mut i);
    assert!(i.failed());
    let traced = run(script, &events);
    assert!(traced.failed);
    assert_eq!(String::from_utf8(i.take_diagnostics()).unwrap(), traced.err);
    assert_eq!(Path::SendmsgReturn, events[0].sock.path);
}
