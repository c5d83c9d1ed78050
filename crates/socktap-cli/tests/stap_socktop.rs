//! socktop under `socktap stap` (privileged): handlers counted in the
//! kernel against the same handlers run on every event, and SystemTap's
//! own socktop run unchanged through a `stap` link with each of its
//! options, over workloads whose bytes are known.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use socktap_conformance::privileged;

mod support;
use support::stap::{stap_link, text, tmp, Checked};

const WORKLOAD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/workload.py");

/// Turns counting in the kernel off, to compare.
const NO_COUNTS: &str = "SOCKTAP_STAP_NO_KERNEL_COUNTS";

/// Runs `stap -v ARGS` through the link, with counting in the kernel or
/// without; returns stdout and stderr.
fn stap_run(args: &[&str], counted: bool) -> (String, String) {
    let mut c = Command::new(stap_link());
    c.arg("-v").args(args);
    if counted {
        c.env_remove(NO_COUNTS);
    } else {
        c.env(NO_COUNTS, "1");
    }
    let o = c.output_checked();
    assert!(o.status.success(), "stap failed: {}", text(&o.stderr));
    (text(&o.stdout), text(&o.stderr))
}

/// socktop's handlers, written for this test: per process, protocol and
/// family, the successful sends and receives of one command.
const COUNTED: &str = r#"
global names, tx, rx, total
probe socket.send {
    if (!success) next
    if (execname() != @1) next
    names[pid()] = execname()
    tx[pid(), protocol, family] <<< size
    total[pid(), protocol, family] += size
}
probe socket.receive {
    if (!success) next
    if (execname() != @1) next
    names[pid()] = execname()
    rx[pid(), protocol, family] <<< size
    total[pid(), protocol, family] += size
}
probe end {
    foreach ([p, prot, fam] in total-)
        printf("%s %s %s tx %d/%d rx %d/%d avg %d total %d\n", names[p],
               sock_prot_num2str(prot), sock_fam_num2str(fam),
               @count(tx[p, prot, fam]), @sum(tx[p, prot, fam]),
               @count(rx[p, prot, fam]), @sum(rx[p, prot, fam]),
               @avg(tx[p, prot, fam]), total[p, prot, fam])
}
"#;

#[test]
fn counted_and_traced_handlers_print_the_same_figures() {
    if !privileged("stap counted in the kernel") {
        return;
    }
    let f = tmp("counted.stp");
    std::fs::write(&f, COUNTED).unwrap();
    let cmd = format!("python3 {WORKLOAD} stap-count");
    let script = f.to_str().unwrap();
    let args = ["-c", &cmd, script, "stap-count"];
    let (counted_out, counted_err) = stap_run(&args, true);
    let (traced_out, traced_err) = stap_run(&args, false);
    // The first way attaches nothing to trace; the second counts nothing.
    assert!(
        counted_err.contains("Pass 5: counted in the kernel: socket.send socket.receive by pid,family,protocol carrying execname; filter: comm stap-count; successes only")
            && counted_err.contains("starting run: probes none;"),
        "{counted_err}"
    );
    assert!(
        !traced_err.contains("counted in the kernel")
            && traced_err.contains("starting run: probes socket.send socket.receive;"),
        "{traced_err}"
    );
    // The workload's line (what it did), then the report: its sends of
    // 1000 and 500 bytes over TCP, 10, 20 and 30 over UDP, 77 over UNIX,
    // each received whole.
    let report = |out: &str| {
        out.split_once('\n')
            .expect("the workload's line")
            .1
            .to_string()
    };
    let want = "stap-count TCP INET tx 2/1500 rx 2/1500 avg 750 total 3000\n\
                stap-count IP LOCAL tx 1/77 rx 1/77 avg 77 total 154\n\
                stap-count UDP INET tx 3/60 rx 3/60 avg 20 total 120\n";
    assert_eq!(report(&counted_out), want);
    assert_eq!(report(&traced_out), want);
}

/// Sends 20 datagrams of 10, 20 … 200 bytes (2,100 in all), 30 ms apart.
const TRICKLE: &str = r#"
import ctypes, socket, time
ctypes.CDLL(None).prctl(15, b"stap-trickle", 0, 0, 0)
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
r.bind(("127.0.0.1", 0))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(1, 21):
    s.sendto(b"x" * (10 * i), r.getsockname())
    r.recv(1000)
    time.sleep(0.03)
