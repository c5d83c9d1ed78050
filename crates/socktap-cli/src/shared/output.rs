//! Standard output that lets go when socktap is told to stop. A reader that
//! stops reading (a full pipe) must not keep socktap, and its programs
//! attached, alive past SIGINT or SIGTERM: writes wait for room in short
//! steps, and once stopped they give up after a grace period, counting the
//! records they could not write.

use std::io::{self, Write};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long a stopped socktap still tries to hand over what it has read.
const GRACE: Duration = Duration::from_millis(500);
/// Bytes gathered before they are written anyway.
const BATCH: usize = 64 * 1024;

/// Buffered stdout whose records are lines.
pub struct Output<'s> {
    buf: Vec<u8>,
    stop: &'s AtomicBool,
    stopped_at: Option<Instant>,
    /// Lines given up on: their records were not written.
    abandoned: u64,
    /// The file status flags to put back, when O_NONBLOCK was set here.
    restore: Option<i32>,
}

fn stdout_fd() -> BorrowedFd<'static> {
    // SAFETY: descriptor 1 is open for the life of the process; socktap
    // never closes it.
    unsafe { BorrowedFd::borrow_raw(1) }
}

impl<'s> Output<'s> {
    /// Takes over stdout. A pipe or socket is made non-blocking, so that a
    /// write never waits longer than socktap chooses to; a file or terminal
    /// never blocks for long and is left as it is.
    pub fn new(stop: &'s AtomicBool) -> Output<'s> {
        let fd = stdout_fd().as_raw_fd();
        // SAFETY: fstat fills the owned stat buffer for a valid descriptor.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let is_stream = unsafe { libc::fstat(fd, &mut st) } == 0
            && matches!(st.st_mode & libc::S_IFMT, libc::S_IFIFO | libc::S_IFSOCK);
        let mut restore = None;
        if is_stream {
            // SAFETY: F_GETFL/F_SETFL on a valid descriptor, with integer flags.
            let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
            // SAFETY: as above.
            if flags >= 0
                && unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } == 0
            {
                restore = Some(flags);
            }
        }
        Output {
            buf: Vec::with_capacity(BATCH),
            stop,
            stopped_at: None,
            abandoned: 0,
            restore,
        }
    }

    /// Records (lines) that could not be written because socktap stopped
    /// while the reader did not read.
    pub fn abandoned(&self) -> u64 {
        self.abandoned
    }

    /// Whether to give up on what is left: stopped longer than the grace period.
    fn give_up(&mut self) -> bool {
        if !self.stop.load(Ordering::SeqCst) {
            return false;
        }
        self.stopped_at.get_or_insert_with(Instant::now).elapsed() >= GRACE
    }

    fn write_out(&mut self) -> io::Result<()> {
        let fd = stdout_fd().as_raw_fd();
        while !self.buf.is_empty() {
            if self.give_up() {
                self.abandoned += self.buf.iter().filter(|&&b| b == b'\n').count() as u64;
                self.buf.clear();
                return Ok(());
            }
            // SAFETY: writes from the owned buffer's initialized bytes.
            let n = unsafe { libc::write(fd, self.buf.as_ptr().cast(), self.buf.len()) };
            if n >= 0 {
                self.buf.drain(..n as usize);
                continue;
            }
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::WouldBlock => wait_for_room(fd),
                io::ErrorKind::Interrupted => {}
                _ => return Err(err),
            }
        }
        Ok(())
    }
}

/// Waits up to 50 ms for room in the pipe, so that a stop is seen promptly.
fn wait_for_room(fd: i32) {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    unsafe { libc::poll(&mut p, 1, 50) };
}

impl Write for Output<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= BATCH {
            self.write_out()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_out()
    }
}

impl Drop for Output<'_> {
    fn drop(&mut self) {
        if let Some(flags) = self.restore {
            // SAFETY: puts back the flags read in new() on the same descriptor.
            unsafe { libc::fcntl(stdout_fd().as_raw_fd(), libc::F_SETFL, flags) };
        }
    }
}
