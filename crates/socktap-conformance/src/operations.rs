//! The operations: each case's set-up, the one operation it checks, and
//! the events that operation must produce, sized by the syscall's result.

use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use socktap::Path;

use crate::cases::{exp, Expect, Kind, Op};
use crate::sockets::{
    accept, check, check_size, connect, gettid, last_err, netlink_request, new_socket, pair,
    socketpair, Addr, Pair,
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
                if matches!(
                    op,
                    Op::Read | Op::Readv | Op::Recv | Op::Recvfrom | Op::Recvmsg | Op::Recvmmsg
                ) {
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

    /// Does the operation; returns the events it must have produced.
    pub(crate) fn perform(&mut self, op: Op, kind: Kind) -> io::Result<Vec<Expect>> {
        let pid = self.pid;
        let e = move |p, s| exp(pid, kind, p, s);
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
                Ok(vec![
                    e(Path::Sendmsg, Some(1000)),
                    e(Path::SendmsgReturn, Some(r)),
                ])
            }
            Op::Socket => {
                let fd = new_socket(kind.family(), kind.sock_type(), 0)?;
                self.extra.push(fd);
                Ok(vec![e(Path::Create, None), e(Path::CreateReturn, Some(0))])
            }
            Op::Socketpair => {
                let (a, b) = socketpair(kind.sock_type())?;
                self.extra.push(a);
                self.extra.push(b);
                Ok(vec![
                    e(Path::Create, None),
                    e(Path::Create, None),
                    e(Path::CreateReturn, Some(0)),
                    e(Path::CreateReturn, Some(0)),
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
                drop(accept(l)?);
                Ok(vec![e(Path::Close, None), e(Path::CloseReturn, None)])
            }
            Op::Close => {
                let p = self
                    .pair
                    .take()
                    .ok_or_else(|| io::Error::other("no pair"))?;
                drop(p.tx);
                self.extra.extend(p.rx);
                self.extra.extend(p.listener);
                Ok(vec![e(Path::Close, None), e(Path::CloseReturn, None)])
            }
            Op::CloseDup => {
                let p = self
                    .pair
                    .take()
                    .ok_or_else(|| io::Error::other("no pair"))?;
                let dup = p.tx.try_clone()?;
                drop(p.tx); // one of two references: the socket stays
                drop(dup); // the last one: now it goes
                self.extra.extend(p.rx);
                self.extra.extend(p.listener);
                Ok(vec![e(Path::Close, None), e(Path::CloseReturn, None)])
            }
            Op::FailingSend => {
                let fd = self
                    .extra
                    .first()
                    .ok_or_else(|| io::Error::other("no socket"))?;
                let buf = payload(kind, MSG);
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
                Ok(vec![
                    e(Path::Sendmsg, Some(buf.len() as i64)),
                    e(Path::SendmsgReturn, Some(-i64::from(errno))),
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

fn data_op(
    p: &Pair,
    op: Op,
    kind: Kind,
    e: &dyn Fn(Path, Option<i64>) -> Expect,
) -> io::Result<Vec<Expect>> {
    let tx = p.tx.as_raw_fd();
    let rx = p.rx();
    let mut out = payload(kind, MSG);
    let n = out.len();
    let mut inbuf = vec![0u8; RECV_CAP];
    // Receives never block: the data was queued during set-up.
    let dontwait = libc::MSG_DONTWAIT;
    let to = if kind == Kind::Udp4 || kind == Kind::Udp6 {
        p.peer.as_ref()
    } else {
        None
    };
    let one = |entry: Path, ret: Path, req: usize, r: i64| {
        vec![e(entry, Some(req as i64)), e(ret, Some(r))]
    };
    // Every buffer, iovec and header below points to live, correctly sized
    // memory owned by this function for the duration of the call.
    Ok(match op {
        Op::Write => {
            // SAFETY: out is valid for n bytes.
            let r = check_size(unsafe { libc::write(tx, out.as_ptr().cast(), n) })?;
            expect_n(r, n)?;
            one(Path::AioWrite, Path::AioWriteReturn, n, r)
        }
        Op::Writev => {
            let (a, b) = out.split_at_mut(n / 2);
            let v = [iov(a), iov(b)];
            // SAFETY: v holds two iovecs over the live halves of out.
            let r = check_size(unsafe { libc::writev(tx, v.as_ptr(), 2) })?;
            expect_n(r, n)?;
            one(Path::Writev, Path::WritevReturn, n, r)
        }
        Op::Send => {
            // SAFETY: out is valid for n bytes.
            let r = check_size(unsafe { libc::send(tx, out.as_ptr().cast(), n, 0) })?;
            expect_n(r, n)?;
            one(Path::Sendmsg, Path::SendmsgReturn, n, r)
        }
        Op::Sendto => {
            let (ap, al) = to.map_or((std::ptr::null(), 0), |a| (a.ptr(), a.len));
            // SAFETY: out is valid for n bytes; ap is NULL with length 0, or
            // points to the peer's address of al bytes.
            let r = check_size(unsafe { libc::sendto(tx, out.as_ptr().cast(), n, 0, ap, al) })?;
            expect_n(r, n)?;
            one(Path::Sendmsg, Path::SendmsgReturn, n, r)
        }
        Op::Sendmsg => {
            let (a, b) = out.split_at_mut(n / 2);
            let mut v = [iov(a), iov(b)];
            // SAFETY: msghdr is plain data; all-zero is valid (no name, no control).
            let mut m: libc::msghdr = unsafe { zeroed() };
            m.msg_iov = v.as_mut_ptr();
            m.msg_iovlen = 2;
            // SAFETY: m points to v's two iovecs over the live halves of out.
            let r = check_size(unsafe { libc::sendmsg(tx, &m, 0) })?;
            expect_n(r, n)?;
            one(Path::Sendmsg, Path::SendmsgReturn, n, r)
        }
        Op::Sendmmsg => {
            let mut bufs = [out.clone(), out.clone(), out.clone()];
            let mut v: Vec<libc::iovec> = bufs.iter_mut().map(|b| iov(b)).collect();
            // SAFETY: mmsghdr is plain data; all-zero is valid.
            let mut msgs: [libc::mmsghdr; 3] = unsafe { zeroed() };
            for (m, io) in msgs.iter_mut().zip(v.iter_mut()) {
                m.msg_hdr.msg_iov = io;
                m.msg_hdr.msg_iovlen = 1;
            }
            // SAFETY: msgs holds three headers, each with one iovec over a live buffer.
            let r = check(unsafe { libc::sendmmsg(tx, msgs.as_mut_ptr(), 3, 0) })?;
            if r != 3 {
                return Err(io::Error::other(format!("sendmmsg sent {r} of 3")));
            }
            let mut ev = vec![e(Path::Sendmsg, Some(n as i64)); 3];
            ev.extend(
                msgs.iter()
                    .map(|m| e(Path::SendmsgReturn, Some(i64::from(m.msg_len)))),
            );
            ev
        }
        Op::Read => {
            // SAFETY: inbuf is valid and writable for RECV_CAP bytes.
            let r = check_size(unsafe { libc::read(rx, inbuf.as_mut_ptr().cast(), RECV_CAP) })?;
            received(kind, r)?;
            one(Path::AioRead, Path::AioReadReturn, RECV_CAP, r)
        }
        Op::Readv => {
            let (a, b) = inbuf.split_at_mut(RECV_CAP / 2);
            let v = [iov(a), iov(b)];
            // SAFETY: v holds two iovecs over the writable halves of inbuf.
            let r = check_size(unsafe { libc::readv(rx, v.as_ptr(), 2) })?;
            received(kind, r)?;
            one(Path::Readv, Path::ReadvReturn, RECV_CAP, r)
        }
        Op::Recv => {
            // SAFETY: inbuf is valid and writable for RECV_CAP bytes.
            let r = check_size(unsafe {
                libc::recv(rx, inbuf.as_mut_ptr().cast(), RECV_CAP, dontwait)
            })?;
            received(kind, r)?;
            one(Path::Recvmsg, Path::RecvmsgReturn, RECV_CAP, r)
        }
        Op::Recvfrom => {
            // SAFETY: sockaddr_storage is plain data; all-zero is valid.
            let mut from: libc::sockaddr_storage = unsafe { zeroed() };
            let mut fl = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            // SAFETY: inbuf is writable for RECV_CAP bytes, from for fl bytes.
            let r = check_size(unsafe {
                libc::recvfrom(
                    rx,
                    inbuf.as_mut_ptr().cast(),
                    RECV_CAP,
                    dontwait,
                    (&raw mut from).cast(),
                    &mut fl,
                )
            })?;
            received(kind, r)?;
            one(Path::Recvmsg, Path::RecvmsgReturn, RECV_CAP, r)
        }
        Op::Recvmsg => {
            let (a, b) = inbuf.split_at_mut(RECV_CAP / 2);
            let mut v = [iov(a), iov(b)];
            // SAFETY: msghdr is plain data; all-zero is valid (no name, no control).
            let mut m: libc::msghdr = unsafe { zeroed() };
            m.msg_iov = v.as_mut_ptr();
            m.msg_iovlen = 2;
            // SAFETY: m points to v's two iovecs over the writable halves of inbuf.
            let r = check_size(unsafe { libc::recvmsg(rx, &mut m, dontwait) })?;
            received(kind, r)?;
            one(Path::Recvmsg, Path::RecvmsgReturn, RECV_CAP, r)
        }
        Op::Recvmmsg => {
            // On a stream each message takes what fits its buffer: exactly
            // one primed message each, with buffers of that size.
            let cap = if kind.is_stream() { MSG } else { RECV_CAP };
            let mut bufs = [vec![0u8; cap], vec![0u8; cap], vec![0u8; cap]];
            let mut v: Vec<libc::iovec> = bufs.iter_mut().map(|b| iov(b)).collect();
            // SAFETY: mmsghdr is plain data; all-zero is valid.
            let mut msgs: [libc::mmsghdr; 3] = unsafe { zeroed() };
            for (m, io) in msgs.iter_mut().zip(v.iter_mut()) {
                m.msg_hdr.msg_iov = io;
                m.msg_hdr.msg_iovlen = 1;
            }
            // SAFETY: msgs holds three headers, each with one iovec over a
            // writable buffer of cap bytes; a NULL timeout is allowed.
            let r = check(unsafe {
                libc::recvmmsg(rx, msgs.as_mut_ptr(), 3, dontwait, std::ptr::null_mut())
            })?;
            if r != 3 {
                return Err(io::Error::other(format!("recvmmsg received {r} of 3")));
            }
            let mut ev = vec![e(Path::Recvmsg, Some(cap as i64)); 3];
            for m in &msgs {
                received(kind, i64::from(m.msg_len))?;
                ev.push(e(Path::RecvmsgReturn, Some(i64::from(m.msg_len))));
            }
            ev
        }
        _ => return Err(io::Error::other("not a data operation")),
    })
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
