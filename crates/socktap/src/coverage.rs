//! What serves each probe on the running kernel, and what it cannot see.

use crate::backend::{LoadSettings, Mechanism, Plan, Role};
use crate::error::Result;
pub use crate::kernel::features::KernelFeatures;
use crate::tapset::Probe;

/// Which mechanism serves each role on this kernel, found by loading and
/// attaching every program the roles need, then detaching. Needs the same
/// privileges as tracing.
pub fn probe_plan(settings: LoadSettings) -> Result<Plan> {
    crate::kernel::loader::probe_plan(settings)
}

/// How completely a probe is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Coverage {
    /// Every event of the contract is seen.
    Full,
    /// Served, but some events are not seen: says which.
    Partial(&'static str),
    /// Not served on this kernel: says why.
    Unavailable(String),
}

impl std::fmt::Display for Coverage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Coverage::Full => f.write_str("full"),
            Coverage::Partial(what) => write!(f, "partial: {what}"),
            Coverage::Unavailable(why) => write!(f, "unavailable: {why}"),
        }
    }
}

/// What serves one probe here.
#[derive(Debug, Clone)]
pub struct ProbeCoverage {
    /// The probe.
    pub probe: Probe,
    /// The mechanism, e.g. "tracepoint".
    pub mechanism: &'static str,
    /// The kernel hooks it attaches to.
    pub hooks: &'static str,
    /// How completely.
    pub coverage: Coverage,
}

const IO_URING_WRITE: &str = "io_uring WRITE on a socket is reported under socket.sendmsg.return";
const IO_URING_READ: &str = "io_uring READ on a socket is reported under socket.recvmsg.return";
const FAMILIES: &str = "only INET, INET6, UNIX and NETLINK sockets are seen";
const FAMILIES_WRITE: &str = "only INET, INET6, UNIX and NETLINK sockets are seen; io_uring WRITE on a socket is reported under socket.sendmsg.return";
const FAMILIES_READ: &str = "only INET, INET6, UNIX and NETLINK sockets are seen; io_uring READ on a socket is reported under socket.recvmsg.return";
const SYSCALL_MESSAGES: &str = "syscalls only: io_uring, splice and kernel sockets are not seen; a sendfile is one message per call; in a sendmmsg/recvmmsg, a message that fails after others succeeded is not reported";
const SEND_ENTRY: &str = "no entry for io_uring and kernel-internal senders; sendmmsg entries are all reported at syscall entry, one per message";
const RECV_ENTRY: &str = "no entry for io_uring and kernel-internal receivers; recvmmsg entries are all reported at syscall entry, one per message";
const CREATE: &str = "kernel-created sockets (requester=1) and io_uring SOCKET are not seen; on some kernels (seen on 7.2) the syscall tracepoints miss the first syscalls of a process forked a moment before";
const CLOSE: &str = "not seen: a socket still referenced elsewhere when its last descriptor goes (SCM_RIGHTS in flight, io_uring fixed file, a call running in another thread), close-on-exec, kernel sockets";
const NO_LOOP: &str = "without bpf_loop (kernels before 5.17): at most 16 messages of a sendmmsg/recvmmsg get entries (summing up to 8 segments each), and close_range and exit scan at most 256 descriptors";

/// Coverage of every probe, given which mechanism serves each role (from
/// [`probe_plan`]), or predicted from the
/// kernel's BTF when the plan could not be probed (no privileges).
pub fn coverage(k: &KernelFeatures, plan: Option<&Plan>) -> Vec<ProbeCoverage> {
    Probe::ALL
        .into_iter()
        .map(|probe| probe_coverage(k, plan, probe))
        .collect()
}

/// The mechanism a role would get on a kernel with these features,
/// without trying: tracepoints for messages where the kernel has them,
/// the syscall layer otherwise.
fn predicted(k: &KernelFeatures, role: Role) -> Result<Mechanism, String> {
    match role {
        Role::Messages if k.length_tracepoints => Ok(Mechanism::Tracepoint),
        Role::Messages => Err("the kernel has no sock_*_length tracepoints (6.3+); fentry or kprobes would serve them (run as root to find out)".into()),
        _ if k.syscall_tracepoints => Ok(Mechanism::Syscall),
        _ => Err("the kernel lacks BTF tracepoints for sys_enter/sys_exit".into()),
    }
}

