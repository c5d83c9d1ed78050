//! `socktap serve` for fleets, end to end: its exposition checked by
//! promtool and by the Prometheus project's Python parsers in both formats
//! against a workload's own account; HTTP semantics; hostile clients that
//! must delay neither a scrape nor the end; series expiry; and OTLP pushes
//! decoded by a receiver of the test's own, built on the OpenTelemetry
//! project's protobuf definitions (opentelemetry-proto).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use prost::Message;
use socktap_conformance::privileged;

mod support;
use support::serve::{exchange, get, header, request, scrape, status, Serve, SCRAPE_LIMIT};
use support::{privileged_with, run_workload, traffic_as, workload_totals};

/// Every sample of an exposition, parsed by the Prometheus project's Python
/// client: `parser` is its text parser, `openmetrics.parser` its OpenMetrics
/// one. Keys are the sample name and its labels as JSON.
fn python_samples(parser: &str, body: &str) -> BTreeMap<String, f64> {
    let script = format!(
        r#"
import json, sys
from prometheus_client.{parser} import text_string_to_metric_families
out = {{}}
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        out[s.name + json.dumps(s.labels, sort_keys=True)] = s.value
print(json.dumps(out))
"#
    );
    // Debian's python3 is where apt installs python3-prometheus-client; a
    // python3 earlier in PATH (pyenv) may not have it.
    let python = if std::path::Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    };
    let out = pipe_through(Command::new(python).args(["-c", &script]), body);
    assert!(
        out.status.success(),
        "{parser} rejects the exposition: {}\n{body}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the parser prints JSON")
}

fn pipe_through(cmd: &mut Command, input: &str) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts the checker");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// The sum of a family's samples whose labels include `comm`.
fn total(samples: &BTreeMap<String, f64>, name: &str, comm: &str) -> u64 {
    samples
        .iter()
        .filter(|(k, _)| {
            k.starts_with(&format!("{name}{{")) && k.contains(&format!("\"comm\": \"{comm}\""))
        })
        .map(|(_, v)| *v as u64)
        .sum()
}

