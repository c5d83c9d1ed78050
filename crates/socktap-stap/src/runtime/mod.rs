//! The runtime of `socktap stap` (stap's pass 5): `begin`, then socktap's
//! tracer for the socket probes the script uses (with the filters the
//! kernel can apply), in-kernel device counters for `netdev.*`, and the
//! timers, all feeding one interpreter in timestamp order; then `end` (or
//! `error`), and the losses reported. Handlers the kernel can count
//! (`counting`) are counted there instead (`counts.rs`).

mod counts;

use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use socktap::{Aggregator, Filter, Probe, Tracer};

use crate::counting;
use crate::event::Event;
use crate::interp::{Interp, Limits};
use crate::ir::Program;
use crate::probes::{Netdev, Point};
use crate::pushdown;
use crate::Compiled;

/// How the run is set up (from stap's command line).
#[derive(Debug, Clone, Default)]
pub struct RunConfig {
    /// `-x PID`: what `target()` returns.
    pub target: Option<i64>,
    /// `-c CMD`: run under `sh -c`; its pid is `target()`; the session
    /// ends when it exits.
    pub command: Option<String>,
    /// `-T SECONDS`: end the session after this long.
    pub timeout: Option<Duration>,
    /// `-D` limits.
    pub limits: Limits,
    /// socktap's load settings (backend, bpf_loop).
    pub settings: socktap::LoadSettings,
    /// `-v` count.
    pub verbose: u32,
    /// `-G name=value`.
    pub set_globals: Vec<(String, String)>,
    /// Run every handler on events in the interpreter, none counted in
    /// the kernel (`SOCKTAP_STAP_NO_KERNEL_COUNTS=1`): to compare.
    pub no_kernel_counts: bool,
}

/// Why the run could not go on (not the script's runtime errors, which
/// the interpreter reports as stap does).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// socktap could not load or read its programs.
    #[error("{0}")]
    Socktap(#[from] socktap::Error),
    /// Writing output failed.
    #[error("writing the output: {0}")]
    Io(#[from] std::io::Error),
    /// `-c` could not start its command.
    #[error("starting the command '{0}': {1}")]
    Command(String, std::io::Error),
    /// Socket probes need privileges the process lacks.
    #[error("socket probes need CAP_BPF and CAP_PERFMON (run as root)")]
    Privileges,
    /// `-G` named no scalar global.
    #[error("-G {0}: no scalar global of that name takes that value")]
    SetGlobal(String),
}

/// What the script asks of the kernel: socket probes (those with
/// handlers that do something), devices, and the filter.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Socket probes to attach.
    pub probes: Vec<Probe>,
    /// Those marked `?`/`!`: may be dropped if this kernel cannot serve them.
    pub optional: Vec<Probe>,
    /// Count network devices for `netdev.*`.
    pub devices: bool,
    /// The kernel-side filter.
    pub filter: Filter,
    /// Handlers counted in the kernel rather than traced.
    pub counted: Vec<counting::Group>,
}

/// The plan for a program; `known` tells pushdown what begin left;
/// `count`: whether handlers may be counted in the kernel.
pub fn plan(p: &Program, known: &pushdown::Known, count: bool) -> Plan {
    let counted = if count {
        counting::plan(p, known)
    } else {
        Vec::new()
    };
    let skip = counting::counted_handlers(&counted);
    let mut probes = Vec::new();
    let mut optional = Vec::new();
    let mut devices = false;
    for (i, h) in p.handlers.iter().enumerate() {
        if crate::elab::fold::is_empty(&h.body) || skip.contains(&(i as u32)) {
            continue;
        }
        for r in &h.points {
            match r.point {
                Point::Socket(pr) => {
                    if !probes.contains(&pr) {
                        probes.push(pr);
                    }
                    if r.optional && !optional.contains(&pr) {
                        optional.push(pr);
                    }
                }
                Point::Netdev(_) => devices = true,
                _ => {}
            }
        }
    }
    // A probe also named without `?` is required.
    let required: Vec<Probe> = p
        .handlers
        .iter()
        .enumerate()
        .filter(|(i, _)| !skip.contains(&(*i as u32)))
        .flat_map(|(_, h)| h.points.iter())
        .filter_map(|r| match r.point {
            Point::Socket(pr) if !r.optional => Some(pr),
            _ => None,
        })
        .collect();
    optional.retain(|pr| !required.contains(pr));
    Plan {
        probes,
        optional,
        devices,
        filter: pushdown::filter(p, known, &skip),
        counted,
    }
}