"#;

#[test]
fn counts_deleted_every_interval_start_again_from_zero() {
    if !privileged("stap counted in the kernel, deleted each interval") {
        return;
    }
    let py = tmp("trickle.py");
    std::fs::write(&py, TRICKLE).unwrap();
    let script = r#"global tx
probe socket.send { if (!success) next; if (execname() != "stap-trickle") next; tx[protocol] <<< size }
probe timer.ms(100) { foreach (p in tx) printf("%d %d %d\n", p, @count(tx[p]), @sum(tx[p])); delete tx }
probe end { foreach (p in tx) printf("%d %d %d\n", p, @count(tx[p]), @sum(tx[p])) }"#;
    let cmd = format!("python3 {}", py.display());
    for counted in [true, false] {
        let (out, err) = stap_run(&["-c", &cmd, "-e", script], counted);
        assert_eq!(err.contains("counted in the kernel"), counted, "{err}");
        let rows: Vec<Vec<u64>> = out
            .lines()
            .map(|l| l.split(' ').map(|x| x.parse().unwrap()).collect())
            .collect();
        // Every interval reports what came since the last: UDP only, and
        // nothing counted twice or lost across the deletes.
        assert!(rows.len() >= 3, "counted {counted}: {out}");
        assert!(rows.iter().all(|r| r[0] == 17), "{out}");
        assert_eq!(rows.iter().map(|r| r[1]).sum::<u64>(), 20, "{out}");
        assert_eq!(rows.iter().map(|r| r[2]).sum::<u64>(), 2100, "{out}");
    }
}

// ---- SystemTap's own socktop, unchanged, through the `stap` link --------

/// Where Debian's systemtap-doc puts socktop (scripts/setup-debian.sh
/// installs it).
const SOCKTOP: &str = "/usr/share/systemtap/examples/network/socktop";

/// A workload whose figures socktop's columns show whole: every message a
/// multiple of 1 KiB. It names itself, says "ready", waits for a line on
/// stdin (so that socktop can be started with its pid, and attached
/// before any traffic), then sends and receives, each whole:
/// UDP over IPv4 1, 2 and 3 KiB, TCP 2 × 4 KiB, a UNIX stream pair 1 KiB,
/// UDP over IPv6 2 × 1 KiB, and a failed send (never counted). Given an
/// address, it also sends four 1 KiB datagrams to it through the veth of
/// `VETH` (no reply). Then it says "done".
const WORKLOAD_KB: &str = r#"
import ctypes, socket, sys
ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0)
print("ready", flush=True)
sys.stdin.readline()
urx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
urx.bind(("127.0.0.1", 0))
utx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for n in (1024, 2048, 3072):
    utx.sendto(b"u" * n, urx.getsockname())
    urx.recv(4096)
try:
    utx.send(b"x")
except OSError:
    pass
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.bind(("127.0.0.1", 0))
ls.listen()
c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
c.connect(ls.getsockname())
a, _ = ls.accept()
for _ in range(2):
    c.sendall(b"t" * 4096)
    a.recv(4096, socket.MSG_WAITALL)
x, y = socket.socketpair()
x.send(b"l" * 1024)
y.recv(1024)
vrx = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
vrx.bind(("::1", 0))
vtx = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
for _ in range(2):
    vtx.sendto(b"v" * 1024, vrx.getsockname())
    vrx.recv(4096)
if len(sys.argv) > 2:
    for _ in range(4):
        utx.sendto(b"d" * 1024, (sys.argv[2], 9))
print("done", flush=True)
"#;

