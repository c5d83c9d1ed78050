//! The interpreter: runs an elaborated program's handlers one at a time,
//! over events from any source. `begin`, timers, events, `end` (or `error`
//! after a runtime error) are driven by the caller; output and messages
//! collect in buffers the caller drains.

pub mod calls;
mod counted;
mod eval;
mod exec;
pub mod pure;
pub mod stats;
pub mod store;

use std::collections::HashMap;
use std::rc::Rc;

use crate::event::{Event, Fired};
use crate::ir::{Program, Str};
use crate::probes::{Point, Timer};
use crate::source::{Sources, TokId};
use crate::value::Value;

use store::Slot;

/// The limits stap takes from `-D`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Elements an array holds (`MAXMAPENTRIES`, default 2048).
    pub maxmapentries: usize,
    /// Bytes of a string, with its NUL (`MAXSTRINGLEN`, default 512).
    pub maxstringlen: usize,
    /// Statements a handler may run (`MAXACTION`, default 1000; ten
    /// times that for begin, end and error).
    pub maxaction: i64,
    /// Call depth (`MAXNESTING`; default from the program).
    pub maxnesting: Option<usize>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            maxmapentries: 2048,
            maxstringlen: 512,
            maxaction: 1000,
            maxnesting: None,
        }
    }
}

/// A runtime error: stap's message and the token it happened near.
#[derive(Debug, Clone)]
pub struct RtError {
    /// What went wrong.
    pub msg: String,
    /// Where (`None`: `error()` and friends).
    pub tok: Option<TokId>,
    /// Cannot be caught by `try` (MAXACTION).
    pub fatal: bool,
}

/// Result of evaluating something.
pub type R<T> = Result<T, Box<RtError>>;

fn rt(msg: impl Into<String>, tok: TokId) -> Box<RtError> {
    Box::new(RtError {
        msg: msg.into(),
        tok: Some(tok),
        fatal: false,
    })
}

/// How a statement ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Flow {
    /// Go on.
    Normal,
    /// `break`
    Break,
    /// `continue`
    Continue,
    /// `next`: leave the handler.
    Next,
    /// `return`
    Return,
}

/// What the interpreter knows about its own process, for handlers that
/// do not run on an event (begin, end, timers).
#[derive(Debug, Clone)]
struct Own {
    pid: i64,
    comm: Str,
}

/// A running program.
pub struct Interp<'p> {
    prog: &'p Program,
    sources: &'p Sources,
    globals: Vec<Slot>,
    stack: Vec<Value>,
    base: usize,
    out: Vec<u8>,
    diag: Vec<u8>,
    limits: Limits,
    max_nesting: usize,
    event: Option<Event>,
    pp: Str,
    execname: Option<Str>,
    exit: bool,
    failed: bool,
    errors: u64,
    actions: i64,
    depth: usize,
    ret: Value,
    tokenize: Option<(Vec<u8>, usize)>,
    rng: u64,
    keybuf: Vec<Value>,
    dispatch: rustc_hash::FxHashMap<Fired, Rc<[(u32, Str)]>>,
    target: i64,
    own: Own,
}

