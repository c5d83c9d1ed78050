//! Rows that carry the command and uid instead of being keyed by them
//! (socktop's rows: one per process, showing the name it has now), with
//! real traffic: one row whatever the names, the newest name on it, and
//! intervals that subtract across a rename.

use std::collections::HashMap;
use std::net::UdpSocket;

use socktap::{Aggregator, Carry, Counts, Filter, Keys, Path, RowKey};
use socktap_conformance::privileged;

fn gettid() -> u32 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::gettid() as u32 }
}

/// Names this thread (PR_SET_NAME).
fn rename(name: &str) {
    let c = std::ffi::CString::new(name).expect("a name");
    // SAFETY: PR_SET_NAME takes a NUL-terminated string; it names only this thread.
    unsafe { libc::prctl(libc::PR_SET_NAME, c.as_ptr()) };
}

/// Keeps this thread on one CPU: each CPU keeps its own copy of what a row
/// carries, and the reader takes the busiest CPU's.
fn pin_to_one_cpu() {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes
    // within it; sched_setaffinity(0) applies to this thread only.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// `n` UDP datagrams of 10 bytes, sent and received by this thread.
fn datagrams(n: usize) {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut buf = [0; 64];
    for _ in 0..n {
        tx.send_to(&[7; 10], rx.local_addr().unwrap()).unwrap();
        assert_eq!(rx.recv(&mut buf).unwrap(), 10);
    }
}

/// Counts this thread's messages in rows keyed by `keys`, carrying `carry`.
fn this_threads_rows(keys: Keys, carry: Carry) -> Aggregator {
    Aggregator::builder()
        .filter(Filter {
            tids: vec![gettid()],
            ..Filter::default()
        })
        .keys(keys)
        .carry(carry)
        .start()
        .expect("start")
}

/// The send rows: (comm, uid, count, bytes) each.
fn sends(rows: &HashMap<RowKey, Counts>) -> Vec<(String, u32, u64, u64)> {
    rows.iter()
        .filter(|(k, _)| k.path == Path::SendmsgReturn)
        .map(|(k, c)| (k.comm.clone(), k.uid, c.count, c.bytes))
        .collect()
}

#[test]
fn rows_carry_the_newest_name_and_subtract_across_a_rename() {
    if !privileged("carried row fields") {
        return;
    }
    std::thread::spawn(|| {
        pin_to_one_cpu();
        rename("carry-a");
        let mut agg = this_threads_rows(
            Keys {
                pid: true,
                ..Keys::default()
            },
            Carry {
                uid: true,
                comm: true,
            },
        );
        // SAFETY: getuid cannot fail.
        let uid = unsafe { libc::getuid() };

        datagrams(3);
        rename("carry-b");
        datagrams(5);
        // One row for the process, not one per name, with the name it has now.
        let first = agg.interval().expect("interval");
        assert_eq!(sends(&first), [("carry-b".to_string(), uid, 8, 80)]);
        assert_eq!(first.len(), 2, "a send row and a receive row: {first:?}");

        rename("carry-c");
        datagrams(2);
        // The row is the same row: the interval has only what is new.
        let second = agg.interval().expect("interval");
        assert_eq!(sends(&second), [("carry-c".to_string(), uid, 2, 20)]);
        let totals = agg.totals().expect("totals");
        assert_eq!(sends(&totals), [("carry-c".to_string(), uid, 10, 100)]);
    })
    .join()
    .expect("the test's thread");
}

#[test]
fn a_key_is_not_carried_too() {
    if !privileged("carried row fields") {
        return;
    }
    std::thread::spawn(|| {
        rename("carry-k1");
        let mut agg = this_threads_rows(
            Keys {
                comm: true,
                ..Keys::default()
            },
            Carry {
                uid: false,
                comm: true,
            },
        );
        datagrams(1);
        rename("carry-k2");
        datagrams(2);
        // Keyed by the command: a row per name, as without carrying.
        let mut rows = sends(&agg.interval().expect("interval"));
        rows.sort();
        assert_eq!(
            rows,
            [
                ("carry-k1".to_string(), 0, 1, 10),
                ("carry-k2".to_string(), 0, 2, 20)
            ]
        );
    })
    .join()
    .expect("the test's thread");
}
