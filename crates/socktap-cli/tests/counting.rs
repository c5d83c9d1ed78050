//! The counting commands (stat, top, serve) end to end, with exact values:
//! rows beyond --capacity counted as lost, to the event; top's device rows
//! for a device that only the test uses; each command under every backend
//! the running kernel takes (and a refusal that names the kernel's reason
//! for the others); and serve's counters rising between two scrapes by
//! exactly the traffic in between.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use socktap_conformance::privileged;

mod support;
use support::serve::{scrape, Serve};
use support::{json_lines, run_around, start_attached, traffic_as, Rounds, BIN};

/// Runs `top` with `args` for one report (-c 1) while `work` runs; the
/// report is due `interval` seconds after the programs are attached, far
/// more than the work takes. Returns (stdout, stderr).
fn one_top_report(interval: &str, args: &[&str], work: impl FnOnce()) -> (String, String) {
    let mut all = vec!["top", "-c", "1", "-i", interval];
    all.extend(args);
    let (mut child, err) = start_attached(&all);
    work();
    let (status, _) = support::exits_within(&mut child, Duration::from_secs(30));
    let o = child.wait_with_output().expect("reads stdout");
    let err = support::read_all(err);
    assert!(status.success(), "{status:?}: {err}");
    (String::from_utf8_lossy(&o.stdout).into_owned(), err)
}

#[test]
fn stat_counts_what_fits_its_capacity_and_loses_the_rest_exactly() {
    if !privileged("stat --capacity") {
        return;
    }
    // Two rows: the first thread's send row and receive row fill them, so
    // every message of the second is lost, none of the first.
    let args = [
        "stat",
        "--json",
        "--no-hist",
        "--by",
        "comm",
        "--capacity",
        "2",
        "-n",
        "stcap-a",
        "-n",
        "stcap-b",
    ];
    let (out, err) = run_around(&args, || {
        traffic_as("stcap-a", 3);
        traffic_as("stcap-b", 5);
    });
    let recs = json_lines(&out);
    assert_eq!(recs.len(), 1, "{out}");
    let rows = recs[0]["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 1, "{out}");
    assert_eq!(rows[0]["comm"], "stcap-a");
    assert_eq!(
        (rows[0]["count"].as_u64(), rows[0]["bytes"].as_u64()),
        (Some(6), Some(96))
    );
    assert_eq!(recs[0]["lost"], 10, "{out}");
    assert_eq!(recs[0]["lost_by_reason"]["rows_full"], 10, "{out}");
    assert!(
        err.contains("10 lost: 10 rows_full (raise --capacity)"),
        "{err}"
    );
}

#[test]
fn top_counts_what_fits_its_capacity_and_loses_the_rest_exactly() {
    if !privileged("top --capacity") {
        return;
    }
    // top's rows are processes (the command is carried, not keyed): two
    // processes of their own, the first one's send and receive rows fill
    // the two rows, and every message of the second is lost.
    let args = [
        "--json",
        "--capacity",
        "2",
        "-n",
        "stcapt-a",
        "-n",
        "stcapt-b",
    ];
    let mut first = None;
    let (out, err) = one_top_report("3", &args, || {
        first = Some(Rounds::done("stcapt-a", 4, 16));
        let _second = Rounds::done("stcapt-b", 7, 16);
    });
    let first = first.expect("the first process ran");
    let recs = json_lines(&out);
    assert_eq!(recs.len(), 1, "{out}");
    let procs = recs[0]["processes"].as_array().expect("processes");
    assert_eq!(procs.len(), 1, "{out}");
    let p = &procs[0];
    assert_eq!(p["comm"], "stcapt-a");
    assert_eq!(p["pid"], first.pid());
    let counts = ["sends", "receives", "send_bytes", "receive_bytes"].map(|k| p[k].as_u64());
    assert_eq!(counts, [4, 4, 64, 64].map(Some), "{out}");
    assert_eq!(recs[0]["lost_by_reason"]["rows_full"], 14, "{out}");
    assert!(
        err.contains("14 lost: 14 rows_full (raise --capacity)"),
        "{err}"
    );
}

/// A veth pair whose far end is in a network namespace of its own: what is
/// sent out of the near end is the test's alone. IPv6 is off on both ends
/// (no router or neighbour solicitations), the neighbour is permanent (no
/// ARP), and the far end has no address (what arrives there is dropped
/// without an answer). Removed when dropped.
struct Veth {
    near: String,
    far: String,
    netns: String,
    peer_ip: String,
}

fn ip(args: &[&str]) {
    let o = Command::new("ip").args(args).output().expect("runs ip");
    assert!(
        o.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

impl Veth {
    fn new() -> Veth {
        let id = std::process::id() % 16384;
        let far = format!("stv{id}b");
        let v = Veth {
            near: format!("stv{id}a"),
            far: far.clone(),
            netns: format!("socktap-test-{id}"),
            peer_ip: format!("198.18.{}.{}", id / 64, (id % 64) * 4 + 2),
        };
        let near_ip = format!("198.18.{}.{}/30", id / 64, (id % 64) * 4 + 1);
        ip(&["netns", "add", &v.netns]);
        for key in ["all", "default"] {
            let sysctl = format!("net.ipv6.conf.{key}.disable_ipv6=1");
            ip(&["netns", "exec", &v.netns, "sysctl", "-qw", &sysctl]);
        }
        ip(&[
            "link", "add", &v.near, "type", "veth", "peer", "name", &far, "netns", &v.netns,
        ]);
        let path = format!("/proc/sys/net/ipv6/conf/{}/disable_ipv6", v.near);
        std::fs::write(&path, "1").expect("turns IPv6 off on the near end");
        ip(&["netns", "exec", &v.netns, "ip", "link", "set", &far, "up"]);
        ip(&["addr", "add", &near_ip, "dev", &v.near]);
        ip(&["link", "set", &v.near, "up"]);
        let mac_file = format!("/sys/class/net/{far}/address");
        let mac = Command::new("ip")
            .args(["netns", "exec", &v.netns, "cat", &mac_file])
            .output()
            .expect("reads the far end's address");
        let mac = String::from_utf8_lossy(&mac.stdout).trim().to_string();
        ip(&[
            "neigh",
            "replace",
            &v.peer_ip,
            "lladdr",
            &mac,
            "dev",
            &v.near,
            "nud",
            "permanent",
        ]);
        v
    }
}

/// The inode number of a network namespace file, as the kernel numbers it.
fn netns_inode(path: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .ino()
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.near])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .status();
    }
}

