//! trace as a user sees it: its text lines column by column, peeks marked
//! only when asked for, --duration, SIGTERM; and socket.close once per
//! socket when descriptors go by dup2, dup3 and close_range.

use std::net::UdpSocket;
use std::os::fd::{IntoRawFd, RawFd};
use std::time::{Duration, Instant};

use serde_json::Value;
use socktap_conformance::privileged;

mod support;
use support::{events, exits_within, run_around, signal, start_attached, Worker};

const HEADER: &str = "TIME            PROBE                        PID     TID COMM            FAMILY  TYPE      PROTO      SIZE  OK LOCAL                  REMOTE                ";

/// A connected UDP pair on the calling thread: (sender, receiver).
fn udp_pair() -> (UdpSocket, UdpSocket) {
    let rx = UdpSocket::bind("127.0.0.1:0").expect("binds");
    let tx = UdpSocket::bind("127.0.0.1:0").expect("binds");
    tx.connect(rx.local_addr().expect("bound"))
        .expect("connects");
    rx.connect(tx.local_addr().expect("bound"))
        .expect("connects");
    (tx, rx)
}

/// One text line of trace after its time column, as the columns under
/// [`HEADER`] say it.
fn row(
    probe: &str,
    tid: u32,
    comm: &str,
    size: &str,
    ok: &str,
    local: &str,
    remote: &str,
) -> String {
    let pid = std::process::id();
    format!("{probe:<24} {pid:>7} {tid:>7} {comm:<15} INET    DGRAM     UDP    {size:>8} {ok:>3} {local:<22} {remote:<22}")
}

/// trace's text lines: the header, then each event's time of day (with
/// microseconds) and the rest of its line.
fn text_lines(out: &str) -> Vec<(String, String)> {
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some(HEADER), "{out}");
    lines
        .map(|l| {
            let (time, rest) = l.split_at(16);
            let t: Vec<&str> = time.trim_end().split([':', '.']).collect();
            assert!(
                t.len() == 4
                    && t.iter()
                        .zip([2, 2, 2, 6])
                        .all(|(f, n)| f.len() == n && f.bytes().all(|b| b.is_ascii_digit())),
                "time of day: {l:?}"
            );
            (time.to_string(), rest.to_string())
        })
        .collect()
}

#[test]
fn text_lines_show_every_column_and_mark_peeks_only_when_asked() {
    if !privileged("trace text") {
        return;
    }
    let w = Worker::spawn("sttext");
    let tid = w.tid.to_string();
    let (tx, rx) = w.run(udp_pair);
    let (tx, rx) = (std::sync::Arc::new(tx), std::sync::Arc::new(rx));
    let (local, remote) = (
        tx.local_addr().expect("bound").to_string(),
        rx.local_addr().expect("bound").to_string(),
    );
    // A send, a peek at it, and the receive that takes it.
    let work = || {
        let (tx, rx) = (std::sync::Arc::clone(&tx), std::sync::Arc::clone(&rx));
        w.run(move || {
            tx.send(&[5; 16]).expect("sends");
            let mut buf = [0u8; 64];
            assert_eq!(rx.peek(&mut buf).expect("peeks"), 16);
            assert_eq!(rx.recv(&mut buf).expect("receives"), 16);
        });
    };
    let send = row("socket.send", w.tid, "sttext", "16", "1", &local, &remote);
    let receive = row(
        "socket.receive",
        w.tid,
        "sttext",
        "16",
        "1",
        &remote,
        &local,
    );
    let peek = row(
        "socket.receive (peek)",
        w.tid,
        "sttext",
        "16",
        "1",
        &remote,
        &local,
    );

    let (out, err) = run_around(&["trace", "--tid", &tid], work);
    let lines = text_lines(&out);
    let rest: Vec<&str> = lines.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(rest, [send.as_str(), receive.as_str()], "{out}");
    assert!(lines[0].0 <= lines[1].0, "times in order: {out}");
    assert!(err.contains("socktap: 2 events, 0 lost"), "{err}");

    let (out, _) = run_around(&["trace", "--include-peek", "--tid", &tid], work);
    let lines = text_lines(&out);
    let rest: Vec<&str> = lines.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(
        rest,
        [send.as_str(), peek.as_str(), receive.as_str()],
        "{out}"
    );
}

