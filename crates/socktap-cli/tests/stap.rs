//! `socktap stap` and socktap invoked as `stap`, end to end: stap's
//! command line, exit statuses and messages (no privileges needed), then
//! scripts over real traffic whose bytes are known (privileged).

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use socktap_conformance::privileged;

mod support;
use support::stap::{output, stap_link, text, tmp, Checked};

const BIN: &str = env!("CARGO_BIN_EXE_socktap");
const WORKLOAD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/workload.py");

fn stap(args: &[&str]) -> Output {
    output(
        Command::new(BIN)
            .env_remove("SOCKTAP_STAP_NO_KERNEL_COUNTS")
            .arg("stap")
            .args(args),
    )
}

#[test]
fn help_lists_the_options() {
    let o = stap(&["--help"]);
    assert!(o.status.success());
    let out = text(&o.stdout);
    for opt in [
        "-e SCRIPT",
        "-p NUM",
        "-v ",
        "-w ",
        "-l PATTERN",
        "-L PATTERN",
        "-x PID",
        "-c CMD",
        "-T SECONDS",
        "-o FILE",
        "-D NAME=VALUE",
        "--suppress-handler-errors",
        "SOCKTAP_STAP_NO_KERNEL_COUNTS=1",
    ] {
        assert!(out.contains(opt), "{opt} missing from:\n{out}");
    }
}

