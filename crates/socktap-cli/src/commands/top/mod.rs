//! `socktap top`: SystemTap's socktop. A live per-process view of socket
//! traffic ([`live`]), or with `--batch` socktop's own text report
//! ([`report`]), both from in-kernel counters keyed by socktop's columns.

mod live;
mod report;

use std::io::{IsTerminal, Write};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use socktap::{Aggregator, Carry, Probe};

use crate::args::TopArgs;
use crate::shared::containers::Containers;
use crate::shared::keys::{kernel_keys, Key};
use crate::shared::{losses, signals, time};
use crate::UsageError;
use report::{proc_rows, socktop_report};

/// socktop's rows: the kernel keys its rows by these fields.
const KEYS: [Key; 3] = [Key::Pid, Key::Family, Key::Protocol];

/// and carries the user and command of each, as socktop shows the last
/// ones a process had, rather than hashing them on every message.
const CARRY: Carry = Carry {
    uid: true,
    comm: true,
};

/// The kernel's keys: socktop's, and the cgroup for -C's container column.
fn keys(args: &TopArgs) -> Vec<Key> {
    let mut keys = KEYS.to_vec();
    if args.show_containers {
        keys.push(Key::Container);
    }
    keys
}

/// socktop's default is 5 s; the live view refreshes every second.
fn interval(args: &TopArgs, batch: bool) -> Duration {
    let default = Duration::from_secs(if batch { 5 } else { 1 });
    args.interval.unwrap_or(default)
}

/// Loads the counting programs, after every flag is checked.
fn start(args: &TopArgs, containers: Option<&Containers>) -> anyhow::Result<Aggregator> {
    if args.filter.failed {
        return Err(
            UsageError("--failed: top counts successful calls, as socktop does".into()).into(),
        );
    }
    let filter = args.filter.to_filter(containers)?;
    Ok(Aggregator::builder()
        .probes(&Probe::DEFAULT)
        .filter(filter)
        .keys(kernel_keys(&keys(args)))
        .carry(CARRY)
        .capacity(args.capacity)
        .devices(args.devices)
        .load_settings(args.backend.settings())
        .start()?)
}

pub fn run(args: &TopArgs) -> anyhow::Result<()> {
    // Piped or redirected, top prints socktop's reports, as socktop does:
    // a live view would write escape codes into a file.
    let batch = args.batch || args.json || !std::io::stdout().is_terminal();
    let every = interval(args, batch);
    let containers = (args.show_containers || args.filter.needs_containers())
        .then(Containers::start)
        .flatten();
    let mut agg = start(args, containers.as_ref())?;
    let stop = signals::stop_flag()?;
    let shown = args
        .show_containers
        .then_some(containers.as_ref())
        .flatten();
    let reports = if batch {
        run_batch(args, every, &mut agg, &stop, shown)?
    } else {
        live::run(args, every, &mut agg, &stop, shown)?
    };
    crate::shared::say::note!(
        "socktap: {reports} reports, {}",
        losses::text(&agg.losses()?, "--capacity")
    );
    Ok(())
}

/// socktop's report every interval until -c, a signal or a closed pipe;
/// returns how many were printed.
fn run_batch(
    args: &TopArgs,
    every: Duration,
    agg: &mut Aggregator,
    stop: &AtomicBool,
    containers: Option<&Containers>,
) -> anyhow::Result<u64> {
    crate::shared::say::note!(
        "Tracing socket.send, socket.receive; a report every {} s. Ctrl-C to end.",
        every.as_secs_f64()
    );
    let mut out = std::io::stdout().lock();
    let mut next = Instant::now() + every;
    let mut reports = 0;
    while args.count.is_none_or(|c| reports < c) {
        // A stop during the wait ends without a partial report.
        if !signals::sleep_until(next, stop) {
            break;
        }
        // From the schedule, not from now: reports don't drift.
        next += every;
        let rows = proc_rows(&agg.interval()?, containers);
        let devices = if args.devices {
            Some(agg.devices_interval()?)
        } else {
            None
        };
        let report = if args.json {
            let lost = agg.losses()?;
            report::json(
                &rows,
                devices.as_deref(),
                args.rows,
                every,
                &lost,
                args.show_containers,
            )
            .to_string()
                + "\n"
        } else {
            socktop_report(
                &time::ctime_now(),
                &rows,
                devices.as_deref(),
                args.rows,
                args.show_containers,
            )
        };
        match out.write_all(report.as_bytes()).and_then(|()| out.flush()) {
            Ok(()) => {}
            // `top --batch | head` is a normal way to end.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => break,
            Err(e) => return Err(e.into()),
        }
        reports += 1;
    }
    Ok(reports)
}
