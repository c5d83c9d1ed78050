//! The operations: each case's set-up, the one operation it checks, and
//! the events that operation must produce, sized by the syscall's result.

use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::Duration;

use socktap::Path;

use crate::cases::{exp, Expect, Kind, Op};
use crate::sockets::{
    accept, check, check_size, connect, gettid, last_err, netlink_request, new_socket, pair,
    socketpair, Addr, Pair, Sock, SS_CONNECTED, SS_UNCONNECTED,
};

/// The size of one message the suite sends (netlink: one request).
const MSG: usize = 100;
/// The buffer every receive offers.
const RECV_CAP: usize = 8192;

/// What one message sent by the suite looks like for this kind.
fn payload(kind: Kind, n: usize) -> Vec<u8> {
    if kind == Kind::Netlink {
        netlink_request()
    } else {
        vec![b'x'; n]
    }
}

/// The state of one case between set-up and tear-down.
pub(crate) struct Setup {
    pair: Option<Pair>,
    extra: Vec<OwnedFd>,
    pid: u32,
}

impl Setup {
    /// Sets up what `op` on `kind` needs, priming receives with data.
    pub(crate) fn new(op: Op, kind: Kind) -> io::Result<Setup> {
        let mut s = Setup {
            pair: None,
            extra: Vec::new(),
            pid: std::process::id(),
        };
        match op {
            Op::Socket | Op::Socketpair => {}
            Op::FailingSend => {
                // An unconnected socket: sends fail in the protocol's sendmsg.
                let fd = new_socket(kind.family(), kind.sock_type(), 0)?;
                s.extra.push(fd);
            }
            _ => {
                let p = pair(kind)?;
                if op.is_receive() {
                    let n = if op == Op::Recvmmsg { 3 } else { 1 };
                    prime(&p, kind, n)?;
                }
                if op == Op::AcceptClose {
                    let l = p
                        .listener
                        .as_ref()
                        .ok_or_else(|| io::Error::other("no listener"))?;
                    let c = new_socket(kind.family(), libc::SOCK_STREAM, 0)?;
                    connect(&c, &Addr::of(l.as_raw_fd())?)?;
                    s.extra.push(c);
                }
                s.pair = Some(p);
            }
        }
        Ok(s)
    }

    fn pair(&self) -> io::Result<&Pair> {
        self.pair
            .as_ref()
            .ok_or_else(|| io::Error::other("no socket pair set up"))
    }

    /// Takes the pair apart for a close case and returns its sending side, to
    /// close. The receiving side and the listener stay open in `extra` until
    /// tear-down, so that no other socket closes while the case is watched.
    fn take_sending_side(&mut self) -> io::Result<OwnedFd> {
        let p = self
            .pair
            .take()
            .ok_or_else(|| io::Error::other("no pair"))?;
        self.extra.extend(p.rx);
        self.extra.extend(p.listener);
        Ok(p.tx)
    }

