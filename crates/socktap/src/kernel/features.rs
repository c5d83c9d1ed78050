//! What the running kernel offers, found without loading socktap's
//! programs: its BTF (tracepoints, helpers, function names, socket flag
//! names), sysfs (kprobe support) and this process's capabilities. Each
//! answer is read once and kept.

use std::sync::OnceLock;

use libbpf_rs::btf::types::{Enum, Func, Typedef};
use libbpf_rs::btf::Btf;

/// Kernel facilities socktap's programs need, read from the kernel's BTF.
#[derive(Debug, Clone, Default)]
pub struct KernelFeatures {
    /// The kernel has BTF at /sys/kernel/btf/vmlinux.
    pub btf: bool,
    /// Why the BTF could not be read, when it could not.
    pub btf_error: Option<String>,
    /// sock:sock_send_length and sock:sock_recv_length (6.3+).
    pub length_tracepoints: bool,
    /// raw_syscalls:sys_enter / sys_exit as BTF tracepoints.
    pub syscall_tracepoints: bool,
    /// sched:sched_process_exit as a BTF tracepoint.
    pub exit_tracepoint: bool,
    /// The bpf_loop helper (5.17+).
    pub bpf_loop: bool,
    /// `enum socket_flags` bit names (without SOCK_/SOCKWQ_), when the kernel has the enum.
    pub socket_flags: Vec<(u32, String)>,
}

impl KernelFeatures {
    /// Reads the running kernel's BTF once.
    pub fn probe() -> KernelFeatures {
        let unreadable = |e: String| KernelFeatures {
            btf_error: Some(e),
            ..KernelFeatures::default()
        };
        if let Err(e) = check_btf() {
            return unreadable(e.to_string());
        }
        let btf = match Btf::from_vmlinux() {
            Ok(btf) => btf,
            Err(e) => {
                return unreadable(
                    crate::Error::Btf {
                        path: VMLINUX_BTF.into(),
                        reason: e.to_string(),
                    }
                    .to_string(),
                )
            }
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
            btf_error: None,
            length_tracepoints: has_tp("btf_trace_sock_send_length")
                && has_tp("btf_trace_sock_recv_length"),
            syscall_tracepoints: has_tp("btf_trace_sys_enter") && has_tp("btf_trace_sys_exit"),
            exit_tracepoint: has_tp("btf_trace_sched_process_exit"),
            bpf_loop: btf.type_by_name::<Enum>("bpf_func_id").is_some_and(|e| {
                e.iter()
                    .any(|m| m.name.is_some_and(|n| n == "BPF_FUNC_loop"))
            }),
            socket_flags,
        }
    }

    /// Names socket flags the way the running kernel does, falling back to
    /// the tapset's table where the kernel's BTF has no `enum socket_flags`.
    pub fn sock_flags_str(&self, flags: u64) -> String {
        if self.socket_flags.is_empty() {
            crate::tapset::tables::sock_flags_num2str(flags)
        } else {
            crate::tapset::tables::sock_flags_num2str_with(flags, &self.socket_flags)
        }
    }
}

/// Whether the kernel still has sock_sendpage (before 6.5), through which
/// sendfile and splice reach sockets instead of sendmsg. Read from the
/// kernel's BTF once, only when a function-hook backend needs to know.
/// Where the kernel publishes its BTF.
pub const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

/// Whether the kernel's BTF can be read, and if not, why: every program is
/// relocated against it, and libbpf's own error would be a bare errno.
pub(crate) fn check_btf() -> crate::Result<()> {
    use std::io::Read;
    let mut magic = [0u8; 2];
    std::fs::File::open(VMLINUX_BTF)
        .and_then(|mut f| f.read_exact(&mut magic))
        .map_err(|e| crate::Error::Btf {
            path: VMLINUX_BTF.into(),
            reason: e.to_string(),
        })?;
    // BTF starts with the magic 0xeB9F, in the machine's byte order.
    if u16::from_ne_bytes(magic) != 0xeb9f {
        return Err(crate::Error::Btf {
            path: VMLINUX_BTF.into(),
            reason: "it does not hold BTF".into(),
        });
    }
    Ok(())
}

pub(crate) fn kernel_has_sendpage() -> bool {
    static HAVE: OnceLock<bool> = OnceLock::new();
    *HAVE.get_or_init(|| {
        Btf::from_vmlinux()
            .map(|btf| btf.type_by_name::<Func>("sock_sendpage").is_some())
            .unwrap_or(false)
    })
}

/// Whether the kernel has the bpf_loop helper (5.17+), asked of the kernel
/// with one tiny program load, once per process.
pub(crate) fn kernel_has_bpf_loop() -> bool {
    static HAVE: OnceLock<bool> = OnceLock::new();
    *HAVE.get_or_init(|| {
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

/// Whether the kernel has kprobes: libbpf attaches them through the kprobe
/// PMU, or the tracefs kprobe_events file on old kernels.
pub(crate) fn kprobes_available() -> bool {
    [
        "/sys/bus/event_source/devices/kprobe",
        "/sys/kernel/tracing/kprobe_events",
        "/sys/kernel/debug/tracing/kprobe_events",
    ]
    .iter()
    .any(|p| std::path::Path::new(p).exists())
}

const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// The effective capability set of this process, if it can be read.
fn effective() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))?
        .trim();
    u64::from_str_radix(hex, 16).ok()
}

/// Whether this process holds what loading tracing programs takes:
/// CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN which implies both.
/// When the set cannot be read, assume yes and let the kernel decide.
pub fn can_trace() -> bool {
    let Some(eff) = effective() else {
        return true;
    };
    let has = |cap: u32| eff & (1u64 << cap) != 0;
    has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON))
}
