//! Loading and attaching the BPF object, choosing per role the best
//! mechanism the running kernel accepts, by trying: a refused program
//! drops its mechanism for that role (or everywhere, when the kernel
//! refuses the mechanism itself), and the load is tried again with the
//! next. Shared by the [`Tracer`](crate::Tracer) and the
//! [`Aggregator`](crate::Aggregator).

use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd};

use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{Link, MapCore, OpenObject};

use super::config::{self, Options};
use super::features::{
    can_trace, check_btf, kernel_has_bpf_loop, kernel_has_sendpage, kprobes_available,
};
use super::log;
use super::maps;
use super::programs::{programs, DEVICE_PROGRAMS};
use super::skel::{SocktapSkel, SocktapSkelBuilder};
use crate::backend::{Backend, LoadSettings, Mechanism, Plan, Role};
use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::loss::{LossReason, Losses};
use crate::tapset::{path_mask, Probe};

/// The loaded, attached BPF object.
pub(crate) struct Loaded {
    // Field order is drop order: the links and the skeleton must go before
    // the object storage the skeleton points into.
    _links: Vec<Link>,
    pub skel: SocktapSkel<'static>,
    _storage: Box<MaybeUninit<OpenObject>>,
    pub plan: Plan,
}

impl Loaded {
    /// Detaches every program; the maps stay readable.
    pub(crate) fn detach(&mut self) {
        self._links.clear();
    }

    /// Losses since start: the programs' own counters, and the runs of
    /// the programs that the kernel skipped.
    pub(crate) fn losses(&self) -> Result<Losses> {
        let mut out = maps::read_losses(&self.skel.maps.losses)?;
        out.add(LossReason::Skipped, self.skipped_runs());
        Ok(out)
    }

    /// Runs the kernel skipped because a program was already running on
    /// the CPU, summed over the loaded programs (0 where the kernel does
    /// not count them, before 5.12).
    fn skipped_runs(&self) -> u64 {
        let mut total = 0;
        for prog in self.skel.object().progs() {
            let fd = prog.as_fd().as_raw_fd();
            if fd < 0 {
                continue; // not loaded
            }
            let mut info = libbpf_sys::bpf_prog_info::default();
            let mut len = std::mem::size_of::<libbpf_sys::bpf_prog_info>() as u32;
            // SAFETY: info is a bpf_prog_info of len bytes, which the call
            // fills for the program's valid descriptor.
            let r = unsafe { libbpf_sys::bpf_prog_get_info_by_fd(fd, &mut info, &mut len) };
            if r == 0 {
                total += info.recursion_misses;
            }
        }
        total
    }
}

/// Why a mechanism could not serve a role.
#[derive(Debug, Clone, Default)]
struct Refusal {
    /// In words: the mechanism, the program, and what refused it.
    reason: String,
    /// The verifier rejected socktap's own program, rather than the kernel
    /// lacking the mechanism.
    by_verifier: bool,
}

impl Refusal {
    fn into_error(self, role: Role) -> Error {
        Error::Unsupported {
            probe: role.name().into(),
            reason: self.reason,
            rejected_by_verifier: self.by_verifier,
        }
    }
}

/// Mechanisms the kernel refused, per role, with the reason: asked once per
/// process, so later loads (a conformance run, a restarted view) don't try
/// them again.
static REFUSED: std::sync::Mutex<Vec<(Role, Mechanism, Refusal)>> =
    std::sync::Mutex::new(Vec::new());

fn refused(role: Role, mech: Mechanism) -> Option<Refusal> {
    let list = REFUSED.lock().ok()?;
    list.iter()
        .find(|(r, m, _)| *r == role && *m == mech)
        .map(|(_, _, why)| why.clone())
}

fn remember_refusal(role: Role, mech: Mechanism, why: &Refusal) {
    if let Ok(mut list) = REFUSED.lock() {
        if !list.iter().any(|(r, m, _)| *r == role && *m == mech) {
            list.push((role, mech, why.clone()));
        }
    }
}

/// The program libbpf named in a failure, e.g. "prog 'fexit_inet_sendmsg': …".
fn failing_program(log: &str) -> Option<String> {
    let start = log.find("prog '")? + 6;
    let end = log[start..].find('\'')? + start;
    Some(log[start..end].to_string())
}

