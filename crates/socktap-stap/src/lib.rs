//! The SystemTap script language over socktap's probes: what runs behind
//! `socktap stap` (and socktap invoked as `stap`).
//!
//! The passes are stap's: [`parse`] (pass 1: lexer with argument pasting
//! and `%( %)` conditionals, parser), [`compile`] (pass 2: probe points
//! resolved against socktap's tapset, names and types), then the
//! [`interp::Interp`] runs the program over [`event::Event`]s from any
//! source, one handler at a time. [`runtime`] feeds it from socktap's
//! tracer; [`pushdown`] finds what the kernel can filter.
//!
//! ```
//! use socktap_stap::{compile, source::Source, Options};
//! use socktap_stap::interp::{Interp, Limits};
//!
//! let src = Source { name: "<input>".into(), text: b"probe begin { printf(\"%d\\n\", 6 * 7) }".to_vec() };
//! let c = compile(vec![src], &Options::default()).expect("compiles");
//! let mut i = Interp::new(&c.program, &c.sources, Limits::default(), 0);
//! i.begin();
//! i.end();
//! assert_eq!(i.take_output(), b"42\n");
//! ```
#![warn(missing_docs)]

pub mod ast;
pub mod builtins;
pub mod cmdline;
pub mod counting;
pub mod diag;
pub mod elab;
pub mod event;
pub mod format;
pub mod interp;
pub mod ir;
pub mod lexer;
mod parse_expr;
mod parse_stmt;
pub mod parser;
pub mod preprocess;
pub mod printer;
pub mod probes;
pub mod pushdown;
pub mod runtime;
pub mod source;
pub mod value;

use diag::{Diagnostic, Renderer, Severity};
use preprocess::PpContext;
use source::{Source, Sources};

/// The stap version scripts see as `systemtap_v`.
pub const COMPATIBLE_VERSION: &str = "5.0";

/// What the front end needs to know about the run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The script's arguments (`$1`, `@1`, …).
    pub args: Vec<String>,
    /// What `%( %)` conditionals test.
    pub pp: PpContext,
    /// The kernel's HZ (for `timer.jiffies`).
    pub hz: u64,
    /// Print warnings (`-w` turns them off).
    pub warnings: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            args: Vec::new(),
            pp: PpContext::new("6.1.0", "x86_64"),
            hz: 250,
            warnings: true,
        }
    }
}

/// A compiled script: its sources, parse tree and program.
#[derive(Debug)]
pub struct Compiled {
    /// The texts and tokens (messages refer to them).
    pub sources: Sources,
    /// The parse tree.
    pub script: ast::Script,
    /// The elaborated program.
    pub program: ir::Program,
    /// Warnings, rendered as stap prints them (empty with `-w`).
    pub warnings: String,
}

/// A script that did not compile: the messages, rendered, and the pass
/// that failed (1 parse, 2 elaboration).
#[derive(Debug, thiserror::Error)]
#[error("{text}")]
pub struct CompileError {
    /// 1 or 2.
    pub pass: u8,
    /// Everything stap would print to stderr, up to the pass line.
    pub text: String,
}

impl CompileError {
    /// stap's closing line, e.g. `Pass 1: parse failed.  [man error::pass1]`.
    pub fn pass_line(&self) -> String {
        let what = if self.pass == 1 { "parse" } else { "analysis" };
        format!(
            "Pass {}: {what} failed.  [man error::pass{}]",
            self.pass, self.pass
        )
    }
}

/// Pass 1: parses every source.
pub fn parse(sources: &mut Sources, opts: &Options) -> Result<ast::Script, CompileError> {
    let mut script = ast::Script::default();
    let mut errors = Vec::new();
    for file in 0..sources.files.len() {
        let mut p = parser::Parser::new(sources, file as u16, &opts.args, &opts.pp);
        p.parse(&mut script);
        errors.append(&mut p.errors);
    }
    if errors.is_empty() {
        return Ok(script);
    }
    let r = Renderer::new(sources);
    let mut text: String = errors.iter().map(|d| r.render(d)).collect();
    let n = errors.len();
    text.push_str(&format!(
        "{n} parse error{}.\n",
        if n == 1 { "" } else { "s" }
    ));
    Err(CompileError { pass: 1, text })
}

/// Passes 1 and 2: parses and elaborates.
pub fn compile(files: Vec<Source>, opts: &Options) -> Result<Compiled, CompileError> {
    let mut sources = Sources {
        files,
        tokens: Vec::new(),
    };
    let script = parse(&mut sources, opts)?;
    let empty = script.probes.is_empty();
    let result = elab::elaborate(&script, &sources, opts.hz);
    let r = Renderer::new(&sources);
    let render_warnings = |ws: &[Diagnostic]| -> String {
        if !opts.warnings {
            return String::new();
        }
        let mut seen = std::collections::HashSet::new();
        ws.iter()
            .filter(|w| w.severity == Severity::Warning && seen.insert((w.message.clone(), w.tok)))
            .map(|w| r.render(w))
            .collect()
    };
    match result {
        Ok((program, warnings)) => {
            if empty || program.handlers.is_empty() {
                return Err(CompileError {
                    pass: 2,
                    text: r.render(&Diagnostic::semantic("no probes found", None)),
                });
            }
            let warnings = render_warnings(&warnings);
            Ok(Compiled {
                sources,
                script,
                program,
                warnings,
            })
        }
        Err(errors) => {
            let mut seen = std::collections::HashSet::new();
            let text = errors
                .iter()
                .filter(|d| seen.insert((d.message.clone(), d.tok)))
                .map(|d| r.render(d))
                .collect();
            Err(CompileError { pass: 2, text })
        }
    }
}
