//! The command line: clap's definitions of every command and flag, and
//! the checks that turn flag values into the library's types. Every check
//! here runs before any BPF is loaded, and a bad value is a usage error
//! (exit 2) that names its flag.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::shared::containers::Containers;
use crate::UsageError;

mod values;

/// SystemTap's socket tapset on eBPF: which process is sending and
/// receiving what, on which sockets, and is it failing.
#[derive(Debug, Parser)]
#[command(name = "socktap", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the probes, their variables, and what serves them on this kernel.
    List(ListArgs),
    /// Print one line (or JSON object) per probe firing.
    #[command(after_help = TRACE_EXAMPLES)]
    Trace(Box<TraceArgs>),
    /// SystemTap's socktop: live per-process socket traffic, from in-kernel
    /// counters (--batch: socktop's text reports).
    #[command(after_help = TOP_HELP)]
    Top(Box<TopArgs>),
    /// Count chosen probes in the kernel by chosen keys: counts, bytes,
    /// errors and log2 histograms of sizes, per interval or at exit.
    #[command(after_help = STAT_HELP)]
    Stat(Box<StatArgs>),
    /// Export metrics of socket traffic: Prometheus scrapes over HTTP, and
    /// OTLP pushes.
    #[command(after_help = SERVE_HELP)]
    Serve(Box<ServeArgs>),
    /// Run real socket operations and check each produces exactly the
    /// events the contract requires; prints a pass/fail table.
    Conformance(ConformanceArgs),
    /// Print a shell completion script.
    #[command(after_help = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
    /// Print socktap's man page or a command's (roff), or write them all.
    #[command(after_help = MAN_HELP)]
    Man(ManArgs),
    /// Run a SystemTap script with stap's command line (socktap invoked as
    /// `stap` is this command); `socktap stap --help` lists the options.
    #[command(disable_help_flag = true)]
    Stap {
        /// stap's options, the script and its arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },
}

const TOP_HELP: &str = "\
Filters of one kind are OR'ed, different kinds AND'ed, as in socktop.
Keys in the live view: q quit, p pause, s change the sort, / filter by command, + - rows.

Examples:
  socktap top                       the live view, every second
  socktap top --batch -i 5 -c 3     three socktop reports, 5 s apart
  socktap top -P TCP -P UDP -d      TCP and UDP only, with network devices";

#[derive(Debug, Args)]
pub struct TopArgs {
    #[command(flatten)]
    pub backend: BackendArg,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Seconds per report [default: 5 with --batch, as socktop; 1 live].
    #[arg(short = 'i', long = "interval", value_name = "SECONDS", value_parser = values::seconds, allow_negative_numbers = true)]
    pub interval: Option<Duration>,
    /// Rows shown (processes, and devices with -d).
    #[arg(short = 'N', long = "rows", default_value_t = 10, value_parser = values::shown, allow_negative_numbers = true)]
    pub rows: usize,
    /// Stop after this many reports.
    #[arg(short = 'c', long = "count", value_parser = values::count, allow_negative_numbers = true)]
    pub count: Option<u64>,
    /// Also show network device traffic (net:net_dev_queue, net:netif_receive_skb).
    #[arg(short = 'd', long = "devices")]
    pub devices: bool,
    /// Show each process's container (its name, else its short id; `-` on
    /// the host) in a CONTAINER column.
    #[arg(short = 'C', long = "containers")]
    pub show_containers: bool,
    /// Print socktop's text report instead of the live view (the default
    /// when stdout is not a terminal).
    #[arg(long)]
    pub batch: bool,
    /// With --batch: one JSON object per report instead of socktop's text.
    #[arg(long)]
    pub json: bool,
    /// Rows the kernel side holds; traffic beyond it is counted as lost (rows_full).
    #[arg(long, default_value_t = socktap::aggregate::DEFAULT_CAPACITY, value_parser = values::rows, allow_negative_numbers = true)]
    pub capacity: u32,
}

