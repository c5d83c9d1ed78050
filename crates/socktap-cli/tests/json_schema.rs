//! Every JSON record socktap writes, checked against the schemas in
//! docs/schema (docs/json.md describes them): trace's events, lost records
//! and summary, stat's reports and top's --json reports. The lost records
//! are produced for real, with a ring buffer too small for a burst, and
//! must account for every message of it.

use std::process::Child;

use serde_json::Value;
use socktap_conformance::privileged;

mod support;
use support::{gettid, start_attached, traffic};

const SCHEMAS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/schema");

/// The validator for one record kind: event, lost, summary, stat or top.
fn schema(kind: &str) -> jsonschema::Validator {
    let path = format!("{SCHEMAS}/{kind}.schema.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema is valid")
}

/// Checks every line of `out` against the schema of its kind; returns the
/// records by kind.
fn validate(out: &str) -> Vec<(String, Value)> {
    let kinds = ["event", "lost", "summary", "stat", "top"];
    let validators: Vec<(&str, jsonschema::Validator)> =
        kinds.iter().map(|k| (*k, schema(k))).collect();
    out.lines()
        .map(|line| {
            let rec: Value = serde_json::from_str(line).expect("a JSON line");
            // Records that are not events say what they are; events don't.
            let kind = rec["record"].as_str().unwrap_or("event").to_string();
            let (_, v) = validators
                .iter()
                .find(|(k, _)| *k == kind)
                .unwrap_or_else(|| panic!("unknown record kind {kind}: {line}"));
            let errors: Vec<String> = v.iter_errors(&rec).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{kind} {line}: {errors:?}");
            (kind, rec)
        })
        .collect()
}

/// Starts socktap, waits until its programs are attached, and keeps
/// draining stderr so that a long run never blocks on it.
fn start(args: &[&str]) -> Child {
    let (child, mut err) = start_attached(args);
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    child
}

fn stop(child: Child) -> String {
    support::signal(&child, libc::SIGINT);
    let o = child.wait_with_output().expect("waits");
    assert!(o.status.success(), "{:?}", o.status);
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn trace_records_match_their_schemas_and_losses_add_up() {
    if !privileged("trace JSON schema") {
        return;
    }
    let tid = gettid().to_string();
    // 4 KiB of ring buffer holds about 30 events: a burst of 2000 messages
    // overflows it, and every message is either delivered or counted lost.
    let child = start(&["trace", "--json", "--tid", &tid, "--buffer-kib", "4"]);
    let n = 1000;
    traffic(n);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let recs = validate(&stop(child));
    let events = recs.iter().filter(|(k, _)| k == "event").count() as u64;
    let lost_records: u64 = recs
        .iter()
        .filter(|(k, _)| k == "lost")
        .map(|(_, r)| r["lost"].as_u64().unwrap())
        .sum();
    let (kind, summary) = recs.last().expect("a summary");
    assert_eq!(kind, "summary");
    assert_eq!(summary["events"].as_u64(), Some(events));
    let lost = summary["lost"].as_u64().unwrap();
    assert!(lost > 0, "the burst should overflow 4 KiB");
    assert_eq!(
        summary["lost_by_reason"]["ring_buffer_full"].as_u64(),
        Some(lost)
    );
    assert_eq!(lost_records, lost, "lost records add up to the summary");
    assert_eq!(events + lost, 2 * n as u64, "every send and receive, once");
}

#[test]
fn a_full_ring_loses_only_what_the_filters_keep() {
    if !privileged("trace losses under a socket filter") {
        return;
    }
    let tid = gettid().to_string();
    // The socket filters are decided after the ring's record is taken: a
    // message they leave out must not be counted lost when the ring is full.
    let child = start(&[
        "trace",
        "--json",
        "--tid",
        &tid,
        "-P",
        "UDP",
        "--buffer-kib",
        "4",
    ]);
    let n = 1000;
    let (a, b) = std::os::unix::net::UnixDatagram::pair().expect("a UNIX pair");
    let mut buf = [0u8; 64];
    for _ in 0..n {
        traffic(1);
        a.send(&[5; 9]).expect("UNIX send");
        b.recv(&mut buf).expect("UNIX receive");
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    let recs = validate(&stop(child));
    let events: Vec<&Value> = recs
        .iter()
        .filter(|(k, _)| k == "event")
        .map(|(_, r)| r)
        .collect();
    assert!(events.iter().all(|e| e["protocol_name"] == "UDP"));
    let summary = &recs.last().expect("a summary").1;
    let lost = summary["lost"].as_u64().unwrap();
    assert!(lost > 0, "the burst should overflow 4 KiB");
    assert_eq!(
        events.len() as u64 + lost,
        2 * n as u64,
        "every UDP send and receive, once, and no UNIX one"
    );
}

#[test]
fn stat_and_top_reports_match_their_schemas() {
    if !privileged("stat and top JSON schema") {
        return;
    }
    let stat = start(&[
        "stat",
        "--json",
        "--by",
        "probe,pid,comm,uid,family,protocol,type,port",
    ]);
    let top = start(&["top", "--json", "-d", "-i", "0.2"]);
    traffic(20);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let stat_recs = validate(&stop(stat));
    assert_eq!(stat_recs.len(), 1);
    let rows = stat_recs[0].1["rows"].as_array().unwrap();
    assert!(rows
        .iter()
        .any(|r| r["protocol"] == 17 && r["protocol_name"] == "UDP" && r["pid"].is_u64()));
    let top_recs = validate(&stop(top));
    assert!(!top_recs.is_empty());
    assert!(top_recs.iter().all(|(k, _)| k == "top"));
}
