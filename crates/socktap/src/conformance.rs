//! The conformance suite: real socket operations, each checked against the
//! exact events the tapset contract says it must produce.
//!
//! Every case sets up its sockets, starts a [`Tracer`] filtered to the
//! calling thread, performs one operation, and compares what the kernel
//! reported with the expectation: probe path, size, success, family, type,
//! protocol, pid and tid. Sizes are checked against the syscall's own
//! return value, so the kernel's answer is the oracle.
//!
//! `socktap conformance` prints the table for the running kernel; the
//! integration tests run the same cases.

use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use crate::probe::{Path, Probe};
use crate::{Backend, Event, Filter, Tracer};

/// The kinds of socket the suite exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// AF_INET SOCK_STREAM (TCP).
    Tcp4,
    /// AF_INET SOCK_DGRAM (UDP).
    Udp4,
    /// AF_INET6 SOCK_STREAM (TCP).
    Tcp6,
    /// AF_INET6 SOCK_DGRAM (UDP).
    Udp6,
    /// AF_UNIX SOCK_STREAM.
    UnixStream,
    /// AF_UNIX SOCK_DGRAM.
    UnixDgram,
    /// AF_NETLINK SOCK_RAW, NETLINK_ROUTE.
    Netlink,
}

impl Kind {
    /// Every kind, in table order.
    pub const ALL: [Kind; 7] = [
        Kind::Tcp4,
        Kind::Udp4,
        Kind::Tcp6,
        Kind::Udp6,
        Kind::UnixStream,
        Kind::UnixDgram,
        Kind::Netlink,
    ];

    /// A short label, e.g. "INET/TCP".
    pub fn label(self) -> &'static str {
        match self {
            Kind::Tcp4 => "INET/TCP",
            Kind::Udp4 => "INET/UDP",
            Kind::Tcp6 => "INET6/TCP",
            Kind::Udp6 => "INET6/UDP",
            Kind::UnixStream => "UNIX/STREAM",
            Kind::UnixDgram => "UNIX/DGRAM",
            Kind::Netlink => "NETLINK/ROUTE",
        }
    }

    fn family(self) -> i32 {
        match self {
            Kind::Tcp4 | Kind::Udp4 => libc::AF_INET,
            Kind::Tcp6 | Kind::Udp6 => libc::AF_INET6,
            Kind::UnixStream | Kind::UnixDgram => libc::AF_UNIX,
            Kind::Netlink => libc::AF_NETLINK,
        }
    }

    fn sock_type(self) -> i32 {
        match self {
            Kind::Tcp4 | Kind::Tcp6 | Kind::UnixStream => libc::SOCK_STREAM,
            Kind::Udp4 | Kind::Udp6 | Kind::UnixDgram => libc::SOCK_DGRAM,
            Kind::Netlink => libc::SOCK_RAW,
        }
    }

    /// `sk_protocol` of a socket of this kind created with protocol 0.
    fn protocol(self) -> i32 {
        match self {
            Kind::Tcp4 | Kind::Tcp6 => libc::IPPROTO_TCP,
            Kind::Udp4 | Kind::Udp6 => libc::IPPROTO_UDP,
            Kind::UnixStream | Kind::UnixDgram => 0,
            Kind::Netlink => libc::NETLINK_ROUTE,
        }
    }

    fn is_stream(self) -> bool {
        self.sock_type() == libc::SOCK_STREAM
    }
}

/// One operation of the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// write(2)
    Write,
    /// writev(2) of two segments
    Writev,
    /// send(2)
    Send,
    /// sendto(2)
    Sendto,
    /// sendmsg(2)
    Sendmsg,
    /// sendmmsg(2) of three messages
    Sendmmsg,
    /// read(2)
    Read,
    /// readv(2) into two segments
    Readv,
    /// recv(2)
    Recv,
    /// recvfrom(2)
    Recvfrom,
    /// recvmsg(2)
    Recvmsg,
    /// recvmmsg(2) of three messages
    Recvmmsg,
    /// sendfile(2) from a file to the socket
    Sendfile,
    /// socket(2)
    Socket,
    /// socketpair(2)
    Socketpair,
    /// accept(2), then close(2) of the accepted socket
    AcceptClose,
    /// close(2) of the only descriptor
    Close,
    /// close(2) of one of two dup'd descriptors, then of the other
    CloseDup,
    /// a process exits with the socket open
    ExitOpen,
    /// a send that fails (unconnected socket)
    FailingSend,
}

