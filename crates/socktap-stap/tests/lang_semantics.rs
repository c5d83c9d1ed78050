//! The checklist's probe variables and "Semantics that scripts depend on",
//! over made-up events: handlers one at a time, exit() and end, begin/end
//! priorities, timers, the display of unread globals, MAXMAPENTRIES and
//! MAXACTION.

mod common;
use common::*;

use socktap::Probe;
use socktap_stap::event::Event;
use socktap_stap::interp::Limits;
use socktap_stap::probes::Netdev;

fn send(comm: &str, pid: u32, size: i64) -> Event {
    Event::socket(Probe::Send, comm, pid, size)
}

#[test]
fn socket_probe_variables() {
    let s = r#"probe socket.send { printf("%s %d %d %d %d %d %d %d\n", name, size, protocol, family, state, flags, type, success) }"#;
    let mut e = send("app", 7, 1500);
    e.sock.protocol = 6;
    e.sock.family = 10;
    e.sock.state = 3;
    e.sock.flags = 8;
    e.sock.sock_type = 1;
    let mut failed = send("app", 7, -11);
    failed.sock.protocol = 17;
    assert_eq!(
        run(s, &[e, failed]).out,
        "socket.send 1500 6 10 3 8 1 1\nsocket.send -11 17 2 1 0 2 0\n"
    );
}

#[test]
fn create_and_close_variables() {
    let s = r#"probe socket.create { printf("%s %d %d %d %d\n", name, family, type, protocol, requester) }
    probe socket.create.return { printf("%s %d %d\n", name, err, success) }
    probe socket.close { printf("%s %d\n", name, family) }"#;
    let mut c = Event::socket(Probe::Create, "app", 1, 0);
    c.sock.family = 2;
    c.sock.sock_type = 1;
    c.sock.protocol = 0;
    c.sock.requester = 1;
    let cr = Event::socket(Probe::CreateReturn, "app", 1, -97);
    let cl = Event::socket(Probe::Close, "app", 1, 0);
    assert_eq!(
        run(s, &[c, cr, cl]).out,
        "socket.create 2 1 0 1\nsocket.create.return -97 0\nsocket.close 2\n"
    );
}

#[test]
fn success_in_an_entry_probe_is_a_warning_and_reads_zero() {
    let s = r#"probe socket.sendmsg { printf("%d %d\n", size, success) }"#;
    let c = compiled(s, &[]);
    assert!(
        c.warnings.starts_with("WARNING: probe variable 'success' is not defined by every probe point of this handler; where it is not, it reads as 0: identifier 'success' at <input>:1:"),
        "{}",
        c.warnings
    );
    assert_eq!(
        run(s, &[Event::socket(Probe::Sendmsg, "a", 1, 4096)]).out,
        "4096 0\n"
    );
}

#[test]
fn device_probe_variables() {
    let s = r#"global tx, rx
    probe netdev.transmit { tx[dev_name] <<< length }
    probe netdev.receive { rx[dev_name] <<< length }
    probe end { foreach (d in tx) printf("%s %d %d ", d, @count(tx[d]), @sum(tx[d])) foreach (d in rx) printf("%s %d\n", d, @sum(rx[d])) }"#;
    let evs = [
        Event::netdev(Netdev::Transmit, "eth0", 100),
        Event::netdev(Netdev::Transmit, "eth0", 60),
        Event::netdev(Netdev::Receive, "lo", 42),
    ];
    assert_eq!(run(s, &evs).out, "eth0 2 160 lo 42\n");
}

#[test]
fn context_functions_come_from_the_event() {
    let s = r#"probe socket.send { printf("%s %d %d %d %d %s %s %d\n", execname(), pid(), tid(), uid(), cpu(), pp(), probefunc(), gettimeofday_s()) }"#;
    let mut e = send("curl", 4321, 10);
    e.sock.tid = 4322;
    e.sock.uid = 1000;
    e.sock.cpu = 3;
    e.wall_ns = 1_700_000_000_123_456_789;
    assert_eq!(
        run(s, &[e]).out,
        "curl 4321 4322 1000 3 socket.send sock_sendmsg 1700000000\n"
    );
}

#[test]
fn several_points_wildcards_and_conditions() {
    let s = r#"global on = 0, n
    probe socket.send, socket.receive { n[name]++ }
    probe socket.*.return { n["ret"]++ }
    probe socket.create if (on) { n["cond"]++ }
    probe begin { on = 0 }
    probe end { foreach (k+ in n) printf("%s=%d ", k, n[k]) }"#;
    let evs = [
        send("a", 1, 5),
        Event::socket(Probe::Receive, "a", 1, 5),
        Event::socket(Probe::SendmsgReturn, "a", 1, 5),
        Event::socket(Probe::Create, "a", 1, 0),
    ];
    assert_eq!(run(s, &evs).out, "ret=1 socket.receive=1 socket.send=1 ");
}