/// The plan once `begin` has run: tests of the arrays it filled (those no
/// other handler writes) become kernel filters too.
pub fn plan_after_begin(p: &Program, interp: &Interp, count: bool) -> Plan {
    let written = pushdown::written_after_begin(p);
    let arrays = |g: u32| {
        if written[g as usize] {
            None
        } else {
            interp.array_keys(g)
        }
    };
    plan(
        p,
        &pushdown::Known {
            target: interp.target(),
            array: &arrays,
        },
        count,
    )
}

/// CLOCK_MONOTONIC, the clock of events' timestamps.
fn mono_ns() -> u64 {
    crate::interp::calls::now_ns(libc::CLOCK_MONOTONIC) as u64
}

/// Starts the tracer. If it cannot start, the optional probes this
/// kernel cannot serve (with these settings) are dropped, each with a
/// warning, and the rest started; as stap skips an optional probe point,
/// and only that one.
fn start_tracer(
    plan: &Plan,
    settings: socktap::LoadSettings,
    err: &mut dyn Write,
) -> Result<Option<Tracer>, RunError> {
    if plan.probes.is_empty() {
        return Ok(None);
    }
    if !socktap::can_trace() {
        return Err(RunError::Privileges);
    }
    let start = |probes: &[Probe]| {
        Tracer::builder()
            .probes(probes)
            .filter(plan.filter.clone())
            .load_settings(settings)
            .start()
    };
    let e = match start(&plan.probes) {
        Ok(t) => return Ok(Some(t)),
        Err(e) if plan.optional.is_empty() => return Err(e.into()),
        Err(e) => e,
    };
    let unserved = unserved(&plan.optional, settings)?;
    if unserved.is_empty() {
        // Not the optional probes' fault.
        return Err(e.into());
    }
    for (p, why) in &unserved {
        writeln!(
            err,
            "WARNING: optional probe point {p} skipped: not supported by this kernel: {why}"
        )?;
    }
    let kept: Vec<Probe> = plan
        .probes
        .iter()
        .copied()
        .filter(|p| !unserved.iter().any(|(u, _)| u == p))
        .collect();
    if kept.is_empty() {
        return Ok(None);
    }
    Ok(Some(start(&kept)?))
}

/// Which of `optional` no mechanism serves here with `settings`, and why:
/// a probe is served when every role its paths need is.
fn unserved(
    optional: &[Probe],
    settings: socktap::LoadSettings,
) -> Result<Vec<(Probe, String)>, RunError> {
    let served = socktap::coverage::probe_plan(settings)?;
    Ok(optional
        .iter()
        .filter_map(|p| {
            let why = p.paths().iter().find_map(|path| {
                let role = socktap::Role::of(*path);
                served
                    .unavailable
                    .iter()
                    .find(|(r, _)| *r == role)
                    .map(|(_, why)| why.clone())
            })?;
            Some((*p, why))
        })
        .collect())
}

/// Loads and verifies what the script needs, then unloads it (stap's
/// `-p4`): nothing runs.
pub fn prepare(c: &Compiled, cfg: &RunConfig, err: &mut dyn Write) -> Result<Plan, RunError> {
    let none = |_: u32| None;
    let plan = plan(
        &c.program,
        &pushdown::Known {
            target: cfg.target.unwrap_or(0),
            array: &none,
        },
        !cfg.no_kernel_counts,
    );
    drop(start_tracer(&plan, cfg.settings, err)?);
    if !plan.counted.is_empty() {
        if !socktap::can_trace() {
            return Err(RunError::Privileges);
        }
        drop(counts::Counts::start(
            &plan.counted,
            Vec::new(),
            cfg.settings,
        )?);
    }
    if plan.devices {
        if !socktap::can_trace() {
            return Err(RunError::Privileges);
        }
        drop(
            Aggregator::builder()
                .probes(&[])
                .devices(true)
                .load_settings(cfg.settings)
                .start()?,
        );
    }
    Ok(plan)
}