#[test]
fn top_devices_count_every_packet_and_byte_of_a_device() {
    if !support::privileged_with("top -d", "ip") {
        return;
    }
    let veth = Veth::new();
    // 5 datagrams of 1000 bytes: 1042 bytes each on the wire with UDP, IP
    // and Ethernet headers, which the device's transmit path carries.
    let send = || {
        let s = std::net::UdpSocket::bind("0.0.0.0:0").expect("binds");
        for _ in 0..5 {
            s.send_to(&[9; 1000], (veth.peer_ip.as_str(), 9))
                .expect("sends");
        }
    };
    // No process matches: the report holds the devices only.
    let (out, _) = one_top_report("2", &["--json", "-d", "-n", "stdev-none"], send);
    let recs = json_lines(&out);
    let devs = recs[0]["devices"].as_array().expect("devices");
    let dev = devs
        .iter()
        .find(|d| d["name"] == veth.near.as_str())
        .unwrap_or_else(|| panic!("no row for {}: {out}", veth.near));
    let host_netns = netns_inode("/proc/self/ns/net");
    let want = serde_json::json!({"name": veth.near, "netns": host_netns, "tx_packets": 5,
        "rx_packets": 0, "tx_bytes": 5 * 1042, "rx_bytes": 0});
    assert_eq!(dev, &want, "{out}");
    // The far end, in a namespace of its own, under its own name and that
    // namespace, received them (without the 14-byte Ethernet header).
    let far_netns = netns_inode(&format!("/run/netns/{}", veth.netns));
    assert_ne!(far_netns, host_netns);
    let far = devs
        .iter()
        .find(|d| d["name"] == veth.far.as_str())
        .unwrap_or_else(|| panic!("no row for {}: {out}", veth.far));
    let want = serde_json::json!({"name": veth.far, "netns": far_netns, "tx_packets": 0,
        "rx_packets": 5, "tx_bytes": 0, "rx_bytes": 5 * 1028});
    assert_eq!(far, &want, "{out}");

    // socktop's text report: the same row in its columns (KB rounded down).
    let (out, _) = one_top_report("2", &["--batch", "-d", "-n", "stdev-none"], send);
    let row = format!("{:<7} {:>13} {:>13} {:>15} {:>15}", veth.near, 5, 0, 5, 0);
    assert!(out.lines().any(|l| l == row), "no line {row:?} in:\n{out}");
}

/// What `socktap list --backend NAME` says of socket.send: Ok(mechanism) or
/// Err(why it is unavailable).
fn backend_serves_send(name: &str) -> Result<String, String> {
    let o = Command::new(BIN)
        .args(["list", "--backend", name, "socket.send"])
        .output()
        .expect("runs socktap list");
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    let line = out
        .lines()
        .find(|l| l.starts_with("socket.send "))
        .unwrap_or_else(|| panic!("{out}"));
    match line.split_once(" unavailable: ") {
        Some((_, why)) => Err(why.trim().to_string()),
        None => Ok(line.split_whitespace().nth(1).unwrap_or_default().into()),
    }
}