#[test]
fn probe_variables_can_be_assigned_like_locals() {
    let s = r#"probe socket.send { size = size * 2; name = "x"; printf("%s %d\n", name, size) }"#;
    assert_eq!(run(s, &[send("a", 1, 21)]).out, "x 42\n");
}

#[test]
fn handlers_run_one_at_a_time_in_order() {
    let s = r#"global seq
    probe socket.send { seq = seq . sprintf("[s%d", size); seq = seq . "]" }
    probe socket.send { seq = seq . "!" }
    probe end { println(seq) }"#;
    assert_eq!(
        run(s, &[send("a", 1, 1), send("a", 1, 2)]).out,
        "[s1]![s2]!\n"
    );
}

#[test]
fn exit_finishes_the_handler_then_end_runs() {
    let s = r#"global n
    probe socket.send { n++; if (n == 2) { exit(); print("after exit ") } }
    probe end { printf("end %d\n", n) }"#;
    let evs: Vec<Event> = (0..5).map(|i| send("a", 1, i)).collect();
    assert_eq!(run(s, &evs).out, "after exit end 2\n");
}

#[test]
fn exit_in_begin_skips_later_begins() {
    let s = r#"probe begin { print("one ") exit() } probe begin(10) { print("two ") } probe end { print("end\n") }"#;
    assert_eq!(out(s), "one end\n");
}

#[test]
fn begin_and_end_priorities() {
    let s = r#"probe begin(5) { print("b5 ") } probe begin { print("b0 ") } probe begin(-3) { print("b-3 ") }
    probe end(2) { print("e2\n") } probe end { print("e0 ") } probe end(-1) { print("e-1 ") }
    probe error { print("not run") } probe never { print("never") }"#;
    assert_eq!(out(s), "b-3 b0 b5 e-1 e0 e2\n");
}

#[test]
fn error_probes_run_by_priority_after_an_error() {
    let s = r#"probe begin { error("x") } probe error(3) { print("e3\n") } probe error { print("e0 ") } probe error(-2) { print("e-2 ") }"#;
    assert_eq!(run(s, &[]).out, "e-2 e0 e3\n");
}

#[test]
fn process_context_not_in_the_event_is_read_from_proc() {
    // The event's process is this one: /proc says what libc says.
    let s = r#"probe socket.send { printf("%d %d %d %d %d\n", ppid(), euid(), gid(), egid(), pexecname() != "") }"#;
    let me = Event::socket(Probe::Send, "x", std::process::id(), 1);
    // SAFETY: these getters cannot fail and have no preconditions.
    let (ppid, euid, gid, egid) = unsafe {
        (
            libc::getppid(),
            libc::geteuid(),
            libc::getgid(),
            libc::getegid(),
        )
    };
    assert_eq!(run(s, &[me]).out, format!("{ppid} {euid} {gid} {egid} 1\n"));
}

#[test]
fn maxstringlen_truncates_strings() {
    let s = r#"probe begin { s = "0123456789"; t = s . s; printf("%s %d %s %d\n", t, strlen(t), sprintf("%s!", t), strlen(substr(t, 0, 100))) }"#;
    let r = run_limited(
        s,
        Limits {
            maxstringlen: 8,
            ..Limits::default()
        },
    );
    assert_eq!(r.out, "0123456 7 0123456 7\n");
}

#[test]
fn timers_run_their_handlers() {
    let s = r#"global ticks
    probe timer.s(5) { ticks++; printf("%s ", pp()) }
    probe timer.ms(100), timer.jiffies(10).randomize(2) { ticks += 10 }
    probe end { println(ticks) }"#;
    let r = run_full(s, &[], &[], 2, Limits::default());
    assert_eq!(r.out, "timer.s(5) timer.s(5) 42\n");
}