impl Op {
    /// A short label, e.g. "sendmmsg×3".
    pub fn label(self) -> &'static str {
        match self {
            Op::Write => "write",
            Op::Writev => "writev",
            Op::Send => "send",
            Op::Sendto => "sendto",
            Op::Sendmsg => "sendmsg",
            Op::Sendmmsg => "sendmmsg×3",
            Op::Read => "read",
            Op::Readv => "readv",
            Op::Recv => "recv",
            Op::Recvfrom => "recvfrom",
            Op::Recvmsg => "recvmsg",
            Op::Recvmmsg => "recvmmsg×3",
            Op::Sendfile => "sendfile",
            Op::Socket => "socket",
            Op::Socketpair => "socketpair",
            Op::AcceptClose => "accept+close",
            Op::Close => "close",
            Op::CloseDup => "close dup'd",
            Op::ExitOpen => "exit open",
            Op::FailingSend => "failing send",
        }
    }

    const DATA: [Op; 12] = [
        Op::Write,
        Op::Writev,
        Op::Send,
        Op::Sendto,
        Op::Sendmsg,
        Op::Sendmmsg,
        Op::Read,
        Op::Readv,
        Op::Recv,
        Op::Recvfrom,
        Op::Recvmsg,
        Op::Recvmmsg,
    ];
}

/// One event the contract requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    /// The kernel-side path (the tapset probe it fires).
    pub path: Path,
    /// The tapset's `size` (entry: requested; return: result), if checked.
    pub size: Option<i64>,
    /// The tapset's `success`, for return probes.
    pub success: Option<bool>,
    /// The family.
    pub family: i32,
    /// The socket type.
    pub sock_type: i32,
    /// The protocol.
    pub protocol: i32,
    /// The process that must have caused it.
    pub pid: u32,
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.path.name())?;
        if let Some(s) = self.size {
            write!(f, " size={s}")?;
        }
        if let Some(s) = self.success {
            write!(f, " success={}", u8::from(s))?;
        }
        write!(
            f,
            " family={} type={} protocol={} pid={}",
            self.family, self.sock_type, self.protocol, self.pid
        )
    }
}

fn seen(ev: &Event) -> Expect {
    let size = match ev.path {
        Path::Create | Path::Close | Path::CloseReturn => None,
        Path::CreateReturn => Some(i64::from(ev.err)),
        _ => Some(ev.size),
    };
    Expect {
        path: ev.path,
        size,
        success: ev.success(),
        family: ev.family,
        sock_type: ev.sock_type,
        protocol: ev.protocol,
        pid: ev.pid,
    }
}

/// The outcome of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The operation.
    pub op: Op,
    /// The socket kind.
    pub kind: Kind,
    /// Whether the events were exactly the expected ones.
    pub passed: bool,
    /// What was expected.
    pub expected: Vec<Expect>,
    /// What the kernel reported.
    pub got: Vec<Expect>,
    /// Why it failed, if it did.
    pub detail: String,
}

/// Every (operation, kind) pair the suite runs.
pub fn cases() -> Vec<(Op, Kind)> {
    let mut v = Vec::new();
    for kind in Kind::ALL {
        for op in Op::DATA {
            v.push((op, kind));
        }
        v.push((Op::Socket, kind));
        v.push((Op::Close, kind));
        v.push((Op::CloseDup, kind));
        v.push((Op::ExitOpen, kind));
        if kind.is_stream() {
            v.push((Op::AcceptClose, kind));
        }
        if kind != Kind::Netlink {
            v.push((Op::FailingSend, kind));
        }
    }
    v.push((Op::Socketpair, Kind::UnixStream));
    v.push((Op::Socketpair, Kind::UnixDgram));
    v.push((Op::Sendfile, Kind::Tcp4));
    v.push((Op::Sendfile, Kind::Tcp6));
    v
}

/// Runs every case whose "op kind" label contains `only` (all if `None`),
/// with the given backend.
pub fn run(only: Option<&str>, backend: Backend) -> crate::Result<Vec<CaseResult>> {
    let mut out = Vec::new();
    // One tracer for all cases: they run in this thread, and loading the
    // programs once keeps the table fast on slow (emulated) machines.
    let mut shared = None;
    for (op, kind) in cases() {
        let label = format!("{} {}", op.label(), kind.label());
        if only.is_some_and(|o| !label.contains(o)) {
            continue;
        }
        out.push(run_case_with(op, kind, backend, &mut shared)?);
    }
    Ok(out)
}

/// The base probes: every kernel-side path once, no aliases.
fn base_probes() -> Vec<Probe> {
    Path::ALL.iter().map(|p| p.probe()).collect()
}

fn gettid() -> u32 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::gettid() as u32 }
}

/// Runs one case. Errors are failures to trace at all (no privileges, no
/// BPF); a workload that misbehaves is a failed case, not an error.
pub fn run_case(op: Op, kind: Kind, backend: Backend) -> crate::Result<CaseResult> {
    run_case_with(op, kind, backend, &mut None)
}

/// Reads and drops what is queued: events of set-up and tear-down.
fn discard(tracer: &mut Tracer) -> crate::Result<()> {
    tracer.poll(Duration::ZERO)?;
    tracer.drain(|_| {});
    Ok(())
}

