//! `socktap stat`: chosen probes counted in the kernel by chosen keys,
//! printed per interval or once at exit, with log2 histograms of sizes.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use socktap::aggregate::HIST_BUCKETS;
use socktap::{Aggregator, Counts, Losses, Probe, RowKey};

use crate::args::StatArgs;
use crate::shared::containers::Containers;
use crate::shared::keys::{kernel_keys, Key};
use crate::shared::{hist, losses, probes, signals, time};

/// One of the user's rows: its keys' numbers (None for probe and comm),
/// and what it counted.
#[derive(Debug, Clone)]
pub struct Grouped {
    pub numbers: Vec<Option<i64>>,
    pub counts: Counts,
}

/// Groups kernel rows into the user's rows, keyed by the keys' shown
/// values. With `probe` among the keys a kernel row counts once under each
/// requested probe that includes its path (socket.send and
/// socket.sendmsg.return both count a send(2)); without it each event
/// counts once.
pub fn group(
    rows: &HashMap<RowKey, Counts>,
    probes: &[Probe],
    by: &[Key],
    hist: bool,
    containers: Option<&Containers>,
) -> BTreeMap<Vec<String>, Grouped> {
    let mut out: BTreeMap<Vec<String>, Grouped> = BTreeMap::new();
    let zero = Counts {
        count: 0,
        bytes: 0,
        errors: 0,
        hist: hist.then_some([0; HIST_BUCKETS]),
    };
    for (k, c) in rows {
        let matching: Vec<Probe> = probes
            .iter()
            .copied()
            .filter(|p| p.paths().contains(&k.path))
            .collect();
        // None: counted once, not under a probe name.
        let under: Vec<Option<Probe>> = if by.contains(&Key::Probe) {
            matching.into_iter().map(Some).collect()
        } else if matching.is_empty() {
            Vec::new()
        } else {
            vec![None]
        };
        for probe in under {
            // Several kernel rows can be one user's row: the cgroups of one
            // container, or of the host under `-`.
            let key: Vec<String> = by.iter().map(|&b| b.value(probe, k, containers)).collect();
            out.entry(key)
                .or_insert_with(|| Grouped {
                    numbers: by.iter().map(|&b| b.number(k)).collect(),
                    counts: zero.clone(),
                })
                .counts
                .add(c);
        }
    }
    out
}

/// The rows as a table whose key columns are as wide as their widest value,
/// then each row's histogram.
fn print_text(
    out: &mut impl Write,
    by: &[Key],
    rows: &BTreeMap<Vec<String>, Grouped>,
    header: &str,
) -> std::io::Result<()> {
    writeln!(out, "{header}")?;
    let cols: Vec<String> = by.iter().map(|b| b.name().to_uppercase()).collect();
    let widths: Vec<usize> = (0..by.len())
        .map(|i| {
            rows.keys()
                .map(|k| k[i].len())
                .chain([cols[i].len()])
                .max()
                .unwrap_or(4)
        })
        .collect();
    let mut line = String::new();
    for (col, w) in cols.iter().zip(&widths) {
        line.push_str(&format!("{col:<w$} "));
    }
    line.push_str(&format!("{:>10} {:>14} {:>8}", "COUNT", "BYTES", "ERRORS"));
    writeln!(out, "{}", line.trim_end())?;
    for (k, Grouped { counts: c, .. }) in rows {
        let mut line = String::new();
        for (v, w) in k.iter().zip(&widths) {
            line.push_str(&format!("{v:<w$} "));
        }
        line.push_str(&format!("{:>10} {:>14} {:>8}", c.count, c.bytes, c.errors));
        writeln!(out, "{line}")?;
    }
    for (k, Grouped { counts: c, .. }) in rows {
        if let Some(h) = &c.hist {
            if h.iter().any(|&n| n > 0) {
                writeln!(out, "\nsizes @[{}]:", k.join(", "))?;
                hist::draw(out, h)?;
            }
        }
    }
    writeln!(out)
}

/// One report as one JSON object: its rows with their key values (numbers
/// as numbers, with `*_name` beside those the tapset names), counts and
/// non-empty histogram buckets, and the losses so far.
fn print_json(
    out: &mut impl Write,
    by: &[Key],
    rows: &BTreeMap<Vec<String>, Grouped>,
    seconds: f64,
    lost: &Losses,
) -> std::io::Result<()> {
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|(k, Grouped { numbers, counts: c })| {
            let mut m = serde_json::Map::new();
            for ((b, text), number) in by.iter().zip(k).zip(numbers) {
                match number {
                    Some(n) => {
                        m.insert(b.name().to_string(), (*n).into());
                        if b.has_name() {
                            m.insert(format!("{}_name", b.name()), text.clone().into());
                        }
                    }
                    // A container key with no value (a host process) is null.
                    // No real value is "-": Docker and Podman names begin
                    // with a letter or digit, ids are hex, and pod names,
                    // namespaces and systemd units cannot be "-".
                    None if b.is_container() && text == "-" => {
                        m.insert(b.name().to_string(), serde_json::Value::Null);
                    }
                    None => {
                        m.insert(b.name().to_string(), text.clone().into());
                    }
                }
            }
            m.insert("count".into(), c.count.into());
            m.insert("bytes".into(), c.bytes.into());
            m.insert("errors".into(), c.errors.into());
            if let Some(h) = &c.hist {
                m.insert("hist".into(), hist::json(h));
            }
            serde_json::Value::Object(m)
        })
        .collect();
    let rec = serde_json::json!({
        "record": "stat",
        "time": time::rfc3339(time::now_unix_ns()),
        "seconds": seconds,
        "rows": rows,
        "lost": lost.total(),
        "lost_by_reason": losses::json(lost),
    });
    writeln!(out, "{rec}")
}