const STAT_HELP: &str = "\
Examples:
  socktap stat                              sends and receives by probe, comm, pid; printed at Ctrl-C
  socktap stat -i 1 --by comm,protocol      every second
  socktap stat 'socket.*.return' --by probe,family --duration 10 --json";

#[derive(Debug, Args)]
pub struct StatArgs {
    #[command(flatten)]
    pub backend: BackendArg,
    /// Probes to count, by name or glob (default: socket.send socket.receive).
    pub probes: Vec<String>,
    /// Keys to group by: probe, pid, comm, uid, cgroup, family, protocol,
    /// type, port, container, pod, namespace, unit.
    #[arg(long, value_delimiter = ',', default_value = "probe,comm,pid")]
    pub by: Vec<String>,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Print a report every this many seconds (default: once, at exit).
    #[arg(short = 'i', long = "interval", value_name = "SECONDS", value_parser = values::seconds, allow_negative_numbers = true)]
    pub interval: Option<Duration>,
    /// Stop after this many reports.
    #[arg(short = 'c', long = "count", value_parser = values::count, allow_negative_numbers = true)]
    pub count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS", value_parser = values::seconds, allow_negative_numbers = true)]
    pub duration: Option<Duration>,
    /// One JSON object per report.
    #[arg(long)]
    pub json: bool,
    /// Leave out the size histograms.
    #[arg(long)]
    pub no_hist: bool,
    /// Rows the kernel side holds; events beyond it are counted as lost (rows_full).
    #[arg(long, default_value_t = socktap::aggregate::DEFAULT_CAPACITY, value_parser = values::rows, allow_negative_numbers = true)]
    pub capacity: u32,
}

const SERVE_HELP: &str = "\
Without --otlp-endpoint, metrics are served on 127.0.0.1:9745 unless --listen says where.
With --otlp-endpoint, there is no listener unless --listen is given.

Examples:
  socktap serve                                       Prometheus on http://127.0.0.1:9745/metrics
  socktap serve --listen [::]:9745 --labels comm,protocol
  socktap serve --otlp-endpoint http://localhost:4318 --otlp-interval 15
  socktap serve --listen 127.0.0.1:9745 --otlp-endpoint http://collector:4318 --otlp-header Authorization=Bearer...";

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub backend: BackendArg,
    /// Address to serve Prometheus scrapes on (port 0: any free port)
    /// [default: 127.0.0.1:9745; none with --otlp-endpoint].
    #[arg(long, value_name = "ADDR:PORT", value_parser = values::listen)]
    pub listen: Option<SocketAddr>,
    /// Labels of the traffic metrics: comm, pid, uid, cgroup, family,
    /// protocol, type, port, container, pod, namespace, unit.
    #[arg(long, value_delimiter = ',', default_value = "comm,family,protocol")]
    pub labels: Vec<String>,
    /// Bound on the label combinations kept (kernel rows); traffic beyond
    /// it is counted in socktap_lost_events_total{reason="rows_full"}.
    #[arg(long, default_value_t = 4096, value_parser = values::rows, allow_negative_numbers = true)]
    pub max_series: u32,
    /// Drop a series that has had no traffic for this many seconds, from
    /// the output and from the kernel's rows, so that its room is reused
    /// (counted in socktap_series_expired_total).
    #[arg(long, value_name = "SECONDS", default_value = "300", value_parser = values::seconds, allow_negative_numbers = true)]
    pub series_ttl: Duration,
    /// Also push the metrics as cumulative OTLP sums, HTTP/protobuf, to this
    /// URL (http://HOST:PORT gets /v1/metrics added).
    #[arg(long, value_name = "URL", value_parser = values::otlp_endpoint)]
    pub otlp_endpoint: Option<String>,
    /// Seconds between OTLP pushes [default: 60, OpenTelemetry's].
    #[arg(long, value_name = "SECONDS", value_parser = values::seconds, allow_negative_numbers = true)]
    pub otlp_interval: Option<Duration>,
    /// A header sent with every OTLP push, e.g. for authentication; repeatable.
    #[arg(long, value_name = "NAME=VALUE", value_parser = values::header)]
    pub otlp_header: Vec<(String, String)>,
    #[command(flatten)]
    pub filter: FilterArgs,
}

