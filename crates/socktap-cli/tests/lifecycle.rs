//! How socktap ends: on SIGTERM with a reader that stopped reading, on
//! SIGINT when the shell started it with SIGINT ignored, with stderr
//! closed, and without readable BTF. Each ends cleanly and says what it lost.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use socktap_conformance::privileged;

mod support;
use support::{exits_within, finishes_ok, signal, start_attached, traffic, wait_attached, BIN};

#[test]
fn sigterm_with_a_stalled_reader_detaches_at_once_and_counts_the_unwritten() {
    if !privileged("stalled reader") {
        return;
    }
    // stdout is never read: the pipe fills up.
    let (mut child, err) = start_attached(&["trace", "--json"]);
    // Far more than a 64 KiB pipe holds.
    traffic(3000);
    std::thread::sleep(Duration::from_millis(200));
    // Timed to the closing summary, which comes after the programs are
    // detached: what follows it is the process's own exit, which a loaded
    // machine can stretch.
    let summary = std::thread::spawn(move || {
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(err));
        let line = lines.find(|l| l.as_ref().is_ok_and(|l| l.contains(" events, ")));
        (std::time::Instant::now(), line)
    });
    let sent = std::time::Instant::now();
    signal(&child, libc::SIGTERM);
    let (status, _) = exits_within(&mut child, Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    let (at, line) = summary.join().unwrap();
    let line = line.expect("a closing summary").unwrap();
    // A grace period of half a second for the reader, then it lets go: about
    // 0.6 s on an idle machine. The bound leaves room for a loaded one; a
    // socktap that waited for its reader would never get here.
    let took = at - sent;
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(line.contains(" unwritten ("), "{line}");
}

#[test]
fn sigint_ends_it_even_when_started_with_sigint_ignored() {
    if !privileged("ignored SIGINT") {
        return;
    }
    let mut cmd = Command::new(BIN);
    cmd.args(["trace"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // As a non-interactive shell starts a background job.
    // SAFETY: signal() is async-signal-safe, called between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_IGN);
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("starts socktap");
    let err = wait_attached(&mut child);
    signal(&child, libc::SIGINT);
    let (_, rest) = finishes_ok(&mut child, err, Duration::from_secs(5));
    assert!(rest.contains("events, 0 lost"), "{rest}");
}

#[test]
fn a_closed_stderr_is_a_clean_exit() {
    if !privileged("closed stderr") {
        return;
    }
    let mut child = Command::new(BIN)
        .args(["trace", "-c", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts socktap");
    let err = wait_attached(&mut child);
    drop(err); // `2>&1 | head`: the reader of stderr is gone
    traffic(5);
    let (status, _) = exits_within(&mut child, Duration::from_secs(5));
    // Not 101 (a panic printing the summary) and not killed by SIGPIPE.
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[test]
fn unreadable_btf_is_named_with_its_path() {
    if !privileged("unreadable BTF") {
        return;
    }
    // A private mount namespace hides the kernel's BTF behind an empty file.
    for (cmd, code) in [("list", 0), ("trace -c 1", 1)] {
        let script = format!("mount --bind /dev/null /sys/kernel/btf/vmlinux && exec {BIN} {cmd}");
        let o = Command::new("unshare")
            .args(["--mount", "sh", "-c", &script])
            .output()
            .expect("runs unshare");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{cmd}: {err}");
        assert!(
            err.contains("cannot read the kernel's BTF at /sys/kernel/btf/vmlinux")
                && err.contains("CONFIG_DEBUG_INFO_BTF"),
            "{cmd}: {err}"
        );
        assert!(!err.contains("predicted from BTF"), "{cmd}: {err}");
    }
}

#[test]
fn protocols_are_named_whatever_the_keys() {
    if !privileged("protocol names") {
        return;
    }
    let child = Command::new(BIN)
        .args([
            "stat",
            "--json",
            "--no-hist",
            "--by",
            "comm,protocol",
            "--duration",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts socktap");
    let mut child = child;
    let _err = wait_attached(&mut child);
    traffic(3);
    let o = child.wait_with_output().expect("waits");
    let out = String::from_utf8_lossy(&o.stdout);
    let rec: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let rows = rec["rows"].as_array().unwrap();
    assert!(
        rows.iter()
            .any(|r| r["protocol"] == 17 && r["protocol_name"] == "UDP"),
        "{out}"
    );
}
