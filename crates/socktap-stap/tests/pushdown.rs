//! Which tests of a script become socktap's in-kernel filter, and which
//! probes are attached: no kernel needed to decide.

mod common;

use socktap::Probe;
use socktap_stap::pushdown;
use socktap_stap::runtime;

fn plan_after_begin(script: &str, target: i64) -> runtime::Plan {
    // Here, every handler is traced: counting has its own tests.
    common::plan_after_begin(script, target, false).1
}

fn plan(script: &str) -> runtime::Plan {
    plan_after_begin(script, 0)
}

#[test]
fn leading_tests_become_the_filter() {
    let p =
        plan("probe socket.send { if (!success) next; if (pid() != target()) next; print(size) }");
    assert!(p.filter.succeeded_only);
    // Without -x, target() is 0: only pid 0 could pass, and so the kernel says.
    assert_eq!(p.filter.pids, [0]);
    let p = plan_after_begin(
        "probe socket.send { if (pid() != target()) next; print(size) }",
        1234,
    );
    assert_eq!(p.filter.pids, [1234]);
    let p = plan(
        r#"probe socket.send, socket.receive { if (protocol != 6 && protocol != 17 || family != 2) next; if (execname() != "curl") next; print(1) }"#,
    );
    assert_eq!(p.filter.protocols, [6, 17]);
    assert_eq!(p.filter.families, [2]);
    assert_eq!(p.filter.comms, ["curl"]);
    assert_eq!(p.probes, [Probe::Send, Probe::Receive]);
    let p = plan("probe socket.send { if (success == 0 || !(type == 1 || type == 2)) next; if (uid() != 0) next; if (tid() != 5) next; print(1) }");
    assert!(p.filter.succeeded_only);
    assert_eq!(p.filter.types, [1, 2]);
    assert_eq!(p.filter.uids, [0]);
    assert_eq!(p.filter.tids, [5]);
}

#[test]
fn what_cannot_be_pushed_is_not() {
    // A test after an effect, a test with effects, an exclusion.
    let p = plan("global n probe socket.send { n++; if (protocol != 6) next; print(1) }");
    assert_eq!(p.filter, socktap::Filter::default());
    let p = plan("global n probe socket.send { if (n++ || protocol != 6) next; print(1) }");
    assert_eq!(p.filter, socktap::Filter::default());
    let p = plan("probe socket.send { if (protocol == 6) next; print(1) }");
    assert_eq!(p.filter, socktap::Filter::default());
    // A kind is pushed only when every socket handler requires it; the
    // values of the handlers are joined.
    let p = plan("probe socket.send { if (protocol != 6) next; print(1) } probe socket.receive { if (protocol != 17) next; print(2) }");
    assert_eq!(p.filter.protocols, [6, 17]);
    let p = plan(
        "probe socket.send { if (protocol != 6) next; print(1) } probe socket.receive { print(2) }",
    );
    assert!(p.filter.protocols.is_empty());
    // Entry probes have no result: no success filter.
    let p = plan("probe socket.sendmsg { if (!success) next; print(1) }");
    assert!(!p.filter.succeeded_only);
}

#[test]
fn arrays_filled_by_begin_become_filters() {
    let s = r#"global f_prot, f_pid
    probe begin { f_prot[sock_prot_str2num("TCP")] = 1; f_prot[17] = 1; f_pid[42] = 1 }
    probe socket.send { if (!(protocol in f_prot)) next; if (1 && !(pid() in f_pid)) next; print(size) }"#;
    let p = plan(s);
    assert_eq!(p.filter.protocols, [6, 17]);
    assert_eq!(p.filter.pids, [42]);
    // An array another handler may change cannot be a filter.
    let p = plan(&format!("{s}\nprobe timer.s(1) {{ f_prot[99] = 1 }}"));
    assert!(p.filter.protocols.is_empty());
    assert_eq!(p.filter.pids, [42]);
}

#[test]
fn only_probes_whose_handlers_do_something_are_attached() {
    let s = r#"global dev
    probe socket.create { if (0) { print(1) } }
    probe netdev.transmit { if (0) { dev[dev_name]++ } }
    probe never { print(1) }
    probe socket.close ? { print(1) }
    probe socket.receive { print(1) }"#;
    let p = plan(s);
    assert_eq!(p.probes, [Probe::Close, Probe::Receive]);
    assert_eq!(p.optional, [Probe::Close]);
    assert!(!p.devices);
    assert!(plan("probe netdev.receive { print(length) }").devices);
}

#[test]
fn the_filter_reads_as_text() {
    let f = socktap::Filter {
        pids: vec![1, 2],
        protocols: vec![6],
        succeeded_only: true,
        ..Default::default()
    };
    assert_eq!(
        pushdown::describe(&f),
        "pid 1,2; protocol 6; successes only"
    );
    assert_eq!(pushdown::describe(&socktap::Filter::default()), "none");
}
