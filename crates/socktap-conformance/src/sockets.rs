//! The libc side of the workloads: checked syscall results, socket
//! addresses, and the sockets of each kind the operations run on.

use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

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
    // Unique per call: a child forked meanwhile by another thread may still
    // hold a copy of an earlier listener, keeping its name bound.
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