fn hooks(role: Role, mech: Mechanism, probe: Probe) -> &'static str {
    use Mechanism as M;
    let send = matches!(
        probe,
        Probe::Send
            | Probe::SendmsgReturn
            | Probe::AioWriteReturn
            | Probe::WriteIterReturn
            | Probe::WritevReturn
    );
    match (role, mech) {
        (Role::Messages, M::Tracepoint) if send => "tp_btf/sock_send_length + syscall context",
        (Role::Messages, M::Tracepoint) => "tp_btf/sock_recv_length + syscall context",
        (Role::Messages, M::Fentry) if send => {
            "fexit/{inet,inet6,unix_stream,unix_dgram,netlink}_sendmsg + syscall context"
        }
        (Role::Messages, M::Fentry) => "fexit/{inet,inet6,unix_stream,unix_dgram,netlink}_recvmsg + syscall context",
        (Role::Messages, M::Kprobe) if send => {
            "kprobe+kretprobe/{inet,inet6,unix_stream,unix_dgram,netlink}_sendmsg + syscall context"
        }
        (Role::Messages, M::Kprobe) => {
            "kprobe+kretprobe/{inet,inet6,unix_stream,unix_dgram,netlink}_recvmsg + syscall context"
        }
        (Role::Entries, _) => match probe {
            Probe::Sendmsg => "tp_btf/sys_enter (sendto, sendmsg, sendmmsg, sendfile, splice)",
            Probe::Recvmsg => "tp_btf/sys_enter (recvfrom, recvmsg, recvmmsg)",
            Probe::AioWrite | Probe::WriteIter => "tp_btf/sys_enter (write, pwrite64)",
            Probe::AioRead | Probe::ReadIter => "tp_btf/sys_enter (read, pread64)",
            Probe::Writev => "tp_btf/sys_enter (writev, pwritev, pwritev2)",
            _ => "tp_btf/sys_enter (readv, preadv, preadv2)",
        },
        (Role::Create, M::Fentry) => "fentry+fexit/__sock_create",
        (Role::Create, M::Kprobe) => "kprobe+kretprobe/__sock_create",
        (Role::Create, _) => "tp_btf/sys_enter + sys_exit (socket, socketpair)",
        (Role::Close, M::Fentry) => "fentry+fexit/sock_close, sock_release",
        (Role::Close, M::Kprobe) => "kprobe+kretprobe/sock_close, sock_release",
        (Role::Close, _) => {
            "tp_btf/sys_enter + sys_exit (close, close_range, dup2, dup3) + tp_btf/sched_process_exit"
        }
        (Role::Messages, M::Syscall) if send => {
            "tp_btf/sys_enter + sys_exit (write, writev, sendto, sendmsg, sendmmsg, sendfile)"
        }
        (Role::Messages, M::Syscall) => {
            "tp_btf/sys_enter + sys_exit (read, readv, recvfrom, recvmsg, recvmmsg)"
        }
    }
}

fn partial(bpf_loop: bool, role: Role, mech: Mechanism, probe: Probe) -> Option<&'static str> {
    use Probe as P;
    let file_write = matches!(
        probe,
        P::AioWriteReturn | P::WriteIterReturn | P::WritevReturn
    );
    let file_read = matches!(probe, P::AioReadReturn | P::ReadIterReturn | P::ReadvReturn);
    match (role, mech) {
        (Role::Messages, Mechanism::Tracepoint) if file_write => Some(IO_URING_WRITE),
        (Role::Messages, Mechanism::Tracepoint) if file_read => Some(IO_URING_READ),
        (Role::Messages, Mechanism::Tracepoint) => None,
        (Role::Messages, Mechanism::Syscall) => Some(SYSCALL_MESSAGES),
        (Role::Messages, _) if file_write => Some(FAMILIES_WRITE),
        (Role::Messages, _) if file_read => Some(FAMILIES_READ),
        (Role::Messages, _) => Some(FAMILIES),
        (Role::Entries, _) if !bpf_loop && matches!(probe, P::Sendmsg | P::Recvmsg) => {
            Some(NO_LOOP)
        }
        (Role::Entries, _) => match probe {
            P::Sendmsg => Some(SEND_ENTRY),
            P::Recvmsg => Some(RECV_ENTRY),
            P::AioWrite | P::WriteIter => Some(IO_URING_WRITE),
            P::AioRead | P::ReadIter => Some(IO_URING_READ),
            _ => None,
        },
        (Role::Create, Mechanism::Syscall) => Some(CREATE),
        (Role::Close, Mechanism::Syscall) if !bpf_loop => Some(NO_LOOP),
        (Role::Close, Mechanism::Syscall) => Some(CLOSE),
        _ => None,
    }
}