#[derive(Debug, Args)]
pub struct ConformanceArgs {
    #[command(flatten)]
    pub backend: BackendArg,
    /// Only cases whose "OPERATION SOCKET" label contains this text.
    pub only: Option<String>,
    /// One JSON object per case.
    #[arg(long)]
    pub json: bool,
}

const COMPLETIONS_HELP: &str = "\
Install (the .deb does this for bash, zsh and fish):
  socktap completions bash > /usr/share/bash-completion/completions/socktap
  socktap completions zsh > /usr/local/share/zsh/site-functions/_socktap
  socktap completions fish > /etc/fish/completions/socktap.fish";

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    pub shell: clap_complete::Shell,
}

const MAN_HELP: &str = "\
Examples:
  socktap man trace | man -l -            read socktap-trace(1)
  socktap man --out-dir /usr/local/share/man/man1";

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The command whose page to print (default: socktap's own page).
    pub command: Option<String>,
    /// Write every page (socktap.1 and socktap-COMMAND.1) into this folder.
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    pub out_dir: Option<std::path::PathBuf>,
}

const TRACE_EXAMPLES: &str = "\
Examples:
  socktap trace                          every send and receive
  socktap trace 'socket.send*' -p 1234   sends of process 1234, with entries
  socktap trace socket.create socket.close -f INET6
  socktap trace --failed -P TCP          failing TCP sends and receives
  socktap trace --json -c 100 > out.jsonl";

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Also show each probe's hooks and description.
    #[arg(short, long)]
    pub verbose: bool,
    #[command(flatten)]
    pub backend: BackendArg,
    /// Only probes matching this name or glob, e.g. 'socket.send*'.
    pub pattern: Option<String>,
}

#[derive(Debug, Args)]
pub struct FilterArgs {
    /// Only this process id (tgid); repeatable or comma-separated.
    #[arg(short = 'p', long = "pid", value_delimiter = ',', value_parser = values::id, allow_negative_numbers = true)]
    pub pids: Vec<u32>,
    /// Only this thread id; repeatable or comma-separated.
    #[arg(long = "tid", value_delimiter = ',', value_parser = values::id, allow_negative_numbers = true)]
    pub tids: Vec<u32>,
    /// Only this command name (exact, as the kernel keeps it: 15 bytes);
    /// repeatable, not comma-separated: a command name may hold a comma.
    #[arg(short = 'n', long = "comm")]
    pub comms: Vec<String>,
    /// Only this user: a name or a number (real uid); repeatable or
    /// comma-separated.
    #[arg(short = 'u', long = "uid", value_delimiter = ',')]
    pub uids: Vec<String>,
    /// Only this family: INET, INET6, LOCAL (UNIX), NETLINK, … or a number.
    #[arg(short = 'f', long = "family", value_delimiter = ',')]
    pub families: Vec<String>,
    /// Only this protocol: TCP, UDP, … or a number.
    #[arg(short = 'P', long = "protocol", value_delimiter = ',')]
    pub protocols: Vec<String>,
    /// Only this socket type: STREAM, DGRAM, RAW, SEQPACKET, … or a number.
    #[arg(short = 't', long = "type", value_delimiter = ',')]
    pub types: Vec<String>,
    /// Only INET/INET6 sockets with this local or remote port.
    #[arg(long = "port", value_delimiter = ',', value_parser = values::port, allow_negative_numbers = true)]
    pub ports: Vec<u16>,
    /// Only failures: return probes whose result is an error.
    #[arg(long)]
    pub failed: bool,
    /// Only tasks in this cgroup v2 folder or below it (a path in the tree,
    /// e.g. /system.slice/nginx.service, or under the cgroup2 mount);
    /// decided in the kernel, so cgroups made later below it count too.
    #[arg(long = "cgroup", value_name = "PATH")]
    pub cgroups: Vec<String>,
    /// Only this running container, by name or id (4 or more hex digits of
    /// it): Docker, Podman, containerd, CRI-O. Several values of --cgroup
    /// and --container are OR'ed.
    #[arg(long = "container", value_name = "NAME|ID")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TraceArgs {
    #[command(flatten)]
    pub backend: BackendArg,
    /// Probes to trace, by name or glob (default: socket.send socket.receive).
    pub probes: Vec<String>,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Print JSON Lines instead of text columns.
    #[arg(long)]
    pub json: bool,
    /// Stop after this many events.
    #[arg(short = 'c', long, value_parser = values::count, allow_negative_numbers = true)]
    pub count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS", value_parser = values::seconds, allow_negative_numbers = true)]
    pub duration: Option<Duration>,
    /// Also report MSG_PEEK receives (which leave the message queued).
    #[arg(long)]
    pub include_peek: bool,
    /// Ring buffer size in KiB (a power of two, 4 to 262144).
    #[arg(long, value_name = "KIB", default_value_t = 4096, value_parser = values::buffer_kib, allow_negative_numbers = true)]
    pub buffer_kib: u32,
}