/// A network namespace of the workload's own, with a veth pair whose
/// packets nothing else sends: stwl0 (10.213.7.1) sends to 10.213.7.2,
/// whose address is stwl1's (no ARP, no IPv6, so no other packets), and
/// stwl1 receives them (and drops them). Their ifindexes are far from the
/// host's, since socktap's device rows are keyed by ifindex.
const VETH: &str = r#"set -e
ip link set lo up
ip link add stwl0 address 02:00:00:00:00:01 type veth peer name stwl1 address 02:00:00:00:00:02
sysctl -qw net.ipv6.conf.stwl0.disable_ipv6=1 net.ipv6.conf.stwl1.disable_ipv6=1
ip addr add 10.213.7.1/24 dev stwl0
ip link set stwl0 up
ip link set stwl1 up
ip neigh add 10.213.7.2 lladdr 02:00:00:00:00:02 dev stwl0 nud permanent
exec python3 "$@"
"#;

/// How the workload runs.
#[derive(Clone, Copy, PartialEq)]
enum As {
    Root,
    /// As the user nobody (65534).
    Nobody,
    /// In its own network namespace with `VETH`'s devices.
    Netns,
}

struct Workload {
    child: std::process::Child,
    out: BufReader<std::process::ChildStdout>,
    pid: u32,
}

impl Workload {
    /// Starts the workload named `comm`, and waits until it is ready.
    fn start(comm: &str, how: As) -> Workload {
        let py = tmp("socktop-workload.py");
        std::fs::write(&py, WORKLOAD_KB).unwrap();
        let py = py.to_str().unwrap().to_string();
        let mut cmd = match how {
            As::Root => {
                let mut c = Command::new("python3");
                c.args([&py, comm]);
                c
            }
            As::Nobody => {
                let mut c = Command::new("setpriv");
                // Debian's python: one under root's home (pyenv) is not
                // nobody's to run.
                c.args([
                    "--reuid=65534",
                    "--regid=65534",
                    "--clear-groups",
                    "/usr/bin/python3",
                ])
                .args([&py, comm]);
                c
            }
            As::Netns => {
                let mut c = Command::new("unshare");
                c.args(["-n", "sh", "-c", VETH, "sh", &py, comm, "10.213.7.2"]);
                c
            }
        };
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("starts the workload");
        let pid = child.id();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line, "ready\n", "the workload did not start");
        Workload { child, out, pid }
    }

    /// Lets it go, and waits until it has done its traffic.
    fn go(&mut self) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(b"go\n").unwrap();
        let mut line = String::new();
        self.out.read_line(&mut line).unwrap();
        assert_eq!(line, "done\n", "the workload failed");
        assert!(self.child.wait().unwrap().success());
    }
}

/// What a socktop run printed: its reports, and how long it took.
struct Run {
    reports: Vec<Report>,
    elapsed: Duration,
}

/// One of socktop's reports: its process rows and device rows.
#[derive(Debug, Default)]
struct Report {
    processes: Vec<String>,
    devices: Vec<String>,
}

/// socktop's report (the text between its `=== date ===` header and its
/// closing line of `=`), checking the headers it prints.
fn reports(out: &str) -> Vec<Report> {
    let mut all = Vec::new();
    let mut lines = out.lines();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        assert!(line.starts_with("======================= "), "{out}");
        assert_eq!(
            lines.next(),
            Some("------------------------------- PROCESSES -------------------------------")
        );
        assert_eq!(
            lines.next(),
            Some("PID   UID     #SEND   #RECV SEND_KB RECV_KB PROT FAMILY   COMMAND        ")
        );
        let mut r = Report::default();
        let mut devices = false;
        while let Some(line) = lines.next() {
            if line == "=".repeat(73) {
                break;
            }
            if line == "-------------------------------- DEVICES --------------------------------" {
                assert_eq!(
                    lines.next(),
                    Some("DEV             #XMIT         #RECV         XMIT_KB         RECV_KB")
                );
                devices = true;
                continue;
            }
            if devices {
                r.devices.push(line.to_string());
            } else {
                r.processes.push(line.to_string());
            }
        }
        all.push(r);
    }
    all
}

