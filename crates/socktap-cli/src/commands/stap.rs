//! `socktap stap` (and socktap invoked as `stap`): SystemTap's command
//! line over the language crate. Exit statuses are stap's: 0 when the
//! script ran, 1 for script errors (each message on stderr in stap's
//! words), 2 for a command line stap would refuse. Nothing is loaded
//! before the script has compiled, so a script error leaves nothing
//! attached.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Instant;

use socktap_stap::cmdline::{self, Script, StapArgs};
use socktap_stap::interp::Limits;
use socktap_stap::preprocess::PpContext;
use socktap_stap::runtime::{self, RunConfig};
use socktap_stap::source::Source;
use socktap_stap::{compile, probes, pushdown, CompileError, Compiled, Options};

use crate::shared::signals;

/// The backend `SOCKTAP_BACKEND` names (stap's command line has no place
/// for socktap's `--backend`, and wrappers such as socktop pass the
/// environment through); `auto` when unset.
fn backend() -> anyhow::Result<socktap::Backend> {
    match std::env::var("SOCKTAP_BACKEND") {
        Err(std::env::VarError::NotPresent) => Ok(socktap::Backend::Auto),
        Ok(s) => socktap::Backend::parse(&s).ok_or_else(|| {
            anyhow::anyhow!(
                "SOCKTAP_BACKEND={s}: unknown backend (backends: auto, tracepoint, fentry, kprobe, syscall)"
            )
        }),
        Err(e) => anyhow::bail!("SOCKTAP_BACKEND: {e}"),
    }
}

/// Runs stap's command line; `argv` excludes the program name.
pub fn main(argv: &[String]) -> ExitCode {
    let a = match cmdline::parse(argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("stap: {e}\nTry 'socktap stap --help' for the options.");
            return ExitCode::from(2);
        }
    };
    if a.help {
        print!("{}", cmdline::HELP);
        return ExitCode::SUCCESS;
    }
    if a.version {
        println!(
            "socktap stap {} (the SystemTap {} language over socktap's eBPF probes)",
            env!("CARGO_PKG_VERSION"),
            socktap_stap::COMPATIBLE_VERSION
        );
        return ExitCode::SUCCESS;
    }
    match run(&a) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("ERROR: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn warn(a: &StapArgs, msg: &str) {
    if !a.no_warnings {
        eprintln!("WARNING: {msg}");
    }
}

/// The kernel release and architecture the conditionals test.
fn pp_context(a: &StapArgs) -> PpContext {
    // SAFETY: an all-zero utsname is valid, and uname fills it in.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, owned utsname.
    unsafe { libc::uname(&mut u) };
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let release = a.release.clone().unwrap_or_else(|| field(&u.release));
    let arch = a.arch.clone().unwrap_or_else(|| field(&u.machine));
    let mut ctx = PpContext::new(&release, &arch);
    ctx.guru = a.guru;
    // CONFIG_* conditionals read the kernel's configuration where it is.
    if let Ok(text) = std::fs::read_to_string(format!("/boot/config-{release}")) {
        for line in text.lines() {
            if let Some((k, v)) = line.split_once('=') {
                ctx.config
                    .insert(k.to_string(), v.trim_matches('"').to_string());
            }
        }
    }
    ctx
}

fn limits(a: &StapArgs) -> Limits {
    let mut l = Limits::default();
    for (name, value) in &a.defines {
        let n: Option<i64> = value.parse().ok().filter(|&n| n > 0);
        match (name.as_str(), n) {
            ("MAXMAPENTRIES", Some(n)) => l.maxmapentries = n as usize,
            ("MAXSTRINGLEN", Some(n)) => l.maxstringlen = (n as usize).max(2),
            ("MAXACTION", Some(n)) => l.maxaction = n,
            ("MAXNESTING", Some(n)) => l.maxnesting = Some(n as usize),
            _ => warn(a, &format!("-D {name}={value} is ignored by socktap")),
        }
    }
    l
}

