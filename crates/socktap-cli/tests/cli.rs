//! The socktap binary, end to end: bad input, privileges, and real
//! workloads traced with JSON output and checked against independent
//! accounts (the workload's own, and strace's).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_socktap");
const WORKLOAD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/workload.py");

fn privileged(test: &str) -> bool {
    if socktap::can_trace() {
        return true;
    }
    if std::env::var("SOCKTAP_REQUIRE_BPF").as_deref() == Ok("1") {
        panic!("{test}: SOCKTAP_REQUIRE_BPF=1 but this process cannot load BPF");
    }
    eprintln!("skipping {test}: needs CAP_BPF and CAP_PERFMON (run as root)");
    false
}

fn socktap(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("runs socktap")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn unknown_probe_is_a_usage_error_naming_the_nearest() {
    let o = socktap(&["trace", "socket.sendmgs"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("unknown probe 'socket.sendmgs'"), "{e}");
    assert!(e.contains("socket.sendmsg"), "{e}");
}

#[test]
fn unknown_family_and_protocol_name_the_flag_and_the_nearest() {
    let o = socktap(&["trace", "-f", "INTE"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("-f/--family") && e.contains("'INTE'") && e.contains("INET"),
        "{e}"
    );

    let o = socktap(&["trace", "-P", "TPC"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("-P/--protocol") && e.contains("TCP"), "{e}");

    let o = socktap(&["trace", "-t", "STRAEM"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("STREAM"));

    let o = socktap(&["trace", "--count", "x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--count"));
}

#[test]
fn list_shows_every_probe_with_its_coverage() {
    let o = socktap(&["list"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    for p in socktap::Probe::ALL {
        let line = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(p.name()))
            .unwrap_or_else(|| panic!("{} missing from list:\n{out}", p.name()));
        assert!(
            line.contains(" full")
                || line.contains(" partial: ")
                || line.contains(" unavailable: "),
            "{line}"
        );
    }
    let o = socktap(&["list", "-v", "socket.create*"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("socket.create.return") && out.contains("hooks:") && out.contains("requester")
    );
    assert!(!out.contains("socket.close"));
    let o = socktap(&["list", "socket.nothing"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn without_privileges_the_error_names_cap_bpf_and_cap_perfmon() {
    // Needs root to drop to another user; as non-root this is the case itself.
    let mut cmd = if socktap::can_trace() {
        // A copy of the binary any user can execute.
        let dir = std::env::temp_dir().join(format!("socktap-nopriv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bin = dir.join("socktap");
        std::fs::copy(BIN, &bin).unwrap();
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ]);
        c.arg(&bin);
        c
    } else {
        Command::new(BIN)
    };
    let o = cmd.args(["trace", "-c", "1"]).output().expect("runs");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("CAP_BPF") && e.contains("CAP_PERFMON"), "{e}");
}

/// socktap running in the background, ready once it said "Tracing".
struct Running {
    child: Child,
    stderr: std::thread::JoinHandle<String>,
}

fn start(args: &[&str]) -> Running {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns socktap");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    assert!(
        first.starts_with("Tracing"),
        "socktap did not start: {first}"
    );
    let stderr = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = err.read_to_string(&mut rest);
        first + &rest
    });
    Running { child, stderr }
}

impl Running {
    /// Interrupts socktap like Ctrl-C and returns (stdout, stderr).
    fn stop(mut self) -> (String, String) {
        // Let the reader's timer pick up the last records.
        std::thread::sleep(Duration::from_millis(100));
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "socktap exited with {status}");
        (out, self.stderr.join().unwrap())
    }
}

fn records(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

fn run_workload(comm: &str, under_strace: Option<&std::path::Path>) -> Value {
    let mut cmd = match under_strace {
        Some(log) => {
            let mut c = Command::new("strace");
            c.args(["-f", "-yy", "-qq", "-o"]).arg(log).args([
                "-e",
                "trace=sendto,recvfrom,sendmsg,recvmsg,write,read,writev,readv",
                "python3",
            ]);
            c
        }
        None => Command::new("python3"),
    };
    let o = cmd
        .arg(WORKLOAD)
        .arg(comm)
        .output()
        .expect("runs the workload");
    assert!(o.status.success(), "workload failed: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).expect("workload prints JSON")
}

#[test]
fn json_trace_of_a_python_workload_shows_exactly_what_it_did() {
    if !privileged("python workload") {
        return;
    }
    let comm = "stwork-json";
    let t = start(&[
        "trace",
        "--json",
        "-n",
        comm,
        "socket.send",
        "socket.receive",
        "socket.create.return",
        "socket.close",
    ]);
    let did = run_workload(comm, None);
    let (out, err) = t.stop();
    let recs = records(&out);

    let summary = recs.last().expect("a summary record");
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["lost"], 0);
    assert!(err.contains(" 0 lost"), "{err}");
    let events: Vec<&Value> = recs.iter().filter(|r| r.get("name").is_some()).collect();
    assert_eq!(summary["events"].as_u64(), Some(events.len() as u64));

    let pairs = |name: &str| -> Vec<Value> {
        events
            .iter()
            .filter(|e| e["name"] == name)
            .map(|e| serde_json::json!([e["probe"], e["size"]]))
            .collect()
    };
    assert_eq!(Value::Array(pairs("socket.send")), did["send"]);
    assert_eq!(Value::Array(pairs("socket.receive")), did["receive"]);
    let creates: Vec<&&Value> = events
        .iter()
        .filter(|e| e["name"] == "socket.create.return")
        .collect();
    assert_eq!(creates.len() as u64, did["created"].as_u64().unwrap());
    assert!(creates
        .iter()
        .all(|e| e["success"] == 1 && e["err"] == 0 && e["requester"] == 0));
    let closes = events
        .iter()
        .filter(|e| e["name"] == "socket.close")
        .count();
    assert_eq!(closes as u64, did["closed"].as_u64().unwrap());

    // Every event is the workload's, with its family and protocol named.
    let pid = events[0]["pid"].clone();
    for e in &events {
        assert_eq!(e["comm"], comm);
        assert_eq!(e["pid"], pid);
        assert!(e["time"].as_str().unwrap().ends_with('Z'));
    }
    let tcp_send = events
        .iter()
        .find(|e| e["probe"] == "socket.aio_write.return")
        .unwrap();
    assert_eq!(tcp_send["family_name"], "INET");
    assert_eq!(tcp_send["protocol_name"], "TCP");
    assert_eq!(tcp_send["type_name"], "STREAM");
    assert_eq!(tcp_send["state_name"], "CONNECTED");
    assert_eq!(tcp_send["local_addr"], "127.0.0.1");
    assert_eq!(tcp_send["success"], 1);
}

/// Sums strace's account of bytes moved on sockets by the workload.
fn strace_socket_bytes(log: &std::path::Path) -> (u64, u64, u64, u64) {
    let text = std::fs::read_to_string(log).unwrap();
    let (mut sends, mut sent, mut recvs, mut got) = (0, 0, 0, 0);
    for line in text.lines() {
        // e.g. `123 sendto(3<UDP:[127.0.0.1:5->127.0.0.1:6]>, "a"..., 10, 0, NULL, 0) = 10`
        let Some((_, call)) = line.split_once(' ') else {
            continue;
        };
        let Some((name, rest)) = call.split_once('(') else {
            continue;
        };
        let is_socket = ["<TCP", "<UDP", "<UNIX", "<NETLINK"]
            .iter()
            .any(|t| rest.split(',').next().is_some_and(|fd| fd.contains(t)));
        let Some(ret) = line
            .rsplit_once(" = ")
            .and_then(|(_, r)| r.split(' ').next()?.parse::<i64>().ok())
        else {
            continue;
        };
        if !is_socket || ret < 0 {
            continue;
        }
        match name {
            "sendto" | "sendmsg" | "write" | "writev" => {
                sends += 1;
                sent += ret as u64;
            }
            "recvfrom" | "recvmsg" | "read" | "readv" => {
                recvs += 1;
                got += ret as u64;
            }
            _ => {}
        }
    }
    (sends, sent, recvs, got)
}

#[test]
fn bytes_and_messages_agree_with_strace() {
    if !privileged("strace oracle") {
        return;
    }
    if Command::new("strace").arg("-V").output().is_err() {
        panic!("strace is needed for this test (apt-get install strace)");
    }
    let comm = "stwork-strace";
    let t = start(&["trace", "--json", "-n", comm]);
    let log = std::env::temp_dir().join(format!("socktap-strace-{}.log", std::process::id()));
    run_workload(comm, Some(&log));
    let (out, _) = t.stop();
    let (sends, sent, recvs, got) = strace_socket_bytes(&log);
    let _ = std::fs::remove_file(&log);
    let recs = records(&out);
    let sum = |name: &str| -> (u64, u64) {
        let ev: Vec<&Value> = recs.iter().filter(|r| r["name"] == name).collect();
        (
            ev.len() as u64,
            ev.iter().map(|e| e["size"].as_u64().unwrap()).sum(),
        )
    };
    assert!(sends > 0 && recvs > 0, "strace saw nothing");
    assert_eq!(sum("socket.send"), (sends, sent));
    assert_eq!(sum("socket.receive"), (recvs, got));
}

#[test]
fn count_stops_and_a_closed_pipe_is_a_clean_exit() {
    if !privileged("count and pipe") {
        return;
    }
    let comm = "stwork-count";
    let t = Instant::now();
    let mut child = Command::new(BIN)
        .args(["trace", "--json", "-c", "3", "-n", comm])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    run_workload(comm, None);
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    let recs = records(&String::from_utf8_lossy(&o.stdout));
    assert_eq!(recs.iter().filter(|r| r.get("name").is_some()).count(), 3);
    assert!(t.elapsed() < Duration::from_secs(20));

    // A reader that goes away after the first line: socktap ends cleanly.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("'{BIN}' trace -n {comm}-p | head -n 1"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    run_workload(&format!("{comm}-p"), None);
    let status = child.wait().unwrap();
    assert!(status.success());
}
