//! The tapset's probe points: names, variables, and which kernel-side event
//! each one is made of.

use std::fmt;

use serde::Serialize;

/// One kernel-side event kind, as the BPF programs report it (`enum probe_id`
/// in `socktap.h`; a test holds the two equal). Each is the base of one tapset probe; aliases such as
/// `socket.send` are unions of several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[repr(u16)]
pub enum Path {
    /// `socket.sendmsg`
    Sendmsg = 0,
    /// `socket.sendmsg.return`
    SendmsgReturn = 1,
    /// `socket.recvmsg`
    Recvmsg = 2,
    /// `socket.recvmsg.return`
    RecvmsgReturn = 3,
    /// `socket.aio_write`
    AioWrite = 4,
    /// `socket.aio_write.return`
    AioWriteReturn = 5,
    /// `socket.aio_read`
    AioRead = 6,
    /// `socket.aio_read.return`
    AioReadReturn = 7,
    /// `socket.writev`
    Writev = 8,
    /// `socket.writev.return`
    WritevReturn = 9,
    /// `socket.readv`
    Readv = 10,
    /// `socket.readv.return`
    ReadvReturn = 11,
    /// `socket.create`
    Create = 12,
    /// `socket.create.return`
    CreateReturn = 13,
    /// `socket.close`
    Close = 14,
    /// `socket.close.return`
    CloseReturn = 15,
}

impl Path {
    /// All kernel-side event kinds, in `probe_id` order.
    pub const ALL: [Path; 16] = [
        Path::Sendmsg,
        Path::SendmsgReturn,
        Path::Recvmsg,
        Path::RecvmsgReturn,
        Path::AioWrite,
        Path::AioWriteReturn,
        Path::AioRead,
        Path::AioReadReturn,
        Path::Writev,
        Path::WritevReturn,
        Path::Readv,
        Path::ReadvReturn,
        Path::Create,
        Path::CreateReturn,
        Path::Close,
        Path::CloseReturn,
    ];

    /// The kind with the given `probe_id`, if there is one.
    pub fn from_id(id: u16) -> Option<Path> {
        Path::ALL.get(usize::from(id)).copied()
    }

    /// The tapset name of the probe this kind is the base of.
    pub fn name(self) -> &'static str {
        self.probe().name()
    }

    /// The probe whose base this kind is.
    pub fn probe(self) -> Probe {
        match self {
            Path::Sendmsg => Probe::Sendmsg,
            Path::SendmsgReturn => Probe::SendmsgReturn,
            Path::Recvmsg => Probe::Recvmsg,
            Path::RecvmsgReturn => Probe::RecvmsgReturn,
            Path::AioWrite => Probe::AioWrite,
            Path::AioWriteReturn => Probe::AioWriteReturn,
            Path::AioRead => Probe::AioRead,
            Path::AioReadReturn => Probe::AioReadReturn,
            Path::Writev => Probe::Writev,
            Path::WritevReturn => Probe::WritevReturn,
            Path::Readv => Probe::Readv,
            Path::ReadvReturn => Probe::ReadvReturn,
            Path::Create => Probe::Create,
            Path::CreateReturn => Probe::CreateReturn,
            Path::Close => Probe::Close,
            Path::CloseReturn => Probe::CloseReturn,
        }
    }

    /// Whether this is a return (completion) kind, which carries `success`.
    pub fn is_return(self) -> bool {
        (self as u16) % 2 == 1
    }
}

/// A probe point of the socket tapset, by its tapset name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[non_exhaustive]
pub enum Probe {
    /// `socket.send`: every message sent, exactly once.
    Send,
    /// `socket.receive`: every message received, exactly once.
    Receive,
    /// `socket.sendmsg`
    Sendmsg,
    /// `socket.sendmsg.return`
    SendmsgReturn,
    /// `socket.recvmsg`
    Recvmsg,
    /// `socket.recvmsg.return`
    RecvmsgReturn,
    /// `socket.aio_write`
    AioWrite,
    /// `socket.aio_write.return`
    AioWriteReturn,
    /// `socket.aio_read`
    AioRead,
    /// `socket.aio_read.return`
    AioReadReturn,
    /// `socket.write_iter`: alias of `socket.aio_write`.
    WriteIter,
    /// `socket.write_iter.return`: alias of `socket.aio_write.return`.
    WriteIterReturn,
    /// `socket.read_iter`: alias of `socket.aio_read`.
    ReadIter,
    /// `socket.read_iter.return`: alias of `socket.aio_read.return`.
    ReadIterReturn,
    /// `socket.writev`
    Writev,
    /// `socket.writev.return`
    WritevReturn,
    /// `socket.readv`
    Readv,
    /// `socket.readv.return`
    ReadvReturn,
    /// `socket.create`
    Create,
    /// `socket.create.return`
    CreateReturn,
    /// `socket.close`
    Close,
    /// `socket.close.return`
    CloseReturn,
}

