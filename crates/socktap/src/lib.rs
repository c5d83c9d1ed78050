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
//!     .probes(&socktap::tapset::parse::resolve(&["socket.send*"])?)
//!     .filter(Filter { families: vec![2], ..Default::default() })
//!     .start()?;
//! tracer.poll(Duration::from_millis(100))?;
//! tracer.drain(|ev| println!("{} {} sent {}", ev.pid, ev.comm(), ev.size));
//! println!("lost: {}", tracer.losses()?);
//! # Ok::<(), socktap::Error>(())
//! ```
//!
//! The data path, and the modules along it: the BPF programs
//! (`src/bpf/`, loaded by the private `kernel` module) fill events and
//! either send them through the ring buffer, read by a [`Tracer`] and
//! decoded into [`Event`]s, or count them into maps, read by an
//! [`Aggregator`]. [`tapset`] is the tapset itself (probes, tables, names),
//! [`backend`] the vocabulary of mechanisms, and [`coverage`] what serves
//! each probe on the running kernel.
#![warn(missing_docs)]

pub mod aggregate;
pub mod backend;
mod builder;
pub mod coverage;
mod error;
mod event;
mod filter;
mod kernel;
mod loss;
pub mod tapset;
mod tracer;

pub use aggregate::{Aggregator, AggregatorBuilder, Carry, Counts, Keys, RowKey};
pub use backend::{Backend, LoadSettings, Mechanism, Plan, Role};
pub use error::{Error, Result};
pub use event::Event;
pub use filter::{Filter, MAX_COMM_BYTES, MAX_VALUES};
pub use kernel::features::can_trace;
pub use loss::{LossReason, Losses};
pub use tapset::{Path, Probe};
pub use tracer::{Tracer, TracerBuilder, DEFAULT_RING_BYTES};