#[test]
fn duration_ends_the_trace_on_time() {
    if !privileged("trace --duration") {
        return;
    }
    let w = Worker::spawn("stdur");
    let tid = w.tid.to_string();
    let (mut child, err) = start_attached(&["trace", "--duration", "1.5", "--tid", &tid]);
    let attached = Instant::now();
    w.run(|| support::traffic(2));
    let (status, _) = exits_within(&mut child, Duration::from_secs(20));
    let took = attached.elapsed();
    assert!(status.success(), "{status:?}");
    // Its clock starts after the banner, which the test waited for: it ran
    // at least as long as asked. The upper bound is a loaded machine's
    // slack, not a promise.
    assert!(took >= Duration::from_millis(1500), "{took:?}");
    assert!(took < Duration::from_secs(8), "{took:?}");
    let o = child.wait_with_output().expect("reads stdout");
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 1 + 4);
    let rest = support::read_all(err);
    assert!(rest.contains("socktap: 4 events, 0 lost"), "{rest}");
}

#[test]
fn sigterm_ends_the_trace_with_every_event_and_the_summary() {
    if !privileged("trace SIGTERM") {
        return;
    }
    let w = Worker::spawn("stterm");
    let tid = w.tid.to_string();
    let (mut child, err) = start_attached(&["trace", "--json", "--tid", &tid]);
    let out = child.stdout.take().expect("stdout piped");
    let reader = std::thread::spawn(move || support::read_all(out));
    w.run(|| support::traffic(3));
    signal(&child, libc::SIGTERM);
    let (status, _) = exits_within(&mut child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{status:?}");
    let out = reader.join().expect("reads");
    assert_eq!(events(&out).len(), 6, "{out}");
    assert!(support::read_all(err).contains("socktap: 6 events, 0 lost"));
}

/// The inode of a socket, as socket.close reports it.
fn ino(fd: RawFd) -> u64 {
    // SAFETY: all-zero is a valid stat; fstat fills it for an open fd.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: st is a valid, writable stat.
    assert_eq!(unsafe { libc::fstat(fd, &mut st) }, 0);
    st.st_ino
}

fn ok(r: libc::c_int, what: &str) {
    assert!(r >= 0, "{what}: {}", std::io::Error::last_os_error());
}

/// Four sockets whose descriptors go by dup2, dup3, close_range and
/// close, on the calling thread; returns their inodes in the order their
/// last descriptors go: the order of their socket.close events.
fn dup_and_close_range() -> Vec<u64> {
    let sock = || UdpSocket::bind("127.0.0.1:0").expect("binds").into_raw_fd();
    let (a, b, c, d) = (sock(), sock(), sock(), sock());
    let inos = [ino(a), ino(b), ino(c), ino(d)];
    // Three free descriptors in a row, far above what the test process
    // uses, so that close_range closes only these.
    // SAFETY: fcntl F_DUPFD on an open descriptor returns a new one.
    let x = unsafe { libc::fcntl(a, libc::F_DUPFD_CLOEXEC, 3000 + (libc::gettid() % 1000) * 4) };
    ok(x, "F_DUPFD");
    // SAFETY: dup2/dup3/close/close_range on descriptors this thread owns.
    unsafe {
        ok(libc::dup2(a, x + 1), "dup2"); // a: fds a, x, x+1
        ok(libc::dup2(b, x + 2), "dup2"); // b: fds b, x+2
        ok(libc::close(a), "close"); // a still at x, x+1: not released
        ok(libc::close(b), "close"); // b still at x+2
        ok(libc::dup2(c, x + 2), "dup2"); // over b's last fd: b released
        ok(libc::dup3(d, x + 1, libc::O_CLOEXEC), "dup3"); // a still at x
        ok(
            libc::close_range(x as u32, (x + 2) as u32, 0),
            "close_range",
        ); // a released
        ok(libc::close(c), "close"); // c's last fd: released
        ok(libc::close(d), "close"); // d's last fd: released
    }
    vec![inos[1], inos[0], inos[2], inos[3]]
}

#[test]
fn dup2_dup3_and_close_range_close_each_socket_once() {
    if !privileged("close by dup2/dup3/close_range") {
        return;
    }
    let w = Worker::spawn("stdupclose");
    let tid = w.tid.to_string();
    for backend in ["auto", "syscall"] {
        let mut order = Vec::new();
        let args = [
            "trace",
            "--json",
            "--backend",
            backend,
            "--tid",
            &tid,
            "socket.close",
        ];
        let (out, _) = run_around(&args, || order = w.run(dup_and_close_range));
        let closed: Vec<u64> = events(&out)
            .iter()
            .map(|e: &Value| e["ino"].as_u64().expect("ino"))
            .collect();
        assert_eq!(closed, order, "{backend}: {out}");
        for e in events(&out) {
            assert_eq!(
                (e["family_name"].as_str(), e["type_name"].as_str()),
                (Some("INET"), Some("DGRAM")),
                "{e}"
            );
        }
    }
}
