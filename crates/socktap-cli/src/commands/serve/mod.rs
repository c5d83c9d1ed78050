//! `socktap serve`: in-kernel counters exported for fleets: Prometheus
//! scrapes over HTTP (`http`, `exposition`), OTLP pushes (`otlp`), or
//! both, from one table of series (`series`) that expires idle ones.
//!
//! Everything but the OTLP client runs on this thread: the Aggregator's
//! maps are read here, and the HTTP server is a single-threaded tokio
//! runtime whose tasks are all dropped, stuck clients' included, when a
//! signal ends the loop.

mod exposition;
mod http;
mod otlp;
mod series;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context;
use socktap::{Aggregator, Probe};

use crate::args::ServeArgs;
use crate::shared::containers::Containers;
use crate::shared::keys::{kernel_keys, Key};
use crate::shared::{losses, signals};
use exposition::Exposition;
use series::{label_keys, Table};

/// Where Prometheus scrapes go unless `--listen` says otherwise.
const DEFAULT_LISTEN: &str = "127.0.0.1:9745";

pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    let labels = Key::parse_list("--labels", &args.labels, label_keys())?;
    let containers = (args.filter.needs_containers() || labels.iter().any(|k| k.is_container()))
        .then(Containers::start)
        .flatten()
        .map(Arc::new);
    let filter = args.filter.to_filter(containers.as_deref())?;
    let otlp_interval = args.otlp_interval()?;
    // With OTLP, a listener only when asked for; without, always.
    let listen = match (args.listen, &args.otlp_endpoint) {
        (Some(a), _) => Some(a),
        (None, None) => Some(DEFAULT_LISTEN.parse::<SocketAddr>()?),
        (None, Some(_)) => None,
    };
    // Bound before the programs load: a port in use fails fast and clean.
    let listener = listen
        .map(|a| {
            let l = std::net::TcpListener::bind(a).with_context(|| format!("--listen {a}"))?;
            l.set_nonblocking(true)
                .with_context(|| format!("--listen {a}"))?;
            anyhow::Ok(l)
        })
        .transpose()?;
    let agg = Aggregator::builder()
        .probes(&Probe::DEFAULT)
        .filter(filter)
        .keys(kernel_keys(&labels))
        // Each label set has one row per path: the capacity bounds the
        // number of series.
        .capacity(args.max_series)
        .load_settings(args.backend.settings())
        .start()?;
    let backend = agg.plan().to_string();
    let table = Arc::new(Mutex::new(
        Table::new(labels, args.series_ttl).with_containers(containers),
    ));
    let push = args
        .otlp_endpoint
        .as_ref()
        .map(|endpoint| {
            let config = otlp::Config {
                endpoint: endpoint.clone(),
                interval: otlp_interval,
                headers: args.otlp_header.clone(),
                backend: backend.clone(),
                max_series: args.max_series,
            };
            otlp::Push::start(&config, Arc::clone(&table))
        })
        .transpose()?;
    let mut outputs = Vec::new();
    if let Some(l) = &listener {
        let addr = l.local_addr().context("--listen")?;
        outputs.push(format!(
            "Serving Prometheus metrics on http://{addr}/metrics"
        ));
    }
    if let Some(endpoint) = &args.otlp_endpoint {
        let verb = if outputs.is_empty() {
            "Pushing"
        } else {
            "pushing"
        };
        outputs.push(format!(
            "{verb} OTLP metrics to {endpoint} every {} s",
            otlp_interval.as_secs_f64()
        ));
    }
    crate::shared::say::note!("{}. Ctrl-C to end.", outputs.join(" and "));

    let stop = signals::stop_flag()?;
    let agg = Rc::new(RefCell::new(agg));
    let exposition = Exposition::new(Arc::clone(&table), backend);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .context("starting the HTTP runtime")?;
    let tasks = tokio::task::LocalSet::new();
    let result = tasks.block_on(&runtime, async {
        let scrape: http::Scrape = {
            let (agg, table) = (Rc::clone(&agg), Arc::clone(&table));
            Rc::new(move |format, read| {
                // Read at scrape time: a scrape always sees the latest counts.
                if read {
                    refresh(&mut agg.borrow_mut(), &table)?;
                }
                exposition.encode(format)
            })
        };
        let server = async {
            match listener {
                Some(l) => {
                    let l = tokio::net::TcpListener::from_std(l).context("--listen")?;
                    http::serve(l, scrape).await
                }
                None => std::future::pending().await,
            }
        };
        let expiry = expiry_period(args.series_ttl);
        let otlp = push.as_ref().map(|p| (p, otlp_interval));
        let chores = housekeeping(&agg, &table, expiry, otlp);
        tokio::select! {
            () = stopped(&stop) => Ok(()),
            r = server => r,
            r = chores => r,
        }
    });
    // Every connection ends here, however stuck its client.
    drop(tasks);
    drop(runtime);
    if let Some(push) = push {
        // The last push (made as it is dropped) carries the last counts.
        let read = refresh(&mut agg.borrow_mut(), &table);
        drop(push);
        read?;
    }
    result?;
    let expired = table
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .expired();
    crate::shared::say::note!(
        "socktap: {expired} series expired, {}",
        losses::text(&agg.borrow().losses()?, "--max-series")
    );
    Ok(())
}

/// Brings the table up to the kernel's counts, and removes from the kernel
/// the rows of the series that expired, so that new rows can take their
/// room.
fn refresh(agg: &mut Aggregator, table: &Mutex<Table>) -> anyhow::Result<()> {
    let rows = agg.totals()?;
    let lost = agg.losses()?;
    let idle =
        table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .update(rows, lost, Instant::now());
    for row in &idle {
        agg.remove(row);
    }
    Ok(())
}

/// How often idle series are looked for without scrapes: a quarter of the
/// TTL, so that a series goes at most a quarter late, but not more often
/// than every 10 ms nor less than every 10 s.
fn expiry_period(ttl: Duration) -> Duration {
    (ttl / 4).clamp(Duration::from_millis(10), Duration::from_secs(10))
}

/// Expiry without scrapes, and OTLP pushes of a freshly read table.
async fn housekeeping(
    agg: &RefCell<Aggregator>,
    table: &Mutex<Table>,
    expiry: Duration,
    otlp: Option<(&otlp::Push, Duration)>,
) -> anyhow::Result<()> {
    let mut expiries = tokio::time::interval(expiry);
    // Without OTLP this timer is never polled.
    let mut pushes = tokio::time::interval(otlp.map_or(expiry, |(_, every)| every));
    for t in [&mut expiries, &mut pushes] {
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    }
    loop {
        tokio::select! {
            _ = expiries.tick() => refresh(&mut agg.borrow_mut(), table)?,
            _ = pushes.tick(), if otlp.is_some() => {
                refresh(&mut agg.borrow_mut(), table)?;
                if let Some((push, _)) = otlp {
                    push.request();
                }
            }
        }
    }
}

/// Resolves once a signal has set the stop flag.
async fn stopped(stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_looked_for_often_enough_but_not_too_often() {
        assert_eq!(
            expiry_period(Duration::from_secs(300)),
            Duration::from_secs(10)
        );
        assert_eq!(
            expiry_period(Duration::from_secs(2)),
            Duration::from_millis(500)
        );
        assert_eq!(
            expiry_period(Duration::from_millis(10)),
            Duration::from_millis(10)
        );
    }
}
