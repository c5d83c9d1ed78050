//! Loading, attaching and reading the BPF programs.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::mem::MaybeUninit;
use std::rc::Rc;
use std::time::Duration;

use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::{MapCore, MapFlags, OpenObject, RingBuffer, RingBufferBuilder};

use crate::error::{Error, Result};
use crate::event::Event;
use crate::filter::Filter;
use crate::probe::{Path, Probe};
use crate::skel::{SocktapSkel, SocktapSkelBuilder};

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
    probes: Vec<Probe>,
    filter: Filter,
    ring_bytes: u32,
    include_peek: bool,
}

impl Default for TracerBuilder {
    fn default() -> Self {
        TracerBuilder {
            probes: vec![Probe::Send, Probe::Receive],
            filter: Filter::default(),
            ring_bytes: DEFAULT_RING_BYTES,
            include_peek: false,
        }
    }
}

impl TracerBuilder {
    /// The probes to report (default: `socket.send` and `socket.receive`).
    pub fn probes(mut self, probes: &[Probe]) -> Self {
        self.probes = probes.to_vec();
        self
    }

    /// The in-kernel filter.
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = filter;
        self
    }

    /// Ring buffer size in bytes; rounded up to a power of two of at least
    /// one page.
    pub fn ring_buffer_bytes(mut self, bytes: u32) -> Self {
        self.ring_bytes = bytes;
        self
    }

    /// Also report MSG_PEEK receives. Off by default: a peek leaves the
    /// message queued, so counting it would count that message twice.
    pub fn include_peek(mut self, yes: bool) -> Self {
        self.include_peek = yes;
        self
    }

    /// Loads and attaches the programs the chosen probes need.
    pub fn start(self) -> Result<Tracer> {
        Tracer::start(self)
    }
}

/// Which BPF program serves which kernel-side paths.
struct ProgramUse {
    name: &'static str,
    paths: &'static [Path],
}

const PROGRAMS: &[ProgramUse] = &[
    ProgramUse {
        name: "sock_send_length",
        paths: &[
            Path::SendmsgReturn,
            Path::AioWriteReturn,
            Path::WritevReturn,
        ],
    },
    ProgramUse {
        name: "sock_recv_length",
        paths: &[Path::RecvmsgReturn, Path::AioReadReturn, Path::ReadvReturn],
    },
    ProgramUse {
        name: "sys_enter",
        paths: &[
            Path::Sendmsg,
            Path::Recvmsg,
            Path::AioWrite,
            Path::AioRead,
            Path::Writev,
            Path::Readv,
            Path::Create,
            Path::CreateReturn,
            Path::Close,
            Path::CloseReturn,
        ],
    },
    ProgramUse {
        name: "sys_exit",
        paths: &[Path::CreateReturn, Path::CloseReturn],
    },
    ProgramUse {
        name: "sched_process_exit",
        paths: &[Path::Close, Path::CloseReturn],
    },
];

/// A running trace: the BPF programs stay attached until it is dropped.
pub struct Tracer {
    // Field order is drop order: the ring buffer and the skeleton (which
    // holds the links) must go before the object storage they point into.
    ring: RingBuffer<'static>,
    skel: SocktapSkel<'static>,
    _storage: Box<MaybeUninit<OpenObject>>,
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
        quiet_libbpf();
        if !crate::caps::can_trace() {
            return Err(Error::Permission);
        }
        let mut fan_out: Vec<Vec<Probe>> = vec![Vec::new(); Path::ALL.len()];
        let mut mask = 0u32;
        for &probe in &b.probes {
            for &path in probe.paths() {
                fan_out[path as usize].push(probe);
                mask |= 1 << path as u32;
            }
        }

        let mut storage = Box::new(MaybeUninit::<OpenObject>::uninit());
        // SAFETY: the skeleton borrows the object storage for as long as it
        // lives. The storage is a heap allocation owned by the returned
        // Tracer and never moved out of its Box; the Tracer's field order
        // drops the ring buffer and the skeleton before the storage.
        let storage_ref: &'static mut MaybeUninit<OpenObject> =
            unsafe { &mut *(storage.as_mut() as *mut MaybeUninit<OpenObject>) };

        let mut open = SocktapSkelBuilder::default()
            .open(storage_ref)
            .map_err(|e| Error::bpf("opening the BPF object", e))?;