#[test]
fn both_formats_pass_promtool_and_parsers_and_count_the_workload_exactly() {
    if !privileged_with("serve exposition", "promtool") {
        return;
    }
    let comm = "stwork-serve";
    let serve = Serve::start(&["--listen", "127.0.0.1:0", "-n", comm]);
    let addr = serve.addr().to_string();
    let did = run_workload(comm, None);

    let (head, text) = get(&addr, "/metrics", None);
    let (_, again) = get(&addr, "/metrics", None);
    assert_eq!(text, again, "counters must not move without traffic");
    assert_eq!(
        header(&head, "Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8"),
        "{head}"
    );
    let promtool = pipe_through(Command::new("promtool").args(["check", "metrics"]), &text);
    assert!(
        promtool.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&promtool.stdout),
        String::from_utf8_lossy(&promtool.stderr)
    );
    let prometheus3 = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
    let (head, om) = get(&addr, "/metrics", Some(prometheus3));
    assert_eq!(
        header(&head, "Content-Type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        "{head}"
    );
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert!(om.contains("# UNIT socktap_send_bytes bytes\n"), "{om}");
    serve.stop_within(Duration::from_secs(2));

    let (sends, sent, recvs, got) = workload_totals(&did);
    for (parser, body) in [("parser", &text), ("openmetrics.parser", &om)] {
        let samples = python_samples(parser, body);
        let total = |name| total(&samples, name, comm);
        assert_eq!(total("socktap_send_bytes_total"), sent, "{parser}");
        assert_eq!(total("socktap_receive_bytes_total"), got, "{parser}");
        assert_eq!(total("socktap_send_messages_total"), sends, "{parser}");
        assert_eq!(total("socktap_receive_messages_total"), recvs, "{parser}");
        assert_eq!(total("socktap_errors_total"), 0, "{parser}");
        // Names, not numbers, whichever labels are chosen.
        let udp = samples
            .iter()
            .find(|(k, _)| {
                k.starts_with("socktap_send_bytes_total{") && k.contains("\"protocol\": \"UDP\"")
            })
            .map(|(_, v)| *v as u64);
        assert_eq!(udp, Some(60), "{parser}");
    }
    for reason in socktap::LossReason::ALL {
        let line = format!("socktap_lost_events_total{{reason=\"{reason}\"}} 0\n");
        assert!(text.contains(&line), "{line}{text}");
    }
    assert!(
        text.contains(&format!(
            "socktap_build_info{{version=\"{}\",backend=\"",
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
    assert!(text.contains("socktap_series_expired_total 0\n"), "{text}");
}

#[test]
fn head_query_strings_index_404_405_and_refused_bodies() {
    if !privileged("serve http") {
        return;
    }
    // A filter that matches nothing: the exposition stays the same.
    let serve = Serve::start(&["--listen", "127.0.0.1:0", "-n", "stwork-nobody"]);
    let addr = serve.addr();

    let (head, index) = get(addr, "/", None);
    assert_eq!(status(&head), 200, "{head}");
    assert!(header(&head, "Content-Type")
        .unwrap()
        .starts_with("text/html"));
    assert!(index.contains("href=\"/metrics\""), "{index}");

    let (head, metrics) = get(addr, "/metrics?name[]=x&debug", None);
    assert_eq!(status(&head), 200, "{head}");
    assert!(metrics.contains("# TYPE socktap_send_bytes_total counter"));

    let (head, body) = exchange(addr, &request("HEAD", "/metrics", ""), SCRAPE_LIMIT);
    assert_eq!(status(&head), 200, "{head}");
    assert!(body.is_empty(), "HEAD has no body");
    assert_eq!(
        header(&head, "Content-Length"),
        Some(metrics.len().to_string().as_str()),
        "{head}"
    );

    let (head, _) = get(addr, "/nothing-here", None);
    assert_eq!(status(&head), 404, "{head}");
    let (head, body) = exchange(addr, &request("HEAD", "/nothing-here", ""), SCRAPE_LIMIT);
    assert_eq!((status(&head), body.len()), (404, 0), "{head}");

    let (head, _) = exchange(addr, &request("DELETE", "/metrics", ""), SCRAPE_LIMIT);
    assert_eq!(status(&head), 405, "{head}");
    assert_eq!(header(&head, "Allow"), Some("GET, HEAD"));

    // Bodies are refused unread, whatever they declare, and the
    // connection is closed (the response read to its end says so).
    for extra in [
        "Content-Length: 5\r\n",
        "Content-Length: 999999999999\r\n",
        "Transfer-Encoding: chunked\r\n",
    ] {
        let (head, _) = exchange(addr, &request("POST", "/metrics", extra), SCRAPE_LIMIT);
        assert_eq!(status(&head), 413, "{extra}: {head}");
        let (head, _) = exchange(addr, &request("GET", "/metrics", extra), SCRAPE_LIMIT);
        assert_eq!(status(&head), 413, "{extra}: {head}");
    }
    scrape(addr, "after the refused bodies");
    serve.stop_within(Duration::from_secs(2));
}

/// Raises this process's soft limit on descriptors to its hard limit (the
/// idle clients below need 600).
fn raise_fd_limit(need: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit with a valid rlimit struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        if lim.rlim_cur < need + 100 {
            lim.rlim_cur = lim.rlim_max;
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
        }
    }
    assert!(
        lim.rlim_cur >= need + 100,
        "the hard descriptor limit {} is too low for this test",
        lim.rlim_max
    );
}

/// A client that sends `n` requests at once and never reads a response:
/// its socket buffers fill, and socktap's writes to it stall.
fn greedy_client(addr: &str, n: usize) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_nonblocking(true).unwrap();
    let requests = "GET /metrics HTTP/1.1\r\nHost: greedy\r\n\r\n".repeat(n);
    let mut left = requests.as_bytes();
    let deadline = Instant::now() + Duration::from_secs(2);
    while !left.is_empty() && Instant::now() < deadline {
        match s.write(left) {
            Ok(k) => left = &left[k..],
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(e) => panic!("greedy client: {e}"),
        }
    }
    s
}

#[test]
fn hostile_clients_delay_no_scrape() {
    if !privileged("serve hostile clients") {
        return;
    }
    raise_fd_limit(600);
    let serve = Serve::start(&["--listen", "127.0.0.1:0"]);
    let addr = serve.addr();

    // A body declared huge, never sent, the connection held open.
    let mut huge = TcpStream::connect(addr).unwrap();
    huge.write_all(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\n")
        .unwrap();
    scrape(addr, "with a huge body declared");
    huge.set_read_timeout(Some(SCRAPE_LIMIT)).unwrap();
    let mut answer = [0u8; 12];
    huge.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"HTTP/1.1 413");
    drop(huge);
    scrape(addr, "after the huge body");

    // 600 idle connections, more than serve keeps.
    let idle: Vec<TcpStream> = (0..600)
        .map(|i| TcpStream::connect(addr).unwrap_or_else(|e| panic!("connection {i}: {e}")))
        .collect();
    for _ in 0..3 {
        scrape(addr, "with 600 idle connections");
    }
    drop(idle);
    scrape(addr, "after 600 idle connections");

    // Pipelined requests from a client that never reads.
    let greedy = greedy_client(addr, 20_000);
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..3 {
        scrape(addr, "with a client that never reads");
    }
    drop(greedy);
    scrape(addr, "after a client that never reads");

    assert!(!serve.stderr().contains("panicked"), "{}", serve.stderr());
    serve.stop_within(Duration::from_secs(2));
}

#[test]
fn sigint_ends_serve_at_once_despite_stuck_clients() {
    if !privileged("serve stuck clients") {
        return;
    }
    let serve = Serve::start(&["--listen", "127.0.0.1:0"]);
    let addr = serve.addr().to_string();
    let idle: Vec<TcpStream> = (0..50)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    let mut half = TcpStream::connect(&addr).unwrap();
    half.write_all(b"GET /metrics HTTP/1.1\r\nHost: ha")
        .unwrap();
    let mut body = TcpStream::connect(&addr).unwrap();
    body.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nabc")
        .unwrap();
    let greedy = greedy_client(&addr, 20_000);
    std::thread::sleep(Duration::from_millis(300));
    let err = serve.stop_within(Duration::from_secs(1));
    assert!(err.contains("series expired"), "{err}");
    drop((idle, half, body, greedy));
}

#[test]
fn expired_series_make_room_for_new_ones() {
    if !privileged("serve expiry") {
        return;
    }
    let serve = Serve::start(&[
        "--listen",
        "127.0.0.1:0",
        "--labels",
        "comm",
        "--max-series",
        "2",
        "--series-ttl",
        "1",
        "-n",
        "stexp-old",
        "-n",
        "stexp-new",
    ]);
    let addr = serve.addr();
    let series = |body: &str, comm: &str| -> Option<u64> {
        let prefix = format!("socktap_send_bytes_total{{comm=\"{comm}\"}} ");
        body.lines()
            .find_map(|l| l.strip_prefix(&prefix)?.parse().ok())
    };
    // The old series fill both rows (a send row and a receive row).
    traffic_as("stexp-old", 3);
    traffic_as("stexp-new", 5);
    let full = scrape(addr, "full");
    assert_eq!(series(&full, "stexp-old"), Some(48), "{full}");
    assert_eq!(series(&full, "stexp-new"), None, "{full}");
    assert!(
        full.contains("socktap_lost_events_total{reason=\"rows_full\"} 10\n"),
        "{full}"
    );
    // Idle for longer than the TTL (and a quarter of it, the expiry period).
    std::thread::sleep(Duration::from_millis(1600));
    let expired = scrape(addr, "expired");
    assert_eq!(series(&expired, "stexp-old"), None, "{expired}");
    assert!(
        expired.contains("socktap_series_expired_total 1\n"),
        "{expired}"
    );
    traffic_as("stexp-new", 7);
    let admitted = scrape(addr, "admitted");
    assert_eq!(series(&admitted, "stexp-new"), Some(7 * 16), "{admitted}");
    assert!(
        admitted.contains("socktap_lost_events_total{reason=\"rows_full\"} 10\n"),
        "no new loss: {admitted}"
    );
    serve.stop_within(Duration::from_secs(2));
}

/// An OTLP/HTTP receiver: decodes each POSTed ExportMetricsServiceRequest
/// with opentelemetry-proto and answers 200 with an empty response.
struct Receiver {
    port: u16,
    pushes: Arc<Mutex<Vec<Push>>>,
}

/// One push as received: its path, its headers (names in lower case) and
/// what it carried.
struct Push {
    path: String,
    headers: Vec<(String, String)>,
    request: ExportMetricsServiceRequest,
}

impl Receiver {
    fn start(listener: TcpListener) -> Receiver {
        let port = listener.local_addr().unwrap().port();
        let pushes = Arc::new(Mutex::new(Vec::new()));
        let store = Arc::clone(&pushes);
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let store = Arc::clone(&store);
                std::thread::spawn(move || receive(conn, &store));
            }
        });
        Receiver { port, pushes }
    }

    /// Waits up to `limit` for a push that `done` accepts.
    fn wait_for(
        &self,
        limit: Duration,
        done: impl Fn(&ExportMetricsServiceRequest) -> bool,
    ) -> Option<ExportMetricsServiceRequest> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            let pushes = self.pushes.lock().unwrap();
            if let Some(p) = pushes.iter().rev().find(|p| done(&p.request)) {
                return Some(p.request.clone());
            }
            drop(pushes);
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// Serves one keep-alive connection of POSTs.
fn receive(conn: TcpStream, store: &Mutex<Vec<Push>>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut conn = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split(' ').nth(1).unwrap_or_default().to_string();
        let mut length = 0;
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            if h.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                assert!(
                    !k.eq_ignore_ascii_case("transfer-encoding"),
                    "the receiver reads Content-Length bodies only"
                );
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let request = ExportMetricsServiceRequest::decode(body.as_slice())
            .expect("a valid OTLP protobuf ExportMetricsServiceRequest");
        store.lock().unwrap().push(Push {
            path,
            headers,
            request,
        });
        conn.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n",
        )
        .unwrap();
    }
}

