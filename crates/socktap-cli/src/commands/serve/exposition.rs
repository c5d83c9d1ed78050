//! The Prometheus exposition of the series table, in the format the
//! scraper's `Accept` header asks for: the Prometheus text format 0.0.4
//! by default, OpenMetrics 1.0 when preferred. prometheus-client encodes
//! both from one collector, so the two list the same families and samples.

use std::sync::{Arc, Mutex};

use anyhow::Context;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use super::series::{Direction, Labels, Measure, Table};

/// An exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text format, version 0.0.4.
    Text,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

impl Format {
    /// The format an `Accept` header prefers: OpenMetrics only when it is
    /// asked for with a higher weight than the text format (Prometheus
    /// itself sends both, OpenMetrics first); the text format otherwise,
    /// including when the header is absent or asks for neither.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let mut openmetrics = 0.0f32;
        let mut text = 0.0f32;
        for range in accept.unwrap_or_default().split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default().to_ascii_lowercase();
            let mut q = 1.0f32;
            let mut version = None;
            for p in parts {
                match p.split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
                    Some(("q", v)) => q = v.parse().unwrap_or(0.0),
                    Some(("version", v)) => version = Some(v.to_string()),
                    _ => {}
                }
            }
            let known =
                |versions: &[&str]| version.as_deref().is_none_or(|v| versions.contains(&v));
            match media.as_str() {
                // What prometheus-client writes is OpenMetrics 1.0.0, which
                // also satisfies a scraper asking for 0.0.1.
                "application/openmetrics-text" if known(&["1.0.0", "0.0.1"]) => {
                    openmetrics = openmetrics.max(q);
                }
                "text/plain" if known(&["0.0.4"]) => text = text.max(q),
                "*/*" | "text/*" => text = text.max(q),
                _ => {}
            }
        }
        if openmetrics > 0.0 && openmetrics > text {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    /// Its `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The registry of one exporter: its metric families, read from the
/// series table at each scrape.
pub struct Exposition {
    registry: Registry,
}

impl Exposition {
    /// `backend` is what serves the probes (`socktap_build_info`).
    pub fn new(table: Arc<Mutex<Table>>, backend: String) -> Exposition {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Families { table, backend }));
        Exposition { registry }
    }

    /// The metrics, in `format`.
    pub fn encode(&self, format: Format) -> anyhow::Result<String> {
        let mut s = String::new();
        match format {
            Format::Text => {
                prometheus_client::encoding::prometheus_text::encode(&mut s, &self.registry)
            }
            Format::OpenMetrics => {
                prometheus_client::encoding::text::encode(&mut s, &self.registry)
            }
        }
        .context("encoding the metrics")?;
        Ok(s)
    }
}

/// The help text of the loss family names every reason and its remedy.
const LOST_HELP: &str = "Events socktap could not count, by reason: rows_full (raise --max-series), calls_in_flight_full, ring_buffer_full, loop_bound, skipped_runs, unwritten.";

#[derive(Debug)]
struct Families {
    table: Arc<Mutex<Table>>,
    backend: String,
}

