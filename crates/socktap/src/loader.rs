//! Opening, configuring, loading and attaching the BPF object, choosing per
//! role the best mechanism the running kernel accepts, by trying. Shared by
//! the event [`Tracer`](crate::Tracer) and the in-kernel
//! [`Aggregator`](crate::Aggregator).

use std::cell::RefCell;
use std::fmt;
use std::mem::MaybeUninit;

use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{Link, MapCore, MapFlags, OpenObject, PrintLevel};

use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::loss::{LossReason, Losses};
use crate::probe::Path;
use crate::skel::{types, SocktapSkel, SocktapSkelBuilder};

/// A kernel mechanism that can serve probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// Tracepoints (`tp_btf`): sock:sock_send_length / sock_recv_length.
    Tracepoint,
    /// fentry/fexit on kernel functions.
    Fentry,
    /// kprobe/kretprobe on kernel functions.
    Kprobe,
    /// The syscall layer: raw_syscalls sys_enter/sys_exit and process exit.
    Syscall,
}

impl Mechanism {
    /// Its name, as `--backend` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Tracepoint => "tracepoint",
            Mechanism::Fentry => "fentry",
            Mechanism::Kprobe => "kprobe",
            Mechanism::Syscall => "syscall",
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a group of BPF programs does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Send and receive completions (the `.return` probes and their aliases).
    Messages,
    /// Entry probes with requested sizes.
    Entries,
    /// socket.create[.return].
    Create,
    /// socket.close[.return].
    Close,
}

impl Role {
    /// All roles.
    pub const ALL: [Role; 4] = [Role::Messages, Role::Entries, Role::Create, Role::Close];

    /// The kernel-side paths this role serves.
    pub fn paths(self) -> &'static [Path] {
        match self {
            Role::Messages => &[
                Path::SendmsgReturn,
                Path::RecvmsgReturn,
                Path::AioWriteReturn,
                Path::AioReadReturn,
                Path::WritevReturn,
                Path::ReadvReturn,
            ],
            Role::Entries => &[
                Path::Sendmsg,
                Path::Recvmsg,
                Path::AioWrite,
                Path::AioRead,
                Path::Writev,
                Path::Readv,
            ],
            Role::Create => &[Path::Create, Path::CreateReturn],
            Role::Close => &[Path::Close, Path::CloseReturn],
        }
    }

    /// The role serving a path.
    pub fn of(path: Path) -> Role {
        Role::ALL
            .into_iter()
            .find(|r| r.paths().contains(&path))
            .unwrap_or(Role::Messages)
    }

    /// The mechanisms that can serve it, best first.
    pub fn candidates(self) -> &'static [Mechanism] {
        use Mechanism::{Fentry, Kprobe, Syscall, Tracepoint};
        match self {
            Role::Messages => &[Tracepoint, Fentry, Kprobe, Syscall],
            Role::Entries => &[Syscall],
            Role::Create | Role::Close => &[Fentry, Kprobe, Syscall],
        }
    }

    fn name(self) -> &'static str {
        match self {
            Role::Messages => "socket.send/socket.receive (the .return probes)",
            Role::Entries => "the entry probes (socket.sendmsg, …)",
            Role::Create => "socket.create",
            Role::Close => "socket.close",
        }
    }
}

/// Which backend the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// The best the kernel accepts, per role.
    #[default]
    Auto,
    /// Only this mechanism (the syscall layer still serves the entry
    /// probes, and with `tracepoint` creation and release, which have no
    /// tracepoints).
    Only(Mechanism),
}

impl Backend {
    /// Parses `auto`, `tracepoint`, `fentry`, `kprobe` or `syscall`.
    pub fn parse(s: &str) -> Option<Backend> {
        Some(match s {
            "auto" => Backend::Auto,
            "tracepoint" => Backend::Only(Mechanism::Tracepoint),
            "fentry" => Backend::Only(Mechanism::Fentry),
            "kprobe" => Backend::Only(Mechanism::Kprobe),
            "syscall" => Backend::Only(Mechanism::Syscall),
            _ => return None,
        })
    }