fn sources(a: &StapArgs) -> anyhow::Result<Vec<Source>> {
    let mut files = Vec::new();
    match &a.script {
        Some(Script::Text(t)) => files.push(Source {
            name: "<input>".into(),
            text: t.clone().into_bytes(),
        }),
        Some(Script::Stdin) => {
            let mut text = Vec::new();
            std::io::stdin().read_to_end(&mut text)?;
            files.push(Source {
                name: "<input>".into(),
                text,
            });
        }
        Some(Script::File(f)) => {
            let text = std::fs::read(f)
                .map_err(|e| anyhow::anyhow!("cannot open script file '{f}': {e}"))?;
            files.push(Source {
                name: f.clone(),
                text,
            });
        }
        None => {}
    }
    for extra in &a.extra {
        files.push(Source {
            name: "<input>".into(),
            text: extra.clone().into_bytes(),
        });
    }
    Ok(files)
}

fn failed(e: &CompileError) -> u8 {
    eprint!("{}", e.text);
    eprintln!("{}", e.pass_line());
    1
}

fn run(a: &StapArgs) -> anyhow::Result<u8> {
    for flag in &a.ignored {
        warn(
            a,
            &format!("{flag} is accepted for compatibility and ignored by socktap"),
        );
    }
    if a.keep_going {
        warn(
            a,
            "--suppress-handler-errors is accepted for compatibility and ignored by socktap",
        );
    }
    let pp = pp_context(a);
    let hz = pp
        .config
        .get("CONFIG_HZ")
        .and_then(|h| h.parse().ok())
        .unwrap_or(250);
    let opts = Options {
        args: a.args.clone(),
        pp,
        hz,
        warnings: !a.no_warnings,
    };
    if let Some((pattern, vars)) = &a.list {
        return list(pattern, *vars, &opts);
    }
    let t0 = Instant::now();
    let files = sources(a)?;
    if a.pass == 1 {
        let mut srcs = socktap_stap::source::Sources {
            files,
            tokens: Vec::new(),
        };
        return Ok(match socktap_stap::parse(&mut srcs, &opts) {
            Ok(s) => {
                print!("{}", socktap_stap::printer::script(&s, &srcs.files[0].name));
                0
            }
            Err(e) => failed(&e),
        });
    }
    let c = match compile(files, &opts) {
        Ok(c) => c,
        Err(e) => return Ok(failed(&e)),
    };
    eprint!("{}", c.warnings);
    if a.verbose > 0 {
        // socktap has no library scripts: the tapset is built in.
        eprintln!("Pass 1: parsed user script and 0 library scripts.");
        eprintln!(
            "Pass 2: analyzed script: {} probes, {} functions, {} globals in {}real ms.",
            c.program.handlers.iter().filter(|h| !h.synthetic).count(),
            c.program.functions.len(),
            c.program.globals.len(),
            t0.elapsed().as_millis()
        );
    }
    let cfg = RunConfig {
        target: a.target,
        command: a.command.clone(),
        timeout: a.timeout.map(std::time::Duration::from_secs_f64),
        limits: limits(a),
        settings: socktap::LoadSettings {
            backend: backend()?,
            bpf_loop: std::env::var_os("SOCKTAP_NO_BPF_LOOP").is_none(),
        },
        verbose: a.verbose,
        set_globals: a.set_globals.clone(),
        // To compare the two ways (tests) or rule counting out.
        no_kernel_counts: std::env::var_os("SOCKTAP_STAP_NO_KERNEL_COUNTS").is_some(),
    };
    match a.pass {
        2 => {
            print!("{}", elaborated(&c));
            Ok(0)
        }
        3 => {
            let none = |_: u32| None;
            let plan = runtime::plan(
                &c.program,
                &pushdown::Known {
                    target: a.target.unwrap_or(0),
                    array: &none,
                },
                !cfg.no_kernel_counts,
            );
            print!("{}", describe_plan(&plan));
            Ok(0)
        }
        4 => match runtime::prepare(&c, &cfg, &mut std::io::stderr()) {
            Ok(plan) => {
                if a.verbose > 0 {
                    eprintln!(
                        "Pass 4: loaded and verified the BPF programs: {}",
                        describe_plan(&plan).trim_end()
                    );
                }
                Ok(0)
            }
            Err(e) => {
                eprintln!("ERROR: {e}");
                eprintln!("Pass 4: compilation failed.  [man error::pass4]");
                Ok(1)
            }
        },
        _ => execute(a, &c, &cfg),
    }
}