/// `--backend`: which kernel mechanisms serve the probes.
#[derive(Debug, Args)]
pub struct BackendArg {
    /// Kernel mechanism: auto (the best the kernel accepts, per probe),
    /// tracepoint, fentry, kprobe or syscall. A forced one that the kernel
    /// refuses is an error.
    #[arg(long, default_value = "auto", value_parser = parse_backend)]
    pub backend: socktap::Backend,
}

/// OpenTelemetry's default export interval.
const OTLP_INTERVAL: Duration = Duration::from_secs(60);

impl ServeArgs {
    /// Seconds between OTLP pushes. `--otlp-interval` and `--otlp-header`
    /// without `--otlp-endpoint` are usage errors: they would do nothing.
    pub fn otlp_interval(&self) -> anyhow::Result<Duration> {
        if self.otlp_endpoint.is_none() {
            if self.otlp_interval.is_some() {
                return Err(usage("--otlp-interval", "needs --otlp-endpoint"));
            }
            if !self.otlp_header.is_empty() {
                return Err(usage("--otlp-header", "needs --otlp-endpoint"));
            }
        }
        Ok(self.otlp_interval.unwrap_or(OTLP_INTERVAL))
    }
}

impl BackendArg {
    /// How the library loads its programs: the backend, and the
    /// SOCKTAP_NO_BPF_LOOP switch the tests use to run the programs for
    /// kernels without bpf_loop on a newer one.
    pub fn settings(&self) -> socktap::LoadSettings {
        socktap::LoadSettings {
            backend: self.backend,
            bpf_loop: std::env::var_os("SOCKTAP_NO_BPF_LOOP").is_none(),
        }
    }
}

fn parse_backend(s: &str) -> Result<socktap::Backend, String> {
    socktap::Backend::parse(s).ok_or_else(|| {
        format!("unknown backend '{s}' (backends: auto, tracepoint, fentry, kprobe, syscall)")
    })
}

fn usage(flag: &str, msg: impl std::fmt::Display) -> anyhow::Error {
    UsageError(format!("{flag}: {msg}")).into()
}

fn names(
    flag: &str,
    values: &[String],
    parse: fn(&str) -> Result<i64, socktap::tapset::parse::Suggestion>,
) -> anyhow::Result<Vec<i32>> {
    values
        .iter()
        .map(|v| {
            let n = parse(v).map_err(|s| usage(flag, s))?;
            i32::try_from(n).map_err(|_| usage(flag, format!("{v} is out of range")))
        })
        .collect()
}