        let rodata = open
            .maps
            .rodata_data
            .as_deref_mut()
            .ok_or_else(|| Error::Io {
                what: "configuring the BPF programs".into(),
                source: std::io::Error::other("the BPF object has no .rodata"),
            })?;
        let cfg = &mut rodata.cfg;
        cfg.probe_mask = mask;
        cfg.skip_peek = u32::from(!b.include_peek);
        let ring_bytes = b.ring_bytes.max(4096).next_power_of_two();
        // Wake the reader once an eighth of the ring is pending; below that
        // it reads on its own short timer.
        cfg.wakeup_bytes = ring_bytes / 8;
        b.filter.apply(cfg)?;
        open.maps
            .events
            .set_max_entries(ring_bytes)
            .map_err(|e| Error::bpf("sizing the ring buffer", e))?;

        for prog in PROGRAMS {
            let needed = prog.paths.iter().any(|&p| mask & (1 << p as u32) != 0);
            let p = open_prog(&mut open, prog.name);
            if let Some(p) = p {
                p.set_autoload(needed);
            }
        }

        let mut skel = open
            .load()
            .map_err(|e| Error::bpf("loading the BPF programs", e))?;
        for prog in PROGRAMS {
            let needed = prog.paths.iter().any(|&p| mask & (1 << p as u32) != 0);
            if !needed {
                continue;
            }
            let link = attach_prog(&mut skel, prog.name)
                .map_err(|e| Error::bpf(format!("attaching {}", prog.name), e))?;
            store_link(&mut skel, prog.name, link);
        }

        let queue = Rc::new(RefCell::new(VecDeque::with_capacity(4096)));
        let sink = Rc::clone(&queue);
        let mut rb = RingBufferBuilder::new();
        rb.add(&skel.maps.events, move |data: &[u8]| {
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
            skel,
            _storage: storage,
            queue,
            fan_out,
            probes: b.probes,
            clock_offset_ns: clock_offset_ns(),
        })
    }

    /// The probes this tracer reports.
    pub fn probes(&self) -> &[Probe] {
        &self.probes
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

    /// Events the kernel side could not record (ring buffer full), since start.
    pub fn lost(&self) -> Result<u64> {
        let per_cpu = self
            .skel
            .maps
            .lost
            .lookup_percpu(&0u32.to_ne_bytes(), MapFlags::ANY)
            .map_err(|e| Error::bpf("reading the loss counter", e))?
            .unwrap_or_default();
        Ok(per_cpu
            .iter()
            .filter_map(|v| v.get(..8)?.try_into().ok().map(u64::from_ne_bytes))
            .sum())
    }

    /// Converts an event timestamp (CLOCK_MONOTONIC) to nanoseconds since
    /// the Unix epoch, with the offset measured when the tracer started.
    pub fn unix_time_ns(&self, timestamp_ns: u64) -> i128 {
        i128::from(timestamp_ns) + self.clock_offset_ns
    }
}

fn open_prog<'a>(
    open: &'a mut crate::skel::OpenSocktapSkel<'static>,
    name: &str,
) -> Option<&'a mut libbpf_rs::OpenProgramMut<'static>> {
    let progs = &mut open.progs;
    Some(match name {
        "sock_send_length" => &mut progs.sock_send_length,
        "sock_recv_length" => &mut progs.sock_recv_length,
        "sys_enter" => &mut progs.sys_enter,
        "sys_exit" => &mut progs.sys_exit,
        "sched_process_exit" => &mut progs.sched_process_exit,
        _ => return None,
    })
}

fn attach_prog(skel: &mut SocktapSkel<'static>, name: &str) -> libbpf_rs::Result<libbpf_rs::Link> {
    let progs = &skel.progs;
    match name {
        "sock_send_length" => progs.sock_send_length.attach(),
        "sock_recv_length" => progs.sock_recv_length.attach(),
        "sys_enter" => progs.sys_enter.attach(),
        "sys_exit" => progs.sys_exit.attach(),
        _ => progs.sched_process_exit.attach(),
    }
}

fn store_link(skel: &mut SocktapSkel<'static>, name: &str, link: libbpf_rs::Link) {
    let links = &mut skel.links;
    let slot = match name {
        "sock_send_length" => &mut links.sock_send_length,
        "sock_recv_length" => &mut links.sock_recv_length,
        "sys_enter" => &mut links.sys_enter,
        "sys_exit" => &mut links.sys_exit,
        _ => &mut links.sched_process_exit,
    };
    *slot = Some(link);
}

/// libbpf prints verifier logs and warnings to stderr by default. socktap
/// reports failures through its own errors, so keep libbpf quiet unless
/// SOCKTAP_DEBUG is set.
fn quiet_libbpf() {
    if std::env::var_os("SOCKTAP_DEBUG").is_some() {
        return;
    }
    libbpf_rs::set_print(None);
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