    fn choices(self, role: Role) -> Vec<Mechanism> {
        match self {
            Backend::Auto => role.candidates().to_vec(),
            Backend::Only(m) => {
                if role.candidates().contains(&m) {
                    vec![m]
                } else {
                    vec![Mechanism::Syscall]
                }
            }
        }
    }
}

/// The mechanism chosen for each role in use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// (role, mechanism), for the roles the probes need.
    pub roles: Vec<(Role, Mechanism)>,
    /// Roles no mechanism could serve, with the reason (only when probing
    /// the kernel with [`probe_plan`]; tracing fails instead).
    pub unavailable: Vec<(Role, String)>,
}

impl Plan {
    /// The mechanism serving a role, if the role is in use.
    pub fn mechanism(&self, role: Role) -> Option<Mechanism> {
        self.roles.iter().find(|(r, _)| *r == role).map(|(_, m)| *m)
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // e.g. "tracepoint (create, close: syscall)"
        let mut seen: Vec<Mechanism> = Vec::new();
        for (_, m) in &self.roles {
            if !seen.contains(m) {
                seen.push(*m);
            }
        }
        let names: Vec<&str> = seen.iter().map(|m| m.name()).collect();
        f.write_str(&names.join("+"))
    }
}

impl Loaded {
    /// Detaches every program; the maps stay readable.
    pub(crate) fn detach(&mut self) {
        self._links.clear();
    }
}

/// Whether the kernel still has sock_sendpage (before 6.5), through which
/// sendfile and splice reach sockets instead of sendmsg. Read from the
/// kernel's BTF once, only when a function-hook backend needs to know.
fn kernel_has_sendpage() -> bool {
    static HAVE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAVE.get_or_init(|| {
        libbpf_rs::btf::Btf::from_vmlinux()
            .map(|btf| {
                btf.type_by_name::<libbpf_rs::btf::types::Func>("sock_sendpage")
                    .is_some()
            })
            .unwrap_or(false)
    })
}

/// Whether the kernel has the bpf_loop helper (5.17+), asked of the kernel
/// with one tiny program load, once per process.
fn have_bpf_loop() -> bool {
    static HAVE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAVE.get_or_init(|| {
        // Lets the tests run the pre-5.17 programs on a newer kernel.
        if std::env::var_os("SOCKTAP_NO_BPF_LOOP").is_some() {
            return false;
        }
        // SAFETY: a plain FFI call with integer arguments and no options.
        let r = unsafe {
            libbpf_rs::libbpf_sys::libbpf_probe_bpf_helper(
                libbpf_rs::libbpf_sys::BPF_PROG_TYPE_TRACEPOINT,
                libbpf_rs::libbpf_sys::BPF_FUNC_loop,
                std::ptr::null(),
            )
        };
        r == 1
    })
}

/// The BPF programs of each (role, mechanism) on this kernel: the syscall
/// layer's programs come in a variant for kernels without bpf_loop.
fn programs(role: Role, mech: Mechanism) -> &'static [&'static str] {
    let loop_ok = have_bpf_loop();
    match (role, mech, loop_ok) {
        (Role::Entries, Mechanism::Syscall, false) => &["sys_enter_noloop"],
        (Role::Messages | Role::Create, Mechanism::Syscall, false) => {
            &["sys_enter_noloop", "sys_exit_noloop"]
        }
        (Role::Close, Mechanism::Syscall, false) => &[
            "sys_enter_noloop",
            "sys_exit_noloop",
            "sched_process_exit_noloop",
        ],
        _ => programs_with_loop(role, mech),
    }
}