fn uid_of(flag: &str, user: &str) -> anyhow::Result<u32> {
    if let Ok(n) = user.parse::<u32>() {
        return Ok(n);
    }
    let name = std::ffi::CString::new(user).map_err(|_| usage(flag, "bad user name"))?;
    // SAFETY: getpwnam takes a NUL-terminated string and returns NULL or a
    // pointer to static storage, read at once before any other getpw* call.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return Err(usage(flag, format!("unknown user '{user}'")));
    }
    // SAFETY: pw is non-NULL and points to a valid passwd entry.
    Ok(unsafe { (*pw).pw_uid })
}

impl FilterArgs {
    /// The kernel-side filter these flags ask for.
    /// Whether the filter needs the cgroup tree (`--cgroup`, `--container`).
    pub fn needs_containers(&self) -> bool {
        !self.cgroups.is_empty() || !self.containers.is_empty()
    }

    /// The library's filter. `containers` resolves `--cgroup` and
    /// `--container`; it is None only when neither is given, or cgroup v2 is
    /// not mounted.
    pub fn to_filter(&self, containers: Option<&Containers>) -> anyhow::Result<socktap::Filter> {
        use socktap::tapset::parse::{parse_family, parse_protocol, parse_type};
        let cgroups = match containers {
            Some(c) => c.folders(&self.cgroups, &self.containers)?,
            None if self.needs_containers() => {
                let flag = if self.cgroups.is_empty() {
                    "--container"
                } else {
                    "--cgroup"
                };
                return Err(usage(
                    flag,
                    "cgroup v2 is not mounted here (no cgroup2 in /proc/self/mountinfo)",
                ));
            }
            None => Vec::new(),
        };
        let f = socktap::Filter {
            pids: self.pids.clone(),
            tids: self.tids.clone(),
            uids: self
                .uids
                .iter()
                .map(|u| uid_of("-u/--uid", u))
                .collect::<anyhow::Result<_>>()?,
            comms: self.comms.clone(),
            families: names("-f/--family", &self.families, parse_family)?,
            protocols: names("-P/--protocol", &self.protocols, parse_protocol)?,
            types: names("-t/--type", &self.types, parse_type)?,
            ports: self.ports.clone(),
            cgroups,
            failed_only: self.failed,
            succeeded_only: false,
        };
        let limits = [
            ("-p/--pid", f.pids.len()),
            ("--tid", f.tids.len()),
            ("-u/--uid", f.uids.len()),
            ("-n/--comm", f.comms.len()),
            ("-f/--family", f.families.len()),
            ("-P/--protocol", f.protocols.len()),
            ("-t/--type", f.types.len()),
            ("--port", f.ports.len()),
            ("--cgroup/--container", f.cgroups.len()),
        ];
        for (flag, n) in limits {
            if n > socktap::MAX_VALUES {
                return Err(usage(
                    flag,
                    format!("at most {} values, {n} given", socktap::MAX_VALUES),
                ));
            }
        }
        warn_beyond_pid_max("-p/--pid", &f.pids);
        warn_beyond_pid_max("--tid", &f.tids);
        for c in &f.comms {
            if c.len() > 15 {
                return Err(usage(
                    "-n/--comm",
                    format!("'{c}' is longer than the 15 bytes the kernel keeps of a command name"),
                ));
            }
        }
        Ok(f)
    }
}

/// A pid or tid above the kernel's pid_max can match nothing: likely a typo,
/// so say so, but go on (pid_max can be raised while socktap runs).
fn warn_beyond_pid_max(flag: &str, ids: &[u32]) {
    let Some(max) = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
    else {
        return;
    };
    for id in ids.iter().filter(|&&id| id >= max) {
        crate::shared::say::warn(format_args!(
            "{flag} {id} is not below pid_max ({max}): no process can have it"
        ));
    }
}