fn execute(a: &StapArgs, c: &Compiled, cfg: &RunConfig) -> anyhow::Result<u8> {
    let stop = signals::stop_flag()?;
    let mut out: Box<dyn Write> = match &a.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| anyhow::anyhow!("cannot open output file '{path}': {e}"))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut err = std::io::stderr();
    let result = runtime::run(c, cfg, &mut out, &mut err, &stop);
    let _ = out.flush();
    match result {
        Ok(true) => Ok(0),
        Ok(false) => {
            eprintln!("Pass 5: run failed.  [man error::pass5]");
            Ok(1)
        }
        Err(runtime::RunError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => {
            eprintln!("ERROR: {e}");
            eprintln!("Pass 5: run failed.  [man error::pass5]");
            Ok(1)
        }
    }
}

fn describe_plan(plan: &runtime::Plan) -> String {
    let names: Vec<&str> = plan.probes.iter().map(|p| p.name()).collect();
    let mut s = format!(
        "# probes attached: {}\n",
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(" ")
        }
    );
    if plan.devices {
        s.push_str("# network devices counted in the kernel (netdev.*)\n");
    }
    s.push_str(&format!(
        "# kernel filter: {}\n",
        pushdown::describe(&plan.filter)
    ));
    for line in socktap_stap::counting::describe(&plan.counted) {
        s.push_str(&format!("# counted in the kernel: {line}\n"));
    }
    s
}

/// `-p2`: the globals, functions and probes with their types.
fn elaborated(c: &Compiled) -> String {
    let p = &c.program;
    let mut s = String::from("# globals\n");
    for g in &p.globals {
        let keys: Vec<&str> = g.keys.iter().map(|k| k.name()).collect();
        if keys.is_empty() {
            s.push_str(&format!("{}:{}\n", g.name, g.ty.name()));
        } else {
            s.push_str(&format!(
                "{}:{} [{}]\n",
                g.name,
                g.ty.name(),
                keys.join(", ")
            ));
        }
    }
    s.push_str("# functions\n");
    for f in &p.functions {
        let params: Vec<&str> = f.locals[..f.params].iter().map(|t| t.name()).collect();
        let ret = f.ret.map_or("unknown", |t| t.name());
        s.push_str(&format!("{}:{} ({})\n", f.name, ret, params.join(", ")));
    }
    s.push_str("# probes\n");
    for h in &p.handlers {
        let names: Vec<&str> = h.points.iter().map(|r| r.name.as_str()).collect();
        let note = if h.synthetic {
            " /* display of an unread global */"
        } else {
            ""
        };
        s.push_str(&format!("{}{note}\n", names.join(", ")));
    }
    s
}

fn list(pattern: &str, vars: bool, opts: &Options) -> anyhow::Result<u8> {
    let text = format!("probe {pattern} {{}}");
    let mut srcs = socktap_stap::source::Sources {
        files: vec![Source {
            name: "<input>".into(),
            text: text.into_bytes(),
        }],
        tokens: Vec::new(),
    };
    let script = match socktap_stap::parse(&mut srcs, opts) {
        Ok(s) => s,
        Err(e) => return Ok(failed(&e)),
    };
    let mut lines = Vec::new();
    for p in &script.probes {
        for pp in &p.points {
            match probes::resolve(pp, opts.hz) {
                Ok(resolved) => {
                    for r in resolved {
                        let mut line = r.name.clone();
                        if vars {
                            for (v, is_str) in probes::variables(&r.point) {
                                line.push_str(&format!(
                                    " {v}:{}",
                                    if is_str { "string" } else { "long" }
                                ));
                            }
                        }
                        lines.push(line);
                    }
                }
                Err(d) => {
                    let r = socktap_stap::diag::Renderer::new(&srcs);
                    eprint!("{}", r.render(&d));
                    eprintln!("Pass 2: analysis failed.  [man error::pass2]");
                    return Ok(1);
                }
            }
        }
    }
    lines.sort();
    lines.dedup();
    let mut out = std::io::stdout().lock();
    for l in lines {
        writeln!(out, "{l}")?;
    }
    Ok(0)
}