/// The verifier's own words from a failed load: the last line of its log
/// before the statistics ("processed N insns …").
fn verifier_says(log: &str) -> Option<String> {
    let body = log.split("BEGIN PROG LOAD LOG --").nth(1)?;
    let body = body.split("-- END PROG LOAD LOG").next()?;
    body.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with("processed ") && !l.starts_with("libbpf:"))
        .map(str::to_string)
}

/// Why a mechanism was refused, in words.
fn reason(mech: Mechanism, err: &libbpf_rs::Error, what: &str, log: &str) -> String {
    if let Some(v) = verifier_says(log) {
        return format!("{what}: the verifier refused it: {v}");
    }
    let why = match (mech, err.kind()) {
        (Mechanism::Fentry, libbpf_rs::ErrorKind::PermissionDenied) => {
            "the kernel refuses fentry/fexit programs (no BPF trampoline, or lockdown)".to_string()
        }
        (Mechanism::Kprobe, libbpf_rs::ErrorKind::NotFound) => {
            "the kernel has no kprobes (CONFIG_KPROBES off) or not this function".to_string()
        }
        (Mechanism::Tracepoint, _) => {
            "the kernel lacks the tracepoint (sock:sock_send_length needs Linux 6.3+)".to_string()
        }
        _ => err.to_string(),
    };
    format!("{what}: {why}")
}

/// Whether a failure says the kernel refuses the whole mechanism, not just
/// one function: fentry not permitted at all (EPERM with no verifier
/// complaint), or no kprobe support at all.
fn refused_everywhere(mech: Mechanism, err: &libbpf_rs::Error, log: &str) -> bool {
    match mech {
        Mechanism::Fentry => {
            err.kind() == libbpf_rs::ErrorKind::PermissionDenied
                && log.contains("-EPERM")
                && verifier_says(log).is_none()
        }
        Mechanism::Kprobe => !kprobes_available(),
        _ => false,
    }
}

/// Everything one load attempt needs to know.
struct Attempt {
    choice: Vec<(Role, Vec<Mechanism>)>,
    /// Load the programs that use bpf_loop.
    bpf_loop: bool,
    /// Keep going without a role no mechanism serves (for `probe_plan`).
    tolerate: bool,
    unavailable: Vec<(Role, String)>,
}

impl Attempt {
    fn current(&self) -> Plan {
        Plan {
            roles: self
                .choice
                .iter()
                .filter_map(|(r, ms)| ms.first().map(|m| (*r, *m)))
                .collect(),
            unavailable: self.unavailable.clone(),
            bpf_loop: self.bpf_loop,
        }
    }

