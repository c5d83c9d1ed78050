//! Filters, applied in the kernel before an event is recorded
//! (written into the programs by `kernel::config`).

use crate::kernel::skel::types::socktap_limits;

/// How many values of one kind the kernel side holds (`MAX_FILTER` in socktap.h).
pub const MAX_VALUES: usize = socktap_limits::MAX_FILTER.0 as usize;

/// The bytes of a command name the kernel keeps, without its NUL: longer
/// `comms` filters never match.
pub const MAX_COMM_BYTES: usize = socktap_limits::TASK_COMM_LEN.0 as usize - 1;

/// Which events to keep. Values of one kind are OR'ed, kinds are AND'ed;
/// an empty kind keeps everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Process ids (tgid).
    pub pids: Vec<u32>,
    /// Thread ids.
    pub tids: Vec<u32>,
    /// Real uids.
    pub uids: Vec<u32>,
    /// Command names, matched exactly (at most 15 bytes, as the kernel keeps them).
    pub comms: Vec<String>,
    /// Families (the tapset's `family`), e.g. 2 for INET.
    pub families: Vec<i32>,
    /// Protocols (`sk_protocol`), e.g. 6 for TCP.
    pub protocols: Vec<i32>,
    /// Socket types, e.g. 1 for STREAM.
    pub types: Vec<i32>,
    /// Local or remote ports of INET/INET6 sockets.
    pub ports: Vec<u16>,
    /// cgroup v2 folders (e.g. `/sys/fs/cgroup/unified/system.slice`): a
    /// task is kept if its cgroup is one of them or below one, including
    /// cgroups made after the start.
    pub cgroups: Vec<std::path::PathBuf>,
    /// Keep only failures: return probes whose result is an error.
    pub failed_only: bool,
    /// Keep only successes: drop return probes whose result is an error
    /// (entry probes, which have no result, are kept).
    pub succeeded_only: bool,
}