fn string_value(kv: &KeyValue) -> Option<&str> {
    match kv.value.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s),
        _ => None,
    }
}

/// A metric of a push: (unit, whether cumulative and monotonic, the sum of
/// its points whose attributes include comm=`comm`).
fn otlp_sum(
    push: &ExportMetricsServiceRequest,
    name: &str,
    comm: &str,
) -> Option<(String, bool, u64)> {
    let metric = push
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .find(|m| m.name == name)?;
    let Some(metric::Data::Sum(sum)) = &metric.data else {
        panic!("{name} is not a sum");
    };
    // AGGREGATION_TEMPORALITY_CUMULATIVE is 2.
    let cumulative = sum.aggregation_temporality == 2 && sum.is_monotonic;
    let total = sum
        .data_points
        .iter()
        .filter(|p| {
            p.attributes
                .iter()
                .any(|kv| kv.key == "comm" && string_value(kv) == Some(comm))
        })
        .map(|p| match p.value {
            Some(number_data_point::Value::AsInt(v)) => v as u64,
            Some(number_data_point::Value::AsDouble(v)) => v as u64,
            None => 0,
        })
        .sum();
    Some((metric.unit.clone(), cumulative, total))
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length.
    assert_eq!(
        unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) },
        0
    );
    let end = buf.iter().position(|&b| b == 0).unwrap();
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[test]
fn otlp_pushes_reach_a_real_receiver_with_the_workloads_exact_bytes() {
    if !privileged("serve otlp") {
        return;
    }
    let receiver = Receiver::start(TcpListener::bind("127.0.0.1:0").unwrap());
    let comm = "stwork-otlp";
    let endpoint = format!("http://127.0.0.1:{}", receiver.port);
    let serve = Serve::start(&[
        "--otlp-endpoint",
        &endpoint,
        "--otlp-interval",
        "0.2",
        "--otlp-header",
        "X-Socktap-Test=yes",
        "-n",
        comm,
    ]);
    // With an endpoint and no --listen, there is no listener.
    assert!(serve.addr.is_none(), "{}", serve.stderr());
    let did = run_workload(comm, None);
    let (sends, sent, recvs, got) = workload_totals(&did);
    let want = |p: &ExportMetricsServiceRequest| {
        otlp_sum(p, "socktap.send.bytes", comm).map(|s| s.2) == Some(sent)
            && otlp_sum(p, "socktap.receive.bytes", comm).map(|s| s.2) == Some(got)
    };
    let push = receiver
        .wait_for(Duration::from_secs(10), want)
        .unwrap_or_else(|| panic!("no push with the workload's bytes: {}", serve.stderr()));
    assert_eq!(
        otlp_sum(&push, "socktap.send.bytes", comm),
        Some(("By".to_string(), true, sent))
    );
    assert_eq!(
        otlp_sum(&push, "socktap.receive.bytes", comm),
        Some(("By".to_string(), true, got))
    );
    assert_eq!(
        otlp_sum(&push, "socktap.send.messages", comm).map(|s| s.2),
        Some(sends)
    );
    assert_eq!(
        otlp_sum(&push, "socktap.receive.messages", comm).map(|s| s.2),
        Some(recvs)
    );
    assert_eq!(
        otlp_sum(&push, "socktap.errors", comm).map(|s| s.2),
        Some(0)
    );
    // Labels are attributes, with names where the tapset has them.
    let sum = push.resource_metrics[0].scope_metrics[0]
        .metrics
        .iter()
        .find(|m| m.name == "socktap.send.bytes")
        .and_then(|m| match &m.data {
            Some(metric::Data::Sum(s)) => Some(s),
            _ => None,
        })
        .unwrap();
    assert!(sum.data_points.iter().any(|p| p
        .attributes
        .iter()
        .any(|kv| kv.key == "protocol" && string_value(kv) == Some("UDP"))));
    // The host is the resource.
    let resource: BTreeMap<&str, &str> = push.resource_metrics[0]
        .resource
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .filter_map(|kv| Some((kv.key.as_str(), string_value(kv)?)))
        .collect();
    assert_eq!(resource.get("service.name"), Some(&"socktap"));
    assert_eq!(resource.get("host.name"), Some(&hostname().as_str()));
    assert_eq!(
        resource.get("service.version"),
        Some(&env!("CARGO_PKG_VERSION"))
    );
    for p in receiver.pushes.lock().unwrap().iter() {
        assert_eq!(p.path, "/v1/metrics");
        let header = |name: &str| {
            p.headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("content-type"), Some("application/x-protobuf"));
        assert_eq!(header("x-socktap-test"), Some("yes"), "--otlp-header");
    }
    serve.stop_within(Duration::from_secs(3));
}