#[test]
fn unknown_options_exit_2_with_the_nearest() {
    let o = stap(&["--suppres-handler-errors", "-e", "probe begin {}"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains(
            "invalid option '--suppres-handler-errors' (did you mean --suppress-handler-errors"
        ),
        "{}",
        text(&o.stderr)
    );
    let o = stap(&["-e"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("option requires an argument -- 'e'"));
    let o = stap(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("A script must be specified."));
}

#[test]
fn script_errors_exit_1_with_stap_messages_and_load_nothing() {
    let o = stap(&["-e", "probe socket.recv { }"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    let e = text(&o.stderr);
    assert!(
        e.starts_with(
            "semantic error: while resolving probe point: identifier 'socket' at <input>:1:7\n"
        ),
        "{e}"
    );
    assert!(
        e.contains("probe point mismatch (similar: readv, receive, recvmsg, send, create)"),
        "{e}"
    );
    assert!(
        e.ends_with("Pass 2: analysis failed.  [man error::pass2]\n"),
        "{e}"
    );
    let o = stap(&["-e", "probe socket.send { print(daddr) }"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("unresolved variable 'daddr' in probe socket.send"));
    let o = stap(&["-e", "probe begin { x = 1 +"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).ends_with("1 parse error.\nPass 1: parse failed.  [man error::pass1]\n")
    );
}

#[test]
fn runtime_errors_exit_1() {
    let o = stap(&[
        "-e",
        "probe begin { x = 0; print(1 / x) } probe end { print(\"end\") }",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        "ERROR: division by 0 near operator '/' at <input>:1:30\nWARNING: Number of errors: 1, skipped probes: 0\nPass 5: run failed.  [man error::pass5]\n"
    );
    assert!(o.stdout.is_empty());
}

#[test]
fn invoked_as_stap_with_arguments() {
    let o = Command::new(stap_link())
        .args([
            "-e",
            r#"probe begin { printf("%s %d %d\n", @1, $2 * 2, $#); exit() }"#,
            "word",
            "21",
        ])
        .output_checked();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "word 42 2\n");
}

#[test]
fn script_from_a_file_stdin_and_extra_text() {
    let f = tmp("hello.stp");
    std::fs::write(&f, "probe begin { print(\"file \") }\n").unwrap();
    let o = stap(&[
        "-E",
        "probe begin(1) { print(\"extra\\n\"); exit() }",
        f.to_str().unwrap(),
    ]);
    assert_eq!(text(&o.stdout), "file extra\n");
    let mut c = Command::new(BIN)
        .args(["stap", "-", "x"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin
        .take()
        .unwrap()
        .write_all(b"probe begin { println(@1); exit() }")
        .unwrap();
    let o = c.wait_with_output().unwrap();
    assert_eq!(text(&o.stdout), "x\n");
    let o = stap(&["/nonexistent.stp"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("cannot open script file '/nonexistent.stp'"));
}

#[test]
fn passes_one_to_three_print_and_stop() {
    let o = stap(&["-p1", "-e", "global a probe begin { a[1] = 2 + 3 * 4 }"]);
    assert_eq!(
        text(&o.stdout),
        "# parse tree dump\n# file <input>\nglobal a\nprobe begin {\n  a[1] = ((2) + ((3) * (4)))\n}\n"
    );
    let o = stap(&["-p2", "-e", "global a, s probe socket.send { a[execname()] = size; s <<< 1 } function f:string(x:long) { return \"\" }"]);
    assert_eq!(
        text(&o.stdout),
        "# globals\na:long [string]\ns:stats\n# functions\nf:string (long)\n# probes\nsocket.send\nend /* display of an unread global */\nend /* display of an unread global */\n"
    );
    let o = stap(&["-p3", "-x", "77", "-e", "probe socket.send, socket.receive { if (pid() != target() || !success) next; print(size) }"]);
    assert_eq!(
        text(&o.stdout),
        "# probes attached: socket.send socket.receive\n# kernel filter: pid 77; successes only\n"
    );
    // A handler of socktop's shape is counted in the kernel, unless the
    // environment says to run it on each event.
    let sums = r#"global b probe socket.send { if (!success) next; b[pid()] += size } probe end { foreach (p in b) printf("%d %d\n", p, b[p]) }"#;
    let o = stap(&["-p3", "-e", sums]);
    assert_eq!(
        text(&o.stdout),
        "# probes attached: none\n# kernel filter: none\n# counted in the kernel: socket.send by pid; filter: successes only\n"
    );
    let o = output(
        Command::new(BIN)
            .env("SOCKTAP_STAP_NO_KERNEL_COUNTS", "1")
            .args(["stap", "-p3", "-e", sums]),
    );
    assert_eq!(
        text(&o.stdout),
        "# probes attached: socket.send\n# kernel filter: successes only\n"
    );
}

#[test]
fn list_probe_points_and_their_variables() {
    let o = stap(&["-l", "socket.create*"]);
    assert_eq!(text(&o.stdout), "socket.create\n");
    let o = stap(&["-l", "socket.create.*"]);
    assert_eq!(text(&o.stdout), "socket.create.return\n");
    let o = stap(&["-L", "socket.c*.return"]);
    assert_eq!(
        text(&o.stdout),
        "socket.close.return name:string\nsocket.create.return name:string family:long type:long protocol:long requester:long err:long success:long\n"
    );
    let o = stap(&["-L", "netdev.*"]);
    assert_eq!(
        text(&o.stdout),
        "netdev.receive dev_name:string length:long\nnetdev.transmit dev_name:string length:long\n"
    );
    let o = stap(&["-l", "socket.recv"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("probe point mismatch"));
}

#[test]
fn output_file_defines_globals_and_targets() {
    let f = tmp("out.txt");
    let o = stap(&[
        "-o",
        f.to_str().unwrap(),
        "-x",
        "99",
        "-G",
        "g=5",
        "-e",
        r#"global g probe begin { printf("%d %d\n", target(), g); exit() }"#,
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(o.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "99 5\n");
    let o = stap(&[
        "-DMAXMAPENTRIES=2",
        "-D",
        "FOO=1",
        "-e",
        "global a probe begin { a[1] = 1; a[2] = 2; a[3] = 3 }",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let e = text(&o.stderr);
    assert!(
        e.starts_with("WARNING: -D FOO=1 is ignored by socktap\n"),
        "{e}"
    );
    assert!(
        e.contains("ERROR: Array overflow, check MAXMAPENTRIES near identifier 'a'"),
        "{e}"
    );
}

#[test]
fn compatibility_flags_are_accepted_with_a_warning() {
    // Like stap, a script without exit() runs until interrupted.
    let o = stap(&[
        "-g",
        "-k",
        "-m",
        "mymod",
        "-s",
        "4",
        "--suppress-handler-errors",
        "-e",
        "probe begin { print(1); exit() }",
    ]);
    assert!(o.status.success());
    assert_eq!(text(&o.stdout), "1");
    let e = text(&o.stderr);
    for flag in ["-g", "-k", "-m mymod", "-s 4", "--suppress-handler-errors"] {
        assert!(
            e.contains(&format!(
                "WARNING: {flag} is accepted for compatibility and ignored by socktap\n"
            )),
            "{flag}: {e}"
        );
    }
    let o = stap(&["-w", "-g", "-e", "probe begin { print(1); exit() }"]);
    assert!(o.stderr.is_empty(), "-w: {}", text(&o.stderr));
}

#[test]
fn timeout_and_signals_run_end() {
    let t = Instant::now();
    let o = stap(&[
        "-T",
        "0.4",
        "-e",
        "global n probe timer.ms(100) { n++ } probe end { printf(\"end %d\\n\", n > 0) }",
    ]);
    assert!(o.status.success());
    assert_eq!(text(&o.stdout), "end 1\n");
    assert!(t.elapsed() < Duration::from_secs(3));
    for (script, signal, said) in [
        (
            "probe timer.s(60) { } probe end { print(\"interrupted\\n\") }",
            libc::SIGINT,
            "interrupted\n",
        ),
        (
            "probe begin { } probe end { print(\"terminated\\n\") }",
            libc::SIGTERM,
            "terminated\n",
        ),
    ] {
        let child = Command::new(BIN)
            .args(["stap", "-e", script])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, signal) };
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success());
        assert_eq!(text(&o.stdout), said);
    }
}

#[test]
fn maxaction_from_the_command_line() {
    // begin may run ten times MAXACTION, as in stap: 500 here.
    let o = stap(&[
        "-DMAXACTION=50",
        "-e",
        "probe begin { for (i = 0; i < 1000; i++) x++; exit() }",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).starts_with("ERROR: MAXACTION exceeded near "),
        "{}",
        text(&o.stderr)
    );
    let o = stap(&[
        "-DMAXACTION=500",
        "-e",
        "probe begin { for (i = 0; i < 1000; i++) x++; print(x); exit() }",
    ]);
    assert_eq!(text(&o.stdout), "1000");
}

#[test]
fn the_readmes_one_liners_compile() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let scripts = readme
        .split("## Scripts")
        .nth(1)
        .unwrap()
        .split("\n## ")
        .next()
        .unwrap();
    let mut n = 0;
    for line in scripts.lines().filter(|l| l.starts_with("stap ")) {
        let (Some(a), Some(b)) = (line.find('\''), line.rfind('\'')) else {
            continue;
        };
        let o = stap(&["-p2", "-e", &line[a + 1..b]]);
        assert!(o.status.success(), "{line}:\n{}", text(&o.stderr));
        n += 1;
    }
    assert_eq!(n, 4);
}

// ---- privileged: scripts over real traffic ------------------------------

/// Runs `script` through the `stap` link with `-c` running the workload
/// (named `comm`) directly, so that target() is its pid; returns the
/// script's output and what the workload did (its JSON line, which it
/// prints before it exits and so before the script's end output).
fn over_workload(opts: &[&str], script: &str, comm: &str) -> (String, Value) {
    let cmd = format!("python3 {WORKLOAD} {comm}");
    let o = Command::new(stap_link())
        .args(opts)
        .args(["-c", &cmd, "-e", script])
        .output_checked();
    assert!(o.status.success(), "stap failed: {}", text(&o.stderr));
    let out = text(&o.stdout);
    let (did, rest) = out.split_once('\n').expect("the workload's line");
    (rest.to_string(), serde_json::from_str(did).unwrap())
}

fn sum(did: &Value, dir: &str) -> i64 {
    did[dir]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[1].as_i64().unwrap())
        .sum()
}

const SOCKTOP_LIKE: &str = r##"
# A socktop of our own: per process, protocol and family, the successful
# sends and receives, with a filter on the command name ($1) and a report
# at the end.
global comm_filter, names, tx, rx, total

probe begin { comm_filter[@1] = 1 }

probe socket.send, socket.receive {
    if (!success) next
    if (!(execname() in comm_filter)) next
    names[pid()] = execname()
    if (name == "socket.send") tx[pid(), protocol, family] <<< size
    else rx[pid(), protocol, family] <<< size
    total[pid(), protocol, family] += size
}

probe end {
    printf("%-8s %7s %7s %7s %7s %-4s %-8s\n", "COMMAND", "#SEND", "#RECV", "SEND_B", "RECV_B", "PROT", "FAMILY")
    foreach ([p, prot, fam] in total- limit 10) {
        printf("%-8s %7d %7d %7d %7d %-4s %-8s\n", names[p],
               @count(tx[p, prot, fam]), @count(rx[p, prot, fam]),
               @sum(tx[p, prot, fam]), @sum(rx[p, prot, fam]),
               sock_prot_num2str(prot), sock_fam_num2str(fam))
    }
}
"##;

#[test]
fn a_socktop_like_script_through_the_stap_link() {
    if !privileged("stap socktop-like script") {
        return;
    }
    let f = tmp("socktop-like.stp");
    std::fs::write(&f, SOCKTOP_LIKE).unwrap();
    let cmd = format!("python3 {WORKLOAD} stap-top");
    let o = Command::new(stap_link())
        .args(["-w", "-v", "-c", &cmd, f.to_str().unwrap(), "stap-top"])
        .output_checked();
    assert!(o.status.success(), "{}", text(&o.stderr));
    // The comm filter filled by begin is in the kernel filter.
    assert!(
        text(&o.stderr).contains("kernel filter: comm stap-top; successes only"),
        "{}",
        text(&o.stderr)
    );
    let out = text(&o.stdout);
    let (did, report) = out.split_once('\n').unwrap();
    assert_eq!(
        report,
        concat!(
            "COMMAND    #SEND   #RECV  SEND_B  RECV_B PROT FAMILY  \n",
            "stap-top       2       2    1500    1500 TCP  INET    \n",
            "stap-top       1       1      77      77 IP   LOCAL   \n",
            "stap-top       3       3      60      60 UDP  INET    \n",
        )
    );
    let did: Value = serde_json::from_str(did).unwrap();
    assert_eq!(sum(&did, "send"), 1637);
}

#[test]
fn one_liner_bytes_per_process() {
    if !privileged("stap bytes per process") {
        return;
    }
    let (out, did) = over_workload(
        &["-w"],
        r#"global bytes probe socket.send { if (success) bytes[execname()] += size } probe end { foreach (c in bytes) if (c == "stap-bytes") printf("%s %d\n", c, bytes[c]) }"#,
        "stap-bytes",
    );
    assert_eq!(out, format!("stap-bytes {}\n", sum(&did, "send")));
}

#[test]
fn one_liner_histogram_of_send_sizes() {
    if !privileged("stap histogram") {
        return;
    }
    let (out, _) = over_workload(
        &[],
        r#"global sizes probe socket.send { if (execname() == "stap-hist") sizes <<< size } probe end { print(@hist_log(sizes)) }"#,
        "stap-hist",
    );
    // Sends of 10, 20, 30, 1000, 500 and 77 bytes.
    let row = |v: &str, n: usize| format!("{v:>5} |{}{n:>w$}\n", "@".repeat(n), w = 52 - n);
    let mut want = format!("value |{} count\n", "-".repeat(50));
    for (v, n) in [
        ("2", 0),
        ("4", 0),
        ("8", 1),
        ("16", 2),
        ("32", 0),
        ("64", 1),
        ("128", 0),
        ("256", 1),
        ("512", 1),
        ("1024", 0),
        ("2048", 0),
    ] {
        want.push_str(&row(v, n));
    }
    want.push('\n');
    assert_eq!(out, want);
}

#[test]
fn one_liner_failed_sends_with_errno() {
    if !privileged("stap failed sends") {
        return;
    }
    let fail = "import ctypes,socket; ctypes.CDLL(None).prctl(15, b'stap-fail', 0, 0, 0); s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ntry: s.send(b'x')\nexcept OSError: pass";
    let f = tmp("fail.py");
    std::fs::write(&f, fail).unwrap();
    let o = Command::new(stap_link())
        .args(["-c", &format!("python3 {}", f.display()), "-e",
            r#"probe socket.send { if (!success && execname() == "stap-fail") printf("%s %s %s\n", execname(), errno_str(-size), sock_prot_num2str(protocol)) }"#])
        .output_checked();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "stap-fail EDESTADDRREQ UDP\n");
}

#[test]
fn one_liner_sockets_a_process_creates() {
    if !privileged("stap creates") {
        return;
    }
    let (out, did) = over_workload(
        &[],
        r#"global n probe socket.create { if (execname() == "stap-create") n[sock_fam_num2str(family), sock_type_num2str(type)]++ } probe end { foreach ([f, t+] in n) printf("%s %s %d\n", f, t, n[f, t]) }"#,
        "stap-create",
    );
    assert_eq!(out, "INET DGRAM 2\nINET STREAM 2\nLOCAL STREAM 2\n");
    assert_eq!(did["created"], 6);
}

#[test]
fn device_probes_count_loopback_packets() {
    if !privileged("stap netdev") {
        return;
    }
    let (out, _) = over_workload(
        &[],
        r#"global tx, rx probe netdev.transmit { tx[dev_name] <<< length } probe netdev.receive { rx[dev_name] <<< length } probe end { printf("%d %d %d\n", @count(tx["lo"]) > 0, @count(rx["lo"]) > 0, @sum(tx["lo"]) >= @count(tx["lo"]) * 20) }"#,
        "stap-dev",
    );
    assert_eq!(out, "1 1 1\n");
}

#[test]
fn p4_loads_and_verifies_then_exits() {
    if !privileged("stap -p4") {
        return;
    }
    let o = stap(&[
        "-p4",
        "-v",
        "-e",
        "probe socket.send, socket.create.return, netdev.receive { print(1) }",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(o.stdout.is_empty());
    assert!(
        text(&o.stderr).contains("Pass 4: loaded and verified the BPF programs"),
        "{}",
        text(&o.stderr)
    );
    // socktop's shape (as scripts/kernel-matrix.sh runs it on each
    // kernel): the aggregator of the counted handlers loads too.
    let o = stap(&[
        "-p4",
        "-v",
        "-e",
        r#"global names, tx, total, n
probe socket.send { if (!success) next; names[pid()] = execname(); tx[pid(), protocol, family] <<< size; total[pid(), protocol, family] += size }
probe socket.create { n[name]++ }
probe timer.s(5) { foreach ([p, pr, f] in total-) printf("%s %d %d\n", names[p], @count(tx[p, pr, f]), total[p, pr, f]) }"#,
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(o.stdout.is_empty());
    assert!(
        text(&o.stderr).ends_with("Pass 4: loaded and verified the BPF programs: # probes attached: socket.create\n# kernel filter: none\n# counted in the kernel: socket.send by pid,family,protocol carrying execname; filter: successes only\n"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn target_pushdown_with_c() {
    if !privileged("stap -c target") {
        return;
    }
    let (out, did) = over_workload(
        &[],
        r#"global n probe socket.receive { if (pid() != target()) next; n += size } probe end { println(n) }"#,
        "stap-target",
    );
    assert_eq!(out, format!("{}\n", sum(&did, "receive")));
}

#[test]
fn optional_probe_points_that_do_not_resolve_are_dropped_silently() {
    // As stap: an optional point that names no probe is left out without
    // a word; the others stay.
    let o = stap(&[
        "-p2",
        "-e",
        "probe socket.nonexistent ?, socket.send { print(1) }",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        text(&o.stdout),
        "# globals\n# functions\n# probes\nsocket.send\n"
    );
    assert_eq!(text(&o.stderr), "");
    // A probe left with no point at all leaves the script without probes.
    let o = stap(&["-p2", "-e", "probe socket.nonexistent ? { print(1) }"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        "semantic error: no probes found\n\nPass 2: analysis failed.  [man error::pass2]\n"
    );
    // Without the mark it is an error naming the nearest probes.
    let o = stap(&[
        "-p2",
        "-e",
        "probe socket.nonexistent, socket.send { print(1) }",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("semantic error: probe point mismatch (similar: "),
        "{}",
        text(&o.stderr)
    );
}

/// A backend that cannot serve `socket.send` on this kernel, with the
/// reason `socktap list` gives, if there is one.
fn backend_refusing_send() -> Option<(&'static str, String)> {
    ["fentry", "kprobe"].into_iter().find_map(|b| {
        let o = output(Command::new(BIN).args(["list", "--backend", b]));
        let out = text(&o.stdout);
        let line = out.lines().find(|l| l.starts_with("socket.send "))?;
        let why = line.split_once("unavailable: ")?.1;
        Some((b, why.to_string()))
    })
}

#[test]
fn optional_probes_the_backend_cannot_serve_are_skipped_with_a_warning() {
    if !privileged("stap optional probes") {
        return;
    }
    let Some((backend, why)) = backend_refusing_send() else {
        eprintln!("skipping: fentry and kprobe both serve socket.send on this kernel");
        return;
    };
    let run = |script: &str| {
        let cmd = format!("python3 {WORKLOAD} stap-opt");
        output(
            Command::new(stap_link())
                .env("SOCKTAP_BACKEND", backend)
                .env_remove("SOCKTAP_STAP_NO_KERNEL_COUNTS")
                .args(["-c", &cmd, "-e", script]),
        )
    };
    let warning = format!(
        "WARNING: optional probe point socket.send skipped: not supported by this kernel: {why}\n"
    );
    // socket.send is skipped; the entry probe, which the syscall layer
    // serves under any backend, runs: the workload's sendto, send and
    // sendmsg of 10, 20 and 5+25 bytes over UDP, and 77 over UNIX.
    let o = run(r#"global n
probe socket.send ?, socket.sendmsg { if (execname() == "stap-opt") n[pp()] <<< size }
probe end { foreach (p in n) printf("%s %d %d\n", p, @count(n[p]), @sum(n[p])) }"#);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stderr), warning);
    let out = text(&o.stdout);
    let (_did, report) = out.split_once('\n').expect("the workload's line");
    assert_eq!(report, "socket.sendmsg 4 137\n");
    // Every point of a probe may go: the session runs without it.
    let o = run(r#"probe socket.send ? { print(1) } probe end { println("end") }"#);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stderr), warning);
    assert!(text(&o.stdout).ends_with("}\nend\n"), "{}", text(&o.stdout));
    // Without the mark, the run fails and says why.
    let o = run(r#"probe socket.send { print(1) }"#);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty() || text(&o.stdout).starts_with('{'));
    assert!(
        text(&o.stderr).contains(&format!(": not supported by this kernel: {why}\n")),
        "{}",
        text(&o.stderr)
    );
}
