//! The table: the kinds of socket, the operations, and the events each
//! (operation, kind) case must produce.

use std::net::SocketAddr;

use socktap::{Event, Path};

use crate::sockets::{Sock, SS_CONNECTED, SS_UNCONNECTED};

/// The kinds of socket the suite exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// AF_INET SOCK_STREAM (TCP).
    Tcp4,
    /// AF_INET SOCK_DGRAM (UDP).
    Udp4,
    /// AF_INET6 SOCK_STREAM (TCP).
    Tcp6,
    /// AF_INET6 SOCK_DGRAM (UDP).
    Udp6,
    /// AF_UNIX SOCK_STREAM.
    UnixStream,
    /// AF_UNIX SOCK_DGRAM.
    UnixDgram,
    /// AF_NETLINK SOCK_RAW, NETLINK_ROUTE.
    Netlink,
}

impl Kind {
    /// Every kind, in table order.
    pub const ALL: [Kind; 7] = [
        Kind::Tcp4,
        Kind::Udp4,
        Kind::Tcp6,
        Kind::Udp6,
        Kind::UnixStream,
        Kind::UnixDgram,
        Kind::Netlink,
    ];

    /// A short label, e.g. "INET/TCP".
    pub fn label(self) -> &'static str {
        match self {
            Kind::Tcp4 => "INET/TCP",
            Kind::Udp4 => "INET/UDP",
            Kind::Tcp6 => "INET6/TCP",
            Kind::Udp6 => "INET6/UDP",
            Kind::UnixStream => "UNIX/STREAM",
            Kind::UnixDgram => "UNIX/DGRAM",
            Kind::Netlink => "NETLINK/ROUTE",
        }
    }

    pub(crate) fn family(self) -> i32 {
        match self {
            Kind::Tcp4 | Kind::Udp4 => libc::AF_INET,
            Kind::Tcp6 | Kind::Udp6 => libc::AF_INET6,
            Kind::UnixStream | Kind::UnixDgram => libc::AF_UNIX,
            Kind::Netlink => libc::AF_NETLINK,
        }
    }

    pub(crate) fn sock_type(self) -> i32 {
        match self {
            Kind::Tcp4 | Kind::Tcp6 | Kind::UnixStream => libc::SOCK_STREAM,
            Kind::Udp4 | Kind::Udp6 | Kind::UnixDgram => libc::SOCK_DGRAM,
            Kind::Netlink => libc::SOCK_RAW,
        }
    }

    /// `sk_protocol` of a socket of this kind created with protocol 0.
    pub(crate) fn protocol(self) -> i32 {
        match self {
            Kind::Tcp4 | Kind::Tcp6 => libc::IPPROTO_TCP,
            Kind::Udp4 | Kind::Udp6 => libc::IPPROTO_UDP,
            Kind::UnixStream | Kind::UnixDgram => 0,
            Kind::Netlink => libc::NETLINK_ROUTE,
        }
    }

    /// Whether sockets of this kind have INET or INET6 addresses.
    pub(crate) fn is_inet(self) -> bool {
        matches!(self.family(), libc::AF_INET | libc::AF_INET6)
    }

    /// `socket->state` of the sockets of this kind's pair: a stream's
    /// connect(2) and accept(2) (__inet_stream_connect, inet_accept,
    /// unix_stream_connect, unix_accept) and socketpair(2) (the UNIX
    /// datagram pair) leave them connected; a datagram connect(2)
    /// (inet_dgram_connect) changes only the sock, and netlink's one socket
    /// connects to nothing.
    pub(crate) fn pair_state(self) -> i32 {
        match self {
            Kind::Tcp4 | Kind::Tcp6 | Kind::UnixStream | Kind::UnixDgram => SS_CONNECTED,
            Kind::Udp4 | Kind::Udp6 | Kind::Netlink => SS_UNCONNECTED,
        }
    }

    pub(crate) fn is_stream(self) -> bool {
        self.sock_type() == libc::SOCK_STREAM
    }
}

