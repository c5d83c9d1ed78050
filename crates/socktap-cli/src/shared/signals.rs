//! Stopping: SIGINT, SIGTERM and SIGHUP set a flag that every command's
//! loop checks, so it ends by detaching the programs and printing its
//! summary instead of dying with them attached.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

/// A flag set on SIGINT, SIGTERM and SIGHUP.
pub fn stop_flag() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let s = Arc::clone(&stop);
    ctrlc::set_handler(move || s.store(true, Ordering::SeqCst))
        .context("installing the signal handler")?;
    Ok(stop)
}

/// Sleeps until `until` or a stop request, waking often enough to answer
/// a signal promptly; false if stopped.
pub fn sleep_until(until: Instant, stop: &AtomicBool) -> bool {
    while Instant::now() < until {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep(
            until
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(50)),
        );
    }
    !stop.load(Ordering::SeqCst)
}
