//! What the CLI's test files share: starting socktap and waiting until its
//! programs are attached, loopback traffic from the test's own thread, and
//! signals.
#![allow(dead_code)] // each test file uses its own part

use std::io::Read;
use std::net::UdpSocket;
use std::process::{Child, ChildStderr, Command, Stdio};

use serde_json::Value;

pub mod serve;
pub mod stap;

pub const BIN: &str = env!("CARGO_BIN_EXE_socktap");
const WORKLOAD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/workload.py");

/// Waits for the "Tracing …" banner on the child's stderr, so the programs
/// are attached before traffic starts; returns the rest of stderr.
pub fn wait_attached(child: &mut Child) -> ChildStderr {
    wait_banner(child).0
}

/// [`wait_attached`], also returning the banner itself (serve's says
/// where it listens).
pub fn wait_banner(child: &mut Child) -> (ChildStderr, String) {
    let mut err = child.stderr.take().expect("stderr piped");
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&seen).contains("Ctrl-C to end.") {
        assert_eq!(
            err.read(&mut byte).expect("reads stderr"),
            1,
            "socktap ended early: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.push(byte[0]);
    }
    (err, String::from_utf8_lossy(&seen).into_owned())
}

/// Starts socktap with stdout and stderr piped, and waits until attached.
pub fn start_attached(args: &[&str]) -> (Child, ChildStderr) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts socktap");
    let err = wait_attached(&mut child);
    (child, err)
}

/// `n` UDP datagrams of 16 bytes, sent and received by this thread.
pub fn traffic(n: usize) {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut buf = [0u8; 64];
    for _ in 0..n {
        tx.send_to(&[3; 16], rx.local_addr().unwrap()).unwrap();
        rx.recv(&mut buf).unwrap();
    }
}

pub fn signal(child: &Child, sig: i32) {
    // SAFETY: kill with a pid of our own child and a signal number.
    unsafe { libc::kill(child.id() as i32, sig) };
}

pub fn gettid() -> u32 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::gettid() as u32 }
}

