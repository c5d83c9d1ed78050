//! The library's error type.

use std::io;

/// Everything that can go wrong in socktap's library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A probe name or glob that matches no probe of the tapset.
    #[error("unknown probe '{name}'{}", hint(.nearest))]
    UnknownProbe {
        /// What was asked for.
        name: String,
        /// The closest probe names, best first.
        nearest: Vec<String>,
    },
    /// More values of one filter kind than the kernel side holds.
    #[error("too many {kind} filters: {count} given, at most {max}")]
    TooManyFilters {
        /// The filter kind, e.g. "pid".
        kind: &'static str,
        /// How many were given.
        count: usize,
        /// How many fit.
        max: usize,
    },
    /// The process lacks the capabilities to load and attach BPF programs.
    #[error(
        "permission denied: socktap needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN, e.g. run as root) to load its BPF programs"
    )]
    Permission,
    /// The kernel's BTF, which every program needs, cannot be read.
    #[error("cannot read the kernel's BTF at {path}: {reason}. socktap needs it: a kernel built with CONFIG_DEBUG_INFO_BTF=y, and the file readable by this process")]
    Btf {
        /// Where it was looked for.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The running kernel cannot serve a probe.
    #[error("{probe}: not supported by this kernel: {reason}")]
    Unsupported {
        /// The probe that cannot be served.
        probe: String,
        /// Why, in words.
        reason: String,
        /// The verifier rejected socktap's program (where the kernel has the
        /// mechanism), rather than the kernel lacking the mechanism itself:
        /// on a supported kernel, a bug to report.
        rejected_by_verifier: bool,
    },
    /// The BPF programs failed to load or attach.
    #[error("{what}: {source}")]
    Bpf {
        /// What socktap was doing.
        what: String,
        /// libbpf's error.
        #[source]
        source: libbpf_rs::Error,
    },
    /// An I/O error outside libbpf.
    #[error("{what}: {source}")]
    Io {
        /// What socktap was doing.
        what: String,
        /// The error.
        #[source]
        source: io::Error,
    },
}

fn hint(nearest: &[String]) -> String {
    if nearest.is_empty() {
        "; `socktap list` shows the probes".to_string()
    } else {
        format!(" (nearest: {})", nearest.join(", "))
    }
}

impl Error {
    /// Wraps a libbpf error, recognising missing privileges.
    pub(crate) fn bpf(what: impl Into<String>, source: libbpf_rs::Error) -> Error {
        if source.kind() == libbpf_rs::ErrorKind::PermissionDenied
            && !crate::kernel::features::can_trace()
        {
            return Error::Permission;
        }
        Error::Bpf {
            what: what.into(),
            source,
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
