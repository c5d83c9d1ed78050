//! The capabilities socktap needs, read from /proc/self/status.

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
