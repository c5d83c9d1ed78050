//! In-kernel filters, checked with real traffic: what a filter drops never
//! reaches user space, what it keeps arrives with exact values. Also the
//! end of a connection (the local port is still reported after a TCP socket
//! leaves the hash tables, so a port filter keeps those events) and peeks.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
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
    tracer_with_peeks(probes, f, false)
}

/// A tracer of this thread's events, MSG_PEEK receives included if `peek`.
fn tracer_with_peeks(probes: &[Probe], f: Filter, peek: bool) -> Tracer {
    let f = Filter {
        tids: vec![gettid()],
        ..f
    };
    Tracer::builder()
        .probes(probes)
        .filter(f)
        .include_peek(peek)
        .start()
        .expect("start")
}

/// A tracer of socket.send and socket.receive through `f`, with traffic()
/// run under it; returns the tracer and the UDP receiver's port.
fn traced_traffic(f: Filter) -> (Tracer, u16) {
    let t = tracer(&[Probe::Send, Probe::Receive], f);
    let port = traffic();
    (t, port)
}

#[test]
fn family_filter_keeps_only_that_family() {
    if !privileged("family filter") {
        return;
    }
    let (mut t, _) = traced_traffic(Filter {
        families: vec![libc::AF_UNIX],
        ..Default::default()
    });
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
    let (mut t, _) = traced_traffic(Filter {
        ports: vec![1],
        protocols: vec![libc::IPPROTO_UDP],
        ..Default::default()
    });
    assert!(collect(&mut t).is_empty());
    drop(t);

    let (mut t, port) = traced_traffic(Filter {
        protocols: vec![libc::IPPROTO_UDP],
        ..Default::default()
    });
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
    let (mut t, _) = traced_traffic(Filter {
        failed_only: true,
        ..Default::default()
    });
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

/// A short TCP exchange on loopback with the listener's port, that ends
/// with a FIN, or with a reset (SO_LINGER 0), and the server reading to the end.
fn conversation(listener: TcpListener, reset: bool) {
    let port = listener.local_addr().unwrap().port();
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    drop(listener);
    client.write_all(b"hi\n").unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(server.read(&mut buf).unwrap(), 3);
    if reset {
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: a valid descriptor and a pointer to a linger of the given size.
        let r = unsafe {
            libc::setsockopt(
                client.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        assert_eq!(r, 0);
        drop(client);
        // The reset, then a send that fails after it.
        assert!(server.read(&mut buf).is_err());
        assert!(server.write(b"late").is_err());
    } else {
        // The client closes first, as `socat -t` does: once the server's FIN
        // arrives too, the client's socket is in TIME_WAIT, out of the hash
        // tables, for its EOF receive and its close.
        client.shutdown(Shutdown::Write).unwrap();
        assert_eq!(server.read(&mut buf).unwrap(), 0);
        drop(server);
        assert_eq!(client.read(&mut buf).unwrap(), 0);
        drop(client);
        return;
    }
    drop(server);
}

/// Every event of the conversation carries its local port, and a port
/// filter keeps them all, the ones after the socket left the hash tables too.
fn port_is_kept(reset: bool) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let probes = [Probe::Send, Probe::Receive, Probe::Close];
    let mut all = tracer(&probes, Filter::default());
    let mut by_port = tracer(
        &probes,
        Filter {
            ports: vec![port],
            ..Default::default()
        },
    );
    conversation(listener, reset);
    let everything = collect(&mut all);
    let filtered = collect(&mut by_port);
    let inet: Vec<&Event> = everything.iter().filter(|e| e.local.is_some()).collect();
    // send, receive, and at least the closes of both ends
    assert!(inet.len() >= 4, "{inet:#?}");
    for e in &inet {
        let (local, remote) = (e.local.unwrap().port(), e.remote.unwrap().port());
        assert_ne!(local, 0, "{} with local port 0: {e:?}", e.probe);
        assert!(local == port || remote == port, "{e:?}");
    }
    assert_eq!(filtered.len(), inet.len(), "{filtered:#?}\nvs\n{inet:#?}");
}

#[test]
fn the_local_port_outlives_a_fin_exchange() {
    if !privileged("connection end (FIN)") {
        return;
    }
    port_is_kept(false);
}

#[test]
fn the_local_port_outlives_a_reset() {
    if !privileged("connection end (reset)") {
        return;
    }
    port_is_kept(true);
}

#[test]
fn a_peek_is_marked_and_only_when_asked_for() {
    if !privileged("peek") {
        return;
    }
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut with = tracer_with_peeks(&[Probe::Receive], Filter::default(), true);
    let mut without = tracer(&[Probe::Receive], Filter::default());
    tx.send_to(&[7; 5], rx.local_addr().unwrap()).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(rx.peek(&mut buf).unwrap(), 5);
    assert_eq!(rx.recv(&mut buf).unwrap(), 5);
    let recv = |evs: Vec<Event>| -> Vec<bool> {
        evs.iter()
            .filter(|e| e.probe == Probe::Receive)
            .map(|e| e.peek)
            .collect()
    };
    assert_eq!(recv(collect(&mut with)), vec![true, false]);
    assert_eq!(recv(collect(&mut without)), vec![false]);
}
