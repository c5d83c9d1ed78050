//! Which BPF programs serve each role on each mechanism, by the names the
//! skeleton gives them. A unit test opens the skeleton and checks that every
//! name here exists, so a misspelt one cannot quietly load nothing.

use crate::backend::{Mechanism, Role};

/// The syscall layer's programs, by name: each is in the object twice, as
/// `name` and as `name_noloop`, the variant for kernels without bpf_loop
/// (TP_BTF_AND_NOLOOP in syscall.bpf.h).
macro_rules! syscall_programs {
    ($bpf_loop:expr, [$($name:literal),+]) => {
        if $bpf_loop {
            &[$($name),+]
        } else {
            &[$(concat!($name, "_noloop")),+]
        }
    };
}

/// The BPF programs of each (role, mechanism). A name starting with '?'
/// is loaded only where the kernel has the function it hooks (sock_sendpage).
pub(crate) fn programs(role: Role, mech: Mechanism, bpf_loop: bool) -> &'static [&'static str] {
    use Mechanism::{Fentry, Kprobe, Syscall, Tracepoint};
    match (role, mech) {
        (Role::Entries, Syscall) => syscall_programs!(bpf_loop, ["sys_enter"]),
        (Role::Messages, Tracepoint) => &["sock_send_length", "sock_recv_length"],
        (Role::Messages, Fentry) => &[
            "fexit_inet_sendmsg",
            "fexit_inet6_sendmsg",
            "fexit_unix_stream_sendmsg",
            "fexit_unix_dgram_sendmsg",
            "fexit_netlink_sendmsg",
            "fexit_inet_recvmsg",
            "fexit_inet6_recvmsg",
            "fexit_unix_stream_recvmsg",
            "fexit_unix_dgram_recvmsg",
            "fexit_netlink_recvmsg",
            "?fexit_sock_sendpage",
        ],
        (Role::Messages, Kprobe) => &[
            "kprobe_inet_sendmsg",
            "kretprobe_inet_sendmsg",
            "kprobe_inet6_sendmsg",
            "kretprobe_inet6_sendmsg",
            "kprobe_unix_stream_sendmsg",
            "kretprobe_unix_stream_sendmsg",
            "kprobe_unix_dgram_sendmsg",
            "kretprobe_unix_dgram_sendmsg",
            "kprobe_netlink_sendmsg",
            "kretprobe_netlink_sendmsg",
            "kprobe_inet_recvmsg",
            "kretprobe_inet_recvmsg",
            "kprobe_inet6_recvmsg",
            "kretprobe_inet6_recvmsg",
            "kprobe_unix_stream_recvmsg",
            "kretprobe_unix_stream_recvmsg",
            "kprobe_unix_dgram_recvmsg",
            "kretprobe_unix_dgram_recvmsg",
            "kprobe_netlink_recvmsg",
            "kretprobe_netlink_recvmsg",
            "?kprobe_sock_sendpage",
            "?kretprobe_sock_sendpage",
        ],
        (Role::Messages, Syscall) => syscall_programs!(bpf_loop, ["sys_enter", "sys_exit"]),
        (Role::Create, Fentry) => &["fentry_sock_create", "fexit_sock_create"],
        (Role::Create, Kprobe) => &["kprobe_sock_create", "kretprobe_sock_create"],
        (Role::Create, Syscall) => syscall_programs!(bpf_loop, ["sys_enter", "sys_exit"]),
        (Role::Close, Fentry) => &[
            "fentry_sock_close",
            "fexit_sock_close",
            "fentry_sock_release",
            "fexit_sock_release",
        ],
        (Role::Close, Kprobe) => &[
            "kprobe_sock_close",
            "kretprobe_sock_close",
            "kprobe_sock_release",
            "kretprobe_sock_release",
        ],
        (Role::Close, Syscall) => {
            syscall_programs!(bpf_loop, ["sys_enter", "sys_exit", "sched_process_exit"])
        }
        _ => &[],
    }
}

pub(crate) const DEVICE_PROGRAMS: &[&str] = &["net_dev_queue", "netif_receive_skb"];

#[cfg(test)]
mod tests {
    use std::mem::MaybeUninit;

    use libbpf_rs::skel::{OpenSkel, SkelBuilder};

    use super::*;
    use crate::kernel::skel::SocktapSkelBuilder;

    #[test]
    fn every_role_and_mechanism_names_its_programs() {
        for role in Role::ALL {
            for &m in role.candidates() {
                assert!(!programs(role, m, true).is_empty(), "{role:?} {m:?}");
                assert!(!programs(role, m, false).is_empty(), "{role:?} {m:?}");
            }
        }
    }

    /// Opening the object parses the ELF only: no privileges needed.
    #[test]
    fn every_program_name_exists_in_the_skeleton() {
        let mut storage = MaybeUninit::uninit();
        let open = SocktapSkelBuilder::default()
            .open(&mut storage)
            .expect("the BPF object opens");
        let names: Vec<String> = open
            .open_object()
            .progs()
            .map(|p| p.name().to_string_lossy().into_owned())
            .collect();
        let mut asked: Vec<&str> = DEVICE_PROGRAMS.to_vec();
        for role in Role::ALL {
            for &m in role.candidates() {
                for bpf_loop in [true, false] {
                    asked.extend(
                        programs(role, m, bpf_loop)
                            .iter()
                            .map(|p| p.trim_start_matches('?')),
                    );
                }
            }
        }
        for p in asked {
            assert!(
                names.iter().any(|n| n == p),
                "no program '{p}' in the skeleton"
            );
        }
    }
}
