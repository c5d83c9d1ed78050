//! `socktap stat`: in-kernel aggregation of chosen probes by chosen keys,
//! printed per interval or at exit, with log2 histograms of sizes.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::Serialize;
use socktap::aggregate::HIST_BUCKETS;
use socktap::tapset::names::{family_display_name, protocol_display_name, type_display_name};
use socktap::{Aggregator, Counts, Keys, Probe, RowKey};

use crate::cli::StatArgs;
use crate::trace::stop_flag;
use crate::UsageError;

/// A key a user can group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Probe,
    Pid,
    Comm,
    Uid,
    Cgroup,
    Family,
    Protocol,
    Type,
    Port,
}

impl By {
    const ALL: [(&'static str, By); 9] = [
        ("probe", By::Probe),
        ("pid", By::Pid),
        ("comm", By::Comm),
        ("uid", By::Uid),
        ("cgroup", By::Cgroup),
        ("family", By::Family),
        ("protocol", By::Protocol),
        ("type", By::Type),
        ("port", By::Port),
    ];

    pub fn parse_list(s: &[String]) -> anyhow::Result<Vec<By>> {
        let mut out = Vec::new();
        for name in s {
            let by = By::ALL
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, b)| *b)
                .ok_or_else(|| {
                    let names: Vec<&str> = By::ALL.iter().map(|(n, _)| *n).collect();
                    UsageError(format!(
                        "--by: unknown key '{name}' (keys: {})",
                        names.join(", ")
                    ))
                })?;
            if !out.contains(&by) {
                out.push(by);
            }
        }
        Ok(out)
    }

    fn name(self) -> &'static str {
        By::ALL
            .iter()
            .find(|(_, b)| *b == self)
            .map_or("?", |(n, _)| n)
    }
}

fn keys_for(by: &[By]) -> Keys {
    Keys {
        pid: by.contains(&By::Pid),
        uid: by.contains(&By::Uid),
        comm: by.contains(&By::Comm),
        cgroup: by.contains(&By::Cgroup),
        family: by.contains(&By::Family),
        protocol: by.contains(&By::Protocol),
        sock_type: by.contains(&By::Type),
        port: by.contains(&By::Port),
    }
}

fn value_of(by: By, probe: Option<Probe>, k: &RowKey) -> String {
    match by {
        By::Probe => probe.map_or("*", |p| p.name()).to_string(),
        By::Pid => k.pid.to_string(),
        By::Comm => k.comm.clone(),
        By::Uid => k.uid.to_string(),
        By::Cgroup => k.cgroup.to_string(),
        By::Family => family_display_name(i64::from(k.family)).into_owned(),
        By::Protocol => {
            protocol_display_name(i64::from(k.family), i64::from(k.protocol)).into_owned()
        }
        By::Type => type_display_name(i64::from(k.sock_type)).into_owned(),
        By::Port => k.port.to_string(),
    }
}

/// Groups kernel rows into the user's rows. With `probe` among the keys a
/// kernel row counts once under each requested probe that includes its
/// path (socket.send and socket.sendmsg.return both count a send(2));
/// without it each event counts once.
pub fn group(
    rows: &std::collections::HashMap<RowKey, Counts>,
    probes: &[Probe],
    by: &[By],
    hist: bool,
) -> BTreeMap<Vec<String>, Counts> {
    let mut out: BTreeMap<Vec<String>, Counts> = BTreeMap::new();
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
        let under: Vec<Option<Probe>> = if by.contains(&By::Probe) {
            matching.into_iter().map(Some).collect()
        } else if matching.is_empty() {
            Vec::new()
        } else {
            vec![None]
        };
        for probe in under {
            let key: Vec<String> = by.iter().map(|&b| value_of(b, probe, k)).collect();
            out.entry(key).or_insert_with(|| zero.clone()).add(c);
        }
    }
    out
}

