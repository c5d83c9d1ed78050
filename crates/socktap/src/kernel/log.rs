//! libbpf's messages during a load. socktap reads them to tell which program
//! failed and what the verifier said; it installs its own print callback
//! only for the length of a load, passes every message on to the callback
//! that was there before (the embedding program's, or libbpf-rs's default),
//! and puts that one back afterwards.

use std::cell::RefCell;
use std::sync::Mutex;

use libbpf_rs::{PrintCallback, PrintLevel};

thread_local! {
    /// What libbpf said during this thread's load. libbpf calls its print
    /// callback synchronously in the loading thread, so loads in other
    /// threads do not mix in.
    static LOG: RefCell<String> = const { RefCell::new(String::new()) };
}

/// The callback that was installed before the first capture still running,
/// and how many captures are running (loads may run in several threads).
static OUTER: Mutex<(usize, Option<(PrintLevel, PrintCallback)>)> = Mutex::new((0, None));

fn on_message(level: PrintLevel, msg: String) {
    if level != PrintLevel::Debug {
        LOG.with(|log| log.borrow_mut().push_str(&msg));
    }
    let outer = OUTER.lock().ok().and_then(|o| o.1);
    if let Some((max, forward)) = outer {
        if level <= max {
            forward(level, msg);
        }
    }
}

/// Captures libbpf's messages until dropped.
pub(crate) struct Capture;

impl Capture {
    pub(crate) fn start() -> Capture {
        if let Ok(mut outer) = OUTER.lock() {
            if outer.0 == 0 {
                outer.1 = libbpf_rs::set_print(Some((PrintLevel::Debug, on_message)));
            }
            outer.0 += 1;
        }
        take();
        Capture
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Ok(mut outer) = OUTER.lock() {
            outer.0 = outer.0.saturating_sub(1);
            if outer.0 == 0 {
                libbpf_rs::set_print(outer.1.take());
            }
        }
    }
}

/// What libbpf said in this thread since the last call.
pub(crate) fn take() -> String {
    LOG.with(|log| std::mem::take(&mut *log.borrow_mut()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet(_: PrintLevel, _: String) {}

    #[test]
    fn the_callback_before_is_put_back() {
        let before = libbpf_rs::set_print(Some((PrintLevel::Warn, quiet)));
        {
            let _a = Capture::start();
            let _b = Capture::start();
            assert_ne!(libbpf_rs::get_print().map(|p| p.0), Some(PrintLevel::Warn));
        }
        assert_eq!(libbpf_rs::get_print().map(|p| p.0), Some(PrintLevel::Warn));
        libbpf_rs::set_print(before);
    }
}
