//! Containers on every event, with a real Podman container (runc, the
//! cgroupfs manager, as Podman runs on these machines) and Podman's own
//! Docker-compatible API: its events carry its id and name, `--container`
//! and `--cgroup` select exactly its traffic, and stat, top and serve
//! group it. The container's traffic is busybox `nc` sending a known
//! number of bytes to a listener of the test's, on the host's network.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

mod support;
use support::{finishes_ok, gettid, privileged_with, signal, traffic, wait_banner, BIN};

/// Bytes each `nc` in the container sends.
const PAYLOAD: &str = "12345";
/// How many times the container runs it.
const SENDS: usize = 3;

fn run(mut cmd: impl std::borrow::BorrowMut<Command>) -> Output {
    let cmd = cmd.borrow_mut();
    let o = cmd.output().expect("runs");
    assert!(
        o.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn podman(args: &[&str]) -> Command {
    let mut cmd = Command::new("podman");
    cmd.args(["--runtime", "runc", "--cgroup-manager", "cgroupfs"])
        .args(args);
    cmd
}

/// A scratch folder of this test process.
fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("socktap-containers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("makes the scratch folder");
    dir
}

/// An image of busybox alone, imported from a folder: no registry is
/// reachable here. Made once per test process.
fn image() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let root = scratch().join("rootfs");
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::copy("/bin/busybox", root.join("bin/busybox"))
            .expect("busybox-static is installed (scripts/setup-debian.sh)");
        for tool in ["sh", "nc", "sleep", "printf"] {
            let _ = std::os::unix::fs::symlink("busybox", root.join("bin").join(tool));
        }
        let tar = scratch().join("rootfs.tar");
        run(Command::new("tar")
            .arg("-C")
            .arg(&root)
            .arg("-cf")
            .arg(&tar)
            .arg("."));
        let name = "localhost/socktap-test-busybox:1".to_string();
        run(podman(&["import"]).arg(&tar).arg(&name));
        name
    })
}

/// A running container that sleeps until `exec` is asked to make traffic;
/// removed when dropped.
struct Container {
    name: String,
    id: String,
}

impl Container {
    fn start(tag: &str) -> Container {
        let name = format!("socktap-test-{tag}-{}", std::process::id());
        let o = run(podman(&["run", "-d", "--name", &name])
            .args(["--network", "host"])
            // Podman asks for rlimits above what may be raised here: pin them.
            .args([
                "--ulimit",
                "nofile=1024:1024",
                "--ulimit",
                "nproc=1024:1024",
            ])
            .arg(image())
            .args(["sleep", "600"]));
        let id = String::from_utf8_lossy(&o.stdout).trim().to_string();
        assert_eq!(id.len(), 64, "podman prints the full id: {id}");
        Container { name, id }
    }

    /// `nc` in the container sends PAYLOAD to the port SENDS times.
    fn send(&self, port: u16) {
        let rounds = ["x"; SENDS].join(" ");
        let script =
            format!("for i in {rounds}; do printf {PAYLOAD} | nc 127.0.0.1 {port} || exit 1; done");
        run(podman(&["exec", &self.name, "sh", "-c", &script]));
    }

    /// Its cgroup, as a path from the cgroup v2 root.
    fn cgroup(&self) -> String {
        let o = run(podman(&[
            "inspect",
            "--format",
            "{{.State.Pid}}",
            &self.name,
        ]));
        let pid = String::from_utf8_lossy(&o.stdout).trim().to_string();
        let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        own.lines()
            .find_map(|l| l.strip_prefix("0::"))
            .expect("a cgroup v2 line")
            .to_string()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = podman(&["rm", "--force", "--time", "0", &self.name]).output();
    }
}

/// Podman's Docker-compatible API on a socket of the test's, stopped when
/// dropped.
struct Api {
    child: std::process::Child,
    socket: PathBuf,
}

impl Api {
    fn start() -> Api {
        let socket = scratch().join("podman.sock");
        let _ = std::fs::remove_file(&socket);
        let child = podman(&["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starts podman system service");
        let start = Instant::now();
        while !socket.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the API socket did not appear"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Api { child, socket }
    }

    fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP listener that takes every connection and reads it to the end.
fn sink() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let mut conn = conn;
            let _ = std::io::copy(&mut conn, &mut std::io::sink());
        }
    });
    port
}

