//! The end of a connection and peeks, with real sockets: the local port is
//! still reported after a TCP socket leaves the hash tables (FIN exchange,
//! reset), and a MSG_PEEK receive is marked as one.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use socktap::{Event, Filter, Probe, Tracer};
use socktap_conformance::privileged;

fn gettid() -> u32 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::gettid() as u32 }
}

fn tracer(f: Filter, peek: bool) -> Tracer {
    Tracer::builder()
        .probes(&[Probe::Send, Probe::Receive, Probe::Close])
        .filter(Filter {
            tids: vec![gettid()],
            ..f
        })
        .include_peek(peek)
        .start()
        .expect("start")
}

fn collect(tracer: &mut Tracer) -> Vec<Event> {
    let mut got = Vec::new();
    for _ in 0..5 {
        tracer.poll(Duration::from_millis(10)).expect("poll");
        tracer.drain(|e| got.push(*e));
    }
    got
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
    let mut all = tracer(Filter::default(), false);
    let mut by_port = tracer(
        Filter {
            ports: vec![port],
            ..Default::default()
        },
        false,
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
    let mut with = tracer(Filter::default(), true);
    let mut without = tracer(Filter::default(), false);
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