/// bpftrace-style bucket label: "0", "[8, 16)", "[1K, 2K)", "[1G, ...)".
pub fn bucket_label(i: usize) -> String {
    fn human(n: u64) -> String {
        const UNITS: [(u64, &str); 3] = [(1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")];
        for (size, unit) in UNITS {
            if n >= size && n % size == 0 {
                return format!("{}{unit}", n / size);
            }
        }
        n.to_string()
    }
    match i {
        0 => "0".to_string(),
        i if i == HIST_BUCKETS - 1 => format!("[{}, ...)", human(1 << (i - 1))),
        i => format!("[{}, {})", human(1 << (i - 1)), human(1 << i)),
    }
}

/// The bounds of bucket i: [low, high), high None for the last.
fn bucket_bounds(i: usize) -> (u64, Option<u64>) {
    match i {
        0 => (0, Some(1)),
        i if i == HIST_BUCKETS - 1 => (1 << (i - 1), None),
        i => (1 << (i - 1), Some(1 << i)),
    }
}

fn draw_hist(out: &mut impl Write, h: &[u64; HIST_BUCKETS]) -> std::io::Result<()> {
    let Some(first) = h.iter().position(|&n| n > 0) else {
        return Ok(());
    };
    let last = h.iter().rposition(|&n| n > 0).unwrap_or(first);
    let max = h.iter().copied().max().unwrap_or(1).max(1);
    for (i, &n) in h.iter().enumerate().take(last + 1).skip(first) {
        let width = (n * 52).div_ceil(max) as usize;
        writeln!(
            out,
            "  {:<14} {:>10} |{:<52}|",
            bucket_label(i),
            n,
            "@".repeat(width)
        )?;
    }
    Ok(())
}

#[derive(Serialize)]
struct JsonBucket {
    bucket: String,
    low: u64,
    high: Option<u64>,
    count: u64,
}

fn print_text(
    out: &mut impl Write,
    by: &[By],
    rows: &BTreeMap<Vec<String>, Counts>,
    header: &str,
) -> std::io::Result<()> {
    writeln!(out, "{header}")?;
    let mut cols: Vec<String> = by.iter().map(|b| b.name().to_uppercase()).collect();
    cols.extend(["COUNT", "BYTES", "ERRORS"].map(String::from));
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
    for (i, w) in widths.iter().enumerate() {
        line.push_str(&format!("{:<w$} ", cols[i]));
    }
    line.push_str(&format!("{:>10} {:>14} {:>8}", "COUNT", "BYTES", "ERRORS"));
    writeln!(out, "{}", line.trim_end())?;
    for (k, c) in rows {
        let mut line = String::new();
        for (v, w) in k.iter().zip(&widths) {
            line.push_str(&format!("{v:<w$} "));
        }
        line.push_str(&format!("{:>10} {:>14} {:>8}", c.count, c.bytes, c.errors));
        writeln!(out, "{line}")?;
    }
    for (k, c) in rows {
        if let Some(h) = &c.hist {
            if h.iter().any(|&n| n > 0) {
                writeln!(out, "\nsizes @[{}]:", k.join(", "))?;
                draw_hist(out, h)?;
            }
        }
    }
    writeln!(out)
}

fn print_json(
    out: &mut impl Write,
    by: &[By],
    rows: &BTreeMap<Vec<String>, Counts>,
    seconds: f64,
    lost: &socktap::Losses,
) -> std::io::Result<()> {
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|(k, c)| {
            let mut m = serde_json::Map::new();
            for (b, v) in by.iter().zip(k) {
                m.insert(b.name().to_string(), serde_json::Value::String(v.clone()));
            }
            m.insert("count".into(), c.count.into());
            m.insert("bytes".into(), c.bytes.into());
            m.insert("errors".into(), c.errors.into());
            if let Some(h) = &c.hist {
                let buckets: Vec<JsonBucket> = h
                    .iter()
                    .enumerate()
                    .filter(|(_, &n)| n > 0)
                    .map(|(i, &n)| {
                        let (low, high) = bucket_bounds(i);
                        JsonBucket {
                            bucket: bucket_label(i),
                            low,
                            high,
                            count: n,
                        }
                    })
                    .collect();
                m.insert(
                    "hist".into(),
                    serde_json::to_value(buckets).unwrap_or_default(),
                );
            }
            serde_json::Value::Object(m)
        })
        .collect();
    let rec = serde_json::json!({
        "type": "stat",
        "time": crate::output::rfc3339(now_unix_ns()),
        "seconds": seconds,
        "rows": rows,
        "lost": lost.total(),
        "lost_by_reason": crate::output::losses_json(lost),
    });
    writeln!(out, "{rec}")
}

fn now_unix_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

pub fn run(args: &StatArgs) -> anyhow::Result<()> {
    let pats: Vec<&str> = if args.probes.is_empty() {
        vec!["socket.send", "socket.receive"]
    } else {
        args.probes.iter().map(String::as_str).collect()
    };
    let probes = socktap::tapset::parse::resolve(&pats)?;
    let by = By::parse_list(&args.by)?;
    let filter = args.filter.to_filter()?;
    let every = crate::cli::seconds("-i/--interval", args.interval)?;
    let duration = crate::cli::seconds("--duration", args.duration)?;
    let hist = !args.no_hist;
    let mut agg = Aggregator::builder()
        .probes(&probes)
        .filter(filter)
        .keys(keys_for(&by))
        .histograms(hist)
        .capacity(args.capacity)
        .load_settings(args.backend.settings())
        .start()?;
    let stop = stop_flag()?;
    let names: Vec<&str> = probes.iter().map(|p| p.name()).collect();
    eprintln!(
        "Tracing {} (backend: {}), counting by {}. Ctrl-C to end.",
        names.join(", "),
        agg.plan(),
        args.by.join(",")
    );

    let started = Instant::now();
    let mut last = started;
    let mut next = every.map(|e| started + e);
    let mut reports = 0u64;
    let mut out = std::io::stdout().lock();
    loop {
        let done = stop.load(Ordering::SeqCst)
            || duration.is_some_and(|d| started.elapsed() >= d)
            || args.count.is_some_and(|c| reports >= c);
        let due = next.is_some_and(|n| Instant::now() >= n);
        if !(done || due) {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        if done && every.is_some() && !due {
            break; // interval reports already printed; don't print a partial one
        }
        let now = Instant::now();
        let rows = group(&agg.interval()?, &probes, &by, hist);
        let seconds = now.duration_since(last).as_secs_f64();
        last = now;
        let lost = agg.losses()?;
        let written = if args.json {
            print_json(&mut out, &by, &rows, seconds, &lost)
        } else {
            let header = format!(
                "{} — {:.1} s — lost {lost}",
                crate::report::ctime_now(),
                seconds,
            );
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
    eprintln!(
        "socktap: {reports} reports, {}",
        crate::output::losses_text(&agg.losses()?, "--capacity")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_labels() {
        assert_eq!(bucket_label(0), "0");
        assert_eq!(bucket_label(1), "[1, 2)");
        assert_eq!(bucket_label(4), "[8, 16)");
        assert_eq!(bucket_label(11), "[1K, 2K)");
        assert_eq!(bucket_label(21), "[1M, 2M)");
        assert_eq!(bucket_label(31), "[1G, ...)");
        assert_eq!(bucket_bounds(10), (512, Some(1024)));
    }

    #[test]
    fn by_keys_parse_and_reject() {
        let by = By::parse_list(&["pid".into(), "probe".into(), "pid".into()]).unwrap();
        assert_eq!(by, vec![By::Pid, By::Probe]);
        let e = By::parse_list(&["pdi".into()]).unwrap_err().to_string();
        assert!(e.contains("--by") && e.contains("pdi"), "{e}");
    }

    #[test]
    fn grouping_fans_out_only_with_probe_key() {
        use socktap::Path;
        let mut m = std::collections::HashMap::new();
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
        let g = group(&m, &probes, &[By::Probe, By::Pid], false);
        assert_eq!(g.len(), 2);
        assert_eq!(
            g[&vec!["socket.send".to_string(), "7".to_string()]].count,
            2
        );
        let g = group(&m, &probes, &[By::Pid], false);
        assert_eq!(g.len(), 1);
        assert_eq!(g[&vec!["7".to_string()]].bytes, 20);
    }
}