/// Runs socktap with the API at `docker_host`; `during` makes the traffic
/// once it is attached; SIGINT then ends it. Its stdout and stderr.
fn socktap(args: &[&str], docker_host: &str, during: impl FnOnce()) -> (String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .env("DOCKER_HOST", docker_host)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts socktap");
    let (err, banner) = wait_banner(&mut child);
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    during();
    // Let the last events reach the reader before the end.
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, libc::SIGINT);
    let (_, rest) = finishes_ok(&mut child, err, Duration::from_secs(20));
    (reader.join().unwrap(), banner + &rest)
}

fn records(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn events_of(out: &str) -> Vec<Value> {
    records(out)
        .into_iter()
        .filter(|r| r.get("record").is_none())
        .collect()
}

/// Bytes of successful socket.send events.
fn sent(events: &[&Value]) -> (usize, i64) {
    let sends: Vec<&&Value> = events
        .iter()
        .filter(|e| e["name"] == "socket.send" && e["success"] == 1)
        .collect();
    (
        sends.len(),
        sends.iter().map(|e| e["size"].as_i64().unwrap()).sum(),
    )
}

fn ready(what: &str) -> bool {
    privileged_with(what, "podman")
}

#[test]
fn a_containers_events_carry_its_id_and_name_and_the_filter_takes_only_them() {
    if !ready("containers: trace") {
        return;
    }
    let api = Api::start();
    let c = Container::start("trace");
    let port = sink();
    let (out, err) = socktap(
        &["trace", "--json", "--container", &c.name],
        &api.host(),
        || {
            // The host's own traffic, which the filter must leave out.
            traffic(5);
            c.send(port);
            traffic(5);
        },
    );
    let events = events_of(&out);
    assert!(!events.is_empty(), "no events: {err}");
    let cgroup = c.cgroup();
    for e in &events {
        assert_eq!(e["container_id"], c.id.as_str(), "{e}");
        assert_eq!(e["container_name"], c.name.as_str(), "{e}");
        assert_eq!(e["container_runtime"], "podman", "{e}");
        assert_eq!(e["cgroup_path"], cgroup.as_str(), "{e}");
        assert!(
            e.get("pod").is_none() && e.get("namespace").is_none(),
            "{e}"
        );
    }
    let ours: Vec<&Value> = events.iter().filter(|e| e["comm"] == "nc").collect();
    assert_eq!(
        sent(&ours),
        (SENDS, (SENDS * PAYLOAD.len()) as i64),
        "{out}"
    );
    // Nothing of the host's: the test's own traffic is left out.
    let me = std::process::id();
    assert!(events.iter().all(|e| e["pid"] != me), "{out}");
}

#[test]
fn a_cgroup_filter_takes_the_cgroup_and_below_and_host_events_have_no_container() {
    if !ready("containers: cgroup") {
        return;
    }
    let api = Api::start();
    let c = Container::start("cgroup");
    let port = sink();
    // The parent of the container's cgroup: everything below it counts.
    // Other tests' containers are below it too: the port tells ours apart.
    let cgroup = c.cgroup();
    let parent = Path::new(&cgroup).parent().unwrap().display().to_string();
    let port_arg = port.to_string();
    let (out, _) = socktap(
        &["trace", "--json", "--cgroup", &parent, "--port", &port_arg],
        &api.host(),
        || c.send(port),
    );
    let events = events_of(&out);
    let ours: Vec<&Value> = events.iter().collect();
    assert_eq!(
        sent(&ours),
        (SENDS, (SENDS * PAYLOAD.len()) as i64),
        "{out}"
    );
    assert!(
        events.iter().all(|e| e["container_id"] == c.id.as_str()),
        "{out}"
    );

    // Without a filter the host's own events are there, with their cgroup
    // path and no container fields (absent, not empty).
    let me = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let my_cgroup = me
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap()
        .to_string();
    // This thread's own traffic: the other tests' threads share the pid.
    let (out, _) = socktap(
        &["trace", "--json", "--tid", &gettid().to_string()],
        &api.host(),
        || traffic(3),
    );
    let events = events_of(&out);
    assert_eq!(events.len(), 6, "{out}");
    for e in &events {
        assert_eq!(e["cgroup_path"], my_cgroup.as_str(), "{e}");
        for field in [
            "container_id",
            "container_name",
            "container_runtime",
            "pod",
            "namespace",
        ] {
            assert!(e.get(field).is_none(), "{field}: {e}");
        }
    }
}

#[test]
fn stat_top_and_serve_group_by_container() {
    if !ready("containers: stat, top, serve") {
        return;
    }
    let api = Api::start();
    let c = Container::start("group");
    let port = sink();
    let bytes = (SENDS * PAYLOAD.len()) as u64;

    let (out, err) = socktap(
        &[
            "stat",
            "--json",
            "--by",
            "probe,container,comm",
            "--no-hist",
            "--container",
            &c.name,
        ],
        &api.host(),
        || c.send(port),
    );
    let report = records(&out)
        .pop()
        .unwrap_or_else(|| panic!("no report: {err}"));
    let rows = report["rows"].as_array().unwrap();
    let send = rows
        .iter()
        .find(|r| r["probe"] == "socket.send")
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(send["container"], c.name.as_str(), "{report}");
    assert_eq!(
        (send["count"].as_u64(), send["bytes"].as_u64()),
        (Some(SENDS as u64), Some(bytes))
    );

    // Host traffic lands in a row whose container is null.
    let me = std::process::id().to_string();
    let (out, _) = socktap(
        &[
            "stat",
            "--json",
            "--by",
            "container",
            "--no-hist",
            "-p",
            &me,
        ],
        &api.host(),
        || traffic(4),
    );
    let report = records(&out).pop().unwrap();
    assert_eq!(report["rows"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["rows"][0]["container"], Value::Null, "{report}");
    assert_eq!(report["rows"][0]["bytes"], 4 * 16 * 2, "{report}");

    // top -C: nc's rows name the container (three 1 s reports).
    let (out, err) = {
        let mut child = Command::new(BIN)
            .args(["top", "--json", "-C", "-i", "1", "-c", "3"])
            .args(["--container", &c.id[..12]])
            .env("DOCKER_HOST", api.host())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (err, _) = wait_banner(&mut child);
        c.send(port);
        let mut stdout = child.stdout.take().unwrap();
        let (_, rest) = finishes_ok(&mut child, err, Duration::from_secs(20));
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        (s, rest)
    };
    let (mut sends, mut sent_bytes) = (0, 0);
    for report in records(&out) {
        for p in report["processes"].as_array().unwrap() {
            assert_eq!(p["container"], c.name.as_str(), "{p}");
            sends += p["sends"].as_u64().unwrap();
            sent_bytes += p["send_bytes"].as_u64().unwrap();
        }
    }
    assert_eq!((sends, sent_bytes), (SENDS as u64, bytes), "{out}\n{err}");

    // serve --labels container,comm: the container's series.
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--labels",
            "container,comm",
            "--container",
            &c.name,
        ])
        .env("DOCKER_HOST", api.host())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (err, banner) = wait_banner(&mut child);
    let addr = banner
        .split("http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap_or_else(|| panic!("{banner}"))
        .to_string();
    c.send(port);
    let want = format!(
        "socktap_send_bytes_total{{container=\"{}\",comm=\"nc\"}} {bytes}",
        c.name
    );
    // The exporter reads the kernel's rows on its own schedule.
    let start = Instant::now();
    let body = loop {
        let o = run(Command::new("curl").args(["-s", &format!("http://{addr}/metrics")]));
        let body = String::from_utf8_lossy(&o.stdout).into_owned();
        if body.contains(&want) || start.elapsed() > Duration::from_secs(10) {
            break body;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    signal(&child, libc::SIGINT);
    finishes_ok(&mut child, err, Duration::from_secs(20));
    assert!(body.contains(&want), "{want}\n{body}");
}

#[test]
fn an_unreachable_api_is_reported_once_and_tracing_goes_on_with_ids() {
    if !ready("containers: no API") {
        return;
    }
    let c = Container::start("noapi");
    let port = sink();
    let gone = format!("unix://{}", scratch().join("no-such.sock").display());
    let port_arg = port.to_string();
    let (out, err) = socktap(&["trace", "--json", "--port", &port_arg], &gone, || {
        c.send(port)
    });
    let events = events_of(&out);
    let ours: Vec<&Value> = events
        .iter()
        .filter(|e| e["container_id"] == c.id.as_str())
        .collect();
    assert_eq!(
        sent(&ours),
        (SENDS, (SENDS * PAYLOAD.len()) as i64),
        "{out}"
    );
    assert!(
        ours.iter().all(|e| e.get("container_name").is_none()),
        "{out}"
    );
    assert_eq!(
        err.matches("did not answer").count(),
        1,
        "one warning: {err}"
    );
}
