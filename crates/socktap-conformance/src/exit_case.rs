//! The exit-with-open-socket case: a forked child creates a socket and
//! exits without closing it, and the exit must release the socket.

use std::ffi::CString;
use std::io;

use socktap::{Filter, LoadSettings, Path, Tracer};

use crate::cases::{exp, seen, Kind};
use crate::collect::{base_probes, collect_events, Outcome};
use crate::error::Error;
use crate::sockets::{gettid, last_err, Sock};

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
    // The child inherits this process's descriptors. No other case runs
    // meanwhile (the runner's lock), so none of them is a socket that another
    // thread could close while the child holds it: the child's exit releases
    // its own socket only, and any other release would be a mismatch.
    // SAFETY: the child only makes async-signal-safe calls (prctl, socket,
    // _exit) before it exits, so forking a multi-threaded process is sound.
    let child = unsafe { libc::fork() };
    if child == 0 {
        // SAFETY: see above; name outlives the call.
        unsafe {
            libc::prctl(libc::PR_SET_NAME, name.as_ptr());
            libc::socket(family, ty, 0);
            libc::_exit(0);
        }
    }
    if child < 0 {
        return Err(Error::io("forking", last_err()));
    }
    let mut status = 0;
    // SAFETY: waits for our own child; status is a valid int.
    unsafe { libc::waitpid(child, &mut status, 0) };
    let pid = child as u32;
    let (none, fresh) = (Sock::none(), Sock::fresh(kind));
    let expected = vec![
        exp(pid, kind, &none, Path::Create, None),
        exp(pid, kind, &none, Path::CreateReturn, Some(0)),
        exp(pid, kind, &fresh, Path::Close, None),
        exp(pid, kind, &fresh, Path::CloseReturn, None),
    ];
    let got: Vec<_> = collect_events(&mut tracer, expected.len())?
        .iter()
        .map(seen)
        .collect();
    // A just-forked child's first syscalls are where a skipped program
    // run would show: name any loss beside the difference.
    let losses = tracer.losses()?;
    if got != expected && losses.total() > 0 {
        return Err(Error::Lost {
            diff: crate::runner::diff(&expected, &got),
            losses,
        });
    }
    Ok((expected, got))
}
