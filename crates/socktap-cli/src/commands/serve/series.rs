//! The exported series: running totals per label set, built from the
//! kernel's rows, and their expiry. One table feeds both the Prometheus
//! exposition and the OTLP push, so the two always say the same.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use socktap::{Counts, Losses, Probe, RowKey};

use crate::shared::containers::Containers;
use crate::shared::keys::Key;

/// A series' labels, in the user's `--labels` order: (name, value).
pub type Labels = Vec<(String, String)>;

/// The keys that can be labels: every grouping key but the probe (the
/// first of them), since each metric family already names its direction.
pub fn label_keys() -> &'static [Key] {
    &Key::ALL[1..]
}

/// A row's labels: names wherever the tapset has a name (`UDP`, `INET`).
/// A container label with no value (a host process) is empty, which
/// Prometheus reads as no label.
pub fn label_values(labels: &[Key], k: &RowKey, containers: Option<&Containers>) -> Labels {
    labels
        .iter()
        .map(|l| {
            let value = l.text(None, k, containers).unwrap_or_default();
            (l.name().to_string(), value)
        })
        .collect()
}

/// One direction's running totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flow {
    /// Bytes moved by successful calls.
    pub bytes: u64,
    /// Successful calls.
    pub messages: u64,
    /// Failed calls.
    pub errors: u64,
}

/// One label set: its sends and receives (None until it has had one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub send: Option<Flow>,
    pub receive: Option<Flow>,
    /// The last refresh that saw it grow.
    last_active: Instant,
}

/// Which way traffic goes: each exported traffic metric is one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Send,
    Receive,
}

impl Direction {
    pub const BOTH: [Direction; 2] = [Direction::Send, Direction::Receive];

    /// Its name in metric names and as the `direction` label.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Send => "send",
            Direction::Receive => "receive",
        }
    }

    /// "sent on" / "received from", for help texts.
    fn phrase(self) -> &'static str {
        match self {
            Direction::Send => "sent on",
            Direction::Receive => "received from",
        }
    }

    fn flow(self, s: &Series) -> Option<Flow> {
        match self {
            Direction::Send => s.send,
            Direction::Receive => s.receive,
        }
    }
}

/// What a traffic metric counts of a direction's successes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    Bytes,
    Messages,
}

impl Measure {
    pub const BOTH: [Measure; 2] = [Measure::Bytes, Measure::Messages];

    /// Its name in metric names.
    pub fn name(self) -> &'static str {
        match self {
            Measure::Bytes => "bytes",
            Measure::Messages => "messages",
        }
    }

    pub fn of(self, f: &Flow) -> u64 {
        match self {
            Measure::Bytes => f.bytes,
            Measure::Messages => f.messages,
        }
    }

    /// The description of this measure of `direction`, the same for every
    /// export.
    pub fn help(self, direction: Direction) -> String {
        let what = match self {
            Measure::Bytes => "Bytes",
            Measure::Messages => "Messages",
        };
        format!(
            "{what} {} sockets (socket.{}, successes)",
            direction.phrase(),
            direction.name()
        )
    }
}

/// Every live series, and what the exporter has dropped and lost.
#[derive(Debug)]
pub struct Table {
    labels: Vec<Key>,
    ttl: Duration,
    /// Sorted, so that an exposition lists series in a stable order.
    series: BTreeMap<Labels, Series>,
    /// Each kernel row's totals at the last refresh, to add only growth.
    seen: HashMap<RowKey, Counts>,
    expired: u64,
    losses: Losses,
    /// Names the container labels.
    containers: Option<Arc<Containers>>,
}

impl Table {
    pub fn new(labels: Vec<Key>, ttl: Duration) -> Table {
        Table {
            labels,
            ttl,
            series: BTreeMap::new(),
            seen: HashMap::new(),
            expired: 0,
            losses: Losses::default(),
            containers: None,
        }
    }

    /// Names container, pod, namespace and unit labels through `containers`.
    pub fn with_containers(mut self, containers: Option<Arc<Containers>>) -> Table {
        self.containers = containers;
        self
    }

    /// Brings the series up to the kernel's running totals (`rows`) and the
    /// losses. Series that have not grown for the TTL are dropped; the
    /// kernel rows that fed them are returned, for the caller to remove
    /// from the kernel so that their room can be taken by new rows.
    pub fn update(
        &mut self,
        rows: HashMap<RowKey, Counts>,
        losses: Losses,
        now: Instant,
    ) -> Vec<RowKey> {
        for (k, counts) in &rows {
            let before = self.seen.get(k);
            // A row removed and re-created in the kernel starts again from
            // 0; counters never go down, so a drop counts as no growth.
            let grew = |f: fn(&Counts) -> u64| f(counts) - before.map_or(0, f).min(f(counts));
            let labels = label_values(&self.labels, k, self.containers.as_deref());
            let series = self.series.entry(labels).or_insert(Series {
                send: None,
                receive: None,
                last_active: now,
            });
            let flow = if Probe::Send.paths().contains(&k.path) {
                &mut series.send
            } else {
                &mut series.receive
            }
            .get_or_insert_with(Flow::default);
            flow.bytes += grew(|c| c.bytes);
            flow.messages += grew(Counts::successes);
            flow.errors += grew(|c| c.errors);
            if before.is_none() || grew(|c| c.count) > 0 {
                series.last_active = now;
            }
        }
        // Rows gone from the kernel are forgotten: if they come back, they
        // start from zero there and here.
        self.seen = rows;
        self.losses = losses;

        let ttl = self.ttl;
        let before = self.series.len();
        self.series
            .retain(|_, s| now.saturating_duration_since(s.last_active) < ttl);
        self.expired += (before - self.series.len()) as u64;
        let labels = &self.labels;
        let series = &self.series;
        let containers = self.containers.as_deref();
        let idle: Vec<RowKey> = self
            .seen
            .keys()
            .filter(|k| !series.contains_key(&label_values(labels, k, containers)))
            .cloned()
            .collect();
        for k in &idle {
            self.seen.remove(k);
        }
        idle
    }

