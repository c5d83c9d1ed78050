//! In-kernel filters, checked with real traffic: what a filter drops never
//! reaches user space, what it keeps arrives with exact values.

use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use socktap::{Event, Filter, Path, Probe, Tracer};
use socktap_conformance::privileged;

fn gettid() -> u32 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::gettid() as u32 }
}

fn collect(tracer: &mut Tracer) -> Vec<Event> {
    let mut got = Vec::new();
    for _ in 0..5 {
        tracer.poll(Duration::from_millis(10)).expect("poll");
        tracer.drain(|e| got.push(*e));
    }
    got
}

/// One UDP datagram of 11 bytes and one UNIX datagram of 22 bytes, sent
/// and received by this thread.
fn traffic() -> u16 {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.send_to(&[1; 11], rx.local_addr().unwrap()).unwrap();
    let mut buf = [0; 64];
    assert_eq!(rx.recv(&mut buf).unwrap(), 11);
    let (a, b) = UnixDatagram::pair().unwrap();
    a.send(&[2; 22]).unwrap();
    assert_eq!(b.recv(&mut buf).unwrap(), 22);
    rx.local_addr().unwrap().port()
}

fn tracer(probes: &[Probe], f: Filter) -> Tracer {
    let f = Filter {
        tids: vec![gettid()],
        ..f
    };
    Tracer::builder()
        .probes(probes)
        .filter(f)
        .start()
        .expect("start")
}

#[test]
fn family_filter_keeps_only_that_family() {
    if !privileged("family filter") {
        return;
    }
    let mut t = tracer(
        &[Probe::Send, Probe::Receive],
        Filter {
            families: vec![libc::AF_UNIX],
            ..Default::default()
        },
    );
    traffic();
    let got = collect(&mut t);
    let summary: Vec<(Probe, i64, i32)> = got.iter().map(|e| (e.probe, e.size, e.family)).collect();
    assert_eq!(
        summary,
        vec![
            (Probe::Send, 22, libc::AF_UNIX),
            (Probe::Receive, 22, libc::AF_UNIX)
        ]
    );
    let me = std::process::id();
    assert!(got.iter().all(|e| e.pid == me && e.tid == gettid()));
    assert_eq!(t.losses().unwrap().total(), 0);
}

#[test]
fn protocol_and_port_filters() {
    if !privileged("protocol and port filters") {
        return;
    }
    // Learn the receiver's port first, then filter on a port nobody uses:
    // nothing may arrive.
    let mut t = tracer(
        &[Probe::Send, Probe::Receive],
        Filter {
            protocols: vec![libc::IPPROTO_UDP],
            ports: vec![1],
            ..Default::default()
        },
    );
    traffic();
    assert!(collect(&mut t).is_empty());
    drop(t);

    let mut t = tracer(
        &[Probe::Send, Probe::Receive],
        Filter {
            protocols: vec![libc::IPPROTO_UDP],
            ..Default::default()
        },
    );
    let port = traffic();
    let got = collect(&mut t);
    assert_eq!(got.len(), 2, "{got:?}");
    for e in &got {
        assert_eq!(
            (e.family, e.protocol, e.size),
            (libc::AF_INET, libc::IPPROTO_UDP, 11)
        );
    }
    // The receive happened on the bound socket: its local port is known.
    let recv = got.iter().find(|e| e.probe == Probe::Receive).unwrap();
    assert_eq!(recv.local.unwrap().port(), port);
    assert_eq!(recv.local.unwrap().ip().to_string(), "127.0.0.1");
}

#[test]
fn failed_filter_keeps_only_failures() {
    if !privileged("failed filter") {
        return;
    }
    let mut t = tracer(
        &[Probe::Send, Probe::Receive],
        Filter {
            failed_only: true,
            ..Default::default()
        },
    );
    traffic();
    // A receive on an empty non-blocking socket fails with EAGAIN.
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_nonblocking(true).unwrap();
    let mut buf = [0; 8];
    assert!(s.recv(&mut buf).is_err());
    let got = collect(&mut t);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].probe, Probe::Receive);
    assert_eq!(got[0].path, Path::RecvmsgReturn);
    assert_eq!(got[0].size, -i64::from(libc::EAGAIN));
    assert_eq!(got[0].success(), Some(false));
}

#[test]
fn succeeded_filter_drops_failures() {
    if !privileged("succeeded filter") {
        return;
    }
    let mut t = tracer(
        &[Probe::Send, Probe::Receive],
        Filter {
            succeeded_only: true,
            ..Default::default()
        },
    );
    // A receive on an empty non-blocking socket fails with EAGAIN: dropped.
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_nonblocking(true).unwrap();
    let mut buf = [0; 8];
    assert!(s.recv(&mut buf).is_err());
    traffic();
    let sizes: Vec<i64> = collect(&mut t).iter().map(|e| e.size).collect();
    assert_eq!(sizes, vec![11, 11, 22, 22]);
}

#[test]
fn an_alias_and_its_member_both_fire() {
    if !privileged("alias fan-out") {
        return;
    }
    let mut t = tracer(&[Probe::Send, Probe::SendmsgReturn], Filter::default());
    traffic();
    let got: Vec<(Probe, Path, i64)> = collect(&mut t)
        .iter()
        .map(|e| (e.probe, e.path, e.size))
        .collect();
    assert_eq!(
        got,
        vec![
            (Probe::Send, Path::SendmsgReturn, 11),
            (Probe::SendmsgReturn, Path::SendmsgReturn, 11),
            // std's UnixDatagram::send is a write(2): the aio_write path,
            // which socket.sendmsg.return does not include.
            (Probe::Send, Path::AioWriteReturn, 22),
        ]
    );
}

#[test]
fn msg_peek_is_not_a_second_receive() {
    if !privileged("peek") {
        return;
    }
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut t = tracer(&[Probe::Receive], Filter::default());
    tx.send_to(&[3; 33], rx.local_addr().unwrap()).unwrap();
    let mut buf = [0; 64];
    assert_eq!(rx.peek(&mut buf).unwrap(), 33);
    assert_eq!(rx.recv(&mut buf).unwrap(), 33);
    let got: Vec<i64> = collect(&mut t).iter().map(|e| e.size).collect();
    assert_eq!(got, vec![33]);
}