fn programs_with_loop(role: Role, mech: Mechanism) -> &'static [&'static str] {
    use Mechanism::{Fentry, Kprobe, Syscall, Tracepoint};
    match (role, mech) {
        (Role::Messages, Tracepoint) => &["sock_send_length", "sock_recv_length"],
        (Role::Messages, Fentry) => &[
            "fexit_inet_sendmsg",
            "fexit_inet6_sendmsg",
            "fexit_unix_stream_sendmsg",
            "fexit_unix_dgram_sendmsg",
            "fexit_netlink_sendmsg",
            "fexit_inet_recvmsg",
            "fexit_inet6_recvmsg",
            "fexit_unix_stream_recvmsg",
            "fexit_unix_dgram_recvmsg",
            "fexit_netlink_recvmsg",
            "?fexit_sock_sendpage",
        ],
        (Role::Messages, Kprobe) => &[
            "kprobe_inet_sendmsg",
            "kretprobe_inet_sendmsg",
            "kprobe_inet6_sendmsg",
            "kretprobe_inet6_sendmsg",
            "kprobe_unix_stream_sendmsg",
            "kretprobe_unix_stream_sendmsg",
            "kprobe_unix_dgram_sendmsg",
            "kretprobe_unix_dgram_sendmsg",
            "kprobe_netlink_sendmsg",
            "kretprobe_netlink_sendmsg",
            "kprobe_inet_recvmsg",
            "kretprobe_inet_recvmsg",
            "kprobe_inet6_recvmsg",
            "kretprobe_inet6_recvmsg",
            "kprobe_unix_stream_recvmsg",
            "kretprobe_unix_stream_recvmsg",
            "kprobe_unix_dgram_recvmsg",
            "kretprobe_unix_dgram_recvmsg",
            "kprobe_netlink_recvmsg",
            "kretprobe_netlink_recvmsg",
            "?kprobe_sock_sendpage",
            "?kretprobe_sock_sendpage",
        ],
        (Role::Entries, Syscall) => &["sys_enter"],
        (Role::Messages, Syscall) => &["sys_enter", "sys_exit"],
        (Role::Create, Fentry) => &["fentry_sock_create", "fexit_sock_create"],
        (Role::Create, Kprobe) => &["kprobe_sock_create", "kretprobe_sock_create"],
        (Role::Create, Syscall) => &["sys_enter", "sys_exit"],
        (Role::Close, Fentry) => &[
            "fentry_sock_close",
            "fexit_sock_close",
            "fentry_sock_release",
            "fexit_sock_release",
        ],
        (Role::Close, Kprobe) => &[
            "kprobe_sock_close",
            "kretprobe_sock_close",
            "kprobe_sock_release",
            "kretprobe_sock_release",
        ],
        (Role::Close, Syscall) => &["sys_enter", "sys_exit", "sched_process_exit"],
        _ => &[],
    }
}

const DEVICE_PROGRAMS: &[&str] = &["net_dev_queue", "netif_receive_skb"];

/// How to set the BPF object up.
pub(crate) struct Options<'a> {
    /// Bit (1 << path) per kernel-side path wanted.
    pub mask: u32,
    pub filter: &'a Filter,
    pub include_peek: bool,
    /// Ring buffer size in bytes (a power of two of at least a page).
    pub ring_bytes: u32,
    /// In-kernel aggregation: key bits, histograms, row capacity.
    pub aggregate: Option<(u32, bool, u32)>,
    /// Count network device traffic.
    pub devices: bool,
    pub backend: Backend,
    /// The kernel side may report every send under socket.sendmsg.return
    /// (and receives likewise): the reader only wants the unions.
    pub unions_only: bool,
}

/// The loaded, attached BPF object.
pub(crate) struct Loaded {
    // Field order is drop order: the links and the skeleton must go before
    // the object storage the skeleton points into.
    _links: Vec<Link>,
    pub skel: SocktapSkel<'static>,
    _storage: Box<MaybeUninit<OpenObject>>,
    pub plan: Plan,
}

/// Mechanisms the kernel refused, per role, with the reason: asked once per
/// process, so later loads (a conformance run, a restarted view) don't try
/// them again.
static REFUSED: std::sync::Mutex<Vec<(Role, Mechanism, String)>> =
    std::sync::Mutex::new(Vec::new());

fn refused(role: Role, mech: Mechanism) -> Option<String> {
    let list = REFUSED.lock().ok()?;
    list.iter()
        .find(|(r, m, _)| *r == role && *m == mech)
        .map(|(_, _, why)| why.clone())
}

