//! socktap: SystemTap's socket tapset on eBPF.
//!
//! Choose probes by their tapset names ([`Probe`]), optionally a kernel-side
//! [`Filter`], start a [`Tracer`], and read typed [`Event`]s:
//!
//! ```no_run
//! use std::time::Duration;
//! use socktap::{Filter, Probe, Tracer};
//!
//! let mut tracer = Tracer::builder()
//!     .probes(&socktap::probe::resolve(&["socket.send*"])?)
//!     .filter(Filter { families: vec![2], ..Default::default() })
//!     .start()?;
//! tracer.poll(Duration::from_millis(100))?;
//! tracer.drain(|ev| println!("{} {} sent {}", ev.pid, ev.comm(), ev.size));
//! println!("lost: {}", tracer.losses()?);
//! # Ok::<(), socktap::Error>(())
//! ```
#![warn(missing_docs)]

pub mod aggregate;
mod caps;
pub mod coverage;
mod error;
mod event;
mod filter;
pub mod loader;
mod loss;
pub mod probe;
pub mod tables;
mod tracer;

mod skel {
    #![allow(
        clippy::all,
        clippy::pedantic,
        missing_docs,
        dead_code,
        non_camel_case_types,
        non_snake_case,
        unused_imports
    )]
    include!(concat!(env!("OUT_DIR"), "/socktap.skel.rs"));
}

pub use aggregate::{Aggregator, AggregatorBuilder, Counts, Keys, RowKey};
pub use caps::can_trace;
pub use error::{Error, Result};
pub use event::Event;
pub use filter::{Filter, MAX_VALUES};
pub use loader::{Backend, Mechanism, Plan, Role};
pub use loss::{LossReason, Losses};
pub use probe::{Path, Probe};
pub use tracer::{Tracer, TracerBuilder, DEFAULT_RING_BYTES};