#[test]
fn unread_globals_are_printed_at_exit() {
    let s = r#"global count, who, sizes, bytes, by_comm, never_read, read_it, touched, stat_empty
    probe socket.send {
        count++
        who = execname()
        sizes <<< size
        bytes[execname(), pid()] += size
        by_comm[execname()] = "last"
        read_it = 1
        touched += 0
    }
    probe begin { stat_empty <<< 1; delete stat_empty }
    probe end { if (read_it) print("") }"#;
    let evs = [
        send("curl", 10, 100),
        send("wget", 20, 30),
        send("curl", 10, 50),
    ];
    assert_eq!(
        run(s, &evs).out,
        concat!(
            "count=3\n",
            "who=\"curl\"\n",
            "sizes @count=3 @min=30 @max=100 @sum=180 @avg=60\n",
            "bytes[\"curl\",10]=150\n",
            "bytes[\"wget\",20]=30\n",
            "by_comm[\"curl\"]=\"last\"\n",
            "by_comm[\"wget\"]=\"last\"\n",
            "touched=0\n",
        )
    );
}

#[test]
fn unread_global_display_details() {
    // Empty scalar statistics, statistics arrays, and reads that hide a global.
    let s = r#"global s, lat, hidden, in_never, in_function
    function use() { return in_function }
    probe begin { s <<< 1; delete s; lat["b"] <<< 5; lat["a"] <<< 1; lat["a"] <<< 3; hidden = 1; in_never = 2; in_function = 3; use() }
    probe never { print(in_never) }
    probe end { if (0) print(hidden) }"#;
    assert_eq!(
        out(s),
        "lat[\"a\"] @count=2 @min=1 @max=3 @sum=4 @avg=2\nlat[\"b\"] @count=1 @min=5 @max=5 @sum=5 @avg=5\n"
    );
    let s = "global s probe begin { s <<< 1 } probe begin(1) { delete s }";
    assert_eq!(out(s), "");
    let s = "global s probe begin { s <<< 7 } probe end(-1) { }";
    assert_eq!(out(s), "s @count=1 @min=7 @max=7 @sum=7 @avg=7\n");
    // Written in dead code still counts as written: an empty statistic.
    assert_eq!(
        out("global s probe begin { if (0) s <<< 1 }"),
        "s @count=0x0\n"
    );
}

#[test]
fn maxmapentries_bounds_arrays() {
    let s = r#"global a
    probe begin { for (i = 0; i < 3000; i++) a[i] = i }
    probe error { print("error probe\n") }"#;
    let r = run(s, &[]);
    assert_eq!(r.out, "error probe\n");
    assert_eq!(
        r.err,
        "ERROR: Array overflow, check MAXMAPENTRIES near identifier 'a' at <input>:2:46\n"
    );
    // -D MAXMAPENTRIES=N changes the bound; `global a[N]` sets one array's.
    let s = "global a, b[2] probe begin { a[1] = 1; a[2] = 2; a[3] = 3 }";
    let r = run_limited(
        s,
        Limits {
            maxmapentries: 2,
            ..Limits::default()
        },
    );
    assert!(
        r.err
            .starts_with("ERROR: Array overflow, check MAXMAPENTRIES near identifier 'a'"),
        "{}",
        r.err
    );
    let r = run(
        "global b[2] probe begin { b[1] = 1; b[2] = 2; b[1] = 3; b[3] = 3 }",
        &[],
    );
    assert!(
        r.err
            .starts_with("ERROR: Array overflow, check size limit (2) near identifier 'b'"),
        "{}",
        r.err
    );
}

#[test]
fn wrapping_arrays_drop_their_oldest_element() {
    let s = "global w%[3] probe begin { for (i = 1; i <= 5; i++) w[i] = i * 10 } probe end { foreach (k in w) printf(\"%d \", k) }";
    assert_eq!(out(s), "3 4 5 ");
}

#[test]
fn maxaction_bounds_a_handler() {
    let s = r#"probe socket.send { while (1) { x++ } }"#;
    let r = run_full(s, &[], &[send("a", 1, 1)], 0, Limits::default());
    assert!(
        r.err.starts_with("ERROR: MAXACTION exceeded near "),
        "{}",
        r.err
    );
    assert!(r.failed);
    // try/catch cannot catch it, but catches other errors.
    let s = r#"probe begin { try { x = 1 / 0 } catch (msg) { printf("caught: %s\n", msg) } }"#;
    assert_eq!(out(s), "caught: division by 0\n");
}

#[test]
fn errors_end_the_session_and_run_error_probes() {
    let s = r#"global n
    probe socket.send { n++; if (size == 2) x = 1 / 0 }
    probe end { print("end") }
    probe error { printf("error after %d\n", n) }"#;
    let evs: Vec<Event> = (1..=4).map(|i| send("a", 1, i)).collect();
    let r = run(s, &evs);
    assert_eq!(r.out, "error after 2\n");
    assert_eq!(
        r.err,
        "ERROR: division by 0 near operator '/' at <input>:2:51\n"
    );
}