/// One operation of the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// write(2)
    Write,
    /// writev(2) of two segments
    Writev,
    /// send(2)
    Send,
    /// sendto(2)
    Sendto,
    /// sendmsg(2)
    Sendmsg,
    /// sendmmsg(2) of three messages
    Sendmmsg,
    /// read(2)
    Read,
    /// readv(2) into two segments
    Readv,
    /// recv(2)
    Recv,
    /// recvfrom(2)
    Recvfrom,
    /// recvmsg(2)
    Recvmsg,
    /// recvmmsg(2) of three messages
    Recvmmsg,
    /// sendfile(2) from a file to the socket
    Sendfile,
    /// socket(2)
    Socket,
    /// socketpair(2)
    Socketpair,
    /// accept(2), then close(2) of the accepted socket
    AcceptClose,
    /// close(2) of the only descriptor
    Close,
    /// close(2) of one of two dup'd descriptors, then of the other
    CloseDup,
    /// a process exits with the socket open
    ExitOpen,
    /// a send that fails (unconnected socket)
    FailingSend,
}

impl Op {
    /// A short label, e.g. "sendmmsg×3".
    pub fn label(self) -> &'static str {
        match self {
            Op::Write => "write",
            Op::Writev => "writev",
            Op::Send => "send",
            Op::Sendto => "sendto",
            Op::Sendmsg => "sendmsg",
            Op::Sendmmsg => "sendmmsg×3",
            Op::Read => "read",
            Op::Readv => "readv",
            Op::Recv => "recv",
            Op::Recvfrom => "recvfrom",
            Op::Recvmsg => "recvmsg",
            Op::Recvmmsg => "recvmmsg×3",
            Op::Sendfile => "sendfile",
            Op::Socket => "socket",
            Op::Socketpair => "socketpair",
            Op::AcceptClose => "accept+close",
            Op::Close => "close",
            Op::CloseDup => "close dup'd",
            Op::ExitOpen => "exit open",
            Op::FailingSend => "failing send",
        }
    }

    /// Whether this is one of the receives (read, readv, recv, recvfrom,
    /// recvmsg, recvmmsg).
    pub(crate) fn is_receive(self) -> bool {
        matches!(
            self,
            Op::Read | Op::Readv | Op::Recv | Op::Recvfrom | Op::Recvmsg | Op::Recvmmsg
        )
    }

    const DATA: [Op; 12] = [
        Op::Write,
        Op::Writev,
        Op::Send,
        Op::Sendto,
        Op::Sendmsg,
        Op::Sendmmsg,
        Op::Read,
        Op::Readv,
        Op::Recv,
        Op::Recvfrom,
        Op::Recvmsg,
        Op::Recvmmsg,
    ];
}

/// One event the contract requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    /// The kernel-side path (the tapset probe it fires).
    pub path: Path,
    /// The tapset's `size` (entry: requested; return: result), if checked.
    pub size: Option<i64>,
    /// The tapset's `success`, for return probes.
    pub success: Option<bool>,
    /// The family.
    pub family: i32,
    /// The socket type.
    pub sock_type: i32,
    /// The protocol.
    pub protocol: i32,
    /// The process that must have caused it.
    pub pid: u32,
    /// Local address and port (INET and INET6 only).
    pub local: Option<SocketAddr>,
    /// Remote address and port (INET and INET6 only; unspecified when not
    /// connected).
    pub remote: Option<SocketAddr>,
    /// `socket->state` (SS_*), -1 where there is no socket yet, and
    /// [`UNIX_STATE`] for a UNIX socket's.
    pub state: i32,
    /// `socket->flags`.
    pub flags: u64,
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.path.name())?;
        if let Some(s) = self.size {
            write!(f, " size={s}")?;
        }
        if let Some(s) = self.success {
            write!(f, " success={}", u8::from(s))?;
        }
        write!(
            f,
            " family={} type={} protocol={} pid={} state={} flags={:#x}",
            self.family, self.sock_type, self.protocol, self.pid, self.state, self.flags
        )?;
        if let (Some(l), Some(r)) = (self.local, self.remote) {
            write!(f, " {l}->{r}")?;
        }
        Ok(())
    }
}

