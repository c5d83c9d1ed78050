//! The filters as a user gives them on the command line, against real
//! traffic whose every message the test knows: pids (repeated and as a
//! comma list), users (by name and number), threads, socket types and
//! families, a port that matches, and failures only. Each run keeps
//! exactly the events of the chosen traffic and none of the rest.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};

use serde_json::Value;
use socktap_conformance::privileged;

mod support;
use support::{events, json_lines, run_around, traffic, Rounds, Worker};

/// A JSON value as text, strings without their quotes.
fn plain(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

/// How many of `evs` each `key` value has, e.g. events per pid.
fn count_by(evs: &[Value], key: &str) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for e in evs {
        *m.entry(plain(&e[key])).or_default() += 1;
    }
    m
}

/// The rows of stat's one JSON report: the values of `keys` (joined by
/// "/"), and the row's count and bytes.
fn stat_rows(out: &str, keys: &[&str]) -> BTreeMap<String, (u64, u64)> {
    let recs = json_lines(out);
    assert_eq!(recs.len(), 1, "one report at exit: {out}");
    assert_eq!(recs[0]["lost"], 0, "{out}");
    recs[0]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            let c = r["count"].as_u64().expect("count");
            let b = r["bytes"].as_u64().expect("bytes");
            let k: Vec<String> = keys.iter().map(|k| plain(&r[*k])).collect();
            (k.join("/"), (c, b))
        })
        .collect()
}

#[test]
fn pids_are_ored_whether_repeated_or_comma_separated() {
    if !privileged("pid filters") {
        return;
    }
    // Three processes; the filter names two. Each makes its own number of
    // round trips so that their counts tell them apart.
    let mut a = Rounds::held("stfp-a", 2, 40);
    let mut b = Rounds::held("stfp-b", 3, 50);
    let mut c = Rounds::held("stfp-c", 4, 60);
    let (pa, pb) = (a.pid().to_string(), b.pid().to_string());
    let args = [
        "stat",
        "--json",
        "--no-hist",
        "--by",
        "pid",
        "-p",
        &pa,
        "-p",
        &pb,
    ];
    let (out, _) = run_around(&args, || {
        a.go();
        b.go();
        c.go();
    });
    let want = BTreeMap::from([(pa, (4, 160)), (pb, (6, 300))]);
    assert_eq!(stat_rows(&out, &["pid"]), want, "{out}");

    // The same as a comma list, in trace: every event is one of the two.
    let mut a = Rounds::held("stfp-a", 2, 40);
    let mut b = Rounds::held("stfp-b", 3, 50);
    let mut c = Rounds::held("stfp-c", 4, 60);
    let list = format!("{},{}", a.pid(), c.pid());
    let (out, _) = run_around(&["trace", "--json", "--pid", &list], || {
        a.go();
        b.go();
        c.go();
    });
    let want = BTreeMap::from([(a.pid().to_string(), 4), (c.pid().to_string(), 8)]);
    assert_eq!(count_by(&events(&out), "pid"), want, "{out}");
}

#[test]
fn users_match_by_name_and_by_number_and_are_ored() {
    if !privileged("uid filters") {
        return;
    }
    let nobody = Worker::spawn("stfu-nobody");
    let root = Worker::spawn("stfu-root");
    // Only this thread's real uid changes: the raw syscall, unlike libc's
    // setresuid, does not change the other threads of the process. The
    // saved uid stays 0, so nothing else about the thread is lost.
    nobody.run(|| {
        // SAFETY: setresuid with plain integer arguments, on this thread.
        let r = unsafe { libc::syscall(libc::SYS_setresuid, 65534, 65534, 0) };
        assert_eq!(r, 0, "setresuid: {}", std::io::Error::last_os_error());
    });
    let tids = format!("{},{}", nobody.tid, root.tid);
    let both = |args: &[&str]| {
        run_around(args, || {
            nobody.run(|| traffic(3));
            root.run(|| traffic(5));
        })
        .0
    };
    let out = both(&["trace", "--json", "--tid", &tids, "-u", "nobody"]);
    let evs = events(&out);
    assert_eq!(evs.len(), 6, "{out}");
    assert!(evs
        .iter()
        .all(|e| e["uid"] == 65534 && e["tid"] == nobody.tid));

    let out = both(&[
        "stat",
        "--json",
        "--no-hist",
        "--by",
        "uid",
        "--tid",
        &tids,
        "-u",
        "65534",
        "-u",
        "0",
    ]);
    let want = BTreeMap::from([("0".into(), (10, 160)), ("65534".into(), (6, 96))]);
    assert_eq!(stat_rows(&out, &["uid"]), want, "{out}");
    // A comma list is the same OR, names and numbers mixed.
    let out = both(&[
        "stat",
        "--json",
        "--no-hist",
        "--by",
        "uid",
        "--tid",
        &tids,
        "-u",
        "nobody,0",
    ]);
    let want = BTreeMap::from([("0".into(), (10, 160)), ("65534".into(), (6, 96))]);
    assert_eq!(stat_rows(&out, &["uid"]), want, "{out}");
}

