//! The libc side of the workloads: checked syscall results, socket
//! addresses, and the sockets of each kind the operations run on.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;

use crate::cases::Kind;

/// The calling thread's id.
pub(crate) fn gettid() -> u32 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::gettid() as u32 }
}

/// The error of the last failed libc call.
pub(crate) fn last_err() -> io::Error {
    io::Error::last_os_error()
}

/// A libc result: negative means failed, with the reason in errno.
pub(crate) fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(last_err())
    } else {
        Ok(ret)
    }
}

/// [`check`] for calls that return a byte count.
pub(crate) fn check_size(ret: libc::ssize_t) -> io::Result<i64> {
    if ret < 0 {
        Err(last_err())
    } else {
        Ok(ret as i64)
    }
}

/// A new close-on-exec socket.
pub(crate) fn new_socket(family: i32, ty: i32, protocol: i32) -> io::Result<OwnedFd> {
    // SAFETY: socket(2) with plain integer arguments.
    let fd = check(unsafe { libc::socket(family, ty | libc::SOCK_CLOEXEC, protocol) })?;
    // SAFETY: fd was just returned by socket(2) and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `socket->state` of a socket that nothing connected (SS_UNCONNECTED,
/// include/uapi/linux/net.h).
pub(crate) const SS_UNCONNECTED: i32 = 1;
/// `socket->state` after a stream socket's connect(2) or accept(2), and of
/// both sockets of a socketpair(2) (SS_CONNECTED).
pub(crate) const SS_CONNECTED: i32 = 3;

/// What the tapset reports of one socket besides its numbers: addresses,
/// state and flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sock {
    pub(crate) local: Option<SocketAddr>,
    pub(crate) remote: Option<SocketAddr>,
    pub(crate) state: i32,
    pub(crate) flags: u64,
}

impl Sock {
    /// The socket `fd` of `kind` in `state`, with its addresses as
    /// getsockname(2) and getpeername(2) give them now.
    pub(crate) fn of(fd: RawFd, kind: Kind, state: i32) -> io::Result<Sock> {
        let (local, remote) = if kind.is_inet() {
            let local = Addr::of(fd)?.socket_addr();
            let remote = match Addr::peer_of(fd) {
                Ok(a) => a.socket_addr(),
                Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => Some(unspecified(kind)),
                Err(e) => return Err(e),
            };
            (local, remote)
        } else {
            (None, None)
        };
        Ok(Sock {
            local,
            remote,
            state,
            flags: flags(kind),
        })
    }

    /// What the create probes report: no socket yet (the tapset's
    /// socket.create and socket.create.return have no state or flags).
    pub(crate) fn none() -> Sock {
        Sock {
            local: None,
            remote: None,
            state: -1,
            flags: 0,
        }
    }

    /// A socket of `kind` as socket(2) makes it: bound and connected to
    /// nothing.
    pub(crate) fn fresh(kind: Kind) -> Sock {
        let none = kind.is_inet().then(|| unspecified(kind));
        Sock {
            local: none,
            remote: none,
            state: SS_UNCONNECTED,
            flags: flags(kind),
        }
    }
}

/// The unspecified address of an INET or INET6 `kind`, port 0.
fn unspecified(kind: Kind) -> SocketAddr {
    let ip = if kind.family() == libc::AF_INET6 {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    };
    SocketAddr::new(ip, 0)
}

