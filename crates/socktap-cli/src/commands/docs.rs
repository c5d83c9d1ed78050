//! `socktap completions` and `socktap man`: shell completion scripts and man
//! pages, made from the clap definitions in `args.rs` so that they always
//! name the flags the binary takes. `scripts/package-deb.sh` installs both.

use std::io::Write;

use anyhow::Context;
use clap::CommandFactory;

use crate::args::{Cli, CompletionsArgs, ManArgs};
use crate::UsageError;

pub fn completions(args: &CompletionsArgs) -> anyhow::Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "socktap", &mut script);
    write_out(&script)
}

pub fn man(args: &ManArgs) -> anyhow::Result<()> {
    // Built, so that each command is named socktap-COMMAND; clap's `help`
    // command gets no page.
    let mut cli = Cli::command().disable_help_subcommand(true);
    cli.build();
    if let Some(dir) = &args.out_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for cmd in std::iter::once(&cli).chain(cli.get_subcommands()) {
            page(cmd)
                .generate_to(dir)
                .with_context(|| format!("writing a man page into {}", dir.display()))?;
        }
        return Ok(());
    }
    let cmd = match &args.command {
        None => &cli,
        Some(name) => cli.find_subcommand(name).ok_or_else(|| {
            let names: Vec<&str> = cli.get_subcommands().map(|c| c.get_name()).collect();
            UsageError(format!(
                "unknown command '{name}' (commands: {})",
                names.join(", ")
            ))
        })?,
    };
    let mut roff = Vec::new();
    page(cmd).render(&mut roff)?;
    write_out(&roff)
}

/// The page of one command: section 1, its footer naming socktap's version.
fn page(cmd: &clap::Command) -> clap_mangen::Man {
    clap_mangen::Man::new(cmd.clone()).source(format!("socktap {}", env!("CARGO_PKG_VERSION")))
}

/// Writes a whole document to stdout, returning an error (a closed pipe)
/// where clap's generators would panic.
fn write_out(text: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text)?;
    out.flush()?;
    Ok(())
}
