//! Counts bytes sent and received per process for a few seconds, using
//! socktap as a library.
//!
//! Run as root: `cargo run --example talkers -p socktap -- 5`

use std::collections::HashMap;
use std::time::{Duration, Instant};

use socktap::{Probe, Tracer};

fn main() -> Result<(), socktap::Error> {
    let secs: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let mut tracer = Tracer::builder()
        .probes(&[Probe::Send, Probe::Receive])
        .start()?;
    eprintln!("counting socket traffic for {secs} s…");

    // (pid, comm) -> (bytes sent, bytes received)
    let mut per_process: HashMap<(u32, String), (u64, u64)> = HashMap::new();
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        tracer.poll(Duration::from_millis(100))?;
        tracer.drain(|ev| {
            if ev.size <= 0 {
                return; // failures and EOFs move no bytes
            }
            let entry = per_process
                .entry((ev.pid, ev.comm().to_string()))
                .or_default();
            if ev.probe == Probe::Send {
                entry.0 += ev.size as u64;
            } else {
                entry.1 += ev.size as u64;
            }
        });
    }

    let mut rows: Vec<_> = per_process.into_iter().collect();
    rows.sort_by_key(|(_, (s, r))| std::cmp::Reverse(s + r));
    println!(
        "{:>7} {:<16} {:>12} {:>12}",
        "PID", "COMM", "SENT", "RECEIVED"
    );
    for ((pid, comm), (sent, received)) in rows {
        println!("{pid:>7} {comm:<16} {sent:>12} {received:>12}");
    }
    println!("lost events: {}", tracer.losses()?);
    Ok(())
}
