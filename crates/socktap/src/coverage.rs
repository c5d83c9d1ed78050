//! What serves each probe on the running kernel, and what it cannot see.

use libbpf_rs::btf::types::{Enum, Typedef};
use libbpf_rs::btf::Btf;

use crate::probe::Probe;

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

/// Kernel facilities socktap's programs need, read from the kernel's BTF.
#[derive(Debug, Clone, Default)]
pub struct KernelFeatures {
    /// The kernel has BTF at /sys/kernel/btf/vmlinux.
    pub btf: bool,
    /// sock:sock_send_length and sock:sock_recv_length (6.3+).
    pub length_tracepoints: bool,
    /// raw_syscalls:sys_enter / sys_exit as BTF tracepoints.
    pub syscall_tracepoints: bool,
    /// sched:sched_process_exit as a BTF tracepoint.
    pub exit_tracepoint: bool,
    /// `enum socket_flags` bit names (without SOCK_/SOCKWQ_), when the kernel has the enum.
    pub socket_flags: Vec<(u32, String)>,
}

impl KernelFeatures {
    /// Reads the running kernel's BTF once.
    pub fn probe() -> KernelFeatures {
        let Ok(btf) = Btf::from_vmlinux() else {
            return KernelFeatures::default();
        };
        let has_tp = |name: &str| btf.type_by_name::<Typedef>(name).is_some();
        let socket_flags = btf
            .type_by_name::<Enum>("socket_flags")
            .map(|e| {
                e.iter()
                    .filter_map(|m| {
                        let name = m.name?.to_str()?;
                        let short = name
                            .strip_prefix("SOCKWQ_")
                            .or_else(|| name.strip_prefix("SOCK_"))
                            .unwrap_or(name);
                        Some((u32::try_from(m.value).ok()?, short.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        KernelFeatures {
            btf: true,
            length_tracepoints: has_tp("btf_trace_sock_send_length")
                && has_tp("btf_trace_sock_recv_length"),
            syscall_tracepoints: has_tp("btf_trace_sys_enter") && has_tp("btf_trace_sys_exit"),
            exit_tracepoint: has_tp("btf_trace_sched_process_exit"),
            socket_flags,
        }
    }

    /// Names socket flags the way the running kernel does, falling back to
    /// the tapset's table where the kernel's BTF has no `enum socket_flags`.
    pub fn sock_flags_str(&self, flags: u64) -> String {
        if self.socket_flags.is_empty() {
            crate::tables::sock_flags_num2str(flags)
        } else {
            crate::tables::sock_flags_num2str_with(flags, &self.socket_flags)
        }
    }
}

const IO_URING_WRITE: &str = "io_uring WRITE on a socket is reported under socket.sendmsg.return";
const IO_URING_READ: &str = "io_uring READ on a socket is reported under socket.recvmsg.return";
const SEND_ENTRY: &str = "no entry for io_uring and kernel-internal senders; sendmmsg entries are all reported at syscall entry, one per message";
const RECV_ENTRY: &str = "no entry for io_uring and kernel-internal receivers; recvmmsg entries are all reported at syscall entry, one per message";
const CREATE: &str = "kernel-created sockets (requester=1) and io_uring SOCKET are not seen";
const CLOSE: &str = "not seen: a socket still referenced elsewhere when its last descriptor goes (SCM_RIGHTS in flight, io_uring fixed file, a call running in another thread), close-on-exec, kernel sockets";

/// Coverage of every probe on a kernel with these features.
pub fn coverage(k: &KernelFeatures) -> Vec<ProbeCoverage> {
    Probe::ALL
        .into_iter()
        .map(|probe| probe_coverage(k, probe))
        .collect()
}

fn probe_coverage(k: &KernelFeatures, probe: Probe) -> ProbeCoverage {
    use Probe as P;
    let arch_ok = cfg!(target_arch = "x86_64");
    let (mechanism, hooks, needs, partial): (&str, &str, bool, Option<&'static str>) = match probe
    {
        P::Send | P::SendmsgReturn => (
            "tracepoint",
            "tp_btf/sock_send_length + syscall context",
            k.length_tracepoints,
            None,
        ),
        P::Receive | P::RecvmsgReturn => (
            "tracepoint",
            "tp_btf/sock_recv_length + syscall context",
            k.length_tracepoints,
            None,
        ),
        P::AioWriteReturn | P::WriteIterReturn | P::WritevReturn => (
            "tracepoint",
            "tp_btf/sock_send_length + syscall context",
            k.length_tracepoints,
            Some(IO_URING_WRITE),
        ),
        P::AioReadReturn | P::ReadIterReturn | P::ReadvReturn => (
            "tracepoint",
            "tp_btf/sock_recv_length + syscall context",
            k.length_tracepoints,
            Some(IO_URING_READ),
        ),
        P::Sendmsg => (
            "syscall",
            "tp_btf/sys_enter (sendto, sendmsg, sendmmsg, sendfile, splice)",
            k.syscall_tracepoints,
            Some(SEND_ENTRY),
        ),
        P::Recvmsg => (
            "syscall",
            "tp_btf/sys_enter (recvfrom, recvmsg, recvmmsg)",
            k.syscall_tracepoints,
            Some(RECV_ENTRY),
        ),
        P::AioWrite | P::WriteIter => (
            "syscall",
            "tp_btf/sys_enter (write, pwrite64)",
            k.syscall_tracepoints,
            Some(IO_URING_WRITE),
        ),
        P::AioRead | P::ReadIter => (
            "syscall",
            "tp_btf/sys_enter (read, pread64)",
            k.syscall_tracepoints,
            Some(IO_URING_READ),
        ),
        P::Writev => (
            "syscall",
            "tp_btf/sys_enter (writev, pwritev, pwritev2)",
            k.syscall_tracepoints,
            None,
        ),
        P::Readv => (
            "syscall",
            "tp_btf/sys_enter (readv, preadv, preadv2)",
            k.syscall_tracepoints,
            None,
        ),
        P::Create | P::CreateReturn => (
            "syscall",
            "tp_btf/sys_enter + sys_exit (socket, socketpair)",
            k.syscall_tracepoints,
            Some(CREATE),
        ),
        P::Close | P::CloseReturn => (
            "syscall",
            "tp_btf/sys_enter + sys_exit (close, close_range, dup2, dup3) + tp_btf/sched_process_exit",
            k.syscall_tracepoints && k.exit_tracepoint,
            Some(CLOSE),
        ),
    };
    let coverage = if !k.btf {
        Coverage::Unavailable("the kernel has no BTF (/sys/kernel/btf/vmlinux)".into())
    } else if !arch_ok {
        Coverage::Unavailable("socktap's syscall tables are x86_64 only".into())
    } else if !needs {
        Coverage::Unavailable(format!("the kernel lacks {hooks}"))
    } else if let Some(what) = partial {
        Coverage::Partial(what)
    } else {
        Coverage::Full
    };
    ProbeCoverage {
        probe,
        mechanism,
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
            length_tracepoints: true,
            syscall_tracepoints: true,
            exit_tracepoint: true,
            socket_flags: vec![],
        }
    }

    #[test]
    fn send_and_receive_are_full_with_the_tracepoints() {
        let cov = coverage(&full_kernel());
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
        let send = probe_coverage(&k, Probe::Send);
        assert!(send.coverage.to_string().starts_with("unavailable: "));
        let create = probe_coverage(&k, Probe::Create);
        assert!(create.coverage.to_string().starts_with("partial: "));
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