/// A `-c` command, started but held until the probes are attached.
struct Child {
    child: std::process::Child,
    release: Option<std::os::fd::OwnedFd>,
}

fn spawn(cmd: &str) -> Result<Child, RunError> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the valid array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(RunError::Command(
            cmd.into(),
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: both descriptors were just created and are owned here only.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let rfd = read.as_raw_fd();
    // The shell waits on descriptor 3 until socktap closes the other end
    // (the probes are attached), then becomes the command, so its pid is
    // target() throughout. (Waiting in pre_exec would block spawn(),
    // which waits for the exec.) As stap does, a command without shell
    // metacharacters is split into words and run directly; one with them
    // runs under `sh -c`.
    let meta = cmd.contains(['|', '&', ';', '<', '>', '(', ')', '{', '}', '\n', '`']);
    let run = if meta {
        "exec /bin/sh -c \"$1\""
    } else {
        "eval \"exec $1\""
    };
    let mut c = std::process::Command::new("/bin/sh");
    c.arg("-c")
        .arg(format!("read -r _ <&3; exec 3<&-; {run}"))
        .arg("sh")
        .arg(cmd);
    // SAFETY: the closure runs in the child between fork and exec and
    // calls only dup2 or fcntl, which are async-signal-safe.
    unsafe {
        c.pre_exec(move || {
            // dup2 onto itself keeps close-on-exec: clear it instead.
            let r = if rfd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(rfd, 3)
            };
            if r < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = c.spawn().map_err(|e| RunError::Command(cmd.into(), e))?;
    drop(read);
    Ok(Child {
        child,
        release: Some(write),
    })
}

/// Runs a compiled script to the end. Output goes to `out`, warnings and
/// runtime errors to `err`. Returns whether it ended without runtime
/// errors.
pub fn run(
    c: &Compiled,
    cfg: &RunConfig,
    out: &mut dyn Write,
    err: &mut dyn Write,
    stop: &AtomicBool,
) -> Result<bool, RunError> {
    let mut child = cfg.command.as_deref().map(spawn).transpose()?;
    let target = child
        .as_ref()
        .map(|c| i64::from(c.child.id()))
        .or(cfg.target)
        .unwrap_or(0);
    let mut interp = Interp::new(&c.program, &c.sources, cfg.limits, target);
    for (name, value) in &cfg.set_globals {
        if !interp.set_global(name, value) {
            return Err(RunError::SetGlobal(format!("{name}={value}")));
        }
    }
    let result = session(c, cfg, &mut interp, &mut child, out, err, stop);
    if let Some(mut ch) = child {
        drop(ch.release.take());
        if ch.child.try_wait().ok().flatten().is_none() {
            // SAFETY: kill sends a signal to the command we started.
            unsafe { libc::kill(ch.child.id() as i32, libc::SIGTERM) };
        }
        let _ = ch.child.wait();
    }
    result
}

struct Devices {
    agg: Aggregator,
}

impl Devices {
    /// Fires the device handlers once per packet counted since the last
    /// call; each packet's length is its share of the bytes (the sums
    /// are exact, single lengths are not known).
    fn feed(&mut self, interp: &mut Interp) -> Result<(), RunError> {
        for d in self.agg.devices_interval()? {
            for (dir, packets, bytes) in [
                (Netdev::Transmit, d.tx_packets, d.tx_bytes),
                (Netdev::Receive, d.rx_packets, d.rx_bytes),
            ] {
                if packets == 0 {
                    continue;
                }
                let base = bytes / packets;
                let extra = bytes % packets;
                let mut ev = Event::netdev(dir, &d.name, 0);
                for i in 0..packets {
                    ev.sock.size = (base + u64::from(i < extra)) as i64;
                    interp.fire(&ev);
                }
            }
        }
        Ok(())
    }
}

fn flush(interp: &mut Interp, out: &mut dyn Write, err: &mut dyn Write) -> Result<(), RunError> {
    if interp.has_output() {
        out.write_all(&interp.take_output())?;
        out.flush()?;
    }
    let d = interp.take_diagnostics();
    if !d.is_empty() {
        err.write_all(&d)?;
    }
    Ok(())
}

fn session(
    c: &Compiled,
    cfg: &RunConfig,
    interp: &mut Interp,
    child: &mut Option<Child>,
    out: &mut dyn Write,
    err: &mut dyn Write,
    stop: &AtomicBool,
) -> Result<bool, RunError> {
    let started = mono_ns();
    // Without the privileges the probes need, fail before begin runs,
    // as stap fails before its module loads.
    let none = |_: u32| None;
    let needs = plan(
        &c.program,
        &pushdown::Known {
            target: 0,
            array: &none,
        },
        !cfg.no_kernel_counts,
    );
    if (!needs.probes.is_empty() || needs.devices || !needs.counted.is_empty())
        && !socktap::can_trace()
    {
        return Err(RunError::Privileges);
    }
    interp.begin();
    flush(interp, out, err)?;
    let mut tracer = None;
    let mut devices = None;
    let mut kernel_counts = None;
    if !interp.exiting() {
        let plan = plan_after_begin(&c.program, interp, !cfg.no_kernel_counts);
        if cfg.verbose > 0 {
            for line in counting::describe(&plan.counted) {
                writeln!(err, "Pass 5: counted in the kernel: {line}")?;
            }
            let names: Vec<&str> = plan.probes.iter().map(|p| p.name()).collect();
            writeln!(
                err,
                "Pass 5: starting run: probes {}{}; kernel filter: {}",
                if names.is_empty() {
                    "none".into()
                } else {
                    names.join(" ")
                },
                if plan.devices { " + devices" } else { "" },
                pushdown::describe(&plan.filter)
            )?;
        }
        tracer = start_tracer(&plan, cfg.settings, err)?;
        if !plan.counted.is_empty() {
            interp.count_in_kernel(&counting::counted_handlers(&plan.counted));
            let readers = counting::readers(&c.program, &plan.counted);
            kernel_counts = Some(counts::Counts::start(&plan.counted, readers, cfg.settings)?);
        }
        if plan.devices {
            if !socktap::can_trace() {
                return Err(RunError::Privileges);
            }
            let agg = Aggregator::builder()
                .probes(&[])
                .devices(true)
                .load_settings(cfg.settings)
                .start()?;
            devices = Some(Devices { agg });
        }
    }
    if let Some(ch) = child.as_mut() {
        drop(ch.release.take());
    }
    let offset = tracer.as_ref().map_or(0, |t: &Tracer| t.unix_time_ns(0));
    let mut timers: Vec<(u32, crate::probes::Timer, crate::ir::Str, u64)> = interp
        .timers()
        .into_iter()
        .map(|(h, t, pp)| (h, t, pp, 0))
        .collect();
    let mut rng = started | 1;
    let mut jitter = |t: &crate::probes::Timer| -> i64 {
        if t.randomize_ns == 0 {
            return 0;
        }
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % (2 * t.randomize_ns + 1)) as i64 - t.randomize_ns as i64
    };
    let now = mono_ns();
    for t in &mut timers {
        t.3 = (now as i64 + t.1.period_ns as i64 + jitter(&t.1)) as u64;
    }
    let deadline = cfg.timeout.map(|d| started + d.as_nanos() as u64);
    let mut pending: VecDeque<Event> = VecDeque::new();
    let mut last_devices = now;
    loop {
        let child_done = child
            .as_mut()
            .is_some_and(|ch| ch.child.try_wait().ok().flatten().is_some());
        let now = mono_ns();
        if interp.exiting()
            || stop.load(Ordering::SeqCst)
            || child_done
            || deadline.is_some_and(|d| now >= d)
        {
            break;
        }
        let next_timer = timers.iter().map(|t| t.3).min();
        let wake = [next_timer, deadline].into_iter().flatten().min();
        let wait = wake
            .map_or(10_000_000, |w| w.saturating_sub(now))
            .min(10_000_000);
        match &mut tracer {
            Some(t) => {
                t.poll(Duration::from_nanos(wait))?;
                t.drain(|ev| {
                    pending.push_back(Event::from_socktap(
                        ev,
                        offset + i128::from(ev.timestamp_ns),
                    ))
                });
            }
            None => std::thread::sleep(Duration::from_nanos(wait)),
        }
        // Events and timers in time order.
        let now = mono_ns();
        loop {
            let due = timers
                .iter()
                .enumerate()
                .filter(|t| t.1 .3 <= now)
                .min_by_key(|t| t.1 .3)
                .map(|t| t.0);
            let ev_ts = pending.front().map(|e| e.sock.timestamp_ns);
            match (due, ev_ts) {
                (Some(i), ts) if ts.is_none_or(|ts| timers[i].3 <= ts) => {
                    if let Some(d) = &mut devices {
                        d.feed(interp)?;
                        last_devices = now;
                    }
                    let (h, t, pp, when) = timers[i].clone();
                    if let Some(k) = kernel_counts.as_mut().filter(|k| k.read_by(h)) {
                        k.fill(interp)?;
                    }
                    interp.timer(h, pp);
                    timers[i].3 = (when as i64 + t.period_ns as i64 + jitter(&t)) as u64;
                }
                (_, Some(_)) => {
                    if let Some(ev) = pending.pop_front() {
                        interp.fire(&ev);
                    }
                }
                _ => break,
            }
            if interp.exiting() {
                break;
            }
        }
        if let Some(d) = &mut devices {
            if now.saturating_sub(last_devices) >= 1_000_000_000 {
                d.feed(interp)?;
                last_devices = now;
            }
        }
        flush(interp, out, err)?;
    }
    // Detach, then deliver what was recorded before the end.
    if let Some(t) = &mut tracer {
        t.detach();
        t.poll(Duration::ZERO)?;
        t.drain(|ev| {
            pending.push_back(Event::from_socktap(
                ev,
                offset + i128::from(ev.timestamp_ns),
            ))
        });
    }
    for ev in pending.drain(..) {
        interp.fire(&ev);
    }
    if let Some(d) = &mut devices {
        d.feed(interp)?;
    }
    if let Some(k) = &mut kernel_counts {
        k.fill(interp)?;
    }
    let mut lost = match &tracer {
        Some(t) => t.losses()?,
        None => socktap::Losses::default(),
    };
    if let Some(k) = &kernel_counts {
        lost = lost.plus(&k.losses()?);
    }
    drop(tracer);
    drop(devices);
    drop(kernel_counts);
    interp.end();
    flush(interp, out, err)?;
    err.write_all(loss_warning(interp.errors(), &lost).as_bytes())?;
    Ok(!interp.failed())
}

/// stap's closing warning, when there were runtime errors or events the
/// kernel side could not deliver (counted as skipped probes: they fired
/// and their handlers never ran), with the losses by reason.
pub fn loss_warning(errors: u64, lost: &socktap::Losses) -> String {
    let mut s = String::new();
    if errors > 0 || lost.total() > 0 {
        s.push_str(&format!(
            "WARNING: Number of errors: {errors}, skipped probes: {}\n",
            lost.total()
        ));
    }
    if lost.total() > 0 {
        let parts: Vec<String> = lost
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(r, n)| format!("{n} {r}"))
            .collect();
        s.push_str(&format!(
            "WARNING: Skipped due to lost events: {} (events the kernel side could not deliver)\n",
            parts.join(", ")
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn losses_are_a_warning_with_their_count() {
        assert_eq!(loss_warning(0, &socktap::Losses::default()), "");
        assert_eq!(
            loss_warning(2, &socktap::Losses::default()),
            "WARNING: Number of errors: 2, skipped probes: 0\n"
        );
        let lost = socktap::Losses::of(socktap::LossReason::RingFull, 5);
        assert_eq!(
            loss_warning(0, &lost),
            "WARNING: Number of errors: 0, skipped probes: 5\nWARNING: Skipped due to lost events: 5 ring_buffer_full (events the kernel side could not deliver)\n"
        );
    }
}