/// Runs socktop with `opts` through a `stap` link first on PATH, counted
/// in the kernel or not; lets the workload go once the first report is
/// out (so the probes are attached and an interval has just begun), and
/// waits for socktop to end. A decoy goes at the same time: the same
/// traffic as root, under another name and pid, which the filters of
/// every test leave out.
fn socktop(opts: &[&str], wl: &mut Workload, counted: bool) -> Run {
    let mut decoy = Workload::start("stop-decoy", As::Root);
    assert!(
        std::path::Path::new(SOCKTOP).exists(),
        "{SOCKTOP} missing: install systemtap-doc (scripts/setup-debian.sh)"
    );
    let bin = stap_link().parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    // From the host's namespace, even for a workload in a namespace of its
    // own: the kernel names each device, whatever namespace it is in.
    let mut cmd = Command::new(SOCKTOP);
    cmd.args(opts).env("PATH", path);
    if counted {
        cmd.env_remove(NO_COUNTS);
    } else {
        cmd.env(NO_COUNTS, "1");
    }
    let started = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts socktop");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let deadline = started + Duration::from_secs(60);
    let mut out = String::new();
    let mut released = false;
    loop {
        let wait = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(line) => {
                out.push_str(&line);
                out.push('\n');
                if !released && line == "=".repeat(73) {
                    wl.go();
                    decoy.go();
                    released = true;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                panic!("socktop did not end within a minute:\n{out}");
            }
        }
    }
    let o = child.wait_with_output().unwrap();
    let elapsed = started.elapsed();
    assert!(o.status.success(), "socktop failed: {}", text(&o.stderr));
    assert_eq!(text(&o.stderr), "");
    assert!(released, "socktop printed no report:\n{out}");
    Run {
        reports: reports(&out),
        elapsed,
    }
}

/// A process row as socktop prints it.
fn row(
    pid: u32,
    uid: u32,
    counts: (u32, u32, u32, u32),
    prot: &str,
    fam: &str,
    comm: &str,
) -> String {
    let (send, recv, send_kb, recv_kb) = counts;
    format!("{pid:<5} {uid:<5} {send:>7} {recv:>7} {send_kb:>7} {recv_kb:>7} {prot:<4} {fam:<8} {comm:<15}")
}

/// The workload's rows, busiest first (socktop sorts by bytes sent and
/// received): TCP 16 KiB, UDP 12, UDP over IPv6 4, UNIX 2.
fn all_rows(pid: u32, uid: u32, comm: &str) -> Vec<String> {
    vec![
        row(pid, uid, (2, 2, 8, 8), "TCP", "INET", comm),
        row(pid, uid, (3, 3, 6, 6), "UDP", "INET", comm),
        row(pid, uid, (2, 2, 2, 2), "UDP", "INET6", comm),
        row(pid, uid, (1, 1, 1, 1), "IP", "LOCAL", comm),
    ]
}

/// The process rows of every report that are the workload's.
fn rows_of(run: &Run, pid: u32) -> Vec<String> {
    let prefix = format!("{pid:<5} ");
    run.reports
        .iter()
        .flat_map(|r| r.processes.iter())
        .filter(|l| l.starts_with(&prefix))
        .cloned()
        .collect()
}

/// Every process row of every report.
fn every_row(run: &Run) -> Vec<String> {
    run.reports
        .iter()
        .flat_map(|r| r.processes.iter())
        .cloned()
        .collect()
}

#[test]
fn socktop_by_name_interval_and_count_counted_or_not() {
    if !privileged("socktop -n -i -c") {
        return;
    }
    for counted in [true, false] {
        let comm = if counted {
            "stop-n-kern"
        } else {
            "stop-n-user"
        };
        let mut wl = Workload::start(comm, As::Root);
        let run = socktop(&["-n", comm, "-i", "1", "-c", "3"], &mut wl, counted);
        // -c 3: three reports; -i 1: a second apart (not socktop's 5).
        assert_eq!(run.reports.len(), 3, "counted {counted}");
        assert!(
            run.elapsed >= Duration::from_secs(3) && run.elapsed < Duration::from_secs(8),
            "{:?}",
            run.elapsed
        );
        // -n: the workload's rows only, all of them, in one report.
        assert_eq!(
            every_row(&run),
            all_rows(wl.pid, 0, comm),
            "counted {counted}"
        );
        assert!(run.reports[0].processes.is_empty());
    }
}

#[test]
fn socktop_top_n() {
    if !privileged("socktop -N") {
        return;
    }
    let mut wl = Workload::start("stop-top-n", As::Root);
    let run = socktop(
        &["-n", "stop-top-n", "-N", "2", "-i", "1", "-c", "2"],
        &mut wl,
        true,
    );
    assert_eq!(every_row(&run), all_rows(wl.pid, 0, "stop-top-n")[..2]);
}