pub fn run(args: &StatArgs) -> anyhow::Result<()> {
    // Everything the user gave is checked before any BPF is loaded.
    let probes = probes::chosen(&args.probes)?;
    let by = Key::parse_list("--by", &args.by, &Key::ALL)?;
    let containers = (args.filter.needs_containers() || by.iter().any(|k| k.is_container()))
        .then(Containers::start)
        .flatten();
    let filter = args.filter.to_filter(containers.as_ref())?;
    let (every, duration) = (args.interval, args.duration);
    let hist = !args.no_hist;
    let mut agg = Aggregator::builder()
        .probes(&probes)
        .filter(filter)
        .keys(kernel_keys(&by))
        .histograms(hist)
        .capacity(args.capacity)
        .load_settings(args.backend.settings())
        .start()?;
    let stop = signals::stop_flag()?;
    let names: Vec<&str> = probes.iter().map(|p| p.name()).collect();
    crate::shared::say::note!(
        "Tracing {} (backend: {}), counting by {}. Ctrl-C to end.",
        names.join(", "),
        agg.plan(),
        args.by.join(",")
    );

    let started = Instant::now();
    let mut last = started;
    // Without -i, one report at the end (Ctrl-C, --duration or -c).
    let mut next = every.map(|e| started + e);
    let mut reports = 0u64;
    let mut out = std::io::stdout().lock();
    loop {
        let done = stop.load(Ordering::SeqCst)
            || duration.is_some_and(|d| started.elapsed() >= d)
            || args.count.is_some_and(|c| reports >= c);
        let due = next.is_some_and(|n| Instant::now() >= n);
        if !(done || due) {
            // Short sleeps: a signal or the duration is noticed within 20 ms.
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        if done && every.is_some() && !due {
            break; // interval reports already printed; don't print a partial one
        }
        let now = Instant::now();
        // interval() also frees the kernel rows that were idle, so the
        // row capacity holds what is active, not everything ever seen.
        let rows = group(&agg.interval()?, &probes, &by, hist, containers.as_ref());
        let seconds = now.duration_since(last).as_secs_f64();
        last = now;
        let lost = agg.losses()?;
        let written = if args.json {
            print_json(&mut out, &by, &rows, seconds, &lost)
        } else {
            let header = format!("{} — {seconds:.1} s — lost {lost}", time::ctime_now());
            print_text(&mut out, &by, &rows, &header)
        };
        match written.and_then(|()| out.flush()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => break,
            Err(e) => return Err(e.into()),
        }
        reports += 1;
        if let (Some(n), Some(e)) = (next.as_mut(), every) {
            *n += e;
        }
        if every.is_none() || args.count.is_some_and(|c| reports >= c) {
            break;
        }
    }
    crate::shared::say::note!(
        "socktap: {reports} reports, {}",
        losses::text(&agg.losses()?, "--capacity")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use socktap::Path;

    #[test]
    fn grouping_fans_out_only_with_probe_key() {
        let mut m = HashMap::new();
        let k = RowKey {
            path: Path::SendmsgReturn,
            pid: 7,
            uid: 0,
            comm: "x".into(),
            cgroup: 0,
            family: 2,
            protocol: 17,
            sock_type: 2,
            port: 0,
        };
        m.insert(
            k,
            Counts {
                count: 2,
                bytes: 20,
                errors: 0,
                hist: None,
            },
        );
        let probes = [Probe::Send, Probe::SendmsgReturn];
        let g = group(&m, &probes, &[Key::Probe, Key::Pid], false, None);
        assert_eq!(g.len(), 2);
        let row = &g[&vec!["socket.send".to_string(), "7".to_string()]];
        assert_eq!(row.counts.count, 2);
        assert_eq!(row.numbers, vec![None, Some(7)]);
        let g = group(&m, &probes, &[Key::Pid], false, None);
        assert_eq!(g.len(), 1);
        assert_eq!(g[&vec!["7".to_string()]].counts.bytes, 20);
    }
}