/// On the calling thread: `udp` UDP round trips, `tcp` over TCP and
/// `unix` over a UNIX stream pair, 16 bytes each way.
fn mixed(udp: usize, tcp: usize, unix: usize) {
    traffic(udp);
    let l = TcpListener::bind("127.0.0.1:0").expect("binds");
    let mut c = TcpStream::connect(l.local_addr().expect("an address")).expect("connects");
    let (mut s, _) = l.accept().expect("accepts");
    let mut buf = [0u8; 16];
    for _ in 0..tcp {
        c.write_all(&[1; 16]).expect("writes");
        s.read_exact(&mut buf).expect("reads");
    }
    let (mut u1, mut u2) = std::os::unix::net::UnixStream::pair().expect("a pair");
    for _ in 0..unix {
        u1.write_all(&[2; 16]).expect("writes");
        u2.read_exact(&mut buf).expect("reads");
    }
}

#[test]
fn types_and_families_keep_their_sockets_and_or_their_values() {
    if !privileged("type and family filters") {
        return;
    }
    let w = Worker::spawn("stft-mixed");
    let tid = w.tid.to_string();
    let stat = |filters: &[&str]| {
        let mut args = vec!["stat", "--json", "--no-hist", "--by", "family,type"];
        args.extend(["--tid", &tid]);
        args.extend(filters);
        let (out, _) = run_around(&args, || w.run(|| mixed(2, 3, 4)));
        stat_rows(&out, &["family_name", "type_name"])
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect::<BTreeMap<String, u64>>()
    };
    let rows = |r: &[(&str, u64)]| -> BTreeMap<String, u64> {
        r.iter().map(|(k, n)| (k.to_string(), *n)).collect()
    };
    // UDP: 2 round trips (4 messages), TCP 3 (6), UNIX stream 4 (8).
    assert_eq!(
        stat(&["-t", "STREAM"]),
        rows(&[("INET/STREAM", 6), ("LOCAL/STREAM", 8)])
    );
    assert_eq!(
        stat(&["-t", "DGRAM,STREAM", "-f", "INET"]),
        rows(&[("INET/DGRAM", 4), ("INET/STREAM", 6)])
    );
    assert_eq!(
        stat(&["-f", "LOCAL", "-f", "INET", "-t", "DGRAM"]),
        rows(&[("INET/DGRAM", 4)])
    );
}

#[test]
fn a_matching_port_keeps_both_ends_of_it_and_ports_are_ored() {
    if !privileged("port filter") {
        return;
    }
    let w = Worker::spawn("stfport");
    let tid = w.tid.to_string();
    // Two receivers on ports of their own; the sender's own port is
    // ephemeral, so only the receiver's port matches.
    let (p, q) = w.run(|| {
        let p = UdpSocket::bind("127.0.0.1:0").expect("binds");
        let q = UdpSocket::bind("127.0.0.1:0").expect("binds");
        (p, q)
    });
    let (pp, qp) = (
        p.local_addr().expect("bound").port(),
        q.local_addr().expect("bound").port(),
    );
    let (p, q) = (std::sync::Arc::new(p), std::sync::Arc::new(q));
    // A connected sender: the filter is on the socket's own ports, and a
    // sendto(2) from an unconnected socket has no remote port on it.
    let rounds = |rx: &std::sync::Arc<UdpSocket>, n: usize, connected: bool| {
        let rx = std::sync::Arc::clone(rx);
        w.run(move || {
            let tx = UdpSocket::bind("127.0.0.1:0").expect("binds");
            let to = rx.local_addr().expect("bound");
            if connected {
                tx.connect(to).expect("connects");
            }
            let mut buf = [0u8; 64];
            for _ in 0..n {
                if connected {
                    tx.send(&[7; 16]).expect("sends");
                } else {
                    tx.send_to(&[7; 16], to).expect("sends");
                }
                rx.recv(&mut buf).expect("receives");
            }
        });
    };
    let trace = |ports: &str| {
        let (out, _) = run_around(&["trace", "--json", "--tid", &tid, "--port", ports], || {
            rounds(&p, 3, true);
            rounds(&q, 5, true);
            rounds(&p, 2, false);
        });
        events(&out)
    };
    let evs = trace(&pp.to_string());
    let (sends, receives): (Vec<&Value>, Vec<&Value>) =
        evs.iter().partition(|e| e["name"] == "socket.send");
    assert_eq!(sends.len(), 3, "the connected sends to it: {evs:?}");
    assert!(sends.iter().all(|e| e["remote_port"] == pp), "{evs:?}");
    assert_eq!(receives.len(), 5, "every receive on it: {evs:?}");
    assert!(receives.iter().all(|e| e["local_port"] == pp), "{evs:?}");
    let evs = trace(&format!("{pp},{qp}"));
    assert_eq!(evs.len(), 3 + 3 + 5 + 5 + 2, "{evs:?}");
}

