//! socktap's conformance suite: real socket operations, each checked
//! against the exact events the tapset contract says it must produce.
//!
//! Every case sets up its sockets, starts a [`socktap::Tracer`] filtered to
//! the calling thread, performs one operation, and compares what the kernel
//! reported with the expectation: probe path, size, success, family, type,
//! protocol, pid and tid (the filter), the local and remote address and
//! port, the socket's state and its flags.
//!
//! The oracle is the syscall itself. Sizes are not written into the table:
//! each expected size is the one the workload asked for (for entry probes)
//! or the one the syscall returned (for return probes), and a failing send's
//! expected result is the errno it failed with. Addresses are the ones
//! getsockname(2) and getpeername(2) give. So the kernel's own answer
//! decides what the tracer must report, and a case checks the tracer rather
//! than a guess about how the kernel behaves. State and flags have no
//! syscall of their own: they follow the kernel's rules, written next to
//! them ([`Kind`] and the socket flags the families set, named by the
//! kernel's BTF).
//!
//! A case that forks (the exit case) runs alone, so that its child never
//! holds a copy of another case's socket.
//!
//! `socktap conformance` prints the table for the running kernel; the
//! integration tests run the same cases:
//!
//! ```no_run
//! let results = socktap_conformance::run(None, socktap::Backend::Auto)?;
//! let passed = results.iter().filter(|r| r.passed).count();
//! println!("{passed} of {} cases passed", results.len());
//! # Ok::<(), socktap_conformance::Error>(())
//! ```
#![warn(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod cases;
mod collect;
mod error;
mod exit_case;
mod operations;
mod privileged;
mod runner;
mod sockets;

pub use cases::{cases, Expect, Kind, Op};
pub use error::{Error, Result};
pub use privileged::privileged;
pub use runner::{run, run_case, selected, CaseResult};