/// `socket->flags` of every socket of `kind` in the table: the bits the
/// family sets on its sockets, read once (the first call makes a socket of
/// its own, so make it before tracing). They are SOCK_SUPPORT_ZC, which
/// tcp_init_sock and udp_init_sock set (6.0+, with the flag) and
/// inet_accept passes on, and SOCK_CUSTOM_SOCKOPT, which udp_lib_init_sock
/// sets (6.2+, with the flag) and a UNIX stream socket has where it handles
/// SOL_SOCKET's SO_INQ itself (6.17+), as setsockopt(2) tells. The bit
/// numbers are the kernel's, from its BTF where the flags are an enum
/// (recent kernels); before, they were #defines that BTF does not keep, numbered 5
/// and 6 (include/linux/net.h). No case sets the other bits: they say that
/// a send waited for buffer space or a reader for data.
pub(crate) fn flags(kind: Kind) -> u64 {
    static BITS: OnceLock<(u64, u64, bool)> = OnceLock::new();
    let (zc, custom, unix_custom) = *BITS.get_or_init(|| {
        let bits = socktap::coverage::KernelFeatures::probe().socket_flags;
        let bit = |want: &str, define: u32, since: (u32, u32)| {
            if bits.is_empty() {
                return if kernel_at_least(since) {
                    1u64 << define
                } else {
                    0
                };
            }
            bits.iter()
                .find(|(_, name)| name == want)
                .map_or(0, |(b, _)| 1u64 << b)
        };
        (
            bit("SUPPORT_ZC", 5, (6, 0)),
            bit("CUSTOM_SOCKOPT", 6, (6, 2)),
            unix_stream_has_so_inq(),
        )
    });
    match kind {
        Kind::Tcp4 | Kind::Tcp6 => zc,
        Kind::Udp4 | Kind::Udp6 => zc | custom,
        Kind::UnixStream if unix_custom => custom,
        Kind::UnixStream | Kind::UnixDgram | Kind::Netlink => 0,
    }
}

/// Whether the running kernel's version is at least `(major, minor)`.
fn kernel_at_least(since: (u32, u32)) -> bool {
    // SAFETY: uname fills the zeroed utsname it is given.
    let mut u: libc::utsname = unsafe { zeroed() };
    // SAFETY: as above.
    if unsafe { libc::uname(&mut u) } != 0 {
        return false;
    }
    let release: String = u
        .release
        .iter()
        .map(|&c| c as u8 as char)
        .take_while(|&c| c != '\0')
        .collect();
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let version = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    version >= since
}

/// Whether a UNIX stream socket takes SO_INQ at SOL_SOCKET: only its own
/// setsockopt does, which the kernel calls for SOL_SOCKET when the socket
/// has SOCK_CUSTOM_SOCKOPT.
fn unix_stream_has_so_inq() -> bool {
    /// SO_INQ (asm-generic/socket.h; the libc crate does not have it yet).
    const SO_INQ: libc::c_int = 84;
    let Ok(fd) = new_socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) else {
        return false;
    };
    let off: libc::c_int = 0;
    // SAFETY: off is a valid int of the length given.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_INQ,
            (&raw const off).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    r == 0
}

/// A socket address of any family, with its length.
pub(crate) struct Addr {
    storage: libc::sockaddr_storage,
    pub(crate) len: libc::socklen_t,
}

impl Addr {
    /// The address `fd` is bound to.
    pub(crate) fn of(fd: RawFd) -> io::Result<Addr> {
        let mut a = Addr {
            // SAFETY: sockaddr_storage is plain data; all-zero is valid.
            storage: unsafe { zeroed() },
            len: size_of::<libc::sockaddr_storage>() as libc::socklen_t,
        };
        // SAFETY: storage and len are valid, writable, and len is its size.
        check(unsafe { libc::getsockname(fd, (&raw mut a.storage).cast(), &mut a.len) })?;
        Ok(a)
    }

    /// The address `fd` is connected to.
    fn peer_of(fd: RawFd) -> io::Result<Addr> {
        let mut a = Addr {
            // SAFETY: sockaddr_storage is plain data; all-zero is valid.
            storage: unsafe { zeroed() },
            len: size_of::<libc::sockaddr_storage>() as libc::socklen_t,
        };
        // SAFETY: storage and len are valid, writable, and len is its size.
        check(unsafe { libc::getpeername(fd, (&raw mut a.storage).cast(), &mut a.len) })?;
        Ok(a)
    }