/// Runs tests/workload.py as `comm` (under strace, writing `under_strace`,
/// if given) and returns its own account of what it did.
pub fn run_workload(comm: &str, under_strace: Option<&std::path::Path>) -> Value {
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
    assert!(
        o.status.success(),
        "workload failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("workload prints JSON")
}

/// Known per-process figures of the workload, from its own account.
pub fn workload_totals(did: &Value) -> (u64, u64, u64, u64) {
    let sum = |k: &str| -> (u64, u64) {
        let v = did[k].as_array().unwrap();
        (
            v.len() as u64,
            v.iter().map(|p| p[1].as_u64().unwrap()).sum(),
        )
    };
    let (s, sb) = sum("send");
    let (r, rb) = sum("receive");
    (s, sb, r, rb)
}

/// Like [`socktap_conformance::privileged`], for a test that also needs
/// `tool`: where the test can run, a missing `tool` is a failure, not a
/// reason to skip.
pub fn privileged_with(what: &str, tool: &str) -> bool {
    if !socktap_conformance::privileged(what) {
        return false;
    }
    if Command::new(tool).arg("--version").output().is_err() {
        panic!("{tool} is needed for this test (scripts/setup-debian.sh installs it)");
    }
    true
}

/// Everything left on a reader (a child's stderr), as text.
pub fn read_all(mut r: impl Read) -> String {
    let mut s = String::new();
    r.read_to_string(&mut s).expect("reads");
    s
}

/// Waits for the child to exit, up to `limit` (killed and a failure after
/// that); its status and how long it took.
pub fn exits_within(
    child: &mut Child,
    limit: std::time::Duration,
) -> (std::process::ExitStatus, std::time::Duration) {
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("waits") {
            return (status, start.elapsed());
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("socktap did not exit within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// The child exits successfully within `limit`: how long it took, and the
/// rest of its stderr.
pub fn finishes_ok(
    child: &mut Child,
    err: impl Read,
    limit: std::time::Duration,
) -> (std::time::Duration, String) {
    let (status, took) = exits_within(child, limit);
    assert!(status.success(), "{status:?}");
    (took, read_all(err))
}

/// `n` UDP round trips of 16 bytes from a thread of this process named
/// `comm`.
pub fn traffic_as(comm: &str, n: usize) {
    Worker::spawn(comm).run(move || traffic(n));
}

/// A job for a [`Worker`].
type Job = Box<dyn FnOnce() + Send>;

/// A thread of this process, named as the test says, that runs jobs on
/// request: its tid is known before socktap starts, so that a test can
/// filter on it, and everything it does is the test's own doing.
pub struct Worker {
    pub tid: u32,
    jobs: Option<std::sync::mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    pub fn spawn(comm: &str) -> Worker {
        let name = std::ffi::CString::new(comm).expect("a command name");
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            // SAFETY: PR_SET_NAME takes a NUL-terminated string of at most
            // 16 bytes (the kernel cuts longer ones), and names only this thread.
            unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) };
            let _ = tid_tx.send(gettid());
            for job in queue {
                job();
            }
        });
        let tid = tid_rx.recv().expect("the worker starts");
        Worker {
            tid,
            jobs: Some(jobs),
            thread: Some(thread),
        }
    }

    /// Runs `f` on the worker's thread and returns what it returned.
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        self.jobs
            .as_ref()
            .expect("the worker is running")
            .send(job)
            .expect("the worker takes jobs");
        rx.recv()
            .expect("the worker's job finished (it panicked if not)")
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

const UDP_ROUNDS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/udp_rounds.py");

/// tests/udp_rounds.py: a process of its own named `comm` that makes
/// `rounds` UDP round trips of `size` bytes when let go, and then stays
/// until dropped (its pid stays its own).
pub struct Rounds {
    pub child: Child,
    pub rounds: u64,
    pub size: u64,
}

impl Rounds {
    /// Started and waiting for [`Rounds::go`]: its pid can be given to
    /// socktap before it sends anything.
    pub fn held(comm: &str, rounds: u64, size: u64) -> Rounds {
        Self::spawn(comm, rounds, size, true)
    }

    /// Started, and its traffic done when this returns.
    pub fn done(comm: &str, rounds: u64, size: u64) -> Rounds {
        let mut r = Self::spawn(comm, rounds, size, false);
        r.wait_done();
        r
    }

    fn spawn(comm: &str, rounds: u64, size: u64, hold: bool) -> Rounds {
        let mut cmd = Command::new("python3");
        cmd.arg(UDP_ROUNDS)
            .args([comm, &rounds.to_string(), &size.to_string()]);
        if hold {
            cmd.arg("--hold");
        }
        let child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("starts python3");
        Rounds {
            child,
            rounds,
            size,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Lets a held process go, and waits until its traffic is done.
    pub fn go(&mut self) {
        use std::io::Write;
        let stdin = self.child.stdin.as_mut().expect("stdin piped");
        stdin.write_all(b"go\n").expect("lets it go");
        stdin.flush().expect("lets it go");
        self.wait_done();
    }

    fn wait_done(&mut self) {
        let mut out = self.child.stdout.take().expect("stdout piped");
        let mut line = [0u8; 5];
        out.read_exact(&mut line).expect("udp_rounds.py says done");
        assert_eq!(&line, b"done\n");
    }
}

impl Drop for Rounds {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// Runs socktap with `args` until `work` is done, then interrupts it like
/// Ctrl-C; it must exit successfully. Returns (stdout, stderr), the banner
/// included.
pub fn run_around(args: &[&str], work: impl FnOnce()) -> (String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts socktap");
    let (err, banner) = wait_banner(&mut child);
    let mut out = child.stdout.take().expect("stdout piped");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).expect("reads stdout");
        s
    });
    let err = std::thread::spawn(move || read_all(err));
    work();
    signal(&child, libc::SIGINT);
    let (status, _) = exits_within(&mut child, std::time::Duration::from_secs(30));
    let (out, err) = (reader.join().unwrap(), banner + &err.join().unwrap());
    assert!(status.success(), "{status:?}: {err}");
    (out, err)
}

/// The JSON lines of an output.
pub fn json_lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// The events among JSON records (records that are not events have a
/// `record` field).
pub fn events(out: &str) -> Vec<Value> {
    json_lines(out)
        .into_iter()
        .filter(|r| r.get("record").is_none())
        .collect()
}