fn run_case_with(
    op: Op,
    kind: Kind,
    backend: Backend,
    shared: &mut Option<Tracer>,
) -> crate::Result<CaseResult> {
    let mut res = CaseResult {
        op,
        kind,
        passed: false,
        expected: Vec::new(),
        got: Vec::new(),
        detail: String::new(),
    };
    let me = Filter {
        tids: vec![gettid()],
        ..Default::default()
    };
    let outcome = match op {
        Op::ExitOpen => exit_open(kind, backend),
        _ => {
            let mut state = match Setup::new(op, kind) {
                Ok(s) => s,
                Err(e) => {
                    res.detail = format!("setting up: {e}");
                    return Ok(res);
                }
            };
            let tracer = match shared {
                Some(t) => t,
                None => shared.insert(
                    Tracer::builder()
                        .probes(&base_probes())
                        .filter(me)
                        .backend(backend)
                        .start()?,
                ),
            };
            discard(tracer)?;
            let expected = state.perform(op, kind);
            let outcome = collect(tracer, expected);
            drop(state);
            discard(tracer)?;
            outcome
        }
    };
    match outcome {
        Ok((mut expected, mut got)) => {
            if op == Op::Socketpair {
                // Two creations: the syscall layer reports both entries
                // first, function hooks each entry with its return.
                expected.sort_by_key(|e| e.path);
                got.sort_by_key(|e| e.path);
            }
            res.passed = expected == got;
            if !res.passed {
                res.detail = diff(&expected, &got);
            }
            res.expected = expected;
            res.got = got;
        }
        Err(e) => res.detail = e.to_string(),
    }
    Ok(res)
}

type Outcome = crate::Result<(Vec<Expect>, Vec<Expect>)>;

/// Reads everything the operation produced. The events of a thread's own
/// syscalls are in the ring buffer before the syscall returns, so one read
/// after a short wait finds them all.
fn collect(tracer: &mut Tracer, expected: io::Result<Vec<Expect>>) -> Outcome {
    let expected = expected.map_err(|e| crate::Error::Io {
        what: "running the workload".into(),
        source: e,
    })?;
    let got = collect_events(tracer, expected.len())?
        .iter()
        .map(seen)
        .collect();
    Ok((expected, got))
}

/// Reads the events that are there, waiting a little for at least `n`.
/// The events of this thread's (and a waited-for child's) syscalls are in
/// the ring buffer before the syscall returns: one read finds them. The
/// deadline only guards against a kernel that is slower than that.
fn collect_events(tracer: &mut Tracer, n: usize) -> crate::Result<Vec<Event>> {
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_millis(200);
    loop {
        tracer.poll(Duration::ZERO)?;
        tracer.drain(|ev| got.push(*ev));
        if got.len() >= n || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(got)
}

fn diff(expected: &[Expect], got: &[Expect]) -> String {
    let mut s = String::new();
    let n = expected.len().max(got.len());
    for i in 0..n {
        let e = expected.get(i).map_or("-".to_string(), ToString::to_string);
        let g = got.get(i).map_or("-".to_string(), ToString::to_string);
        if e != g {
            s.push_str(&format!("#{i}: expected [{e}] got [{g}]; "));
        }
    }
    s
}

fn last_err() -> io::Error {
    io::Error::last_os_error()
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(last_err())
    } else {
        Ok(ret)
    }
}

fn check_size(ret: libc::ssize_t) -> io::Result<i64> {
    if ret < 0 {
        Err(last_err())
    } else {
        Ok(ret as i64)
    }
}