#[test]
fn an_unreachable_endpoint_is_reported_once_and_retried_while_scrapes_go_on() {
    if !privileged("serve otlp unreachable") {
        return;
    }
    // A port with nothing behind it, until the receiver takes it later.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let comm = "stwork-retry";
    let serve = Serve::start(&[
        "--listen",
        "127.0.0.1:0",
        "--otlp-endpoint",
        &format!("http://127.0.0.1:{port}/v1/metrics"),
        "--otlp-interval",
        "0.1",
        "-n",
        comm,
    ]);
    let addr = serve.addr().to_string();
    let did = run_workload(comm, None);
    let (_, sent, _, _) = workload_totals(&did);
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        let body = scrape(&addr, "while OTLP fails");
        assert!(body.contains(&format!("comm=\"{comm}\"")), "{body}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let err = serve.stderr();
    assert_eq!(err.matches("OTLP push to").count(), 1, "said once: {err}");
    assert!(err.contains("failed"), "{err}");
    // The endpoint comes up: the next try after the back-off reaches it.
    let receiver = Receiver::start(TcpListener::bind(("127.0.0.1", port)).unwrap());
    let push = receiver.wait_for(Duration::from_secs(10), |p| {
        otlp_sum(p, "socktap.send.bytes", comm).map(|s| s.2) == Some(sent)
    });
    assert!(
        push.is_some(),
        "no push after the endpoint came up: {}",
        serve.stderr()
    );
    let end = serve.stop_within(Duration::from_secs(3));
    assert!(end.contains("works again"), "{end}");
}

#[test]
fn an_endpoint_that_never_answers_holds_up_the_end_two_seconds_at_most() {
    if !privileged("serve otlp hung") {
        return;
    }
    // Connections are taken by the kernel's backlog, and never answered.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    let serve = Serve::start(&["--otlp-endpoint", &endpoint, "--otlp-interval", "0.1"]);
    std::thread::sleep(Duration::from_millis(500));
    serve.stop_within(Duration::from_secs(3));
    drop(silent);
}
