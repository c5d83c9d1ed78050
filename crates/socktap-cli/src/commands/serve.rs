//! `socktap serve`: Prometheus text exposition of in-kernel counters, for
//! fleets that already scrape Prometheus.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use socktap::{Aggregator, Counts, Probe, RowKey};

use crate::args::ServeArgs;
use crate::shared::keys::{kernel_keys, Key};
use crate::shared::{losses, signals};

type Labels = Vec<(String, String)>;

/// The keys that can be labels: every grouping key but the probe (the
/// first of them), since each metric family already names its probe.
fn label_keys() -> &'static [Key] {
    &Key::ALL[1..]
}

fn label_values(labels: &[Key], k: &RowKey) -> Labels {
    labels
        .iter()
        .map(|l| (l.name().to_string(), l.value(None, k)))
        .collect()
}

/// The exported counters. Kernel rows hold running totals; each scrape adds
/// what grew since the previous one, so the counters only ever go up.
struct Metrics {
    registry: Registry,
    send_bytes: Family<Labels, Counter>,
    recv_bytes: Family<Labels, Counter>,
    send_msgs: Family<Labels, Counter>,
    recv_msgs: Family<Labels, Counter>,
    errors: Family<Labels, Counter>,
    lost: Family<Labels, Counter>,
    seen: HashMap<RowKey, Counts>,
    lost_seen: socktap::Losses,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::default();
        let m = Metrics {
            registry: Registry::default(),
            send_bytes: Family::default(),
            recv_bytes: Family::default(),
            send_msgs: Family::default(),
            recv_msgs: Family::default(),
            errors: Family::default(),
            lost: Family::default(),
            seen: HashMap::new(),
            lost_seen: socktap::Losses::default(),
        };
        let families = [
            (
                "socktap_send_bytes",
                "Bytes sent on sockets (socket.send, successes)",
                &m.send_bytes,
            ),
            (
                "socktap_receive_bytes",
                "Bytes received from sockets (socket.receive, successes)",
                &m.recv_bytes,
            ),
            (
                "socktap_send_messages",
                "Messages sent on sockets (socket.send, successes)",
                &m.send_msgs,
            ),
            (
                "socktap_receive_messages",
                "Messages received from sockets (socket.receive, successes)",
                &m.recv_msgs,
            ),
            ("socktap_errors", "Sends and receives that failed", &m.errors),
            (
                "socktap_lost_events",
                "Events socktap could not count, by reason: rows_full (raise --max-series), calls_in_flight_full, ring_buffer_full, loop_bound",
                &m.lost,
            ),
        ];
        for (name, help, family) in families {
            registry.register(name, help, family.clone());
        }
        Metrics { registry, ..m }
    }

    /// Brings the counters up to the kernel's totals. Read at scrape time
    /// rather than on a timer: a scrape always sees the latest counts, and an
    /// idle exporter does no work.
    fn update(&mut self, agg: &Aggregator, labels: &[Key]) -> anyhow::Result<()> {
        let totals = agg.totals()?;
        for (k, now) in &totals {
            let before = self.seen.get(k);
            // A row deleted and re-created in the kernel starts again from 0;
            // counters must never go down, so a drop counts as no growth.
            let grew = |f: fn(&Counts) -> u64| f(now) - before.map_or(0, f).min(f(now));
            let l = label_values(labels, k);
            let send = Probe::Send.paths().contains(&k.path);
            let (bytes, msgs) = if send {
                (&self.send_bytes, &self.send_msgs)
            } else {
                (&self.recv_bytes, &self.recv_msgs)
            };
            bytes.get_or_create(&l).inc_by(grew(|c| c.bytes));
            msgs.get_or_create(&l).inc_by(grew(Counts::successes));
            // Errors are one family for both directions, told apart by a label.
            let mut el = l.clone();
            el.push((
                "direction".into(),
                if send { "send" } else { "receive" }.into(),
            ));
            self.errors.get_or_create(&el).inc_by(grew(|c| c.errors));
        }
        self.seen = totals;
        // Every reason, zeros included, so that alerts can name them.
        let lost = agg.losses()?;
        for (reason, n) in lost.since(&self.lost_seen).iter() {
            let l = vec![("reason".to_string(), reason.name().to_string())];
            self.lost.get_or_create(&l).inc_by(n);
        }
        self.lost_seen = lost;
        Ok(())
    }

    fn exposition(&self) -> anyhow::Result<String> {
        let mut s = String::new();
        encode(&mut s, &self.registry).context("encoding the metrics")?;
        Ok(s)
    }
}

pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    let labels = Key::parse_list("--labels", &args.labels, label_keys())?;
    let filter = args.filter.to_filter()?;
    // Bound before the programs load: a port in use fails fast and clean.
    let server = tiny_http::Server::http(args.listen)
        .map_err(|e| anyhow::anyhow!("--listen {}: {e}", args.listen))?;
    let addr = server
        .server_addr()
        .to_ip()
        .map_or_else(|| args.listen.to_string(), |a| a.to_string());
    let agg = Aggregator::builder()
        .probes(&Probe::DEFAULT)
        .filter(filter)
        .keys(kernel_keys(&labels))
        // Each label set has one row per path: the capacity bounds the
        // number of series.
        .capacity(args.max_series)
        .load_settings(args.backend.settings())
        .start()?;
    crate::shared::say::note!(
        "Serving Prometheus metrics on http://{addr}/metrics. Ctrl-C to end."
    );
    let stop = signals::stop_flag()?;
    let mut metrics = Metrics::new();
    while !stop.load(Ordering::SeqCst) {
        // A short timeout, so that a signal ends the loop promptly.
        let Some(req) = server
            .recv_timeout(Duration::from_millis(200))
            .context("accepting a request")?
        else {
            continue;
        };
        let response = match (req.method(), req.url()) {
            (tiny_http::Method::Get, "/metrics") => {
                metrics.update(&agg, &labels)?;
                let body = metrics.exposition()?;
                let ct = tiny_http::Header::from_bytes(
                    &b"Content-Type"[..],
                    &b"application/openmetrics-text; version=1.0.0; charset=utf-8"[..],
                )
                .map_err(|()| anyhow::anyhow!("bad header"))?;
                tiny_http::Response::from_string(body).with_header(ct)
            }
            (tiny_http::Method::Get, "/") => {
                tiny_http::Response::from_string("socktap: metrics at /metrics\n")
            }
            _ => tiny_http::Response::from_string("not found\n").with_status_code(404),
        };
        // A client that hung up is its own problem, not the server's.
        let _ = req.respond(response);
    }
    crate::shared::say::note!("socktap: {}", losses::text(&agg.losses()?, "--max-series"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use socktap::Path;

    fn key(path: Path, comm: &str) -> RowKey {
        RowKey {
            path,
            pid: 0,
            uid: 0,
            comm: comm.into(),
            cgroup: 0,
            family: 2,
            protocol: 6,
            sock_type: 0,
            port: 0,
        }
    }

    #[test]
    fn labels_are_checked() {
        let parse = |l: &[&str]| {
            let l: Vec<String> = l.iter().map(|s| s.to_string()).collect();
            Key::parse_list("--labels", &l, label_keys())
        };
        assert_eq!(
            parse(&["comm", "family"]).unwrap(),
            vec![Key::Comm, Key::Family]
        );
        assert!(!label_keys().contains(&Key::Probe));
        for bad in ["host", "probe"] {
            assert!(parse(&[bad]).unwrap_err().to_string().contains("--labels"));
        }
    }

    #[test]
    fn label_values_name_family_and_protocol() {
        let l = label_values(
            &[Key::Comm, Key::Family, Key::Protocol],
            &key(Path::SendmsgReturn, "curl"),
        );
        assert_eq!(
            l,
            vec![
                ("comm".to_string(), "curl".to_string()),
                ("family".to_string(), "INET".to_string()),
                ("protocol".to_string(), "TCP".to_string())
            ]
        );
    }
}