impl<'p> Interp<'p> {
    /// An interpreter for `prog`; `target` is what `target()` returns.
    pub fn new(prog: &'p Program, sources: &'p Sources, limits: Limits, target: i64) -> Interp<'p> {
        let globals = prog
            .globals
            .iter()
            .map(|g| Slot::new(g, limits.maxmapentries))
            .collect();
        let mut dispatch: HashMap<Fired, Vec<(u32, Str)>> = HashMap::new();
        for (i, h) in prog.handlers.iter().enumerate() {
            for r in &h.points {
                let fired = match r.point {
                    Point::Socket(p) => Fired::Socket(p),
                    Point::Netdev(d) => Fired::Netdev(d),
                    _ => continue,
                };
                dispatch
                    .entry(fired)
                    .or_default()
                    .push((i as u32, crate::value::string(r.name.as_bytes())));
            }
        }
        let comm = std::fs::read("/proc/self/comm").unwrap_or_default();
        let comm = crate::value::string(comm.strip_suffix(b"\n").unwrap_or(&comm));
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1;
        Interp {
            prog,
            sources,
            globals,
            stack: Vec::with_capacity(64),
            base: 0,
            out: Vec::with_capacity(1 << 16),
            diag: Vec::new(),
            limits,
            max_nesting: limits.maxnesting.unwrap_or(prog.max_nesting),
            event: None,
            pp: crate::value::empty(),
            execname: None,
            exit: false,
            failed: false,
            errors: 0,
            actions: 0,
            depth: 0,
            ret: Value::Long(0),
            tokenize: None,
            rng: seed,
            keybuf: Vec::new(),
            dispatch: dispatch
                .into_iter()
                .map(|(k, v)| (k, Rc::from(v)))
                .collect(),
            target,
            own: Own {
                pid: i64::from(std::process::id()),
                comm,
            },
        }
    }

    /// Sets a global's initial value (`-G name=value`), before `begin`.
    pub fn set_global(&mut self, name: &str, value: &str) -> bool {
        let Some(i) = self.prog.globals.iter().position(|g| g.name == name) else {
            return false;
        };
        let g = &self.prog.globals[i];
        if !g.keys.is_empty() {
            return false;
        }
        let v = match g.ty {
            crate::ir::Ty::Long => {
                match crate::parser::parse_number(value).or_else(|| value.parse().ok()) {
                    Some(n) => Value::Long(n),
                    None => return false,
                }
            }
            crate::ir::Ty::Str => Value::Str(crate::value::string(value.as_bytes())),
            crate::ir::Ty::Stats => return false,
        };
        self.globals[i] = Slot::Scalar(v);
        true
    }

    /// What `target()` returns.
    pub fn target(&self) -> i64 {
        self.target
    }

    /// The keys of a one-key array global, in order.
    pub fn array_keys(&self, g: u32) -> Option<Vec<Value>> {
        match self.globals.get(g as usize)? {
            Slot::Array(a) if self.prog.globals[g as usize].keys.len() == 1 => Some(
                a.keys()
                    .into_iter()
                    .filter_map(|k| k.first().cloned())
                    .collect(),
            ),
            _ => None,
        }
    }

    /// The probes that have handlers.
    pub fn fired_kinds(&self) -> Vec<Fired> {
        self.dispatch.keys().copied().collect()
    }

    /// The timers: handler and period.
    pub fn timers(&self) -> Vec<(u32, Timer, Str)> {
        let mut out = Vec::new();
        for (i, h) in self.prog.handlers.iter().enumerate() {
            for r in &h.points {
                if let Point::Timer(t) = r.point {
                    out.push((i as u32, t, crate::value::string(r.name.as_bytes())));
                }
            }
        }
        out
    }

    /// Whether `exit()` was called or a runtime error ended the session.
    pub fn exiting(&self) -> bool {
        self.exit || self.failed
    }

    /// Whether a runtime error ended the session.
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Runtime errors so far.
    pub fn errors(&self) -> u64 {
        self.errors
    }

    /// Takes what the script printed so far.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::replace(&mut self.out, Vec::with_capacity(1 << 16))
    }

    /// Whether anything is waiting in the output buffer.
    pub fn has_output(&self) -> bool {
        !self.out.is_empty()
    }

    /// Takes the warnings and errors so far (stderr's text).
    pub fn take_diagnostics(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.diag)
    }

    fn ordered(&self, pick: impl Fn(&Point) -> Option<i64>) -> Vec<(u32, Str)> {
        let mut v: Vec<(i64, usize, u32, Str)> = Vec::new();
        for (i, h) in self.prog.handlers.iter().enumerate() {
            for r in &h.points {
                if let Some(prio) = pick(&r.point) {
                    v.push((
                        prio,
                        v.len(),
                        i as u32,
                        crate::value::string(r.name.as_bytes()),
                    ));
                }
            }
        }
        v.sort_by_key(|x| (x.0, x.1));
        v.into_iter().map(|x| (x.2, x.3)).collect()
    }

    /// Runs the `begin` handlers, by priority; stops at `exit()` or an error.
    pub fn begin(&mut self) {
        for (h, pp) in self.ordered(|p| {
            if let Point::Begin(n) = p {
                Some(*n)
            } else {
                None
            }
        }) {
            if self.exiting() {
                break;
            }
            self.run(h, None, pp, 10);
        }
    }

    /// Runs the handlers of one event.
    pub fn fire(&mut self, ev: &Event) {
        if self.exiting() {
            return;
        }
        let Some(list) = self.dispatch.get(&ev.fired) else {
            return;
        };
        let list = Rc::clone(list);
        self.event = Some(ev.clone());
        self.execname = None;
        for (h, pp) in list.iter() {
            if self.exiting() {
                break;
            }
            self.run(*h, Some(()), pp.clone(), 1);
        }
        self.event = None;
    }

    /// Runs a timer's handler.
    pub fn timer(&mut self, h: u32, pp: Str) {
        if !self.exiting() {
            self.run(h, None, pp, 1);
        }
    }

    /// Ends the session: the `end` handlers, or the `error` handlers after
    /// a runtime error.
    pub fn end(&mut self) {
        let failed = self.failed;
        let list = self.ordered(|p| match (p, failed) {
            (Point::End(n), false) | (Point::Error(n), true) => Some(*n),
            _ => None,
        });
        self.exit = false;
        for (h, pp) in list {
            if self.failed != failed {
                break;
            }
            self.run(h, None, pp, 10);
        }
        if !failed && self.failed {
            // An error in an end handler: the error handlers still run.
            for (h, pp) in self.ordered(|p| {
                if let Point::Error(n) = p {
                    Some(*n)
                } else {
                    None
                }
            }) {
                self.run(h, None, pp, 10);
            }
        }
        self.exit = true;
    }

    fn run(&mut self, h: u32, event: Option<()>, pp: Str, action_scale: i64) {
        let handler = &self.prog.handlers[h as usize];
        if event.is_none() {
            self.event = None;
        }
        self.pp = pp;
        self.actions = self.limits.maxaction.saturating_mul(action_scale);
        self.depth = 0;
        self.stack.clear();
        self.base = 0;
        for ty in &handler.locals {
            self.stack.push(Value::default_of(*ty));
        }
        for &(v, slot) in &handler.pvar_locals {
            self.stack[slot as usize] = self.pvar(v);
        }
        if let Err(e) = self.stmt(&handler.body) {
            self.report(&e);
        }
    }

    /// Prints a runtime error as stap does and ends the session (stap's
    /// MAXERRORS is 0).
    fn report(&mut self, e: &RtError) {
        self.errors += 1;
        let near = e
            .tok
            .map(|t| format!(" near {}", self.sources.describe(t)))
            .unwrap_or_default();
        self.diag
            .extend_from_slice(format!("ERROR: {}{near}\n", e.msg).as_bytes());
        self.failed = true;
    }

    /// Counts one action against MAXACTION.
    fn action(&mut self, tok: TokId) -> R<()> {
        self.actions -= 1;
        if self.actions <= 0 {
            return Err(Box::new(RtError {
                msg: "MAXACTION exceeded".into(),
                tok: Some(tok),
                fatal: true,
            }));
        }
        Ok(())
    }

    fn truncate(&self, mut s: Vec<u8>) -> Str {
        s.truncate(self.limits.maxstringlen.saturating_sub(1));
        crate::value::string(&s)
    }
}