fn new_socket(family: i32, ty: i32, protocol: i32) -> io::Result<OwnedFd> {
    // SAFETY: socket(2) with plain integer arguments.
    let fd = check(unsafe { libc::socket(family, ty | libc::SOCK_CLOEXEC, protocol) })?;
    // SAFETY: fd was just returned by socket(2) and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A socket address of any family, with its length.
struct Addr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl Addr {
    fn of(fd: RawFd) -> io::Result<Addr> {
        // SAFETY: sockaddr_storage is plain data; all-zero is valid.
        let mut a = Addr {
            storage: unsafe { zeroed() },
            len: size_of::<libc::sockaddr_storage>() as libc::socklen_t,
        };
        // SAFETY: storage and len are valid, writable, and len is its size.
        check(unsafe { libc::getsockname(fd, (&raw mut a.storage).cast(), &mut a.len) })?;
        Ok(a)
    }

    fn loopback(family: i32) -> Addr {
        // SAFETY: sockaddr_storage is plain data; all-zero is valid.
        let mut storage: libc::sockaddr_storage = unsafe { zeroed() };
        let len = if family == libc::AF_INET {
            let sin = (&raw mut storage).cast::<libc::sockaddr_in>();
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe {
                (*sin).sin_family = libc::AF_INET as libc::sa_family_t;
                (*sin).sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
            }
            size_of::<libc::sockaddr_in>()
        } else {
            let sin6 = (&raw mut storage).cast::<libc::sockaddr_in6>();
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe {
                (*sin6).sin6_family = libc::AF_INET6 as libc::sa_family_t;
                (*sin6).sin6_addr.s6_addr[15] = 1;
            }
            size_of::<libc::sockaddr_in6>()
        };
        Addr {
            storage,
            len: len as libc::socklen_t,
        }
    }

    fn ptr(&self) -> *const libc::sockaddr {
        (&raw const self.storage).cast()
    }
}

fn bind(fd: &OwnedFd, a: &Addr) -> io::Result<()> {
    // SAFETY: a points to a valid address of a.len bytes.
    check(unsafe { libc::bind(fd.as_raw_fd(), a.ptr(), a.len) }).map(drop)
}

fn connect(fd: &OwnedFd, a: &Addr) -> io::Result<()> {
    // SAFETY: a points to a valid address of a.len bytes.
    check(unsafe { libc::connect(fd.as_raw_fd(), a.ptr(), a.len) }).map(drop)
}

fn accept(fd: &OwnedFd) -> io::Result<OwnedFd> {
    // SAFETY: NULL address and length are allowed by accept4(2).
    let c = check(unsafe {
        libc::accept4(
            fd.as_raw_fd(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_CLOEXEC,
        )
    })?;
    // SAFETY: c was just returned by accept4(2) and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(c) })
}

fn socketpair(ty: i32) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds has room for the two descriptors socketpair(2) writes.
    check(unsafe {
        libc::socketpair(libc::AF_UNIX, ty | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr())
    })?;
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// An abstract-namespace AF_UNIX address unique to this process and call.
fn unix_abstract(tag: &str) -> Addr {
    // SAFETY: sockaddr_storage is plain data; all-zero is valid.
    let mut storage: libc::sockaddr_storage = unsafe { zeroed() };
    let sun = (&raw mut storage).cast::<libc::sockaddr_un>();
    // Unique per call: a child forked meanwhile by another thread may still
    // hold a copy of an earlier listener, keeping its name bound.
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("socktap-conf-{}-{tag}-{seq}", std::process::id());
    // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_un;
    // the name is far shorter than sun_path.
    unsafe {
        (*sun).sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (i, b) in name.bytes().enumerate() {
            (*sun).sun_path[i + 1] = b as libc::c_char;
        }
    }
    let len = size_of::<libc::sa_family_t>() + 1 + name.len();
    Addr {
        storage,
        len: len as libc::socklen_t,
    }
}

/// A connected pair, or for netlink one socket talking to the kernel.
struct Pair {
    tx: OwnedFd,
    rx: Option<OwnedFd>,
    listener: Option<OwnedFd>,
    /// The receiver's address, for sendto on datagram sockets.
    peer: Option<Addr>,
}

impl Pair {
    fn rx(&self) -> RawFd {
        self.rx.as_ref().unwrap_or(&self.tx).as_raw_fd()
    }
}

fn pair(kind: Kind) -> io::Result<Pair> {
    match kind {
        Kind::Tcp4 | Kind::Tcp6 | Kind::UnixStream => {
            let l = new_socket(kind.family(), libc::SOCK_STREAM, 0)?;
            if kind == Kind::UnixStream {
                bind(&l, &unix_abstract("listen"))?;
            } else {
                bind(&l, &Addr::loopback(kind.family()))?;
            }
            // SAFETY: listen(2) on a socket we own.
            check(unsafe { libc::listen(l.as_raw_fd(), 4) })?;
            let tx = new_socket(kind.family(), libc::SOCK_STREAM, 0)?;
            connect(&tx, &Addr::of(l.as_raw_fd())?)?;
            let rx = accept(&l)?;
            Ok(Pair {
                tx,
                rx: Some(rx),
                listener: Some(l),
                peer: None,
            })
        }
        Kind::Udp4 | Kind::Udp6 => {
            let rx = new_socket(kind.family(), libc::SOCK_DGRAM, 0)?;
            bind(&rx, &Addr::loopback(kind.family()))?;
            let peer = Addr::of(rx.as_raw_fd())?;
            let tx = new_socket(kind.family(), libc::SOCK_DGRAM, 0)?;
            connect(&tx, &peer)?;
            Ok(Pair {
                tx,
                rx: Some(rx),
                listener: None,
                peer: Some(peer),
            })
        }
        Kind::UnixDgram => {
            let (tx, rx) = socketpair(kind.sock_type())?;
            Ok(Pair {
                tx,
                rx: Some(rx),
                listener: None,
                peer: None,
            })
        }
        Kind::Netlink => {
            let tx = new_socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE)?;
            Ok(Pair {
                tx,
                rx: None,
                listener: None,
                peer: None,
            })
        }
    }
}

/// An RTM_GETLINK request for the loopback device: the kernel answers each
/// one with exactly one reply datagram.
fn netlink_request() -> Vec<u8> {
    let mut m = Vec::with_capacity(32);
    m.extend_from_slice(&32u32.to_ne_bytes()); // nlmsg_len
    m.extend_from_slice(&(libc::RTM_GETLINK).to_ne_bytes()); // nlmsg_type
    m.extend_from_slice(&(libc::NLM_F_REQUEST as u16).to_ne_bytes()); // nlmsg_flags
    m.extend_from_slice(&1u32.to_ne_bytes()); // nlmsg_seq
    m.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid
    m.push(libc::AF_UNSPEC as u8); // ifi_family
    m.push(0); // pad
    m.extend_from_slice(&0u16.to_ne_bytes()); // ifi_type
    m.extend_from_slice(&1i32.to_ne_bytes()); // ifi_index: lo
    m.extend_from_slice(&0u32.to_ne_bytes()); // ifi_flags
    m.extend_from_slice(&0u32.to_ne_bytes()); // ifi_change
    m
}

/// What one message sent by the suite looks like for this kind.
fn payload(kind: Kind, n: usize) -> Vec<u8> {
    if kind == Kind::Netlink {
        netlink_request()
    } else {
        vec![b'x'; n]
    }
}

const MSG: usize = 100;
const RECV_CAP: usize = 8192;

/// The state of one case between set-up and tear-down.
struct Setup {
    pair: Option<Pair>,
    extra: Vec<OwnedFd>,
    pid: u32,
}

impl Setup {
    fn new(op: Op, kind: Kind) -> io::Result<Setup> {
        let mut s = Setup {
            pair: None,
            extra: Vec::new(),
            pid: std::process::id(),
        };
        match op {
            Op::Socket | Op::Socketpair => {}
            Op::FailingSend => {
                // An unconnected socket: sends fail in the protocol's sendmsg.
                let fd = new_socket(kind.family(), kind.sock_type(), 0)?;
                s.extra.push(fd);
            }
            _ => {
                let p = pair(kind)?;
                if matches!(
                    op,
                    Op::Read | Op::Readv | Op::Recv | Op::Recvfrom | Op::Recvmsg | Op::Recvmmsg
                ) {
                    let n = if op == Op::Recvmmsg { 3 } else { 1 };
                    prime(&p, kind, n)?;
                }
                if op == Op::AcceptClose {
                    let l = p
                        .listener
                        .as_ref()
                        .ok_or_else(|| io::Error::other("no listener"))?;
                    let c = new_socket(kind.family(), libc::SOCK_STREAM, 0)?;
                    connect(&c, &Addr::of(l.as_raw_fd())?)?;
                    s.extra.push(c);
                }
                s.pair = Some(p);
            }
        }
        Ok(s)
    }

    fn pair(&self) -> io::Result<&Pair> {
        self.pair
            .as_ref()
            .ok_or_else(|| io::Error::other("no socket pair set up"))
    }
}

/// The event `path` must produce on a socket of `kind` made by process `pid`.
fn exp(pid: u32, kind: Kind, path: Path, size: Option<i64>) -> Expect {
    let success = if path.is_return() && path != Path::CloseReturn {
        size.map(|s| s >= 0)
    } else {
        None
    };
    let (family, sock_type, protocol) = match path {
        // create reports the arguments as requested: protocol 0.
        Path::Create | Path::CreateReturn => (kind.family(), kind.sock_type(), 0),
        _ => (kind.family(), kind.sock_type(), kind.protocol()),
    };
    Expect {
        path,
        size,
        success,
        family,
        sock_type,
        protocol,
        pid,
    }
}

impl Setup {
    /// Does the operation; returns the events it must have produced.
    fn perform(&mut self, op: Op, kind: Kind) -> io::Result<Vec<Expect>> {
        let pid = self.pid;
        let e = move |p, s| exp(pid, kind, p, s);
        match op {
            Op::Write
            | Op::Writev
            | Op::Send
            | Op::Sendto
            | Op::Sendmsg
            | Op::Sendmmsg
            | Op::Read
            | Op::Readv
            | Op::Recv
            | Op::Recvfrom
            | Op::Recvmsg
            | Op::Recvmmsg => data_op(self.pair()?, op, kind, &e),
            Op::Sendfile => {
                let file = tempfile_with(1000)?;
                let p = self.pair()?;
                // SAFETY: both descriptors are open; NULL offset uses the file position.
                let r = check_size(unsafe {
                    libc::sendfile(
                        p.tx.as_raw_fd(),
                        file.as_raw_fd(),
                        std::ptr::null_mut(),
                        1000,
                    )
                })?;
                expect_n(r, 1000)?;
                Ok(vec![
                    e(Path::Sendmsg, Some(1000)),
                    e(Path::SendmsgReturn, Some(r)),
                ])
            }
            Op::Socket => {
                let fd = new_socket(kind.family(), kind.sock_type(), 0)?;
                self.extra.push(fd);
                Ok(vec![e(Path::Create, None), e(Path::CreateReturn, Some(0))])
            }
            Op::Socketpair => {
                let (a, b) = socketpair(kind.sock_type())?;
                self.extra.push(a);
                self.extra.push(b);
                Ok(vec![
                    e(Path::Create, None),
                    e(Path::Create, None),
                    e(Path::CreateReturn, Some(0)),
                    e(Path::CreateReturn, Some(0)),
                ])
            }
            Op::AcceptClose => {
                // The client connected during set-up; accepting creates no
                // socket.create (as in the tapset), closing it releases it.
                let l = self
                    .pair()?
                    .listener
                    .as_ref()
                    .ok_or_else(|| io::Error::other("no listener"))?;
                drop(accept(l)?);
                Ok(vec![e(Path::Close, None), e(Path::CloseReturn, None)])
            }
            Op::Close => {
                let p = self
                    .pair
                    .take()
                    .ok_or_else(|| io::Error::other("no pair"))?;
                drop(p.tx);
                self.extra.extend(p.rx);
                self.extra.extend(p.listener);
                Ok(vec![e(Path::Close, None), e(Path::CloseReturn, None)])
            }
            Op::CloseDup => {
                let p = self
                    .pair
                    .take()
                    .ok_or_else(|| io::Error::other("no pair"))?;
                let dup = p.tx.try_clone()?;
                drop(p.tx); // one of two references: the socket stays
                drop(dup); // the last one: now it goes
                self.extra.extend(p.rx);
                self.extra.extend(p.listener);
                Ok(vec![e(Path::Close, None), e(Path::CloseReturn, None)])
            }
            Op::FailingSend => {
                let fd = self
                    .extra
                    .first()
                    .ok_or_else(|| io::Error::other("no socket"))?;
                let buf = payload(kind, MSG);
                // SAFETY: buf is valid for buf.len() bytes.
                let r = unsafe {
                    libc::send(
                        fd.as_raw_fd(),
                        buf.as_ptr().cast(),
                        buf.len(),
                        libc::MSG_NOSIGNAL,
                    )
                };
                if r >= 0 {
                    return Err(io::Error::other("the send was expected to fail"));
                }
                let errno = last_err().raw_os_error().unwrap_or(0);
                Ok(vec![
                    e(Path::Sendmsg, Some(buf.len() as i64)),
                    e(Path::SendmsgReturn, Some(-i64::from(errno))),
                ])
            }
            Op::ExitOpen => Err(io::Error::other("exit is run in a child process")),
        }
    }
}

fn expect_n(got: i64, want: usize) -> io::Result<()> {
    if got == want as i64 {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "the syscall moved {got} bytes, not {want}"
        )))
    }
}