    /// The address as an INET or INET6 socket address; `None` for others.
    fn socket_addr(&self) -> Option<SocketAddr> {
        let p = (&raw const self.storage).cast::<u8>();
        match i32::from(self.storage.ss_family) {
            libc::AF_INET => {
                // SAFETY: an AF_INET address is a sockaddr_in, which
                // sockaddr_storage is larger than and aligned for.
                let sin = unsafe { &*p.cast::<libc::sockaddr_in>() };
                let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                Some(SocketAddr::new(IpAddr::V4(ip), u16::from_be(sin.sin_port)))
            }
            libc::AF_INET6 => {
                // SAFETY: an AF_INET6 address is a sockaddr_in6, which
                // sockaddr_storage is larger than and aligned for.
                let sin6 = unsafe { &*p.cast::<libc::sockaddr_in6>() };
                let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
                Some(SocketAddr::new(
                    IpAddr::V6(ip),
                    u16::from_be(sin6.sin6_port),
                ))
            }
            _ => None,
        }
    }

    /// The loopback address of `family` (AF_INET or AF_INET6), port 0.
    fn loopback(family: i32) -> Addr {
        // SAFETY: sockaddr_storage is plain data; all-zero is valid.
        let mut storage: libc::sockaddr_storage = unsafe { zeroed() };
        let len = if family == libc::AF_INET {
            let sin = (&raw mut storage).cast::<libc::sockaddr_in>();
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe {
                (*sin).sin_family = libc::AF_INET as libc::sa_family_t;
                (*sin).sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
            }
            size_of::<libc::sockaddr_in>()
        } else {
            let sin6 = (&raw mut storage).cast::<libc::sockaddr_in6>();
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe {
                (*sin6).sin6_family = libc::AF_INET6 as libc::sa_family_t;
                (*sin6).sin6_addr.s6_addr[15] = 1;
            }
            size_of::<libc::sockaddr_in6>()
        };
        Addr {
            storage,
            len: len as libc::socklen_t,
        }
    }

    /// The address, for the libc calls that take one.
    pub(crate) fn ptr(&self) -> *const libc::sockaddr {
        (&raw const self.storage).cast()
    }
}

fn bind(fd: &OwnedFd, a: &Addr) -> io::Result<()> {
    // SAFETY: a points to a valid address of a.len bytes.
    check(unsafe { libc::bind(fd.as_raw_fd(), a.ptr(), a.len) }).map(drop)
}

pub(crate) fn connect(fd: &OwnedFd, a: &Addr) -> io::Result<()> {
    // SAFETY: a points to a valid address of a.len bytes.
    check(unsafe { libc::connect(fd.as_raw_fd(), a.ptr(), a.len) }).map(drop)
}

