//! What the CLI's test files share: starting socktap and waiting until its
//! programs are attached, loopback traffic from the test's own thread, and
//! signals.
#![allow(dead_code)] // each test file uses its own part

use std::io::Read;
use std::net::UdpSocket;
use std::process::{Child, ChildStderr, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_socktap");

/// Waits for the "Tracing …" banner on the child's stderr, so the programs
/// are attached before traffic starts; returns the rest of stderr.
pub fn wait_attached(child: &mut Child) -> ChildStderr {
    let mut err = child.stderr.take().expect("stderr piped");
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&seen).contains("Ctrl-C to end.") {
        assert_eq!(
            err.read(&mut byte).expect("reads stderr"),
            1,
            "socktap ended early"
        );
        seen.push(byte[0]);
    }
    err
}

/// Starts socktap with stdout and stderr piped, and waits until attached.
pub fn start_attached(args: &[&str]) -> (Child, ChildStderr) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts socktap");
    let err = wait_attached(&mut child);
    (child, err)
}

/// `n` UDP datagrams of 16 bytes, sent and received by this thread.
pub fn traffic(n: usize) {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut buf = [0u8; 64];
    for _ in 0..n {
        tx.send_to(&[3; 16], rx.local_addr().unwrap()).unwrap();
        rx.recv(&mut buf).unwrap();
    }
}

pub fn signal(child: &Child, sig: i32) {
    // SAFETY: kill with a pid of our own child and a signal number.
    unsafe { libc::kill(child.id() as i32, sig) };
}

pub fn gettid() -> u32 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::gettid() as u32 }
}
