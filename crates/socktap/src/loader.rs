//! Opening, configuring, loading and attaching the BPF object: shared by
//! the event [`Tracer`](crate::Tracer) and the in-kernel
//! [`Aggregator`](crate::Aggregator).

use std::mem::MaybeUninit;

use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::{Link, MapCore, MapFlags, OpenObject};

use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::probe::Path;
use crate::skel::{types, OpenSocktapSkel, SocktapSkel, SocktapSkelBuilder};

/// One BPF program and the kernel-side paths it serves.
struct Program {
    name: &'static str,
    paths: &'static [Path],
}

const PROGRAMS: &[Program] = &[
    Program {
        name: "sock_send_length",
        paths: &[
            Path::SendmsgReturn,
            Path::AioWriteReturn,
            Path::WritevReturn,
        ],
    },
    Program {
        name: "sock_recv_length",
        paths: &[Path::RecvmsgReturn, Path::AioReadReturn, Path::ReadvReturn],
    },
    Program {
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
    Program {
        name: "sys_exit",
        paths: &[Path::CreateReturn, Path::CloseReturn],
    },
    Program {
        name: "sched_process_exit",
        paths: &[Path::Close, Path::CloseReturn],
    },
    // Device traffic (socktop -d): attached on request, not by path.
    Program {
        name: "net_dev_queue",
        paths: &[],
    },
    Program {
        name: "netif_receive_skb",
        paths: &[],
    },
];

/// How to set the BPF object up.
pub(crate) struct Options<'a> {
    /// Bit (1 << path) per kernel-side path wanted.
    pub mask: u32,
    pub filter: &'a Filter,
    pub include_peek: bool,
    /// Ring buffer size in bytes (a power of two of at least a page).
    pub ring_bytes: u32,
    /// In-kernel aggregation: key bits, histograms, row capacity.
    pub aggregate: Option<(u32, bool, u32)>,
    /// Count network device traffic.
    pub devices: bool,
}

/// The loaded, attached BPF object.
pub(crate) struct Loaded {
    // Field order is drop order: the skeleton (which holds the links) must
    // go before the object storage it points into.
    pub skel: SocktapSkel<'static>,
    _storage: Box<MaybeUninit<OpenObject>>,
}

fn wanted(prog: &Program, o: &Options<'_>) -> bool {
    let by_path = prog.paths.iter().any(|&p| o.mask & (1 << p as u32) != 0);
    let by_device = o.devices && prog.paths.is_empty();
    by_path || by_device
}

pub(crate) fn load(o: &Options<'_>) -> Result<Loaded> {
    quiet_libbpf();
    if !crate::caps::can_trace() {
        return Err(Error::Permission);
    }
    let mut storage = Box::new(MaybeUninit::<OpenObject>::uninit());
    // SAFETY: the skeleton borrows the object storage for as long as it
    // lives. The storage is a heap allocation owned by the returned Loaded
    // and never moved out of its Box; Loaded's field order drops the
    // skeleton before the storage.
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
    let cfg: &mut types::config = &mut rodata.cfg;
    cfg.probe_mask = o.mask;
    cfg.skip_peek = u32::from(!o.include_peek);
    // Wake the reader once an eighth of the ring is pending; below that it
    // reads on its own short timer.
    cfg.wakeup_bytes = o.ring_bytes / 8;
    o.filter.apply(cfg)?;
    let (agg_capacity, hist_capacity) = match o.aggregate {
        Some((keys, hist, capacity)) => {
            cfg.aggregate = 1;
            cfg.agg_keys = keys;
            cfg.hist = u32::from(hist);
            (capacity.max(1), if hist { capacity.max(1) } else { 1 })
        }
        None => (1, 1),
    };
    let maps = &mut open.maps;
    maps.events
        .set_max_entries(o.ring_bytes)
        .and_then(|()| maps.agg.set_max_entries(agg_capacity))
        .and_then(|()| maps.agg_hist.set_max_entries(hist_capacity))
        .map_err(|e| Error::bpf("sizing the maps", e))?;

    for prog in PROGRAMS {
        open_prog(&mut open, prog.name).set_autoload(wanted(prog, o));
    }
    let mut skel = open
        .load()
        .map_err(|e| Error::bpf("loading the BPF programs", e))?;
    for prog in PROGRAMS.iter().filter(|p| wanted(p, o)) {
        let link = attach_prog(&skel, prog.name)
            .map_err(|e| Error::bpf(format!("attaching {}", prog.name), e))?;
        store_link(&mut skel, prog.name, link);
    }
    Ok(Loaded {
        skel,
        _storage: storage,
    })
}

/// Sums a per-CPU u64 counter at index 0 of an array map.
pub(crate) fn per_cpu_counter(map: &dyn MapCore) -> Result<u64> {
    let per_cpu = map
        .lookup_percpu(&0u32.to_ne_bytes(), MapFlags::ANY)
        .map_err(|e| Error::bpf("reading a counter", e))?
        .unwrap_or_default();
    Ok(per_cpu
        .iter()
        .filter_map(|v| v.get(..8)?.try_into().ok().map(u64::from_ne_bytes))
        .sum())
}

fn open_prog<'a>(
    open: &'a mut OpenSocktapSkel<'static>,
    name: &str,
) -> &'a mut libbpf_rs::OpenProgramMut<'static> {
    let progs = &mut open.progs;
    match name {
        "sock_send_length" => &mut progs.sock_send_length,
        "sock_recv_length" => &mut progs.sock_recv_length,
        "sys_enter" => &mut progs.sys_enter,
        "sys_exit" => &mut progs.sys_exit,
        "sched_process_exit" => &mut progs.sched_process_exit,
        "net_dev_queue" => &mut progs.net_dev_queue,
        _ => &mut progs.netif_receive_skb,
    }
}

fn attach_prog(skel: &SocktapSkel<'static>, name: &str) -> libbpf_rs::Result<Link> {
    let progs = &skel.progs;
    match name {
        "sock_send_length" => progs.sock_send_length.attach(),
        "sock_recv_length" => progs.sock_recv_length.attach(),
        "sys_enter" => progs.sys_enter.attach(),
        "sys_exit" => progs.sys_exit.attach(),
        "sched_process_exit" => progs.sched_process_exit.attach(),
        "net_dev_queue" => progs.net_dev_queue.attach(),
        _ => progs.netif_receive_skb.attach(),
    }
}

fn store_link(skel: &mut SocktapSkel<'static>, name: &str, link: Link) {
    let links = &mut skel.links;
    let slot = match name {
        "sock_send_length" => &mut links.sock_send_length,
        "sock_recv_length" => &mut links.sock_recv_length,
        "sys_enter" => &mut links.sys_enter,
        "sys_exit" => &mut links.sys_exit,
        "sched_process_exit" => &mut links.sched_process_exit,
        "net_dev_queue" => &mut links.net_dev_queue,
        _ => &mut links.netif_receive_skb,
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