/// Sends `n` messages to the receiving side and waits until they are there.
fn prime(p: &Pair, kind: Kind, n: usize) -> io::Result<()> {
    for _ in 0..n {
        let buf = payload(kind, MSG);
        // SAFETY: buf is valid for buf.len() bytes.
        let r =
            check_size(unsafe { libc::send(p.tx.as_raw_fd(), buf.as_ptr().cast(), buf.len(), 0) })?;
        expect_n(r, buf.len())?;
    }
    let mut pfd = libc::pollfd {
        fd: p.rx(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: pfd is one valid pollfd.
    check(unsafe { libc::poll(&mut pfd, 1, 1000) })?;
    // A stream delivers all of it in one go on loopback; give netlink's
    // replies a moment to be queued.
    std::thread::sleep(Duration::from_millis(5));
    Ok(())
}

fn tempfile_with(n: usize) -> io::Result<OwnedFd> {
    let path =
        std::env::temp_dir().join(format!("socktap-conf-{}-{}", std::process::id(), gettid()));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    std::io::Write::write_all(&mut &f, &vec![b'f'; n])?;
    std::io::Seek::seek(&mut &f, std::io::SeekFrom::Start(0))?;
    Ok(OwnedFd::from(f))
}

fn iov(buf: &mut [u8]) -> libc::iovec {
    libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    }
}

fn data_op(
    p: &Pair,
    op: Op,
    kind: Kind,
    e: &dyn Fn(Path, Option<i64>) -> Expect,
) -> io::Result<Vec<Expect>> {
    let tx = p.tx.as_raw_fd();
    let rx = p.rx();
    let mut out = payload(kind, MSG);
    let n = out.len();
    let mut inbuf = vec![0u8; RECV_CAP];
    // Receives never block: the data was queued during set-up.
    let dontwait = libc::MSG_DONTWAIT;
    let to = if kind == Kind::Udp4 || kind == Kind::Udp6 {
        p.peer.as_ref()
    } else {
        None
    };
    let one = |entry: Path, ret: Path, req: usize, r: i64| {
        vec![e(entry, Some(req as i64)), e(ret, Some(r))]
    };
    // SAFETY (for every call below): each buffer, iovec and header points to
    // live, correctly sized memory owned by this function for the call.
    Ok(match op {
        Op::Write => {
            let r = check_size(unsafe { libc::write(tx, out.as_ptr().cast(), n) })?;
            expect_n(r, n)?;
            one(Path::AioWrite, Path::AioWriteReturn, n, r)
        }
        Op::Writev => {
            let (a, b) = out.split_at_mut(n / 2);
            let v = [iov(a), iov(b)];
            let r = check_size(unsafe { libc::writev(tx, v.as_ptr(), 2) })?;
            expect_n(r, n)?;
            one(Path::Writev, Path::WritevReturn, n, r)
        }
        Op::Send => {
            let r = check_size(unsafe { libc::send(tx, out.as_ptr().cast(), n, 0) })?;
            expect_n(r, n)?;
            one(Path::Sendmsg, Path::SendmsgReturn, n, r)
        }
        Op::Sendto => {
            let (ap, al) = to.map_or((std::ptr::null(), 0), |a| (a.ptr(), a.len));
            let r = check_size(unsafe { libc::sendto(tx, out.as_ptr().cast(), n, 0, ap, al) })?;
            expect_n(r, n)?;
            one(Path::Sendmsg, Path::SendmsgReturn, n, r)
        }
        Op::Sendmsg => {
            let (a, b) = out.split_at_mut(n / 2);
            let mut v = [iov(a), iov(b)];
            let mut m: libc::msghdr = unsafe { zeroed() };
            m.msg_iov = v.as_mut_ptr();
            m.msg_iovlen = 2;
            let r = check_size(unsafe { libc::sendmsg(tx, &m, 0) })?;
            expect_n(r, n)?;
            one(Path::Sendmsg, Path::SendmsgReturn, n, r)
        }
        Op::Sendmmsg => {
            let mut bufs = [out.clone(), out.clone(), out.clone()];
            let mut v: Vec<libc::iovec> = bufs.iter_mut().map(|b| iov(b)).collect();
            let mut msgs: [libc::mmsghdr; 3] = unsafe { zeroed() };
            for (m, io) in msgs.iter_mut().zip(v.iter_mut()) {
                m.msg_hdr.msg_iov = io;
                m.msg_hdr.msg_iovlen = 1;
            }
            let r = check(unsafe { libc::sendmmsg(tx, msgs.as_mut_ptr(), 3, 0) })?;
            if r != 3 {
                return Err(io::Error::other(format!("sendmmsg sent {r} of 3")));
            }
            let mut ev = vec![e(Path::Sendmsg, Some(n as i64)); 3];
            ev.extend(
                msgs.iter()
                    .map(|m| e(Path::SendmsgReturn, Some(i64::from(m.msg_len)))),
            );
            ev
        }
        Op::Read => {
            let r = check_size(unsafe { libc::read(rx, inbuf.as_mut_ptr().cast(), RECV_CAP) })?;
            received(kind, r)?;
            one(Path::AioRead, Path::AioReadReturn, RECV_CAP, r)
        }
        Op::Readv => {
            let (a, b) = inbuf.split_at_mut(RECV_CAP / 2);
            let v = [iov(a), iov(b)];
            let r = check_size(unsafe { libc::readv(rx, v.as_ptr(), 2) })?;
            received(kind, r)?;
            one(Path::Readv, Path::ReadvReturn, RECV_CAP, r)
        }
        Op::Recv => {
            let r = check_size(unsafe {
                libc::recv(rx, inbuf.as_mut_ptr().cast(), RECV_CAP, dontwait)
            })?;
            received(kind, r)?;
            one(Path::Recvmsg, Path::RecvmsgReturn, RECV_CAP, r)
        }
        Op::Recvfrom => {
            let mut from: libc::sockaddr_storage = unsafe { zeroed() };
            let mut fl = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            let r = check_size(unsafe {
                libc::recvfrom(
                    rx,
                    inbuf.as_mut_ptr().cast(),
                    RECV_CAP,
                    dontwait,
                    (&raw mut from).cast(),
                    &mut fl,
                )
            })?;
            received(kind, r)?;
            one(Path::Recvmsg, Path::RecvmsgReturn, RECV_CAP, r)
        }
        Op::Recvmsg => {
            let (a, b) = inbuf.split_at_mut(RECV_CAP / 2);
            let mut v = [iov(a), iov(b)];
            let mut m: libc::msghdr = unsafe { zeroed() };
            m.msg_iov = v.as_mut_ptr();
            m.msg_iovlen = 2;
            let r = check_size(unsafe { libc::recvmsg(rx, &mut m, dontwait) })?;
            received(kind, r)?;
            one(Path::Recvmsg, Path::RecvmsgReturn, RECV_CAP, r)
        }
        Op::Recvmmsg => {
            // On a stream each message takes what fits its buffer: exactly
            // one primed message each, with buffers of that size.
            let cap = if kind.is_stream() { MSG } else { RECV_CAP };
            let mut bufs = [vec![0u8; cap], vec![0u8; cap], vec![0u8; cap]];
            let mut v: Vec<libc::iovec> = bufs.iter_mut().map(|b| iov(b)).collect();
            let mut msgs: [libc::mmsghdr; 3] = unsafe { zeroed() };
            for (m, io) in msgs.iter_mut().zip(v.iter_mut()) {
                m.msg_hdr.msg_iov = io;
                m.msg_hdr.msg_iovlen = 1;
            }
            let r = check(unsafe {
                libc::recvmmsg(rx, msgs.as_mut_ptr(), 3, dontwait, std::ptr::null_mut())
            })?;
            if r != 3 {
                return Err(io::Error::other(format!("recvmmsg received {r} of 3")));
            }
            let mut ev = vec![e(Path::Recvmsg, Some(cap as i64)); 3];
            for m in &msgs {
                received(kind, i64::from(m.msg_len))?;
                ev.push(e(Path::RecvmsgReturn, Some(i64::from(m.msg_len))));
            }
            ev
        }
        _ => return Err(io::Error::other("not a data operation")),
    })
}

/// A receive must have taken one whole primed message (for netlink: one reply).
fn received(kind: Kind, r: i64) -> io::Result<()> {
    if kind == Kind::Netlink {
        if r > 0 {
            Ok(())
        } else {
            Err(io::Error::other("no netlink reply"))
        }
    } else {
        expect_n(r, MSG)
    }
}

/// A child process creates a socket and exits with it open; the parent
/// traces the child by its command name, unique to the calling thread so
/// cases running in parallel threads do not see each other's children.
fn exit_open(kind: Kind, backend: Backend) -> Outcome {
    let comm = format!("stx{}", gettid());
    let mut tracer = Tracer::builder()
        .probes(&base_probes())
        .filter(Filter {
            comms: vec![comm.clone()],
            ..Default::default()
        })
        .backend(backend)
        .start()?;
    let name = std::ffi::CString::new(comm).map_err(|e| crate::Error::Io {
        what: "naming the child".into(),
        source: io::Error::other(e),
    })?;
    let (family, ty) = (kind.family(), kind.sock_type());
    let proto = if kind == Kind::Netlink {
        libc::NETLINK_ROUTE
    } else {
        0
    };
    // The child inherits this process's descriptors too; when another
    // thread closes its copy meanwhile, the child's exit releases that
    // socket as well (rightly). The child reports its own socket's inode
    // through a pipe, so only its socket's release is compared.
    let mut pipe = [0; 2];
    // SAFETY: pipe has room for the two descriptors pipe2(2) writes.
    check(unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) }).map_err(|e| {
        crate::Error::Io {
            what: "making a pipe".into(),
            source: e,
        }
    })?;
    // SAFETY: the child only makes async-signal-safe calls (prctl, socket,
    // fstat, write, _exit) before it exits, so forking a multi-threaded
    // process is sound.
    let child = unsafe { libc::fork() };
    if child == 0 {
        // SAFETY: see above; name outlives the call, st is a valid stat.
        unsafe {
            libc::prctl(libc::PR_SET_NAME, name.as_ptr());
            let fd = libc::socket(family, ty, proto);
            let mut st: libc::stat = zeroed();
            libc::fstat(fd, &mut st);
            let ino: u64 = st.st_ino;
            libc::write(pipe[1], (&raw const ino).cast(), 8);
            libc::_exit(0);
        }
    }
    // SAFETY: our copy of the write end; the child has its own.
    unsafe { libc::close(pipe[1]) };
    let mut ino = 0u64;
    // SAFETY: reads at most 8 bytes into ino, then closes our read end.
    unsafe {
        libc::read(pipe[0], (&raw mut ino).cast(), 8);
        libc::close(pipe[0]);
    }
    if child < 0 {
        return Err(crate::Error::Io {
            what: "forking".into(),
            source: last_err(),
        });
    }
    let mut status = 0;
    // SAFETY: waits for our own child; status is a valid int.
    unsafe { libc::waitpid(child, &mut status, 0) };
    let pid = child as u32;
    let mk = |path: Path, size: Option<i64>, protocol: i32| Expect {
        path,
        size,
        success: (path == Path::CreateReturn).then_some(true),
        family,
        sock_type: ty,
        protocol,
        pid,
    };
    let expected = vec![
        mk(Path::Create, None, proto),
        mk(Path::CreateReturn, Some(0), proto),
        mk(Path::Close, None, kind.protocol()),
        mk(Path::CloseReturn, None, kind.protocol()),
    ];
    let got = collect_events(&mut tracer, expected.len())?
        .iter()
        .filter(|e| {
            let release = matches!(e.path, Path::Close | Path::CloseReturn);
            !release || u64::from(e.ino) == ino
        })
        .map(seen)
        .collect();
    Ok((expected, got))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_covers_the_contract() {
        let c = cases();
        // every data operation on every kind
        for kind in Kind::ALL {
            for op in Op::DATA {
                assert!(c.contains(&(op, kind)), "{op:?} {kind:?}");
            }
        }
        assert!(c.contains(&(Op::Sendfile, Kind::Tcp4)));
        assert!(c.contains(&(Op::Socketpair, Kind::UnixDgram)));
        assert!(c.contains(&(Op::ExitOpen, Kind::Netlink)));
        assert!(!c.contains(&(Op::AcceptClose, Kind::Udp4)));
    }

    #[test]
    fn netlink_request_is_well_formed() {
        let r = netlink_request();
        assert_eq!(r.len(), 32);
        assert_eq!(u32::from_ne_bytes([r[0], r[1], r[2], r[3]]), 32);
    }
}