impl Collector for Families {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        // A poisoned lock means a refresh panicked: the table is still a
        // consistent snapshot of counters, so export it.
        let table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let counter = |encoder: &mut DescriptorEncoder,
                       name: &str,
                       unit: Option<&Unit>,
                       help: &str,
                       samples: &mut dyn Iterator<Item = (Labels, u64)>|
         -> Result<(), std::fmt::Error> {
            let mut family = encoder.encode_descriptor(name, help, unit, MetricType::Counter)?;
            for (labels, v) in samples {
                ConstCounter::new(v).encode(family.encode_family(&labels)?)?;
            }
            Ok(())
        };
        for measure in Measure::BOTH {
            for direction in Direction::BOTH {
                // prometheus-client adds the unit to the name: the bytes
                // families are socktap_send_bytes with a unit in OpenMetrics.
                let (name, unit) = match measure {
                    Measure::Bytes => (format!("socktap_{}", direction.name()), Some(Unit::Bytes)),
                    Measure::Messages => (
                        format!("socktap_{}_{}", direction.name(), measure.name()),
                        None,
                    ),
                };
                let mut samples = table
                    .values(direction, |f| measure.of(f))
                    .map(|(labels, v)| (labels.clone(), v));
                let help = format!("{}.", measure.help(direction));
                counter(&mut encoder, &name, unit.as_ref(), &help, &mut samples)?;
            }
        }
        // Errors are one family for both directions, told apart by a label.
        let mut errors = Direction::BOTH.into_iter().flat_map(|direction| {
            table
                .values(direction, |f| f.errors)
                .map(move |(labels, n)| {
                    let mut l = labels.clone();
                    l.push(("direction".into(), direction.name().into()));
                    (l, n)
                })
        });
        counter(
            &mut encoder,
            "socktap_errors",
            None,
            "Sends and receives that failed.",
            &mut errors,
        )?;
        // Every reason, zeros included, so that alerts can name them.
        let mut lost = table
            .losses()
            .iter()
            .map(|(r, n)| (vec![("reason".to_string(), r.name().to_string())], n));
        counter(
            &mut encoder,
            "socktap_lost_events",
            None,
            LOST_HELP,
            &mut lost,
        )?;
        let mut expired = std::iter::once((Labels::new(), table.expired()));
        counter(
            &mut encoder,
            "socktap_series_expired",
            None,
            "Label sets dropped after --series-ttl seconds without traffic; their kernel rows were freed for new ones.",
            &mut expired,
        )?;
        let gauge = encoder.encode_descriptor(
            "socktap_series",
            "Label sets exported now (at most --max-series kernel rows feed them).",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(i64::try_from(table.len()).unwrap_or(i64::MAX)).encode(gauge)?;
        let info = Info::new(vec![
            ("version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
            ("backend".to_string(), self.backend.clone()),
        ]);
        let build = encoder.encode_descriptor(
            "socktap_build",
            "socktap's version, and the kernel mechanism that serves its probes.",
            None,
            MetricType::Info,
        )?;
        info.encode(build)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::time::{Duration, Instant};

    use socktap::{LossReason, Losses, Path};

    use crate::shared::keys::Key;
    use crate::shared::testing::{counts, row};

    #[test]
    fn accept_chooses_the_format() {
        use Format::{OpenMetrics, Text};
        let prometheus3 = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        for (accept, want) in [
            (None, Text),
            (Some(""), Text),
            (Some("*/*"), Text),
            (Some("text/plain"), Text),
            (Some("application/openmetrics-text"), OpenMetrics),
            (
                Some("application/openmetrics-text; version=1.0.0"),
                OpenMetrics,
            ),
            (Some(prometheus3), OpenMetrics),
            (
                Some("text/plain;version=0.0.4;q=0.9,application/openmetrics-text;q=0.5"),
                Text,
            ),
            (Some("application/openmetrics-text;q=0"), Text),
            (Some("application/openmetrics-text;version=9.9"), Text),
            (Some("application/json"), Text),
        ] {
            assert_eq!(Format::negotiate(accept), want, "{accept:?}");
        }
    }

    fn exposition() -> Exposition {
        let mut table = Table::new(vec![Key::Comm, Key::Protocol], Duration::from_secs(60));
        let key = row(Path::SendmsgReturn, "a \"b\"");
        let counts = counts(3, 30, 1);
        table.update(
            HashMap::from([(key, counts)]),
            Losses::of(LossReason::RowsFull, 2),
            Instant::now(),
        );
        Exposition::new(Arc::new(Mutex::new(table)), "tracepoint".into())
    }

    #[test]
    fn text_names_every_family_with_help_and_type() {
        let text = exposition().encode(Format::Text).unwrap();
        // The traffic counters by the parts of their names, then the rest.
        let traffic = ["send", "receive"].iter().flat_map(|dir| {
            ["bytes", "messages"].map(|what| format!("socktap_{dir}_{what}_total"))
        });
        let others =
            ["errors", "lost_events", "series_expired"].map(|n| format!("socktap_{n}_total"));
        for family in traffic.chain(others) {
            assert!(
                text.contains(&format!("# HELP {family} ")),
                "{family}\n{text}"
            );
            assert!(
                text.contains(&format!("# TYPE {family} counter\n")),
                "{family}\n{text}"
            );
        }
        assert!(
            text.contains("# TYPE socktap_series gauge\nsocktap_series 1\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE socktap_build_info gauge\n"), "{text}");
        assert!(
            text.contains("socktap_send_bytes_total{comm=\"a \\\"b\\\"\",protocol=\"UDP\"} 30\n")
        );
        assert!(text.contains(
            "socktap_errors_total{comm=\"a \\\"b\\\"\",protocol=\"UDP\",direction=\"send\"} 1\n"
        ));
        for reason in LossReason::ALL {
            let n = u64::from(reason == LossReason::RowsFull) * 2;
            let line = format!("socktap_lost_events_total{{reason=\"{reason}\"}} {n}\n");
            assert!(text.contains(&line), "{line}\n{text}");
        }
        // No receives yet: the family is described, with no sample.
        assert!(!text.contains("socktap_receive_bytes_total{"), "{text}");
        assert!(!text.contains("# EOF"));
    }

    #[test]
    fn openmetrics_has_units_and_ends_with_eof() {
        let om = exposition().encode(Format::OpenMetrics).unwrap();
        assert!(om.contains("# TYPE socktap_send_bytes counter\n"), "{om}");
        assert!(om.contains("# UNIT socktap_send_bytes bytes\n"), "{om}");
        assert!(om.contains("# TYPE socktap_build info\n"), "{om}");
        assert!(om.contains(&format!(
            "socktap_build_info{{version=\"{}\",backend=\"tracepoint\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        )));
        assert!(om.ends_with("# EOF\n"), "{om}");
    }
}