fn remember_refusal(role: Role, mech: Mechanism, why: &str) {
    if let Ok(mut list) = REFUSED.lock() {
        if !list.iter().any(|(r, m, _)| *r == role && *m == mech) {
            list.push((role, mech, why.to_string()));
        }
    }
}

thread_local! {
    /// What libbpf said during this thread's last load, to tell which
    /// program failed. libbpf calls its print callback synchronously in the
    /// loading thread, so loads in other threads do not mix in.
    static LIBBPF_LOG: RefCell<String> = const { RefCell::new(String::new()) };
}

static LIBBPF_DEBUG: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn libbpf_print(level: PrintLevel, msg: String) {
    if LIBBPF_DEBUG.load(std::sync::atomic::Ordering::Relaxed) {
        eprint!("{msg}");
    }
    if level != PrintLevel::Debug {
        LIBBPF_LOG.with(|log| log.borrow_mut().push_str(&msg));
    }
}

/// Keeps libbpf's messages for telling which program failed; prints them
/// too only with SOCKTAP_DEBUG set (socktap reports failures itself).
fn capture_libbpf_log() {
    LIBBPF_DEBUG.store(
        std::env::var_os("SOCKTAP_DEBUG").is_some(),
        std::sync::atomic::Ordering::Relaxed,
    );
    libbpf_rs::set_print(Some((PrintLevel::Debug, libbpf_print)));
}

fn take_log() -> String {
    LIBBPF_LOG.with(|log| std::mem::take(&mut *log.borrow_mut()))
}

/// The program libbpf named in a failure, e.g. "prog 'fexit_inet_sendmsg': …".
fn failing_program(log: &str) -> Option<String> {
    let start = log.find("prog '")? + 6;
    let end = log[start..].find('\'')? + start;
    Some(log[start..end].to_string())
}

/// The verifier's own words from a failed load: the last line of its log
/// before the statistics ("processed N insns …").
fn verifier_says(log: &str) -> Option<String> {
    let body = log.split("BEGIN PROG LOAD LOG --").nth(1)?;
    let body = body.split("-- END PROG LOAD LOG").next()?;
    body.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with("processed ") && !l.starts_with("libbpf:"))
        .map(str::to_string)
}

/// Why a mechanism was refused, in words.
fn reason(mech: Mechanism, err: &libbpf_rs::Error, what: &str, log: &str) -> String {
    if let Some(v) = verifier_says(log) {
        return format!("{what}: the verifier refused it: {v}");
    }
    let why = match (mech, err.kind()) {
        (Mechanism::Fentry, libbpf_rs::ErrorKind::PermissionDenied) => {
            "the kernel refuses fentry/fexit programs (no BPF trampoline, or lockdown)".to_string()
        }
        (Mechanism::Kprobe, libbpf_rs::ErrorKind::NotFound) => {
            "the kernel has no kprobes (CONFIG_KPROBES off) or not this function".to_string()
        }
        (Mechanism::Tracepoint, _) => {
            "the kernel lacks the tracepoint (sock:sock_send_length needs Linux 6.3+)".to_string()
        }
        _ => err.to_string(),
    };
    format!("{what}: {why}")
}

/// Whether a failure says the kernel refuses the whole mechanism, not just
/// one function: fentry not permitted at all (EPERM with no verifier
/// complaint), or no kprobe support at all.
fn refused_everywhere(mech: Mechanism, err: &libbpf_rs::Error, log: &str) -> bool {
    match mech {
        Mechanism::Fentry => {
            err.kind() == libbpf_rs::ErrorKind::PermissionDenied
                && log.contains("-EPERM")
                && verifier_says(log).is_none()
        }
        Mechanism::Kprobe => !kprobes_available(),
        _ => false,
    }
}

/// Whether the kernel has kprobes: libbpf attaches them through the kprobe
/// PMU, or the tracefs kprobe_events file on old kernels.
fn kprobes_available() -> bool {
    [
        "/sys/bus/event_source/devices/kprobe",
        "/sys/kernel/tracing/kprobe_events",
        "/sys/kernel/debug/tracing/kprobe_events",
    ]
    .iter()
    .any(|p| std::path::Path::new(p).exists())
}