#[test]
fn failed_keeps_only_the_failing_calls_with_their_errno() {
    if !privileged("--failed") {
        return;
    }
    let w = Worker::spawn("stffail");
    let tid = w.tid.to_string();
    let (out, _) = run_around(&["trace", "--json", "--failed", "--tid", &tid], || {
        w.run(|| {
            traffic(4);
            // Unconnected and without an address: EDESTADDRREQ, 3 times.
            let s = UdpSocket::bind("127.0.0.1:0").expect("binds");
            for _ in 0..3 {
                let e = s.send(&[1; 10]).expect_err("nowhere to send to");
                assert_eq!(e.raw_os_error(), Some(libc::EDESTADDRREQ));
            }
        });
    });
    let evs = events(&out);
    assert_eq!(evs.len(), 3, "{out}");
    for e in &evs {
        assert_eq!(e["name"], "socket.send", "{e}");
        assert_eq!(e["probe"], "socket.sendmsg.return", "{e}");
        assert_eq!(e["success"], 0, "{e}");
        assert_eq!(e["size"], -i64::from(libc::EDESTADDRREQ), "{e}");
    }
    let summary = json_lines(&out).pop().expect("a summary");
    assert_eq!(summary["events"], 3);
}

/// A UDP send from an unbound socket binds it to a port on the way: the
/// send's return carries that port and `--port` keeps it, under every
/// backend the kernel takes (the syscall layer filters at the call's exit,
/// where the port is known). The entry, before the bind, has no port. The
/// send runs in a network namespace of its own whose ephemeral range is
/// that one port, so the port is known before it is bound.
#[test]
fn a_port_the_send_itself_binds_matches_under_every_backend() {
    if !privileged("port bound by the send") {
        return;
    }
    let port = 40000 + std::process::id() % 1000;
    let comm = "stfbind";
    let script = format!(
        "import socket, subprocess\n\
         open('/proc/self/comm', 'w').write('{comm}')\n\
         subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)\n\
         open('/proc/sys/net/ipv4/ip_local_port_range', 'w').write('{port} {port}')\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         assert s.sendto(b'x' * 7, ('127.0.0.1', 9)) == 7\n\
         assert s.getsockname()[1] == {port}, s.getsockname()\n"
    );
    let (port, backends) = (port.to_string(), ["auto", "tracepoint", "syscall"]);
    for backend in backends {
        let probes = ["socket.sendmsg", "socket.sendmsg.return"];
        let args = [
            "trace",
            "--json",
            "--backend",
            backend,
            "-n",
            comm,
            "--port",
            &port,
        ];
        let (out, err) = run_around(&[&args[..], &probes[..]].concat(), || {
            let o = std::process::Command::new("unshare")
                .args(["-n", "python3", "-c", &script])
                .output()
                .expect("runs unshare");
            assert!(o.status.success(), "{o:?}");
        });
        let evs = events(&out);
        assert_eq!(evs.len(), 1, "{backend}: {out}{err}");
        let e = &evs[0];
        assert_eq!(e["probe"], "socket.sendmsg.return", "{backend}: {e}");
        assert_eq!((&e["size"], &e["comm"]), (&7.into(), &comm.into()), "{e}");
        assert_eq!(plain(&e["local_port"]), port, "{backend}: {e}");
    }
}
