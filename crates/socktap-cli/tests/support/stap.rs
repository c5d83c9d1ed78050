//! What the tests of `socktap stap` share: commands with a time limit,
//! and socktap linked as `stap`.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::BIN;

/// `output()` with the one-minute limit, for commands built inline.
pub trait Checked {
    fn output_checked(&mut self) -> Output;
}

impl Checked for Command {
    fn output_checked(&mut self) -> Output {
        output(self)
    }
}

/// Runs a command to its end, but never longer than a minute: a script
/// that does not end (no exit()) fails the test instead of hanging it.
pub fn output(cmd: &mut Command) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("waits").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let o = child.wait_with_output().expect("reaps");
            panic!("did not end within a minute; stderr: {}", text(&o.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("collects the output")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A path in this test process's own temporary folder.
pub fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("socktap-stap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A directory with `stap` linked to socktap, as the README sets it up.
pub fn stap_link() -> PathBuf {
    let link = tmp("bin").join("stap");
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    // Tests running at once may both make it: the second finds it made.
    match std::os::unix::fs::symlink(BIN, &link) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => panic!("links stap: {e}"),
        _ => link,
    }
}
