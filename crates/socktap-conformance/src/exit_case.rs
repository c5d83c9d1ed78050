//! The exit-with-open-socket case: a forked child creates a socket and
//! exits without closing it, and the exit must release the socket.

use std::ffi::CString;
use std::io;
use std::mem::zeroed;

use socktap::{Filter, LoadSettings, Path, Tracer};

use crate::cases::{seen, Expect, Kind};
use crate::collect::{base_probes, collect_events, Outcome};
use crate::error::Error;
use crate::sockets::{check, gettid, last_err};

/// A child process creates a socket and exits with it open; the parent
/// traces the child by its command name, unique to the calling thread so
/// cases running in parallel threads do not see each other's children.
pub(crate) fn exit_open(kind: Kind, settings: LoadSettings) -> Outcome {
    let comm = format!("stx{}", gettid());
    let mut tracer = Tracer::builder()
        .probes(&base_probes())
        .filter(Filter {
            comms: vec![comm.clone()],
            ..Default::default()
        })
        .load_settings(settings)
        .start()?;
    let name =
        CString::new(comm).map_err(|e| Error::io("naming the child", io::Error::other(e)))?;
    let (family, ty) = (kind.family(), kind.sock_type());
    let proto = if kind == Kind::Netlink {
        libc::NETLINK_ROUTE
    } else {
        0
    };
    // The child inherits this process's descriptors too; when another
    // thread closes its copy meanwhile, the child's exit releases that
    // socket as well (rightly). The child reports its own socket's inode
    // through a pipe, so only its socket's release is compared.
    let mut pipe = [0; 2];
    // SAFETY: pipe has room for the two descriptors pipe2(2) writes.
    check(unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) })
        .map_err(|e| Error::io("making a pipe", e))?;
    // SAFETY: the child only makes async-signal-safe calls (prctl, socket,
    // fstat, write, _exit) before it exits, so forking a multi-threaded
    // process is sound.
    let child = unsafe { libc::fork() };
    if child == 0 {
        // SAFETY: see above; name outlives the call, st is a valid stat.
        unsafe {
            libc::prctl(libc::PR_SET_NAME, name.as_ptr());
            let fd = libc::socket(family, ty, proto);
            let mut st: libc::stat = zeroed();
            libc::fstat(fd, &mut st);
            let ino: u64 = st.st_ino;
            libc::write(pipe[1], (&raw const ino).cast(), 8);
            libc::_exit(0);
        }
    }
    // SAFETY: our copy of the write end; the child has its own.
    unsafe { libc::close(pipe[1]) };
    let mut ino = 0u64;
    // SAFETY: reads at most 8 bytes into ino, then closes our read end.
    unsafe {
        libc::read(pipe[0], (&raw mut ino).cast(), 8);
        libc::close(pipe[0]);
    }
    if child < 0 {
        return Err(Error::io("forking", last_err()));
    }
    let mut status = 0;
    // SAFETY: waits for our own child; status is a valid int.
    unsafe { libc::waitpid(child, &mut status, 0) };
    let pid = child as u32;
    let mk = |path: Path, size: Option<i64>, protocol: i32| Expect {
        path,
        size,
        success: (path == Path::CreateReturn).then_some(true),
        family,
        sock_type: ty,
        protocol,
        pid,
    };
    let expected = vec![
        mk(Path::Create, None, proto),
        mk(Path::CreateReturn, Some(0), proto),
        mk(Path::Close, None, kind.protocol()),
        mk(Path::CloseReturn, None, kind.protocol()),
    ];
    let got = collect_events(&mut tracer, expected.len())?
        .iter()
        .filter(|e| {
            let release = matches!(e.path, Path::Close | Path::CloseReturn);
            !release || u64::from(e.ino) == ino
        })
        .map(seen)
        .collect();
    Ok((expected, got))
}