/// Everything one load attempt needs to know.
struct Attempt {
    choice: Vec<(Role, Vec<Mechanism>)>,
    /// Keep going without a role no mechanism serves (for `probe_plan`).
    tolerate: bool,
    unavailable: Vec<(Role, String)>,
}

impl Attempt {
    fn current(&self) -> Plan {
        Plan {
            roles: self
                .choice
                .iter()
                .filter_map(|(r, ms)| ms.first().map(|m| (*r, *m)))
                .collect(),
            unavailable: self.unavailable.clone(),
        }
    }

    fn wanted_programs(&self, devices: bool) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for (role, mech) in self.current().roles {
            for p in programs(role, mech) {
                // "?name": only where the kernel has the function it hooks.
                let p = match p.strip_prefix('?') {
                    Some(_) if !kernel_has_sendpage() => continue,
                    Some(name) => name,
                    None => p,
                };
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
        if devices {
            out.extend_from_slice(DEVICE_PROGRAMS);
        }
        out
    }

    fn role_of(&self, prog: &str) -> Option<Role> {
        self.current()
            .roles
            .into_iter()
            .find(|(r, m)| {
                programs(*r, *m)
                    .iter()
                    .any(|p| p.trim_start_matches('?') == prog)
            })
            .map(|(r, _)| r)
    }

    /// Drops the failed mechanism of `role`; the reason if none is left.
    fn downgrade(&mut self, role: Role, why: String) -> Result<()> {
        if let Some(m) = self.current().mechanism(role) {
            remember_refusal(role, m, &why);
        }
        let Some((_, ms)) = self.choice.iter_mut().find(|(r, _)| *r == role) else {
            return Err(Error::Unsupported {
                probe: role.name().into(),
                reason: why,
            });
        };
        ms.remove(0);
        if ms.is_empty() {
            if self.tolerate {
                self.choice.retain(|(r, _)| *r != role);
                self.unavailable.push((role, why));
                return Ok(());
            }
            return Err(Error::Unsupported {
                probe: role.name().into(),
                reason: why,
            });
        }
        Ok(())
    }
}

pub(crate) fn load(o: &Options<'_>) -> Result<Loaded> {
    load_with(o, false)
}

fn load_with(o: &Options<'_>, tolerate: bool) -> Result<Loaded> {
    if !crate::caps::can_trace() {
        return Err(Error::Permission);
    }
    capture_libbpf_log();
    let mut attempt = Attempt {
        tolerate,
        unavailable: Vec::new(),
        choice: Role::ALL
            .into_iter()
            .filter(|r| r.paths().iter().any(|&p| o.mask & (1 << p as u32) != 0))
            .map(|r| {
                let mut ms = o.backend.choices(r);
                // Cheap check first: without kprobe support, don't spend a
                // load finding out (unless kprobes were asked for).
                if o.backend == Backend::Auto && !kprobes_available() {
                    ms.retain(|&m| m != Mechanism::Kprobe);
                }
                (r, ms)
            })
            .collect(),
    };
    // What this process already found refused is not tried again.
    for i in 0..attempt.choice.len() {
        let role = attempt.choice[i].0;
        let mut last_why = None;
        attempt.choice[i].1.retain(|&m| match refused(role, m) {
            Some(why) => {
                last_why = Some(why);
                false
            }
            None => true,
        });
        if attempt.choice[i].1.is_empty() {
            let why = last_why.unwrap_or_default();
            if !tolerate {
                return Err(Error::Unsupported {
                    probe: role.name().into(),
                    reason: why,
                });
            }
            attempt.unavailable.push((role, why));
        }
    }
    attempt.choice.retain(|(_, ms)| !ms.is_empty());
    // Each failed attempt removes one mechanism, so this ends.
    loop {
        take_log();
        match try_load(o, &attempt) {
            Ok(loaded) => return Ok(loaded),
            Err(Failure::Fatal(e)) => return Err(e),
            Err(Failure::Program { prog, err, log }) => {
                let Some(role) = attempt.role_of(&prog) else {
                    return Err(Error::bpf(format!("loading {prog}"), err));
                };
                let mech = attempt
                    .current()
                    .mechanism(role)
                    .unwrap_or(Mechanism::Syscall);
                let why = reason(mech, &err, &format!("{mech} ({prog})"), &log);
                if refused_everywhere(mech, &err, &log) {
                    // No program of this mechanism will load: drop it from
                    // every role at once rather than one load at a time.
                    for r in attempt.current().roles {
                        if r.1 == mech {
                            attempt.downgrade(r.0, why.clone())?;
                        }
                    }
                } else {
                    attempt.downgrade(role, why)?;
                }
            }
        }
    }
}

enum Failure {
    /// A program of some role was refused: try the next mechanism.
    Program {
        prog: String,
        err: libbpf_rs::Error,
        /// What libbpf (and the verifier) said.
        log: String,
    },
    /// Anything else.
    Fatal(Error),
}

fn try_load(o: &Options<'_>, attempt: &Attempt) -> std::result::Result<Loaded, Failure> {
    let fatal = Failure::Fatal;

    let mut storage = Box::new(MaybeUninit::<OpenObject>::uninit());
    // SAFETY: the skeleton borrows the object storage for as long as it
    // lives. The storage is a heap allocation owned by the returned Loaded
    // and never moved out of its Box; Loaded's field order drops the links
    // and the skeleton before the storage.
    let storage_ref: &'static mut MaybeUninit<OpenObject> =
        unsafe { &mut *(storage.as_mut() as *mut MaybeUninit<OpenObject>) };

    let mut open = SocktapSkelBuilder::default()
        .open(storage_ref)
        .map_err(|e| fatal(Error::bpf("opening the BPF object", e)))?;

    let plan = attempt.current();
    let rodata = open.maps.rodata_data.as_deref_mut().ok_or_else(|| {
        fatal(Error::Io {
            what: "configuring the BPF programs".into(),
            source: std::io::Error::other("the BPF object has no .rodata"),
        })
    })?;
    let cfg: &mut types::config = &mut rodata.cfg;
    cfg.probe_mask = o.mask;
    cfg.skip_peek = u32::from(!o.include_peek);
    cfg.syscall_create = u32::from(plan.mechanism(Role::Create) == Some(Mechanism::Syscall));
    cfg.syscall_close = u32::from(plan.mechanism(Role::Close) == Some(Mechanism::Syscall));
    cfg.syscall_messages = u32::from(plan.mechanism(Role::Messages) == Some(Mechanism::Syscall));
    cfg.skip_classify = u32::from(o.unions_only && o.aggregate.is_some());
    // Wake the reader once an eighth of the ring is pending; below that it
    // reads on its own short timer.
    cfg.wakeup_bytes = o.ring_bytes / 8;
    o.filter.apply(cfg).map_err(fatal)?;
    let (agg_capacity, hist_capacity) = match o.aggregate {
        Some((keys, hist, capacity)) => {
            cfg.aggregate = 1;
            cfg.agg_keys = keys;
            cfg.hist = u32::from(hist);
            (capacity.max(1), if hist { capacity.max(1) } else { 1 })
        }
        None => (1, 1),
    };
    let maps = &mut open.maps;
    maps.events
        .set_max_entries(o.ring_bytes)
        .and_then(|()| maps.agg.set_max_entries(agg_capacity))
        .and_then(|()| maps.agg_hist.set_max_entries(hist_capacity))
        .map_err(|e| fatal(Error::bpf("sizing the maps", e)))?;

    let wanted = attempt.wanted_programs(o.devices);
    for mut prog in open.open_object_mut().progs_mut() {
        let name = prog.name().to_string_lossy().into_owned();
        prog.set_autoload(wanted.contains(&name.as_str()));
    }
    let skel = match open.load() {
        Ok(s) => s,
        Err(err) => {
            let log = take_log();
            return Err(match failing_program(&log) {
                Some(prog) => Failure::Program { prog, err, log },
                None => fatal(Error::bpf("loading the BPF programs", err)),
            });
        }
    };
    let mut links = Vec::new();
    for prog in skel.object().progs_mut() {
        let name = prog.name().to_string_lossy().into_owned();
        if !wanted.contains(&name.as_str()) {
            continue;
        }
        match prog.attach() {
            Ok(link) => links.push(link),
            Err(err) => {
                return Err(Failure::Program {
                    prog: name,
                    err,
                    log: take_log(),
                })
            }
        }
    }
    Ok(Loaded {
        _links: links,
        skel,
        _storage: storage,
        plan,
    })
}

/// Which mechanism serves each role on this kernel, found by loading and
/// attaching every program the roles need, then detaching. Needs the same
/// privileges as tracing.
pub fn probe_plan(backend: Backend) -> Result<Plan> {
    let filter = Filter::default();
    let loaded = load_with(
        &Options {
            mask: crate::probe::path_mask(&crate::probe::Probe::ALL),
            filter: &filter,
            include_peek: false,
            ring_bytes: 4096,
            aggregate: None,
            devices: false,
            backend,
            unions_only: false,
        },
        true,
    )?;
    Ok(loaded.plan.clone())
}

/// The kernel's loss counters, summed over the CPUs.
pub(crate) fn read_losses(map: &dyn MapCore) -> Result<Losses> {
    let mut out = Losses::default();
    for reason in LossReason::ALL {
        let per_cpu = map
            .lookup_percpu(&reason.index().to_ne_bytes(), MapFlags::ANY)
            .map_err(|e| Error::bpf("reading the loss counters", e))?
            .unwrap_or_default();
        out = out.plus(&Losses::of(reason, sum_per_cpu(&per_cpu, 1)[0]));
    }
    Ok(out)
}

/// Sums per-CPU values made of `n` u64 counters each, counter by counter.
pub(crate) fn sum_per_cpu(values: &[Vec<u8>], n: usize) -> Vec<u64> {
    let mut out = vec![0u64; n];
    for cpu in values {
        for (i, o) in out.iter_mut().enumerate() {
            if let Some(b) = cpu
                .get(i * 8..i * 8 + 8)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
            {
                *o += u64::from_ne_bytes(b);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_and_mechanism_names_its_programs() {
        for role in Role::ALL {
            for &m in role.candidates() {
                assert!(!programs(role, m).is_empty(), "{role:?} {m:?}");
            }
        }
        for p in Path::ALL {
            assert!(Role::of(p).paths().contains(&p));
        }
    }

    #[test]
    fn forced_backends_keep_the_syscall_layer_for_what_they_lack() {
        let b = Backend::Only(Mechanism::Tracepoint);
        assert_eq!(b.choices(Role::Messages), vec![Mechanism::Tracepoint]);
        assert_eq!(b.choices(Role::Create), vec![Mechanism::Syscall]);
        assert_eq!(b.choices(Role::Entries), vec![Mechanism::Syscall]);
        let b = Backend::Only(Mechanism::Fentry);
        assert_eq!(b.choices(Role::Close), vec![Mechanism::Fentry]);
        assert_eq!(Backend::Auto.choices(Role::Close).len(), 3);
        assert_eq!(
            Backend::parse("kprobe"),
            Some(Backend::Only(Mechanism::Kprobe))
        );
        assert_eq!(Backend::parse("ebpf"), None);
    }

    #[test]
    fn quotes_the_verifier() {
        let log = "libbpf: prog 'x': -- BEGIN PROG LOAD LOG --\nfunc '__sock_create' arg4 type PTR is not a struct\ninvalid bpf_context access off=32 size=8\nprocessed 2 insns (limit 1000000)\n-- END PROG LOAD LOG --\n";
        assert_eq!(
            verifier_says(log).as_deref(),
            Some("invalid bpf_context access off=32 size=8")
        );
        assert_eq!(verifier_says("libbpf: failed: -EPERM"), None);
    }

    #[test]
    fn finds_the_failing_program_in_libbpf_output() {
        let log = "libbpf: prog 'fexit_inet_sendmsg': BPF program load failed: -EPERM\n";
        assert_eq!(failing_program(log).as_deref(), Some("fexit_inet_sendmsg"));
        assert_eq!(failing_program("nothing"), None);
    }
}