#[test]
fn socktop_by_pid_protocol_family_and_type() {
    if !privileged("socktop -p -P -f -t") {
        return;
    }
    let comm = "stop-pid";
    // Each filter with -p, so that every row printed is the workload's;
    // -P and -f repeated take either value.
    for (filter, keep) in [
        (&["-P", "TCP", "-P", "UDP"][..], &[0, 1, 2][..]),
        (&["-f", "INET6", "-f", "LOCAL"], &[2, 3]),
        (&["-t", "DGRAM"], &[1, 2]),
        (&[], &[0, 1, 2, 3]),
    ] {
        let mut wl = Workload::start(comm, As::Root);
        let pid = wl.pid.to_string();
        let mut opts = vec!["-p", &pid, "-i", "1", "-c", "2"];
        opts.extend_from_slice(filter);
        let run = socktop(&opts, &mut wl, true);
        let all = all_rows(wl.pid, 0, comm);
        let want: Vec<String> = keep.iter().map(|&i| all[i].clone()).collect();
        assert_eq!(every_row(&run), want, "{filter:?}");
    }
}

#[test]
fn socktop_by_user() {
    if !privileged("socktop -u") {
        return;
    }
    let comm = "stop-nobody";
    let mut wl = Workload::start(comm, As::Nobody);
    let run = socktop(&["-u", "nobody", "-i", "1", "-c", "2"], &mut wl, true);
    assert_eq!(rows_of(&run, wl.pid), all_rows(wl.pid, 65534, comm));
    // Nobody else's rows.
    for r in every_row(&run) {
        assert_eq!(r.split_whitespace().nth(1), Some("65534"), "{r}");
    }
}

#[test]
fn socktop_devices() {
    if !privileged("socktop -d") {
        return;
    }
    let comm = "stop-dev";
    let mut wl = Workload::start(comm, As::Netns);
    let run = socktop(&["-d", "-n", comm, "-i", "1", "-c", "2"], &mut wl, true);
    // The four datagrams to the veth are UDP sends too.
    let mut want = all_rows(wl.pid, 0, comm);
    want[1] = row(wl.pid, 0, (7, 3, 10, 6), "UDP", "INET", comm);
    assert_eq!(every_row(&run), want);
    // stwl0 sent the four datagrams (1 KiB with UDP, IP and Ethernet
    // headers: 4 KiB in all), stwl1 received them; the two are tied, so
    // in either order. The veths' ifindexes in their new namespace are
    // those of the host's first devices, so a device named by its ifindex
    // in socktap's own namespace would show under a host device's name.
    // (lo is left out: socktop keys by name, so the workload's lo adds
    // into the host's, as under SystemTap.)
    let mut devs: Vec<String> = run
        .reports
        .iter()
        .flat_map(|r| r.devices.iter())
        .filter(|l| l.starts_with("stwl"))
        .cloned()
        .collect();
    devs.sort();
    assert_eq!(
        devs,
        [
            format!("{:<7} {:>13} {:>13} {:>15} {:>15}", "stwl0", 4, 0, 4, 0),
            format!("{:<7} {:>13} {:>13} {:>15} {:>15}", "stwl1", 0, 4, 0, 4),
        ]
    );
}

#[test]
fn socktop_dry_run() {
    if !privileged("socktop -D") {
        return;
    }
    let bin = stap_link().parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    // -D: stap -p4 loads and verifies the programs, runs nothing, prints
    // nothing and exits 0, with every filter and the devices.
    let o = Command::new(SOCKTOP)
        .args([
            "-D", "-d", "-n", "x", "-p", "1", "-P", "TCP", "-f", "INET", "-t", "STREAM", "-u",
            "root",
        ])
        .env("PATH", &path)
        .output_checked();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "");
    assert_eq!(text(&o.stderr), "");
    // A bad protocol is socktop's begin saying so, then exit().
    let o = Command::new(SOCKTOP)
        .args(["-P", "BOGUS"])
        .env("PATH", &path)
        .output_checked();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "ERROR: Unknown protocol: BOGUS\n");
}
