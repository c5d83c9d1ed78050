//! The public vocabulary of backends: the kernel mechanisms that can serve
//! probes, the roles they serve, what the user asks for, and the plan the
//! loader settled on.

use std::fmt;

use crate::tapset::Path;

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

    /// What the role serves, in words.
    pub fn name(self) -> &'static str {
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

    /// The mechanisms to try for a role, best first.
    pub(crate) fn choices(self, role: Role) -> Vec<Mechanism> {
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
    /// the kernel with [`probe_plan`](crate::coverage::probe_plan); tracing
    /// fails instead).
    pub unavailable: Vec<(Role, String)>,
    /// Whether the programs use bpf_loop; false on kernels before 5.17, or
    /// when [`LoadSettings::bpf_loop`] turns it off, which bounds some loops.
    pub bpf_loop: bool,
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

/// How the BPF side is loaded: shared by the [`Tracer`](crate::Tracer), the
/// [`Aggregator`](crate::Aggregator) and
/// [`probe_plan`](crate::coverage::probe_plan).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadSettings {
    /// Which mechanisms to use (default: the best the kernel accepts).
    pub backend: Backend,
    /// Use bpf_loop where the kernel has it (default true). false loads the
    /// programs for kernels without it (5.10–5.16) on any kernel, to test them.
    pub bpf_loop: bool,
}

impl From<Backend> for LoadSettings {
    fn from(backend: Backend) -> Self {
        LoadSettings {
            backend,
            ..LoadSettings::default()
        }
    }
}

impl Default for LoadSettings {
    fn default() -> Self {
        LoadSettings {
            backend: Backend::Auto,
            bpf_loop: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_has_one_role() {
        for p in Path::ALL {
            assert!(Role::of(p).paths().contains(&p));
            assert_eq!(
                Role::ALL.iter().filter(|r| r.paths().contains(&p)).count(),
                1
            );
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
}