/// A command forced onto a backend the kernel refuses: exit 1 with the
/// reason `list` gives for it.
fn refused(args: &[&str], why: &str) {
    let o = Command::new(BIN).args(args).output().expect("runs socktap");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
    assert!(err.contains(why), "{args:?}: {err}\nlist says: {why}");
}

#[test]
fn stat_top_and_serve_count_exactly_under_every_backend_the_kernel_takes() {
    if !privileged("forced backends") {
        return;
    }
    let mut taken = Vec::new();
    for backend in ["tracepoint", "fentry", "kprobe", "syscall"] {
        let comm = format!("stbk-{backend}");
        let filter = ["--backend", backend, "-n", &comm];
        if let Err(why) = backend_serves_send(backend) {
            refused(&[&["stat"][..], &filter].concat(), &why);
            refused(&[&["top", "--batch"][..], &filter].concat(), &why);
            refused(
                &[&["serve", "--listen", "127.0.0.1:0"][..], &filter].concat(),
                &why,
            );
            continue;
        }
        taken.push(backend);
        let stat = [
            &["stat", "--json", "--no-hist", "--by", "probe"][..],
            &filter,
        ]
        .concat();
        let (out, err) = run_around(&stat, || traffic_as(&comm, 3));
        assert!(err.contains(&format!("backend: {backend}")), "{err}");
        let rows = &json_lines(&out)[0]["rows"];
        let row = |probe: &str| -> Option<(u64, u64)> {
            let r = rows.as_array()?.iter().find(|r| r["probe"] == probe)?;
            Some((r["count"].as_u64()?, r["bytes"].as_u64()?))
        };
        assert_eq!(row("socket.send"), Some((3, 48)), "{backend}: {out}");
        assert_eq!(row("socket.receive"), Some((3, 48)), "{backend}: {out}");

        let top = [&["--json"][..], &filter].concat();
        let (out, _) = one_top_report("2", &top, || traffic_as(&comm, 4));
        let p: &Value = &json_lines(&out)[0]["processes"][0];
        let counts = ["sends", "receives", "send_bytes", "receive_bytes"].map(|k| p[k].as_u64());
        assert_eq!(counts, [4, 4, 64, 64].map(Some), "{backend}: {out}");

        let serve = Serve::start(
            &[
                &["--listen", "127.0.0.1:0", "--labels", "comm"][..],
                &filter,
            ]
            .concat(),
        );
        traffic_as(&comm, 5);
        let body = scrape(serve.addr(), backend);
        for line in [
            format!("socktap_send_messages_total{{comm=\"{comm}\"}} 5"),
            format!("socktap_receive_bytes_total{{comm=\"{comm}\"}} 80"),
        ] {
            assert!(
                body.lines().any(|l| l == line),
                "{backend}: no {line}:\n{body}"
            );
        }
        assert!(body.contains(&format!("backend=\"{backend}\"")), "{body}");
        serve.stop_within(Duration::from_secs(5));
    }
    // The tracepoints (6.3+) and the syscall layer (everywhere) at least.
    assert!(taken.contains(&"syscall"), "{taken:?}");
}

#[test]
fn serve_counters_rise_between_scrapes_by_exactly_the_traffic() {
    if !privileged("serve --labels") {
        return;
    }
    let serve = Serve::start(&[
        "--listen",
        "127.0.0.1:0",
        "--labels",
        "comm,protocol,family",
        "-n",
        "strise",
    ]);
    let sample = |body: &str, name: &str| -> u64 {
        let prefix = format!("{name}{{comm=\"strise\",protocol=\"UDP\",family=\"INET\"}} ");
        body.lines()
            .find_map(|l| l.strip_prefix(&prefix)?.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix}in:\n{body}"))
    };
    let names = [
        "socktap_send_messages_total",
        "socktap_send_bytes_total",
        "socktap_receive_messages_total",
        "socktap_receive_bytes_total",
    ];
    traffic_as("strise", 3);
    let first = scrape(serve.addr(), "first");
    traffic_as("strise", 11);
    let second = scrape(serve.addr(), "second");
    let rise: Vec<u64> = names
        .iter()
        .map(|n| sample(&second, n) - sample(&first, n))
        .collect();
    assert_eq!(rise, [11, 11 * 16, 11, 11 * 16], "{first}\n{second}");
    let at_first: Vec<u64> = names.iter().map(|n| sample(&first, n)).collect();
    assert_eq!(at_first, [3, 48, 3, 48], "{first}");
    serve.stop_within(Duration::from_secs(5));
}
