//! Reading back what a case produced: which probes a case's tracer asks
//! for, and the events it saw.

use std::time::{Duration, Instant};

use socktap::{Event, Path, Probe, Tracer};

use crate::cases::Expect;
use crate::error::Result;

/// The base probes: every kernel-side path once, no aliases.
pub(crate) fn base_probes() -> Vec<Probe> {
    Path::ALL.iter().map(|p| p.probe()).collect()
}

/// What was expected and what was seen, in order.
pub(crate) type Outcome = Result<(Vec<Expect>, Vec<Expect>)>;

/// Reads the events that are there, waiting a little for at least `n`.
/// The events of this thread's (and a waited-for child's) syscalls are in
/// the ring buffer before the syscall returns: one read finds them. The
/// deadline only guards against a kernel that is slower than that.
pub(crate) fn collect_events(tracer: &mut Tracer, n: usize) -> Result<Vec<Event>> {
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_millis(200);
    loop {
        tracer.poll(Duration::ZERO)?;
        tracer.drain(|ev| got.push(*ev));
        if got.len() >= n || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(got)
}