const SOCKET_VARS: &[&str] = &[
    "name", "size", "protocol", "family", "state", "flags", "type",
];
const RETURN_VARS: &[&str] = &[
    "name", "size", "protocol", "family", "state", "flags", "type", "success",
];

impl Probe {
    /// What is traced or counted when nothing is chosen: the two aliases
    /// that see every message exactly once.
    pub const DEFAULT: [Probe; 2] = [Probe::Send, Probe::Receive];

    /// Every probe, in the order `socktap list` prints them.
    pub const ALL: [Probe; 22] = [
        Probe::Send,
        Probe::Receive,
        Probe::Sendmsg,
        Probe::SendmsgReturn,
        Probe::Recvmsg,
        Probe::RecvmsgReturn,
        Probe::AioWrite,
        Probe::AioWriteReturn,
        Probe::AioRead,
        Probe::AioReadReturn,
        Probe::WriteIter,
        Probe::WriteIterReturn,
        Probe::ReadIter,
        Probe::ReadIterReturn,
        Probe::Writev,
        Probe::WritevReturn,
        Probe::Readv,
        Probe::ReadvReturn,
        Probe::Create,
        Probe::CreateReturn,
        Probe::Close,
        Probe::CloseReturn,
    ];

    /// The tapset name, e.g. `"socket.sendmsg.return"`.
    pub fn name(self) -> &'static str {
        match self {
            Probe::Send => "socket.send",
            Probe::Receive => "socket.receive",
            Probe::Sendmsg => "socket.sendmsg",
            Probe::SendmsgReturn => "socket.sendmsg.return",
            Probe::Recvmsg => "socket.recvmsg",
            Probe::RecvmsgReturn => "socket.recvmsg.return",
            Probe::AioWrite => "socket.aio_write",
            Probe::AioWriteReturn => "socket.aio_write.return",
            Probe::AioRead => "socket.aio_read",
            Probe::AioReadReturn => "socket.aio_read.return",
            Probe::WriteIter => "socket.write_iter",
            Probe::WriteIterReturn => "socket.write_iter.return",
            Probe::ReadIter => "socket.read_iter",
            Probe::ReadIterReturn => "socket.read_iter.return",
            Probe::Writev => "socket.writev",
            Probe::WritevReturn => "socket.writev.return",
            Probe::Readv => "socket.readv",
            Probe::ReadvReturn => "socket.readv.return",
            Probe::Create => "socket.create",
            Probe::CreateReturn => "socket.create.return",
            Probe::Close => "socket.close",
            Probe::CloseReturn => "socket.close.return",
        }
    }

    /// The probe with this exact tapset name.
    pub fn from_name(name: &str) -> Option<Probe> {
        Probe::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The kernel-side event kinds this probe is made of.
    pub fn paths(self) -> &'static [Path] {
        match self {
            Probe::Send => &[
                Path::SendmsgReturn,
                Path::AioWriteReturn,
                Path::WritevReturn,
            ],
            Probe::Receive => &[Path::RecvmsgReturn, Path::AioReadReturn, Path::ReadvReturn],
            Probe::Sendmsg => &[Path::Sendmsg],
            Probe::SendmsgReturn => &[Path::SendmsgReturn],
            Probe::Recvmsg => &[Path::Recvmsg],
            Probe::RecvmsgReturn => &[Path::RecvmsgReturn],
            Probe::AioWrite | Probe::WriteIter => &[Path::AioWrite],
            Probe::AioWriteReturn | Probe::WriteIterReturn => &[Path::AioWriteReturn],
            Probe::AioRead | Probe::ReadIter => &[Path::AioRead],
            Probe::AioReadReturn | Probe::ReadIterReturn => &[Path::AioReadReturn],
            Probe::Writev => &[Path::Writev],
            Probe::WritevReturn => &[Path::WritevReturn],
            Probe::Readv => &[Path::Readv],
            Probe::ReadvReturn => &[Path::ReadvReturn],
            Probe::Create => &[Path::Create],
            Probe::CreateReturn => &[Path::CreateReturn],
            Probe::Close => &[Path::Close],
            Probe::CloseReturn => &[Path::CloseReturn],
        }
    }

    /// What this probe is an alias of, if it is one.
    pub fn alias_of(self) -> Option<&'static str> {
        match self {
            Probe::Send => {
                Some("socket.sendmsg.return, socket.aio_write.return, socket.writev.return")
            }
            Probe::Receive => {
                Some("socket.recvmsg.return, socket.aio_read.return, socket.readv.return")
            }
            Probe::WriteIter => Some("socket.aio_write"),
            Probe::WriteIterReturn => Some("socket.aio_write.return"),
            Probe::ReadIter => Some("socket.aio_read"),
            Probe::ReadIterReturn => Some("socket.aio_read.return"),
            _ => None,
        }
    }

    /// The tapset variables this probe defines.
    pub fn variables(self) -> &'static [&'static str] {
        match self {
            Probe::Create => &["name", "family", "type", "protocol", "requester"],
            Probe::CreateReturn => &[
                "name",
                "family",
                "type",
                "protocol",
                "requester",
                "err",
                "success",
            ],
            // The tapset's close.return has only `name`; socktap also carries
            // the fields read at entry.
            Probe::CloseReturn => &["name"],
            p if p.paths().iter().all(|k| k.is_return()) => RETURN_VARS,
            _ => SOCKET_VARS,
        }
    }

    /// One line on what fires this probe.
    pub fn description(self) -> &'static str {
        match self {
            Probe::Send => "every message sent on a socket, exactly once",
            Probe::Receive => "every message received from a socket, exactly once",
            Probe::Sendmsg | Probe::SendmsgReturn => {
                "send, sendto, sendmsg, sendmmsg (each message), sendfile/splice into a socket, io_uring, kernel senders"
            }
            Probe::Recvmsg | Probe::RecvmsgReturn => {
                "recv, recvfrom, recvmsg, recvmmsg (each message), io_uring, kernel receivers"
            }
            Probe::AioWrite | Probe::AioWriteReturn | Probe::WriteIter | Probe::WriteIterReturn => {
                "write(2) and pwrite(2) on a socket"
            }
            Probe::AioRead | Probe::AioReadReturn | Probe::ReadIter | Probe::ReadIterReturn => {
                "read(2) and pread(2) on a socket"
            }
            Probe::Writev | Probe::WritevReturn => "writev(2), pwritev(2), pwritev2(2) on a socket",
            Probe::Readv | Probe::ReadvReturn => "readv(2), preadv(2), preadv2(2) on a socket",
            Probe::Create | Probe::CreateReturn => {
                "a socket is created: socket(2), socketpair(2) (fires twice)"
            }
            Probe::Close | Probe::CloseReturn => {
                "a socket is released: its last reference goes (close, close_range, dup2 over it, exit)"
            }
        }
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The kernel-side paths the probes are made of, as the BPF programs'
/// `probe_mask`: bit (1 << path) for each.
pub fn path_mask(probes: &[Probe]) -> u32 {
    probes
        .iter()
        .flat_map(|p| p.paths())
        .fold(0, |mask, &path| mask | 1 << path as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips() {
        for p in Probe::ALL {
            assert_eq!(Probe::from_name(p.name()), Some(p));
        }
        assert_eq!(Probe::from_name("socket.sendmsg.ret"), None);
    }

    #[test]
    fn path_ids_match_the_c_enum() {
        use crate::kernel::skel::types::probe_id as c;
        let kernel = [
            c::PROBE_SENDMSG,
            c::PROBE_SENDMSG_RETURN,
            c::PROBE_RECVMSG,
            c::PROBE_RECVMSG_RETURN,
            c::PROBE_AIO_WRITE,
            c::PROBE_AIO_WRITE_RETURN,
            c::PROBE_AIO_READ,
            c::PROBE_AIO_READ_RETURN,
            c::PROBE_WRITEV,
            c::PROBE_WRITEV_RETURN,
            c::PROBE_READV,
            c::PROBE_READV_RETURN,
            c::PROBE_CREATE,
            c::PROBE_CREATE_RETURN,
            c::PROBE_CLOSE,
            c::PROBE_CLOSE_RETURN,
        ];
        assert_eq!(Path::ALL.len(), c::PROBE_COUNT.0 as usize);
        for (k, id) in Path::ALL.iter().zip(kernel) {
            assert_eq!(*k as u32, id.0, "{k:?}");
        }
        for (i, k) in Path::ALL.iter().enumerate() {
            assert_eq!(Path::from_id(i as u16), Some(*k));
        }
        assert_eq!(Path::from_id(16), None);
        assert!(Path::SendmsgReturn.is_return());
        assert!(!Path::Close.is_return());
    }

    #[test]
    fn send_and_receive_partition_the_return_paths() {
        let mut all: Vec<Path> = Probe::Send.paths().to_vec();
        all.extend(Probe::Receive.paths());
        all.sort();
        assert_eq!(
            all,
            vec![
                Path::SendmsgReturn,
                Path::RecvmsgReturn,
                Path::AioWriteReturn,
                Path::AioReadReturn,
                Path::WritevReturn,
                Path::ReadvReturn
            ]
        );
    }

    #[test]
    fn path_masks() {
        assert_eq!(path_mask(&Probe::ALL), 0xffff);
        assert_eq!(path_mask(&[Probe::Send]), 0b10_0010_0010);
        assert_eq!(path_mask(&[Probe::WriteIter, Probe::AioWrite]), 1 << 4);
        assert_eq!(path_mask(&[]), 0);
    }

    #[test]
    fn return_probes_carry_success() {
        assert!(Probe::Send.variables().contains(&"success"));
        assert!(Probe::SendmsgReturn.variables().contains(&"success"));
        assert!(!Probe::Sendmsg.variables().contains(&"success"));
        assert!(Probe::CreateReturn.variables().contains(&"err"));
        assert!(Probe::Create.variables().contains(&"requester"));
    }
}
