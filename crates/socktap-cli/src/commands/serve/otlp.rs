//! OTLP push: the series table as cumulative OTLP sums over HTTP/protobuf,
//! with the OpenTelemetry project's own SDK and exporter.
//!
//! The serve loop asks for each push right after it has brought the table
//! up to date ([`Push::request`]); a thread of this module's then has the
//! SDK collect (its callbacks read the table) and export. The HTTP client
//! blocks only that thread. An endpoint that fails is reported once, then
//! tried again with back-off, and once more when it works again; sums are
//! cumulative, so a push that is skipped or fails loses nothing.

use std::collections::HashMap;
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use opentelemetry::metrics::{MeterProvider, ObservableCounter};
use opentelemetry::KeyValue;
use opentelemetry_otlp::{RetryPolicy, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{
    Instrument, PeriodicReader, SdkMeterProvider, Stream, Temporality,
};
use opentelemetry_sdk::Resource;

use super::series::{Direction, Measure, Table};

/// One HTTP request's time limit.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the last push may hold up the end.
const LAST_PUSH_LIMIT: Duration = Duration::from_secs(2);
/// The longest wait between tries at a failing endpoint.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Where and how often to push.
pub struct Config {
    /// The full URL, path included.
    pub endpoint: String,
    pub interval: Duration,
    pub headers: Vec<(String, String)>,
    /// What serves the probes, a resource attribute.
    pub backend: String,
    /// The bound on label sets (`--max-series`).
    pub max_series: u32,
}

/// A running OTLP push.
pub struct Push {
    provider: SdkMeterProvider,
    requests: Option<SyncSender<()>>,
    pusher: Option<JoinHandle<()>>,
    /// The callbacks live as long as their instruments.
    _sums: Vec<ObservableCounter<u64>>,
}

/// Data points: (value, attributes).
type Points = Vec<(u64, Vec<KeyValue>)>;

/// A cumulative sum read from the table: its OpenTelemetry name, unit,
/// description, and how its points are read.
struct Sum {
    name: String,
    unit: &'static str,
    description: String,
    points: Box<dyn Fn(&Table) -> Points + Send + Sync>,
}

fn attributes(labels: &[(String, String)]) -> Vec<KeyValue> {
    labels
        .iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
        .collect()
}

/// The sums: the Prometheus families under OpenTelemetry's names and
/// units (socktap.send.bytes in By), the labels as attributes.
fn sums() -> Vec<Sum> {
    let mut sums = Vec::new();
    for measure in Measure::BOTH {
        for direction in Direction::BOTH {
            sums.push(Sum {
                name: format!("socktap.{}.{}", direction.name(), measure.name()),
                unit: match measure {
                    Measure::Bytes => "By",
                    Measure::Messages => "{message}",
                },
                description: measure.help(direction),
                points: Box::new(move |t| {
                    t.values(direction, |f| measure.of(f))
                        .map(|(labels, v)| (v, attributes(labels)))
                        .collect()
                }),
            });
        }
    }
    sums.push(Sum {
        name: "socktap.errors".into(),
        unit: "{error}",
        description: "Sends and receives that failed, by direction".into(),
        points: Box::new(|t| {
            let mut points = Vec::new();
            for direction in Direction::BOTH {
                for (labels, n) in t.values(direction, |f| f.errors) {
                    let mut attrs = attributes(labels);
                    attrs.push(KeyValue::new("direction", direction.name()));
                    points.push((n, attrs));
                }
            }
            points
        }),
    });
    sums.push(Sum {
        name: "socktap.events.lost".into(),
        unit: "{event}",
        description: "Events socktap could not count, by reason (rows_full: raise --max-series)"
            .into(),
        points: Box::new(|t| {
            t.losses()
                .iter()
                .map(|(r, n)| (n, vec![KeyValue::new("reason", r.name())]))
                .collect()
        }),
    });
    sums.push(Sum {
        name: "socktap.series.expired".into(),
        unit: "{series}",
        description: "Label sets dropped after --series-ttl seconds without traffic".into(),
        points: Box::new(|t| vec![(t.expired(), Vec::new())]),
    });
    sums
}

impl Push {
    /// Sets up the exporter and the SDK; nothing is sent until
    /// [`request`](Self::request).
    pub fn start(config: &Config, table: Arc<Mutex<Table>>) -> anyhow::Result<Push> {
        let exporter = opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .with_endpoint(config.endpoint.clone())
            .with_headers(config.headers.iter().cloned().collect::<HashMap<_, _>>())
            .with_timeout(EXPORT_TIMEOUT)
            // One try per push: the back-off between pushes is the retry.
            .with_retry_policy(RetryPolicy::disabled())
            .with_temporality(Temporality::Cumulative)
            .build()
            .with_context(|| format!("--otlp-endpoint {}", config.endpoint))?;
        let exporter = Reported {
            inner: exporter,
            endpoint: config.endpoint.clone(),
            max_skips: u32::try_from(MAX_BACKOFF.as_millis() / config.interval.as_millis().max(1))
                .unwrap_or(u32::MAX)
                .max(1),
            state: Mutex::new(Backoff::default()),
        };
        // The reader's own timer is set out of the way: pushes come when
        // the serve loop asks, right after it has refreshed the table.
        let reader = PeriodicReader::builder(exporter)
            .with_interval(Duration::from_secs(365 * 86_400))
            .build();
        // The SDK folds attribute sets beyond 2,000 per instrument into one
        // overflow point; --max-series bounds them here instead.
        let limit = usize::try_from(config.max_series)
            .unwrap_or(usize::MAX)
            .saturating_add(1)
            .max(2000);
        let provider = SdkMeterProvider::builder()
            .with_view(move |_: &Instrument| {
                Stream::builder().with_cardinality_limit(limit).build().ok()
            })
            .with_reader(reader)
            .with_resource(resource(&config.backend))
            .build();
        let meter = provider.meter("socktap");
        let sums = sums()
            .into_iter()
            .map(|sum| {
                let table = Arc::clone(&table);
                let points = sum.points;
                meter
                    .u64_observable_counter(sum.name)
                    .with_unit(sum.unit)
                    .with_description(sum.description)
                    .with_callback(move |observer| {
                        let table = table.lock().unwrap_or_else(PoisonError::into_inner);
                        for (value, attrs) in points(&table) {
                            observer.observe(value, &attrs);
                        }
                    })
                    .build()
            })
            .collect();
        // One push waits at most: a request while one is under way is
        // dropped, the next one will carry its counts.
        let (requests, pending) = mpsc::sync_channel::<()>(1);
        let flusher = provider.clone();
        let pusher = std::thread::Builder::new()
            .name("socktap-otlp".into())
            .spawn(move || {
                for () in pending {
                    // Failures are reported by the exporter.
                    let _ = flusher.force_flush();
                }
            })
            .context("starting the OTLP thread")?;
        Ok(Push {
            provider,
            requests: Some(requests),
            pusher: Some(pusher),
            _sums: sums,
        })
    }

    /// Pushes the table as it is now, unless a push is already waiting.
    pub fn request(&self) {
        if let Some(r) = &self.requests {
            let _ = r.try_send(());
        }
    }
}

impl Drop for Push {
    /// A last push, waited for at most [`LAST_PUSH_LIMIT`]: a stuck
    /// endpoint must not hold up the end of socktap.
    fn drop(&mut self) {
        drop(self.requests.take());
        let provider = self.provider.clone();
        let pusher = self.pusher.take();
        let (done, finished) = mpsc::channel();
        let _ = std::thread::Builder::new()
            .name("socktap-otlp-end".into())
            .spawn(move || {
                if let Some(p) = pusher {
                    let _ = p.join();
                }
                // Shutting down collects and exports once more.
                let _ = provider.shutdown();
                let _ = done.send(());
            });
        let _ = finished.recv_timeout(LAST_PUSH_LIMIT);
    }
}

/// The host and socktap as resource attributes.
fn resource(backend: &str) -> Resource {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let mut attrs = vec![
        KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
        KeyValue::new("host.arch", arch),
        KeyValue::new("os.type", "linux"),
        KeyValue::new("socktap.backend", backend.to_string()),
    ];
    if let Some(host) = host_name() {
        attrs.push(KeyValue::new("host.name", host));
    }
    Resource::builder()
        .with_service_name("socktap")
        .with_attributes(attrs)
        .build()
}

fn host_name() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at
    // most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    std::str::from_utf8(&buf[..end])
        .ok()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// How many pushes to skip after failures, and whether the failure has
/// been reported.
#[derive(Debug, Default)]
struct Backoff {
    failures: u32,
    skip: u32,
}

/// The OTLP exporter, reporting an endpoint's failure once and its return,
/// and skipping pushes while it fails: 1, 2, 4… up to [`MAX_BACKOFF`].
#[derive(Debug)]
struct Reported {
    inner: opentelemetry_otlp::MetricExporter,
    endpoint: String,
    max_skips: u32,
    state: Mutex<Backoff>,
}

impl Reported {
    fn state(&self) -> std::sync::MutexGuard<'_, Backoff> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether to skip this push, counting it.
    fn waiting(&self) -> bool {
        let mut s = self.state();
        if s.skip > 0 {
            s.skip -= 1;
            return true;
        }
        false
    }

    fn record(&self, result: &OTelSdkResult) {
        let mut s = self.state();
        match result {
            Ok(()) => {
                if s.failures > 0 {
                    crate::shared::say::note!(
                        "socktap: OTLP push to {} works again",
                        self.endpoint
                    );
                }
                *s = Backoff::default();
            }
            Err(e) => {
                if s.failures == 0 {
                    crate::shared::say::warn(format_args!(
                        "OTLP push to {} failed: {e}; trying again with back-off (said once)",
                        self.endpoint
                    ));
                }
                s.failures = s.failures.saturating_add(1);
                s.skip = 1u32
                    .checked_shl(s.failures - 1)
                    .unwrap_or(u32::MAX)
                    .min(self.max_skips)
                    - 1;
            }
        }
    }
}

impl PushMetricExporter for Reported {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        if self.waiting() {
            return Ok(());
        }
        let result = self.inner.export(metrics).await;
        self.record(&result);
        result
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_back_off_doubling_up_to_the_bound() {
        let r = Reported {
            inner: opentelemetry_otlp::MetricExporter::builder()
                .with_http()
                .with_endpoint("http://127.0.0.1:9/v1/metrics")
                .build()
                .unwrap(),
            endpoint: "test".into(),
            max_skips: 4,
            state: Mutex::new(Backoff::default()),
        };
        let fail: OTelSdkResult = Err(opentelemetry_sdk::error::OTelSdkError::InternalFailure(
            "refused".into(),
        ));
        let mut skipped = Vec::new();
        for _ in 0..5 {
            r.record(&fail);
            let mut n = 0;
            while r.waiting() {
                n += 1;
            }
            skipped.push(n);
        }
        assert_eq!(skipped, vec![0, 1, 3, 3, 3]);
        r.record(&Ok(()));
        assert!(!r.waiting());
    }
}
