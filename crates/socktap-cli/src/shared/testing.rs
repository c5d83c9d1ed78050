//! Rows and counts for the unit tests of the commands that read the
//! kernel's rows (top, serve), so that each test states only what matters
//! to it.

use socktap::{Counts, Path, RowKey};

/// A row of `comm` on `path`: INET, UDP, every other key zero.
pub fn row(path: Path, comm: &str) -> RowKey {
    RowKey {
        path,
        pid: 0,
        uid: 0,
        comm: comm.into(),
        cgroup: 0,
        family: libc::AF_INET,
        protocol: libc::IPPROTO_UDP,
        sock_type: 0,
        port: 0,
    }
}

/// Counts without a histogram.
pub fn counts(count: u64, bytes: u64, errors: u64) -> Counts {
    Counts {
        count,
        bytes,
        errors,
        hist: None,
    }
}