    /// One value of every series that has had traffic in `direction`.
    pub fn values(
        &self,
        direction: Direction,
        value: impl Fn(&Flow) -> u64,
    ) -> impl Iterator<Item = (&Labels, u64)> {
        self.series
            .iter()
            .filter_map(move |(labels, s)| direction.flow(s).map(|f| (labels, value(&f))))
    }

    /// The live series, sorted by labels.
    #[cfg(test)]
    pub fn series(&self) -> impl Iterator<Item = (&Labels, &Series)> {
        self.series.iter()
    }

    /// How many series are live.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// How many series have expired since start.
    pub fn expired(&self) -> u64 {
        self.expired
    }

    /// The kernel's losses, by reason, since start.
    pub fn losses(&self) -> &Losses {
        &self.losses
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::testing::{counts, row as key};
    use socktap::{LossReason, Path};

    #[test]
    fn label_values_name_family_and_protocol() {
        let l = label_values(
            &[Key::Comm, Key::Family, Key::Protocol],
            &key(Path::SendmsgReturn, "curl"),
            None,
        );
        let l: Vec<(&str, &str)> = l.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            l,
            vec![("comm", "curl"), ("family", "INET"), ("protocol", "UDP")]
        );
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
    fn paths_add_up_per_label_set_and_only_grow() {
        let mut t = Table::new(vec![Key::Comm], Duration::from_secs(60));
        let t0 = Instant::now();
        let rows = HashMap::from([
            (key(Path::SendmsgReturn, "a"), counts(3, 30, 1)),
            (key(Path::AioWriteReturn, "a"), counts(2, 200, 0)),
            (key(Path::RecvmsgReturn, "a"), counts(1, 5, 0)),
        ]);
        let gone = t.update(rows, Losses::of(LossReason::RowsFull, 4), t0);
        assert!(gone.is_empty());
        let (labels, s) = t.series().next().unwrap();
        assert_eq!(labels, &vec![("comm".to_string(), "a".to_string())]);
        assert_eq!(
            s.send,
            Some(Flow {
                bytes: 230,
                messages: 4,
                errors: 1
            })
        );
        assert_eq!(s.receive.map(|f| f.bytes), Some(5));
        assert_eq!(t.losses().get(LossReason::RowsFull), 4);
        // A row that went (removed elsewhere) and came back from zero adds
        // its new counts, never subtracts.
        let rows = HashMap::from([(key(Path::SendmsgReturn, "a"), counts(1, 7, 0))]);
        t.update(rows, Losses::default(), t0);
        let rows = HashMap::from([(key(Path::SendmsgReturn, "a"), counts(2, 9, 0))]);
        t.update(rows, Losses::default(), t0);
        let s = t.series().next().unwrap().1;
        assert_eq!(s.send.map(|f| (f.bytes, f.messages)), Some((232, 5)));
    }

    #[test]
    fn idle_series_expire_and_give_back_their_rows() {
        let ttl = Duration::from_secs(10);
        let mut t = Table::new(vec![Key::Comm], ttl);
        let t0 = Instant::now();
        let a = key(Path::SendmsgReturn, "a");
        let b = key(Path::SendmsgReturn, "b");
        t.update(
            HashMap::from([(a.clone(), counts(1, 1, 0)), (b.clone(), counts(1, 1, 0))]),
            Losses::default(),
            t0,
        );
        // b keeps growing, a does not.
        let t1 = t0 + Duration::from_secs(6);
        t.update(
            HashMap::from([(a.clone(), counts(1, 1, 0)), (b.clone(), counts(2, 2, 0))]),
            Losses::default(),
            t1,
        );
        let gone = t.update(
            HashMap::from([(a.clone(), counts(1, 1, 0)), (b.clone(), counts(2, 2, 0))]),
            Losses::default(),
            t0 + ttl,
        );
        assert_eq!(gone, vec![a.clone()]);
        assert_eq!((t.len(), t.expired()), (1, 1));
        // Back after expiry: a new series, from zero.
        t.update(
            HashMap::from([(a.clone(), counts(4, 40, 0)), (b.clone(), counts(2, 2, 0))]),
            Losses::default(),
            t0 + ttl,
        );
        let s: Vec<u64> = t
            .series()
            .map(|(_, s)| s.send.map_or(0, |f| f.bytes))
            .collect();
        assert_eq!(s, vec![40, 2]);
    }
}
