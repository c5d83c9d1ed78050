//! `socktap trace`: one line or JSON object per probe firing.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use socktap::coverage::KernelFeatures;
use socktap::{LossReason, Tracer};

use crate::args::TraceArgs;
use crate::shared::containers::Containers;
use crate::shared::output::Output;
use crate::shared::{events, losses, probes, signals};

/// How long the reader sleeps between reads when the kernel side has not
/// woken it: bounds the latency of a quiet trickle of events.
const READ_INTERVAL: Duration = Duration::from_millis(10);
/// How often JSON output reports what was lost meanwhile.
const LOSS_READ_INTERVAL: Duration = Duration::from_millis(100);

pub fn run(args: &TraceArgs) -> anyhow::Result<()> {
    // Everything the user gave is checked before any BPF is loaded.
    let probes = probes::chosen(&args.probes)?;
    // JSON names each event's cgroup and container.
    let containers = (args.json || args.filter.needs_containers())
        .then(Containers::start)
        .flatten();
    let filter = args.filter.to_filter(containers.as_ref())?;
    let duration = args.duration;
    // Socket flag names come from the running kernel's BTF.
    let features = KernelFeatures::probe();
    let stop = signals::stop_flag()?;

    let mut tracer = Tracer::builder()
        .probes(&probes)
        .filter(filter)
        .include_peek(args.include_peek)
        .ring_buffer_bytes(args.buffer_kib.saturating_mul(1024))
        .load_settings(args.backend.settings())
        .start()?;
    let names: Vec<&str> = probes.iter().map(|p| p.name()).collect();
    crate::shared::say::note!(
        "Tracing {} (backend: {}). Ctrl-C to end.",
        names.join(", "),
        tracer.plan()
    );

    let offset = tracer.unix_time_ns(0);
    let mut json = events::JsonWriter::new(&features, containers.as_ref(), offset);
    let started = Instant::now();
    // Lets go of a stalled reader once stopped, counting what it drops.
    let mut out = Output::new(&stop);
    if !args.json {
        events::text_header(&mut out)?;
    }
    let mut events: u64 = 0;
    let mut lost_reported = socktap::Losses::default();
    let mut write_err: Option<std::io::Error> = None;
    let limit = args.count.unwrap_or(u64::MAX);

    let mut finishing = false;
    let mut last_loss_read = Instant::now();
    loop {
        if events >= limit {
            break;
        }
        if !finishing
            && (stop.load(Ordering::SeqCst) || duration.is_some_and(|d| started.elapsed() >= d))
        {
            // Detach first, then read what is still in the ring buffer: every
            // event recorded before the end is delivered, none is dropped.
            tracer.detach();
            finishing = true;
        }
        tracer.poll(if finishing {
            Duration::ZERO
        } else {
            READ_INTERVAL
        })?;
        tracer.drain_while(|ev| {
            let r = if args.json {
                json.write(&mut out, ev)
            } else {
                events::text(&mut out, offset, ev)
            };
            if let Err(e) = r {
                write_err = Some(e);
                return false;
            }
            events += 1;
            events < limit
        });
        if write_err.is_none() {
            if let Err(e) = out.flush() {
                write_err = Some(e);
            }
        }
        if let Some(e) = write_err.take() {
            // The reader went away: end as if interrupted, with the summary.
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                break;
            }
            return Err(e.into());
        }
        // Lost records (JSON) at most every LOSS_READ_INTERVAL, and at the
        // end, so that they add up to the summary: reading the losses is a
        // few system calls per program, and under a flood the loop comes
        // round far more often than that.
        let last_round = finishing || events >= limit;
        if args.json && (last_round || last_loss_read.elapsed() >= LOSS_READ_INTERVAL) {
            last_loss_read = Instant::now();
            let lost = tracer.losses()?;
            // One record per reason that grew since the last one.
            for (reason, n) in lost.since(&lost_reported).iter().filter(|(_, n)| *n > 0) {
                let rec = serde_json::json!({"record": "lost", "reason": reason.name(), "lost": n, "total": lost.total()});
                let _ = writeln!(out, "{rec}");
            }
            lost_reported = lost;
        }
        if finishing {
            break;
        }
    }
    let mut lost = tracer.losses()?;
    drop(tracer);
    // Lines given up on are counted as unwritten events. A `lost` record
    // given up with them is counted too, so this can exceed the events
    // written: never go below zero.
    lost.add(LossReason::Unwritten, out.abandoned());
    let events = events.saturating_sub(out.abandoned());
    if args.json {
        let rec = serde_json::json!({"record": "summary", "events": events, "lost": lost.total(),
            "lost_by_reason": losses::json(&lost)});
        // The pipe may be gone: the summary also goes to stderr.
        let _ = writeln!(out, "{rec}").and_then(|_| out.flush());
    }
    crate::shared::say::note!(
        "socktap: {events} events, {}",
        losses::text(&lost, "--capacity")
    );
    Ok(())
}