/// Every (operation, kind) pair the suite runs.
pub fn cases() -> Vec<(Op, Kind)> {
    let mut v = Vec::new();
    for kind in Kind::ALL {
        for op in Op::DATA {
            v.push((op, kind));
        }
        v.push((Op::Socket, kind));
        v.push((Op::Close, kind));
        v.push((Op::CloseDup, kind));
        v.push((Op::ExitOpen, kind));
        if kind.is_stream() {
            v.push((Op::AcceptClose, kind));
        }
        if kind != Kind::Netlink {
            v.push((Op::FailingSend, kind));
        }
    }
    v.push((Op::Socketpair, Kind::UnixStream));
    v.push((Op::Socketpair, Kind::UnixDgram));
    v.push((Op::Sendfile, Kind::Tcp4));
    v.push((Op::Sendfile, Kind::Tcp6));
    v
}

/// The event `path` must produce on the socket `sock` of `kind` made by
/// process `pid`.
pub(crate) fn exp(pid: u32, kind: Kind, sock: &Sock, path: Path, size: Option<i64>) -> Expect {
    let success = if path.is_return() && path != Path::CloseReturn {
        size.map(|s| s >= 0)
    } else {
        None
    };
    let (family, sock_type, protocol) = match path {
        // create reports the arguments as requested: protocol 0.
        Path::Create | Path::CreateReturn => (kind.family(), kind.sock_type(), 0),
        _ => (kind.family(), kind.sock_type(), kind.protocol()),
    };
    Expect {
        path,
        size,
        success,
        family,
        sock_type,
        protocol,
        pid,
        local: sock.local,
        remote: sock.remote,
        state: compared_state(family, sock.state),
        flags: sock.flags,
    }
}

/// What [`Expect::state`] holds for a UNIX socket: its `socket->state` is
/// not compared. Kernels keep it differently (a socketpair(2) of datagram
/// sockets is SS_UNCONNECTED on 5.10 and SS_CONNECTED on 6.1 to 6.18; 7.2
/// leaves connected stream sockets SS_UNCONNECTED too), and user space has
/// no view of it to check against: /proc/net/unix and unix_diag derive
/// their state from the sock's, not the socket's.
pub const UNIX_STATE: i32 = -2;

/// A state as the table compares it (see [`UNIX_STATE`]).
fn compared_state(family: i32, state: i32) -> i32 {
    if family == libc::AF_UNIX && state != -1 {
        UNIX_STATE
    } else {
        state
    }
}

/// What the kernel reported, in the terms of [`Expect`].
pub(crate) fn seen(ev: &Event) -> Expect {
    let size = match ev.path {
        Path::Create | Path::Close | Path::CloseReturn => None,
        Path::CreateReturn => Some(i64::from(ev.err)),
        _ => Some(ev.size),
    };
    Expect {
        path: ev.path,
        size,
        success: ev.success(),
        family: ev.family,
        sock_type: ev.sock_type,
        protocol: ev.protocol,
        pid: ev.pid,
        local: ev.local,
        remote: ev.remote,
        state: compared_state(ev.family, ev.state),
        flags: ev.flags,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_covers_the_contract() {
        let c = cases();
        // every data operation on every kind
        for kind in Kind::ALL {
            for op in Op::DATA {
                assert!(c.contains(&(op, kind)), "{op:?} {kind:?}");
            }
        }
        assert!(c.contains(&(Op::Sendfile, Kind::Tcp4)));
        assert!(c.contains(&(Op::Socketpair, Kind::UnixDgram)));
        assert!(c.contains(&(Op::ExitOpen, Kind::Netlink)));
        assert!(!c.contains(&(Op::AcceptClose, Kind::Udp4)));
    }
}