fn probe_coverage(k: &KernelFeatures, plan: Option<&Plan>, probe: Probe) -> ProbeCoverage {
    let role = Role::of(probe.paths()[0]);
    let chosen = match plan {
        Some(plan) => match plan.mechanism(role) {
            Some(m) => Ok(m),
            None => Err(plan
                .unavailable
                .iter()
                .find(|(r, _)| *r == role)
                .map_or_else(|| "not probed".to_string(), |(_, why)| why.clone())),
        },
        None => predicted(k, role),
    };
    let (mechanism, hooks, coverage) = if !k.btf {
        (
            None,
            "-",
            Coverage::Unavailable("the kernel has no BTF (/sys/kernel/btf/vmlinux)".into()),
        )
    } else if !cfg!(target_arch = "x86_64") {
        (
            None,
            "-",
            Coverage::Unavailable("socktap's syscall tables are x86_64 only".into()),
        )
    } else {
        match chosen {
            Ok(m) => (
                Some(m),
                hooks(role, m, probe),
                partial(plan.map_or(k.bpf_loop, |p| p.bpf_loop), role, m, probe)
                    .map_or(Coverage::Full, Coverage::Partial),
            ),
            Err(why) => (None, "-", Coverage::Unavailable(why)),
        }
    };
    ProbeCoverage {
        probe,
        mechanism: mechanism.map_or("-", Mechanism::name),
        hooks,
        coverage,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_kernel() -> KernelFeatures {
        KernelFeatures {
            btf: true,
            btf_error: None,
            length_tracepoints: true,
            syscall_tracepoints: true,
            exit_tracepoint: true,
            bpf_loop: true,
            socket_flags: vec![],
        }
    }

    #[test]
    fn send_and_receive_are_full_with_the_tracepoints() {
        let cov = coverage(&full_kernel(), None);
        assert_eq!(cov.len(), Probe::ALL.len());
        let send = cov.iter().find(|c| c.probe == Probe::Send).unwrap();
        assert_eq!(send.coverage, Coverage::Full);
        let close = cov.iter().find(|c| c.probe == Probe::Close).unwrap();
        assert!(matches!(close.coverage, Coverage::Partial(_)));
    }

    #[test]
    fn missing_tracepoints_make_probes_unavailable() {
        let k = KernelFeatures {
            length_tracepoints: false,
            ..full_kernel()
        };
        let send = probe_coverage(&k, None, Probe::Send);
        assert!(send.coverage.to_string().starts_with("unavailable: "));
        let create = probe_coverage(&k, None, Probe::Create);
        assert!(create.coverage.to_string().starts_with("partial: "));
        // With fentry serving them, the same kernel covers more.
        let plan = Plan {
            roles: vec![
                (Role::Messages, Mechanism::Fentry),
                (Role::Create, Mechanism::Fentry),
            ],
            unavailable: vec![(Role::Close, "refused".into())],
            bpf_loop: true,
        };
        let send = probe_coverage(&k, Some(&plan), Probe::Send);
        assert_eq!(send.mechanism, "fentry");
        assert!(send.coverage.to_string().contains("only INET"));
        assert_eq!(
            probe_coverage(&k, Some(&plan), Probe::CreateReturn).coverage,
            Coverage::Full
        );
        assert_eq!(
            probe_coverage(&k, Some(&plan), Probe::Close).coverage,
            Coverage::Unavailable("refused".into())
        );
    }

    #[test]
    fn flags_use_the_kernel_names_when_present() {
        let mut k = full_kernel();
        assert_eq!(k.sock_flags_str(1 << 3), "PASSCRED");
        k.socket_flags = vec![
            (0, "ASYNC_NOSPACE".into()),
            (2, "NOSPACE".into()),
            (3, "SUPPORT_ZC".into()),
        ];
        assert_eq!(k.sock_flags_str((1 << 3) | (1 << 2)), "NOSPACE|SUPPORT_ZC");
    }
}
