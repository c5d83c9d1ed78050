//! The command line: clap's definitions of every command and flag, and
//! the checks that turn flag values into the library's types. Every check
//! here runs before any BPF is loaded, and a bad value is a usage error
//! (exit 2) that names its flag.

use clap::{Args, Parser, Subcommand};

use crate::UsageError;

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
    /// Serve Prometheus metrics of socket traffic over HTTP.
    Serve(Box<ServeArgs>),
    /// Run real socket operations and check each produces exactly the
    /// events the contract requires; prints a pass/fail table.
    Conformance(ConformanceArgs),
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
    #[arg(short = 'i', long = "interval", value_name = "SECONDS")]
    pub interval: Option<f64>,
    /// Rows shown (processes, and devices with -d).
    #[arg(short = 'N', long = "rows", default_value_t = 10)]
    pub rows: usize,
    /// Stop after this many reports.
    #[arg(short = 'c', long = "count")]
    pub count: Option<u64>,
    /// Also show network device traffic (net:net_dev_queue, net:netif_receive_skb).
    #[arg(short = 'd', long = "devices")]
    pub devices: bool,
    /// Print socktop's text report instead of the live view (the default
    /// when stdout is not a terminal).
    #[arg(long)]
    pub batch: bool,
    /// Rows the kernel side holds; traffic beyond it is counted as lost (rows_full).
    #[arg(long, default_value_t = socktap::aggregate::DEFAULT_CAPACITY)]
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
    /// Keys to group by: probe, pid, comm, uid, cgroup, family, protocol, type, port.
    #[arg(long, value_delimiter = ',', default_value = "probe,comm,pid")]
    pub by: Vec<String>,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Print a report every this many seconds (default: once, at exit).
    #[arg(short = 'i', long = "interval", value_name = "SECONDS")]
    pub interval: Option<f64>,
    /// Stop after this many reports.
    #[arg(short = 'c', long = "count")]
    pub count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// One JSON object per report.
    #[arg(long)]
    pub json: bool,
    /// Leave out the size histograms.
    #[arg(long)]
    pub no_hist: bool,
    /// Rows the kernel side holds; events beyond it are counted as lost (rows_full).
    #[arg(long, default_value_t = socktap::aggregate::DEFAULT_CAPACITY)]
    pub capacity: u32,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub backend: BackendArg,
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:9745")]
    pub listen: String,
    /// Labels of the traffic metrics: comm, pid, uid, cgroup, family, protocol, type, port.
    #[arg(long, value_delimiter = ',', default_value = "comm,family,protocol")]
    pub labels: Vec<String>,
    /// Bound on the label combinations kept (kernel rows); traffic beyond
    /// it is counted in socktap_lost_events_total{reason="rows_full"}.
    #[arg(long, default_value_t = 4096)]
    pub max_series: u32,
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
    #[arg(short = 'p', long = "pid", value_delimiter = ',')]
    pub pids: Vec<u32>,
    /// Only this thread id; repeatable or comma-separated.
    #[arg(long = "tid", value_delimiter = ',')]
    pub tids: Vec<u32>,
    /// Only this command name (exact, as the kernel keeps it: 15 bytes).
    #[arg(short = 'n', long = "comm")]
    pub comms: Vec<String>,
    /// Only this user: a name or a number (real uid).
    #[arg(short = 'u', long = "uid")]
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
    #[arg(long = "port", value_delimiter = ',')]
    pub ports: Vec<u16>,
    /// Only failures: return probes whose result is an error.
    #[arg(long)]
    pub failed: bool,
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
    #[arg(short = 'c', long)]
    pub count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// Also report MSG_PEEK receives (which leave the message queued).
    #[arg(long)]
    pub include_peek: bool,
    /// Ring buffer size in KiB (a power of two).
    #[arg(long, value_name = "KIB", default_value_t = 4096)]
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
    pub fn to_filter(&self) -> anyhow::Result<socktap::Filter> {
        use socktap::tapset::parse::{parse_family, parse_protocol, parse_type};
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
        ];
        for (flag, n) in limits {
            if n > socktap::MAX_VALUES {
                return Err(usage(
                    flag,
                    format!("at most {} values, {n} given", socktap::MAX_VALUES),
                ));
            }
        }
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

/// A time given in seconds on the command line: positive and finite, or a
/// usage error naming the flag.
pub fn seconds(flag: &str, value: Option<f64>) -> anyhow::Result<Option<std::time::Duration>> {
    match value {
        None => Ok(None),
        Some(s) if s.is_finite() && s > 0.0 => Ok(Some(std::time::Duration::from_secs_f64(s))),
        Some(s) => Err(usage(
            flag,
            format!("{s} is not a positive number of seconds"),
        )),
    }
}
