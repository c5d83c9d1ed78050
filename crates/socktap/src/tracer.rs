//! Tracing: every firing of the chosen probes as an [`Event`], read from
//! the ring buffer the programs submit into.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use libbpf_rs::{RingBuffer, RingBufferBuilder};

use crate::backend::Plan;
use crate::builder::{common_setters, setters, Common};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::kernel::config;
use crate::kernel::loader::{self, Loaded};
use crate::loss::Losses;
use crate::tapset::{path_mask, Path, Probe};

/// Default ring buffer size: room for about 29,000 events between reads.
pub const DEFAULT_RING_BYTES: u32 = 4 << 20;

/// Configures and starts a [`Tracer`].
///
/// ```no_run
/// use std::time::Duration;
/// use socktap::{Probe, Tracer};
///
/// let mut tracer = Tracer::builder().probes(&[Probe::Send]).start()?;
/// loop {
///     tracer.poll(Duration::from_millis(100))?;
///     tracer.drain(|ev| println!("{} {} {}", ev.pid, ev.comm(), ev.size));
/// }
/// # Ok::<(), socktap::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct TracerBuilder {
    common: Common,
    ring_bytes: u32,
    include_peek: bool,
}

impl Default for TracerBuilder {
    fn default() -> Self {
        TracerBuilder {
            common: Common::default(),
            ring_bytes: DEFAULT_RING_BYTES,
            include_peek: false,
        }
    }
}

impl TracerBuilder {
    common_setters!("report");

    setters! {
        /// Ring buffer size in bytes; rounded up to a power of two of at least
        /// one page.
        ring_buffer_bytes(bytes: u32) => ring_bytes;
        /// Also report MSG_PEEK receives. Off by default: a peek leaves the
        /// message queued, so counting it would count that message twice.
        include_peek(yes: bool) => include_peek;
    }

    /// Loads and attaches the programs the chosen probes need.
    pub fn start(self) -> Result<Tracer> {
        Tracer::start(self)
    }
}

/// A running trace: the BPF programs stay attached until it is dropped.
pub struct Tracer {
    // Field order is drop order: the ring buffer before the object.
    ring: RingBuffer<'static>,
    loaded: Loaded,
    queue: Rc<RefCell<VecDeque<Event>>>,
    /// For each kernel-side path, the requested probes it fires.
    fan_out: Vec<Vec<Probe>>,
    probes: Vec<Probe>,
    clock_offset_ns: i128,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer")
            .field("probes", &self.probes)
            .finish_non_exhaustive()
    }
}

impl Tracer {
    /// A builder with the defaults: `socket.send` and `socket.receive`, no filter.
    pub fn builder() -> TracerBuilder {
        TracerBuilder::default()
    }

    fn start(b: TracerBuilder) -> Result<Tracer> {
        let mut fan_out: Vec<Vec<Probe>> = vec![Vec::new(); Path::ALL.len()];
        for &probe in &b.common.probes {
            for &path in probe.paths() {
                fan_out[path as usize].push(probe);
            }
        }
        let mask = path_mask(&b.common.probes);

        let ring_bytes = b.ring_bytes.max(4096).next_power_of_two();
        let loaded = loader::load(&config::Options {
            mask,
            filter: &b.common.filter,
            include_peek: b.include_peek,
            ring_bytes,
            aggregate: None,
            devices: false,
            settings: b.common.settings,
            unions_only: false,
        })?;

        let queue = Rc::new(RefCell::new(VecDeque::with_capacity(4096)));
        let sink = Rc::clone(&queue);
        let mut rb = RingBufferBuilder::new();
        rb.add(&loaded.skel.maps.events, move |data: &[u8]| {
            if let Some(ev) = Event::decode(data) {
                sink.borrow_mut().push_back(ev);
            }
            0
        })
        .map_err(|e| Error::bpf("opening the ring buffer", e))?;
        let ring = rb
            .build()
            .map_err(|e| Error::bpf("opening the ring buffer", e))?;

        Ok(Tracer {
            ring,
            loaded,
            queue,
            fan_out,
            probes: b.common.probes,
            clock_offset_ns: clock_offset_ns(),
        })
    }

    /// The probes this tracer reports.
    pub fn probes(&self) -> &[Probe] {
        &self.probes
    }

    /// The mechanism serving each role, as chosen at start.
    pub fn plan(&self) -> &Plan {
        &self.loaded.plan
    }

    /// Waits up to `timeout` for events and reads all that are ready.
    /// Returns how many records were read.
    pub fn poll(&mut self, timeout: Duration) -> Result<usize> {
        let before = self.queue.borrow().len();
        // The programs submit without waking the reader until a batch is
        // pending, so poll() may time out with records ready: consume() reads
        // them either way.
        // A signal (Ctrl-C) interrupting the wait is not an error: the
        // caller decides whether to stop.
        if let Err(e) = self.ring.poll(timeout) {
            if e.kind() != libbpf_rs::ErrorKind::Interrupted {
                return Err(Error::bpf("reading the ring buffer", e));
            }
        }
        self.ring
            .consume()
            .map_err(|e| Error::bpf("reading the ring buffer", e))?;
        Ok(self.queue.borrow().len() - before)
    }

    /// Hands every event read so far to `f`, once per requested probe it
    /// fires (a send seen through `socket.send` and `socket.sendmsg.return`
    /// is handed out twice, once under each name).
    pub fn drain(&mut self, mut f: impl FnMut(&Event)) {
        let mut queue = self.queue.borrow_mut();
        for ev in queue.drain(..) {
            for &probe in &self.fan_out[ev.path as usize] {
                f(&ev.as_probe(probe));
            }
        }
    }

    /// Like [`drain`](Self::drain), but stops after the event for which `f`
    /// returns false; the rest stay queued.
    pub fn drain_while(&mut self, mut f: impl FnMut(&Event) -> bool) {
        let mut queue = self.queue.borrow_mut();
        while let Some(ev) = queue.pop_front() {
            for &probe in &self.fan_out[ev.path as usize] {
                if !f(&ev.as_probe(probe)) {
                    return;
                }
            }
        }
    }

    /// Detaches the programs: nothing new is recorded, and what is already
    /// in the ring buffer can still be read with [`poll`](Self::poll). The
    /// way to end a trace without dropping its last events.
    pub fn detach(&mut self) {
        self.loaded.detach();
    }

    /// Events lost since start, by reason: for a trace, mostly the ring
    /// buffer being full.
    pub fn losses(&self) -> Result<Losses> {
        self.loaded.losses()
    }

    /// Converts an event timestamp (CLOCK_MONOTONIC) to nanoseconds since
    /// the Unix epoch, with the offset measured when the tracer started.
    pub fn unix_time_ns(&self, timestamp_ns: u64) -> i128 {
        i128::from(timestamp_ns) + self.clock_offset_ns
    }
}

/// CLOCK_REALTIME - CLOCK_MONOTONIC, in nanoseconds.
fn clock_offset_ns() -> i128 {
    fn now(clock: libc::clockid_t) -> i128 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec into the valid, owned `ts`.
        unsafe { libc::clock_gettime(clock, &mut ts) };
        i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
    }
    now(libc::CLOCK_REALTIME) - now(libc::CLOCK_MONOTONIC)
}