/// Accepts one connection, close-on-exec.
pub(crate) fn accept(fd: &OwnedFd) -> io::Result<OwnedFd> {
    // SAFETY: NULL address and length are allowed by accept4(2).
    let c = check(unsafe {
        libc::accept4(
            fd.as_raw_fd(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_CLOEXEC,
        )
    })?;
    // SAFETY: c was just returned by accept4(2) and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(c) })
}

/// A connected AF_UNIX pair of type `ty`, close-on-exec.
pub(crate) fn socketpair(ty: i32) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds has room for the two descriptors socketpair(2) writes.
    check(unsafe {
        libc::socketpair(libc::AF_UNIX, ty | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr())
    })?;
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// An abstract-namespace AF_UNIX address unique to this process and call.
fn unix_abstract(tag: &str) -> Addr {
    // SAFETY: sockaddr_storage is plain data; all-zero is valid.
    let mut storage: libc::sockaddr_storage = unsafe { zeroed() };
    let sun = (&raw mut storage).cast::<libc::sockaddr_un>();
    // Unique per call, so that a listener of an earlier case never stands
    // in the way.
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("socktap-conf-{}-{tag}-{seq}", std::process::id());
    // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_un;
    // the name is far shorter than sun_path.
    unsafe {
        (*sun).sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (i, b) in name.bytes().enumerate() {
            (*sun).sun_path[i + 1] = b as libc::c_char;
        }
    }
    let len = size_of::<libc::sa_family_t>() + 1 + name.len();
    Addr {
        storage,
        len: len as libc::socklen_t,
    }
}

/// A connected pair, or for netlink one socket talking to the kernel.
pub(crate) struct Pair {
    /// The sending side.
    pub(crate) tx: OwnedFd,
    /// The receiving side; none for netlink, whose replies come back on `tx`.
    pub(crate) rx: Option<OwnedFd>,
    /// The listening socket of a stream pair.
    pub(crate) listener: Option<OwnedFd>,
    /// The receiver's address, for sendto on datagram sockets.
    pub(crate) peer: Option<Addr>,
}

impl Pair {
    /// The descriptor that receives.
    pub(crate) fn rx(&self) -> RawFd {
        self.rx.as_ref().unwrap_or(&self.tx).as_raw_fd()
    }
}

/// A connected pair of `kind`, over loopback or an abstract name.
pub(crate) fn pair(kind: Kind) -> io::Result<Pair> {
    match kind {
        Kind::Tcp4 | Kind::Tcp6 | Kind::UnixStream => {
            let l = new_socket(kind.family(), libc::SOCK_STREAM, 0)?;
            if kind == Kind::UnixStream {
                bind(&l, &unix_abstract("listen"))?;
            } else {
                bind(&l, &Addr::loopback(kind.family()))?;
            }
            // SAFETY: listen(2) on a socket we own.
            check(unsafe { libc::listen(l.as_raw_fd(), 4) })?;
            let tx = new_socket(kind.family(), libc::SOCK_STREAM, 0)?;
            connect(&tx, &Addr::of(l.as_raw_fd())?)?;
            let rx = accept(&l)?;
            Ok(Pair {
                tx,
                rx: Some(rx),
                listener: Some(l),
                peer: None,
            })
        }
        Kind::Udp4 | Kind::Udp6 => {
            let rx = new_socket(kind.family(), libc::SOCK_DGRAM, 0)?;
            bind(&rx, &Addr::loopback(kind.family()))?;
            let peer = Addr::of(rx.as_raw_fd())?;
            let tx = new_socket(kind.family(), libc::SOCK_DGRAM, 0)?;
            connect(&tx, &peer)?;
            Ok(Pair {
                tx,
                rx: Some(rx),
                listener: None,
                peer: Some(peer),
            })
        }
        Kind::UnixDgram => {
            let (tx, rx) = socketpair(kind.sock_type())?;
            Ok(Pair {
                tx,
                rx: Some(rx),
                listener: None,
                peer: None,
            })
        }
        Kind::Netlink => {
            let tx = new_socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE)?;
            Ok(Pair {
                tx,
                rx: None,
                listener: None,
                peer: None,
            })
        }
    }
}

/// An RTM_GETLINK request for the loopback device: the kernel answers each
/// one with exactly one reply datagram.
pub(crate) fn netlink_request() -> Vec<u8> {
    let mut m = Vec::with_capacity(32);
    m.extend_from_slice(&32u32.to_ne_bytes()); // nlmsg_len
    m.extend_from_slice(&(libc::RTM_GETLINK).to_ne_bytes()); // nlmsg_type
    m.extend_from_slice(&(libc::NLM_F_REQUEST as u16).to_ne_bytes()); // nlmsg_flags
    m.extend_from_slice(&1u32.to_ne_bytes()); // nlmsg_seq
    m.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid
    m.push(libc::AF_UNSPEC as u8); // ifi_family
    m.push(0); // pad
    m.extend_from_slice(&0u16.to_ne_bytes()); // ifi_type
    m.extend_from_slice(&1i32.to_ne_bytes()); // ifi_index: lo
    m.extend_from_slice(&0u32.to_ne_bytes()); // ifi_flags
    m.extend_from_slice(&0u32.to_ne_bytes()); // ifi_change
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netlink_request_is_well_formed() {
        let r = netlink_request();
        assert_eq!(r.len(), 32);
        assert_eq!(u32::from_ne_bytes([r[0], r[1], r[2], r[3]]), 32);
    }
}