    fn wanted_programs(&self, devices: bool) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for (role, mech) in self.current().roles {
            for p in programs(role, mech, self.bpf_loop) {
                // "?name": only where the kernel has the function it hooks.
                let p = match p.strip_prefix('?') {
                    Some(_) if !kernel_has_sendpage() => continue,
                    Some(name) => name,
                    None => p,
                };
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
        if devices {
            out.extend_from_slice(DEVICE_PROGRAMS);
        }
        out
    }

    fn role_of(&self, prog: &str) -> Option<Role> {
        self.current()
            .roles
            .into_iter()
            .find(|(r, m)| {
                programs(*r, *m, self.bpf_loop)
                    .iter()
                    .any(|p| p.trim_start_matches('?') == prog)
            })
            .map(|(r, _)| r)
    }

    /// Drops the failed mechanism of `role`; the reason if none is left.
    fn downgrade(&mut self, role: Role, why: Refusal) -> Result<()> {
        if let Some(m) = self.current().mechanism(role) {
            remember_refusal(role, m, &why);
        }
        let Some((_, ms)) = self.choice.iter_mut().find(|(r, _)| *r == role) else {
            return Err(why.into_error(role));
        };
        ms.remove(0);
        if ms.is_empty() {
            if self.tolerate {
                self.choice.retain(|(r, _)| *r != role);
                self.unavailable.push((role, why.reason));
                return Ok(());
            }
            return Err(why.into_error(role));
        }
        Ok(())
    }
}

pub(crate) fn load(o: &Options<'_>) -> Result<Loaded> {
    load_with(o, false)
}

fn load_with(o: &Options<'_>, tolerate: bool) -> Result<Loaded> {
    if !can_trace() {
        return Err(Error::Permission);
    }
    check_btf()?;
    let _log = log::Capture::start();
    let mut attempt = Attempt {
        tolerate,
        bpf_loop: o.settings.bpf_loop && kernel_has_bpf_loop(),
        unavailable: Vec::new(),
        choice: Role::ALL
            .into_iter()
            .filter(|r| r.paths().iter().any(|&p| o.mask & (1 << p as u32) != 0))
            .map(|r| {
                let mut ms = o.settings.backend.choices(r);
                // Cheap check first: without kprobe support, don't spend a
                // load finding out (unless kprobes were asked for).
                if o.settings.backend == Backend::Auto && !kprobes_available() {
                    ms.retain(|&m| m != Mechanism::Kprobe);
                }
                (r, ms)
            })
            .collect(),
    };
    // What this process already found refused is not tried again.
    for i in 0..attempt.choice.len() {
        let role = attempt.choice[i].0;
        let mut last_why = None;
        attempt.choice[i].1.retain(|&m| match refused(role, m) {
            Some(why) => {
                last_why = Some(why);
                false
            }
            None => true,
        });
        if attempt.choice[i].1.is_empty() {
            let why = last_why.unwrap_or_default();
            if !tolerate {
                return Err(why.into_error(role));
            }
            attempt.unavailable.push((role, why.reason));
        }
    }
    attempt.choice.retain(|(_, ms)| !ms.is_empty());
    // Each failed attempt removes one mechanism, so this ends.
    loop {
        log::take();
        match try_load(o, &attempt) {
            Ok(loaded) => return Ok(loaded),
            Err(Failure::Fatal(e)) => return Err(e),
            Err(Failure::Program { prog, err, log }) => {
                let Some(role) = attempt.role_of(&prog) else {
                    return Err(Error::bpf(format!("loading {prog}"), err));
                };
                let mech = attempt
                    .current()
                    .mechanism(role)
                    .unwrap_or(Mechanism::Syscall);
                let why = Refusal {
                    reason: reason(mech, &err, &format!("{mech} ({prog})"), &log),
                    by_verifier: verifier_says(&log).is_some(),
                };
                if refused_everywhere(mech, &err, &log) {
                    // No program of this mechanism will load: drop it from
                    // every role at once rather than one load at a time.
                    for r in attempt.current().roles {
                        if r.1 == mech {
                            attempt.downgrade(r.0, why.clone())?;
                        }
                    }
                } else {
                    attempt.downgrade(role, why)?;
                }
            }
        }
    }
}

enum Failure {
    /// A program of some role was refused: try the next mechanism.
    Program {
        prog: String,
        err: libbpf_rs::Error,
        /// What libbpf (and the verifier) said.
        log: String,
    },
    /// Anything else.
    Fatal(Error),
}

fn try_load(o: &Options<'_>, attempt: &Attempt) -> std::result::Result<Loaded, Failure> {
    let fatal = Failure::Fatal;

    let mut storage = Box::new(MaybeUninit::<OpenObject>::uninit());
    // SAFETY: the skeleton borrows the object storage for as long as it
    // lives. The storage is a heap allocation owned by the returned Loaded
    // and never moved out of its Box; Loaded's field order drops the links
    // and the skeleton before the storage.
    let storage_ref: &'static mut MaybeUninit<OpenObject> =
        unsafe { &mut *(storage.as_mut() as *mut MaybeUninit<OpenObject>) };

    let mut open = SocktapSkelBuilder::default()
        .open(storage_ref)
        .map_err(|e| fatal(Error::bpf("opening the BPF object", e)))?;

    let plan = attempt.current();
    let rodata = open.maps.rodata_data.as_deref_mut().ok_or_else(|| {
        fatal(Error::Io {
            what: "configuring the BPF programs".into(),
            source: std::io::Error::other("the BPF object has no .rodata"),
        })
    })?;
    let (agg_capacity, hist_capacity) =
        config::write_options(o, &plan, &mut rodata.cfg).map_err(fatal)?;
    let key_size = config::agg_key_size(o.aggregate.map_or(0, |c| c.keys));
    let value_size = config::agg_value_size(o.aggregate.map_or(0, |c| c.carry));
    let maps = &mut open.maps;
    maps.events
        .set_max_entries(o.ring_bytes)
        .and_then(|()| maps.agg.set_max_entries(agg_capacity))
        .and_then(|()| maps.agg_hist.set_max_entries(hist_capacity))
        .and_then(|()| maps.agg.set_key_size(key_size))
        .and_then(|()| maps.agg.set_value_size(value_size))
        .and_then(|()| maps.agg_hist.set_key_size(key_size))
        .map_err(|e| fatal(Error::bpf("sizing the maps", e)))?;

    let wanted = attempt.wanted_programs(o.devices);
    for mut prog in open.open_object_mut().progs_mut() {
        let name = prog.name().to_string_lossy().into_owned();
        prog.set_autoload(wanted.contains(&name.as_str()));
    }
    let skel = match open.load() {
        Ok(s) => s,
        Err(err) => {
            let log = log::take();
            return Err(match failing_program(&log) {
                Some(prog) => Failure::Program { prog, err, log },
                None => fatal(Error::bpf("loading the BPF programs", err)),
            });
        }
    };
    fill_cgroup_filter(&skel, &o.filter.cgroups).map_err(fatal)?;
    let mut links = Vec::new();
    for prog in skel.object().progs_mut() {
        let name = prog.name().to_string_lossy().into_owned();
        if !wanted.contains(&name.as_str()) {
            continue;
        }
        match prog.attach() {
            Ok(link) => links.push(link),
            Err(err) => {
                return Err(Failure::Program {
                    prog: name,
                    err,
                    log: log::take(),
                })
            }
        }
    }
    Ok(Loaded {
        _links: links,
        skel,
        _storage: storage,
        plan,
    })
}

/// Puts the filter's cgroup folders into `cgroup_filter`, by descriptor;
/// the map keeps its own reference, so the folders are closed after.
fn fill_cgroup_filter(skel: &SocktapSkel<'_>, cgroups: &[std::path::PathBuf]) -> Result<()> {
    for (i, path) in cgroups.iter().enumerate() {
        let dir = std::fs::File::open(path).map_err(|source| Error::Io {
            what: format!("opening the cgroup {}", path.display()),
            source,
        })?;
        let fd = dir.as_raw_fd() as u32;
        skel.maps
            .cgroup_filter
            .update(
                &(i as u32).to_ne_bytes(),
                &fd.to_ne_bytes(),
                libbpf_rs::MapFlags::ANY,
            )
            .map_err(|e| Error::bpf(format!("filtering by the cgroup {}", path.display()), e))?;
    }
    Ok(())
}

/// Which mechanism serves each role on this kernel, found by loading and
/// attaching every program the roles need, then detaching. Needs the same
/// privileges as tracing.
pub(crate) fn probe_plan(settings: LoadSettings) -> Result<Plan> {
    let filter = Filter::default();
    let loaded = load_with(
        &Options {
            mask: path_mask(&Probe::ALL),
            filter: &filter,
            include_peek: false,
            ring_bytes: 4096,
            aggregate: None,
            devices: false,
            settings,
            unions_only: false,
        },
        true,
    )?;
    Ok(loaded.plan.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn quotes_the_verifier() {
        let log = "libbpf: prog 'x': -- BEGIN PROG LOAD LOG --\nfunc '__sock_create' arg4 type PTR is not a struct\ninvalid bpf_context access off=32 size=8\nprocessed 2 insns (limit 1000000)\n-- END PROG LOAD LOG --\n";
        assert_eq!(
            verifier_says(log).as_deref(),
            Some("invalid bpf_context access off=32 size=8")
        );
        assert_eq!(verifier_says("libbpf: failed: -EPERM"), None);
    }

    #[test]
    fn finds_the_failing_program_in_libbpf_output() {
        let log = "libbpf: prog 'fexit_inet_sendmsg': BPF program load failed: -EPERM\n";
        assert_eq!(failing_program(log).as_deref(), Some("fexit_inet_sendmsg"));
        assert_eq!(failing_program("nothing"), None);
    }
}
