//! socktop's kind of script under `socktap stap` (privileged): handlers
//! counted in the kernel against the same handlers run on every event,
//! over workloads whose bytes are known.

use std::process::Command;

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
        counted_err.contains("Pass 5: counted in the kernel: socket.send socket.receive by pid,execname,family,protocol; filter: comm stap-count; successes only")
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
