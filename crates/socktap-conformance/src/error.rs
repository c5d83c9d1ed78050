//! The suite's error type.

use std::io;

/// What stops the suite from running at all. A workload that misbehaves is
/// not an error but a failed case, with the reason in
/// [`CaseResult::detail`](crate::CaseResult::detail).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Tracing failed: no privileges, no BPF, or a backend this kernel
    /// cannot serve. Shown exactly as the library shows it.
    #[error(transparent)]
    Trace(#[from] socktap::Error),
    /// A case's events differ from what its syscalls did, and the kernel
    /// side reported losses meanwhile, which may explain the difference.
    #[error("{diff}; the kernel side lost events meanwhile: {losses}")]
    Lost {
        /// The case's expected and seen events, side by side.
        diff: String,
        /// The losses, by reason.
        losses: socktap::Losses,
    },
    /// A system call of the suite itself failed.
    #[error("{what}: {source}")]
    Io {
        /// What the suite was doing.
        what: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// Wraps an I/O error with what the suite was doing.
    pub(crate) fn io(what: &'static str, source: io::Error) -> Error {
        Error::Io { what, source }
    }
}

/// The suite's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
