//! What the CLI's test files share.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `setpriv` running a copy of the socktap binary `bin` (a copy that any
/// user can execute) as nobody, uid and gid 65534, with `caps`: setpriv's
/// capability flags. Needs root.
pub fn as_nobody(bin: &str, caps: &[String]) -> Command {
    static COPIES: AtomicUsize = AtomicUsize::new(0);
    let n = COPIES.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("socktap-nobody-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("creates a folder for the copy");
    let copy = dir.join("socktap");
    std::fs::copy(bin, &copy).expect("copies the binary");
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .args(caps)
        .arg(copy);
    c
}