    /// Does the operation; returns the events it must have produced.
    pub(crate) fn perform(&mut self, op: Op, kind: Kind) -> io::Result<Vec<Expect>> {
        let pid = self.pid;
        let e = move |sock: &Sock, p, s| exp(pid, kind, sock, p, s);
        // What every close case must produce: one socket closed.
        let closed =
            |sock: &Sock| vec![e(sock, Path::Close, None), e(sock, Path::CloseReturn, None)];
        match op {
            Op::Write
            | Op::Writev
            | Op::Send
            | Op::Sendto
            | Op::Sendmsg
            | Op::Sendmmsg
            | Op::Read
            | Op::Readv
            | Op::Recv
            | Op::Recvfrom
            | Op::Recvmsg
            | Op::Recvmmsg => data_op(self.pair()?, op, kind, &e),
            Op::Sendfile => {
                let file = tempfile_with(1000)?;
                let p = self.pair()?;
                // SAFETY: both descriptors are open; NULL offset uses the file position.
                let r = check_size(unsafe {
                    libc::sendfile(
                        p.tx.as_raw_fd(),
                        file.as_raw_fd(),
                        std::ptr::null_mut(),
                        1000,
                    )
                })?;
                expect_n(r, 1000)?;
                let sock = Sock::of(p.tx.as_raw_fd(), kind, kind.pair_state())?;
                Ok(vec![
                    e(&sock, Path::Sendmsg, Some(1000)),
                    e(&sock, Path::SendmsgReturn, Some(r)),
                ])
            }
            Op::Socket => {
                let fd = new_socket(kind.family(), kind.sock_type(), 0)?;
                self.extra.push(fd);
                Ok(vec![
                    e(&Sock::none(), Path::Create, None),
                    e(&Sock::none(), Path::CreateReturn, Some(0)),
                ])
            }
            Op::Socketpair => {
                let (a, b) = socketpair(kind.sock_type())?;
                self.extra.push(a);
                self.extra.push(b);
                let none = Sock::none();
                Ok(vec![
                    e(&none, Path::Create, None),
                    e(&none, Path::Create, None),
                    e(&none, Path::CreateReturn, Some(0)),
                    e(&none, Path::CreateReturn, Some(0)),
                ])
            }
            Op::AcceptClose => {
                // The client connected during set-up; accepting creates no
                // socket.create (as in the tapset), closing it releases it.
                let l = self
                    .pair()?
                    .listener
                    .as_ref()
                    .ok_or_else(|| io::Error::other("no listener"))?;
                let c = accept(l)?;
                let sock = Sock::of(c.as_raw_fd(), kind, SS_CONNECTED)?;
                drop(c);
                Ok(closed(&sock))
            }
            Op::Close => {
                let tx = self.take_sending_side()?;
                let sock = Sock::of(tx.as_raw_fd(), kind, kind.pair_state())?;
                drop(tx);
                Ok(closed(&sock))
            }
            Op::CloseDup => {
                let tx = self.take_sending_side()?;
                let sock = Sock::of(tx.as_raw_fd(), kind, kind.pair_state())?;
                let dup = tx.try_clone()?;
                drop(tx); // one of two references: the socket stays
                drop(dup); // the last one: now it goes
                Ok(closed(&sock))
            }
            Op::FailingSend => {
                let fd = self
                    .extra
                    .first()
                    .ok_or_else(|| io::Error::other("no socket"))?;
                let buf = payload(kind, MSG);
                // The send binds a UDP socket to a port before it fails.
                let before = Sock::of(fd.as_raw_fd(), kind, SS_UNCONNECTED)?;
                // SAFETY: buf is valid for buf.len() bytes.
                let r = unsafe {
                    libc::send(
                        fd.as_raw_fd(),
                        buf.as_ptr().cast(),
                        buf.len(),
                        libc::MSG_NOSIGNAL,
                    )
                };
                if r >= 0 {
                    return Err(io::Error::other("the send was expected to fail"));
                }
                let errno = last_err().raw_os_error().unwrap_or(0);
                let after = Sock::of(fd.as_raw_fd(), kind, SS_UNCONNECTED)?;
                Ok(vec![
                    e(&before, Path::Sendmsg, Some(buf.len() as i64)),
                    e(&after, Path::SendmsgReturn, Some(-i64::from(errno))),
                ])
            }
            Op::ExitOpen => Err(io::Error::other("exit is run in a child process")),
        }
    }
}

fn expect_n(got: i64, want: usize) -> io::Result<()> {
    if got == want as i64 {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "the syscall moved {got} bytes, not {want}"
        )))
    }
}

