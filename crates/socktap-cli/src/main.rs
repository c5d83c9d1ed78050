//! socktap: which process is sending and receiving what, on which sockets.
//!
//! `args` parses the command line, `commands` has one module per
//! subcommand, `shared` what they have in common. This file dispatches and
//! turns errors into exit statuses: 2 for usage errors, 1 for the rest,
//! 0 when the reader of stdout went away.

mod args;
mod commands;
mod shared;
mod usage;

use std::io::ErrorKind;
use std::process::ExitCode;

use clap::Parser;

pub use usage::UsageError;

fn print_libbpf(_: libbpf_rs::PrintLevel, msg: String) {
    // Never a panic on a closed stderr.
    let _ = std::io::Write::write_all(&mut std::io::stderr(), msg.as_bytes());
}

fn main() -> ExitCode {
    // socktap explains load failures itself (the library reads libbpf's
    // messages to do so); libbpf's own words are for SOCKTAP_DEBUG=1.
    let debug = std::env::var_os("SOCKTAP_DEBUG").is_some();
    libbpf_rs::set_print(debug.then_some((libbpf_rs::PrintLevel::Debug, print_libbpf as _)));
    // Invoked as `stap` (a symlink), socktap is `socktap stap`: stap's
    // command line, not clap's.
    let argv: Vec<String> = std::env::args().collect();
    let invoked_as = argv
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|n| n.to_str());
    if invoked_as == Some("stap") {
        return commands::stap::main(&argv[1..]);
    }
    let args = args::Cli::parse();
    let mut exit_code = ExitCode::SUCCESS;
    let result = match args.command {
        args::Command::List(a) => commands::list::run(&a),
        args::Command::Trace(a) => commands::trace::run(&a),
        args::Command::Top(a) => commands::top::run(&a),
        args::Command::Stat(a) => commands::stat::run(&a),
        args::Command::Serve(a) => commands::serve::run(&a),
        args::Command::Stap { args } => return commands::stap::main(&args),
        args::Command::Conformance(a) => commands::conformance::run(&a).map(|ok| {
            if !ok {
                exit_code = ExitCode::FAILURE;
            }
        }),
        args::Command::Completions(a) => commands::docs::completions(&a),
        args::Command::Man(a) => commands::docs::man(&a),
    };
    match result {
        Ok(()) => exit_code,
        Err(err) => {
            // A reader that went away (`socktap trace | head`) is a normal end.
            if let Some(io) = err.downcast_ref::<std::io::Error>() {
                if io.kind() == ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
            }
            crate::shared::say::note!("socktap: error: {err:#}");
            if err.downcast_ref::<UsageError>().is_some() {
                return ExitCode::from(2);
            }
            if let Some(socktap::Error::UnknownProbe { .. }) = err.downcast_ref::<socktap::Error>()
            {
                return ExitCode::from(2);
            }
            ExitCode::FAILURE
        }
    }
}