/// Sends `n` messages to the receiving side and waits until they are there.
fn prime(p: &Pair, kind: Kind, n: usize) -> io::Result<()> {
    for _ in 0..n {
        let buf = payload(kind, MSG);
        // SAFETY: buf is valid for buf.len() bytes.
        let r =
            check_size(unsafe { libc::send(p.tx.as_raw_fd(), buf.as_ptr().cast(), buf.len(), 0) })?;
        expect_n(r, buf.len())?;
    }
    let mut pfd = libc::pollfd {
        fd: p.rx(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: pfd is one valid pollfd.
    check(unsafe { libc::poll(&mut pfd, 1, 1000) })?;
    // A stream delivers all of it in one go on loopback; give netlink's
    // replies a moment to be queued.
    std::thread::sleep(Duration::from_millis(5));
    Ok(())
}

fn tempfile_with(n: usize) -> io::Result<OwnedFd> {
    let path =
        std::env::temp_dir().join(format!("socktap-conf-{}-{}", std::process::id(), gettid()));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    std::io::Write::write_all(&mut &f, &vec![b'f'; n])?;
    std::io::Seek::seek(&mut &f, std::io::SeekFrom::Start(0))?;
    Ok(OwnedFd::from(f))
}

fn iov(buf: &mut [u8]) -> libc::iovec {
    libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    }
}

/// The entry and return paths of a data operation.
fn data_paths(op: Op) -> io::Result<(Path, Path)> {
    Ok(match op {
        Op::Write => (Path::AioWrite, Path::AioWriteReturn),
        Op::Writev => (Path::Writev, Path::WritevReturn),
        Op::Send | Op::Sendto | Op::Sendmsg | Op::Sendmmsg => (Path::Sendmsg, Path::SendmsgReturn),
        Op::Read => (Path::AioRead, Path::AioReadReturn),
        Op::Readv => (Path::Readv, Path::ReadvReturn),
        Op::Recv | Op::Recvfrom | Op::Recvmsg | Op::Recvmmsg => {
            (Path::Recvmsg, Path::RecvmsgReturn)
        }
        _ => return Err(io::Error::other("not a data operation")),
    })
}

/// Does a data operation. A send writes one payload on the sending side; a
/// receive offers a buffer on the receiving side and never blocks, the data
/// having been queued during set-up. Either way the entry event has the size
/// offered and the return event the syscall's result.
fn data_op(
    p: &Pair,
    op: Op,
    kind: Kind,
    e: &dyn Fn(&Sock, Path, Option<i64>) -> Expect,
) -> io::Result<Vec<Expect>> {
    let (entry, ret) = data_paths(op)?;
    let receive = op.is_receive();
    let (fd, flags, mut buf) = if receive {
        (p.rx(), libc::MSG_DONTWAIT, vec![0u8; RECV_CAP])
    } else {
        (p.tx.as_raw_fd(), 0, payload(kind, MSG))
    };
    if matches!(op, Op::Sendmmsg | Op::Recvmmsg) {
        // On a stream each message takes what fits its buffer: exactly
        // one primed message each, with buffers of that size.
        if receive && kind.is_stream() {
            buf.truncate(MSG);
        }
        let got = three_messages(fd, flags, receive, &buf)?;
        let sock = Sock::of(fd, kind, kind.pair_state())?;
        let mut ev = vec![e(&sock, entry, Some(buf.len() as i64)); 3];
        for got in got {
            if receive {
                received(kind, got)?;
            }
            ev.push(e(&sock, ret, Some(got)));
        }
        return Ok(ev);
    }
    let to = if kind == Kind::Udp4 || kind == Kind::Udp6 {
        p.peer.as_ref()
    } else {
        None
    };
    let r = one_message(op, fd, flags, &mut buf, to)?;
    if receive {
        received(kind, r)?;
    } else {
        expect_n(r, buf.len())?;
    }
    let sock = Sock::of(fd, kind, kind.pair_state())?;
    Ok(vec![
        e(&sock, entry, Some(buf.len() as i64)),
        e(&sock, ret, Some(r)),
    ])
}

/// The one syscall of a single-message data operation over `buf`, with the
/// vectored calls moving it in two halves; `to` is the address sendto names.
fn one_message(
    op: Op,
    fd: RawFd,
    flags: libc::c_int,
    buf: &mut [u8],
    to: Option<&Addr>,
) -> io::Result<i64> {
    let len = buf.len();
    let ptr = buf.as_mut_ptr().cast::<libc::c_void>();
    let (a, b) = buf.split_at_mut(len / 2);
    let mut v = [iov(a), iov(b)];
    // SAFETY: msghdr is plain data; all-zero is valid (no name, no control).
    let mut m: libc::msghdr = unsafe { zeroed() };
    m.msg_iov = v.as_mut_ptr();
    m.msg_iovlen = 2;
    let (to, to_len) = to.map_or((std::ptr::null(), 0), |a| (a.ptr(), a.len));
    // SAFETY: sockaddr_storage is plain data; all-zero is valid.
    let mut from: libc::sockaddr_storage = unsafe { zeroed() };
    let mut from_len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: ptr is valid and writable for len bytes, v holds two iovecs over
    // its halves and m points to v, all alive until the call returns; to is
    // NULL with length 0 or points to the peer's address of to_len bytes; from
    // is writable for from_len bytes.
    let r = unsafe {
        match op {
            Op::Write => libc::write(fd, ptr, len),
            Op::Read => libc::read(fd, ptr, len),
            Op::Writev => libc::writev(fd, v.as_ptr(), 2),
            Op::Readv => libc::readv(fd, v.as_ptr(), 2),
            Op::Send => libc::send(fd, ptr, len, flags),
            Op::Recv => libc::recv(fd, ptr, len, flags),
            Op::Sendto => libc::sendto(fd, ptr, len, flags, to, to_len),
            Op::Recvfrom => {
                libc::recvfrom(fd, ptr, len, flags, (&raw mut from).cast(), &mut from_len)
            }
            Op::Sendmsg => libc::sendmsg(fd, &m, flags),
            Op::Recvmsg => libc::recvmsg(fd, &mut m, flags),
            _ => return Err(io::Error::other("not a single-message operation")),
        }
    };
    check_size(r)
}

/// sendmmsg or recvmmsg of three messages, each over its own copy of `buf`;
/// returns the length the kernel wrote back for each.
fn three_messages(
    fd: RawFd,
    flags: libc::c_int,
    receive: bool,
    buf: &[u8],
) -> io::Result<[i64; 3]> {
    let mut bufs = [buf.to_vec(), buf.to_vec(), buf.to_vec()];
    let mut v: Vec<libc::iovec> = bufs.iter_mut().map(|b| iov(b)).collect();
    // SAFETY: mmsghdr is plain data; all-zero is valid.
    let mut msgs: [libc::mmsghdr; 3] = unsafe { zeroed() };
    for (m, io) in msgs.iter_mut().zip(v.iter_mut()) {
        m.msg_hdr.msg_iov = io;
        m.msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: msgs holds three headers, each with one iovec over a live,
    // writable buffer of buf's length; a NULL timeout is allowed.
    let r = check(unsafe {
        if receive {
            libc::recvmmsg(fd, msgs.as_mut_ptr(), 3, flags, std::ptr::null_mut())
        } else {
            libc::sendmmsg(fd, msgs.as_mut_ptr(), 3, flags)
        }
    })?;
    if r != 3 {
        let what = if receive {
            "recvmmsg received"
        } else {
            "sendmmsg sent"
        };
        return Err(io::Error::other(format!("{what} {r} of 3")));
    }
    Ok(msgs.map(|m| i64::from(m.msg_len)))
}

/// A receive must have taken one whole primed message (for netlink: one reply).
fn received(kind: Kind, r: i64) -> io::Result<()> {
    if kind == Kind::Netlink {
        if r > 0 {
            Ok(())
        } else {
            Err(io::Error::other("no netlink reply"))
        }
    } else {
        expect_n(r, MSG)
    }
}
