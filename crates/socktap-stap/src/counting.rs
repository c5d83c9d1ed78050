//! What the kernel can count for the script, so that its events never
//! cross to user space: socktop's handlers, whose only effects are
//! `a[pid(), protocol, family] <<< size`, `b[pid()] += size` or
//! `c[pid()] = execname()` after tests the kernel filter makes exactly
//! (`if (!success) next`, `if (!(pid() in f_pid)) next`). Such a handler
//! is counted as `socktap stat` counts, in rows keyed by what its keys
//! and values read, and the runtime adds the rows into the script's
//! arrays before any handler that reads them runs.
//!
//! A row gives a count and a sum of sizes, so only what those determine
//! is counted: `@count`, `@sum` and `@avg` of the statistics (never
//! `@min`, `@max`, `@variance` or a histogram, which the kernel does not
//! keep per row as stap does), sums and counts of numbers, and
//! assignments of what the row is keyed by. An array is counted only when
//! no handler that runs on events (other than counted ones) touches it,
//! since such a handler would see it without the counts of the moment.

use std::collections::BTreeSet;

use std::collections::HashMap;

use socktap::{Carry, Counts, Filter, Keys, Probe, RowKey};

use crate::ast::StatOp;
use crate::interp::Interp;
use crate::ir::{AssignKind, DeleteTarget, Expr, LValue, PVar, Program, StatRef, Stmt};
use crate::probes::Point;
use crate::pushdown::{self, Kind, Known};
use crate::source::TokId;
use crate::value::Value;

/// An event field a kernel row can be keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `pid()`
    Pid,
    /// `uid()`
    Uid,
    /// `execname()`
    Comm,
    /// `family`
    Family,
    /// `protocol`
    Protocol,
    /// `type`
    Type,
}

/// Where a key or an assigned value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// A field of the row's key.
    Field(Field),
    /// A constant.
    Const(Value),
}

/// How an effect changes its element.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// `<<< size`: the statistic takes the row's count and sum.
    Stat,
    /// `+= size`: the row's sum.
    AddSize,
    /// `++`, `+= n`: n times the row's count.
    AddCount(i64),
    /// `= execname()` …: the value the row is keyed by.
    Set(Part),
}

/// One statement of a counted handler.
#[derive(Debug, Clone, PartialEq)]
pub struct Effect {
    /// The global written.
    pub global: u32,
    /// Its keys (`None`: a scalar).
    pub keys: Option<Vec<Part>>,
    /// What it does.
    pub update: Update,
    /// Where it is (an array overflow is reported there).
    pub tok: TokId,
}

/// A handler counted in the kernel.
#[derive(Debug, Clone, PartialEq)]
pub struct Counted {
    /// Its index in the program.
    pub handler: u32,
    /// Its probe points, one per point (a row of a path two points share
    /// runs it twice, as the event would).
    pub probes: Vec<Probe>,
    /// It leaves on failures: its rows give their successes.
    pub successes_only: bool,
    /// Its statements after the tests.
    pub effects: Vec<Effect>,
}

/// Counted handlers that share one kernel filter, and so one set of rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The tests of every handler of the group, made in the kernel.
    pub filter: Filter,
    /// What the rows are keyed by.
    pub keys: Keys,
    /// What they carry, as last seen, without being keyed by it: the uid
    /// and command where they are only assigned (`c[pid()] = execname()`),
    /// never a key. Hashing a command on every message costs the traced
    /// task more than keeping it.
    pub carry: Carry,
    /// The probes counted.
    pub probes: Vec<Probe>,
    /// The handlers.
    pub handlers: Vec<Counted>,
}

fn field(kind: Kind) -> Option<Field> {
    Some(match kind {
        Kind::Pid => Field::Pid,
        Kind::Uid => Field::Uid,
        Kind::Comm => Field::Comm,
        Kind::Family => Field::Family,
        Kind::Protocol => Field::Protocol,
        Kind::Type => Field::Type,
        // Rows are not keyed by thread.
        Kind::Tid => return None,
    })
}

fn part(e: &Expr, k: &Known) -> Option<Part> {
    match pushdown::kind_of(e) {
        Some(kind) => field(kind).map(Part::Field),
        None => pushdown::constant(e, k).map(Part::Const),
    }
}

fn parts(keys: &[Expr], k: &Known) -> Option<Vec<Part>> {
    keys.iter().map(|e| part(e, k)).collect()
}

/// The global, keys and token (the index's, where the interpreter
/// reports an overflow) an lvalue writes.
fn target(lv: &LValue, k: &Known) -> Option<(u32, Option<Vec<Part>>, TokId)> {
    match lv {
        LValue::Global(g, tok) => Some((*g, None, *tok)),
        LValue::Index(g, keys, tok) => Some((*g, Some(parts(keys, k)?), *tok)),
        LValue::Local(..) => None,
    }
}

fn is_size(e: &Expr) -> bool {
    matches!(e, Expr::PVar(PVar::Size, _))
}

fn effect(s: &Stmt, k: &Known) -> Option<Effect> {
    let Stmt::Expr(e, _) = s else {
        return None;
    };
    let (global, keys, tok, update) = match e {
        Expr::StatAdd(s, v, _) if is_size(v) => match s {
            StatRef::Global(g, tok) => (*g, None, *tok, Update::Stat),
            StatRef::Index(g, keys, tok) => (*g, Some(parts(keys, k)?), *tok, Update::Stat),
        },
        Expr::Assign(lv, AssignKind::Op(crate::ast::BinOp::Add), v, _) => {
            let u = match &**v {
                v if is_size(v) => Update::AddSize,
                Expr::Num(n, _) => Update::AddCount(*n),
                _ => return None,
            };
            let (g, keys, tok) = target(lv, k)?;
            (g, keys, tok, u)
        }
        Expr::Crement(lv, delta, _, _) => {
            let (g, keys, tok) = target(lv, k)?;
            (g, keys, tok, Update::AddCount(*delta))
        }
        Expr::Assign(lv, AssignKind::Set, v, _) => {
            let (g, keys, tok) = target(lv, k)?;
            (g, keys, tok, Update::Set(part(v, k)?))
        }
        _ => return None,
    };
    Some(Effect {
        global,
        keys,
        update,
        tok,
    })
}

/// Whether a probe is made of message paths (it has `size`), and whether
/// they are all returns (it has `success`).
fn message_probe(p: Probe) -> Option<bool> {
    let vars = p.variables();
    vars.contains(&"size").then(|| vars.contains(&"success"))
}

/// The handler as counted, if its shape allows it (the arrays it writes
/// are checked later, against the whole program).
fn candidate(p: &Program, h: u32, k: &Known) -> Option<(Counted, Filter)> {
    let handler = &p.handlers[h as usize];
    if handler.synthetic || handler.points.is_empty() {
        return None;
    }
    let mut probes = Vec::new();
    let mut returns = true;
    let mut entries = true;
    for r in &handler.points {
        // An optional point may be dropped at start, which the rows of a
        // group could not follow.
        let Point::Socket(pr) = r.point else {
            return None;
        };
        if r.optional {
            return None;
        }
        let is_return = message_probe(pr)?;
        returns &= is_return;
        entries &= !is_return;
        probes.push(pr);
    }
    let stmts = pushdown::flatten(&handler.body);
    let (needs, n, exact) = pushdown::guards(&stmts, k);
    if !exact {
        return None;
    }
    let effects: Vec<Effect> = stmts[n..]
        .iter()
        .map(|s| effect(s, k))
        .collect::<Option<_>>()?;
    if effects.is_empty() {
        return None;
    }
    // A failed return's size is -errno, which the kernel leaves out of its
    // sums; entries have only requested sizes. So a handler on returns
    // must leave on failures; one on entries cannot test success (it is
    // always 0 there), and one on both is not counted.
    let successes_only = needs.success;
    if (successes_only && !returns) || (!successes_only && !entries) {
        return None;
    }
    let filter = pushdown::exact_filter(&needs)?;
    Some((
        Counted {
            handler: h,
            probes,
            successes_only,
            effects,
        },
        filter,
    ))
}

/// What a handler or function touches.
#[derive(Debug, Default)]
struct Refs {
    globals: BTreeSet<u32>,
    calls: BTreeSet<u32>,
    /// Statistics read through what a row does not give.
    beyond_counts: BTreeSet<u32>,
}

impl Refs {
    fn stat(&mut self, s: &StatRef) {
        match s {
            StatRef::Global(g, _) => {
                self.globals.insert(*g);
            }
            StatRef::Index(g, keys, _) => {
                self.globals.insert(*g);
                keys.iter().for_each(|e| self.expr(e));
            }
        }
    }

    fn lvalue(&mut self, lv: &LValue) {
        match lv {
            LValue::Global(g, _) => {
                self.globals.insert(*g);
            }
            LValue::Index(g, keys, _) => {
                self.globals.insert(*g);
                keys.iter().for_each(|e| self.expr(e));
            }
            LValue::Local(..) => {}
        }
    }

    fn expr(&mut self, e: &Expr) {
        match e {
            Expr::Global(g, _) => {
                self.globals.insert(*g);
            }
            Expr::Index(g, keys, _) => {
                self.globals.insert(*g);
                keys.iter().for_each(|e| self.expr(e));
            }
            Expr::In(g, keys, _) => {
                self.globals.insert(*g);
                keys.iter().flatten().for_each(|e| self.expr(e));
            }
            Expr::Unary(_, x) => self.expr(x),
            Expr::Binary(_, a, b, _) | Expr::Logical(_, a, b) | Expr::Compare(_, a, b, _) => {
                self.expr(a);
                self.expr(b);
            }
            Expr::Ternary(a, b, c, _) => [a, b, c].iter().for_each(|x| self.expr(x)),
            Expr::Concat(xs, _) | Expr::Builtin(_, xs, _) => xs.iter().for_each(|x| self.expr(x)),
            Expr::Call(f, xs, _) => {
                self.calls.insert(*f);
                xs.iter().for_each(|x| self.expr(x));
            }
            Expr::Assign(lv, _, v, _) => {
                self.lvalue(lv);
                self.expr(v);
            }
            Expr::Crement(lv, ..) => self.lvalue(lv),
            Expr::StatAdd(s, v, _) => {
                self.stat(s);
                self.expr(v);
            }
            Expr::Stat(op, s, _) => {
                self.stat(s);
                if !counts_give(*op) {
                    let (StatRef::Global(g, _) | StatRef::Index(g, _, _)) = s;
                    self.beyond_counts.insert(*g);
                }
            }
            Expr::Print(pr) => {
                pr.args.iter().for_each(|x| self.expr(x));
                if let Some(h) = &pr.hist {
                    self.stat(&h.stat);
                    let (StatRef::Global(g, _) | StatRef::Index(g, _, _)) = h.stat;
                    self.beyond_counts.insert(g);
                }
            }
            Expr::Num(..) | Expr::Str(..) | Expr::Local(..) | Expr::PVar(..) => {}
        }
    }

    fn stmt(&mut self, s: &Stmt) {
        match s {
            Stmt::Block(v) => v.iter().for_each(|s| self.stmt(s)),
            Stmt::Expr(e, _) | Stmt::Return(Some(e)) => self.expr(e),
            Stmt::If(c, t, e, _) => {
                self.expr(c);
                self.stmt(t);
                if let Some(e) = e {
                    self.stmt(e);
                }
            }
            Stmt::For(i, c, step, b, _) => {
                for e in [i.as_ref(), Some(c), step.as_ref()].into_iter().flatten() {
                    self.expr(e);
                }
                self.stmt(b);
            }
            Stmt::Foreach(f) => {
                self.globals.insert(f.array);
                if f.sort.is_some_and(|(col, _)| col == 0) && !counts_give(f.sort_aggr) {
                    self.beyond_counts.insert(f.array);
                }
                f.slice.iter().flatten().for_each(|e| self.expr(e));
                if let Some(l) = &f.limit {
                    self.expr(l);
                }
                self.stmt(&f.body);
            }
            Stmt::Delete(t, _) => match t {
                DeleteTarget::Global(g) | DeleteTarget::Array(g) => {
                    self.globals.insert(*g);
                }
                DeleteTarget::Element(g, keys, _) => {
                    self.globals.insert(*g);
                    keys.iter().flatten().for_each(|e| self.expr(e));
                }
                DeleteTarget::Local(_) => {}
            },
            Stmt::Try(a, _, b) => {
                self.stmt(a);
                self.stmt(b);
            }
            Stmt::Break | Stmt::Continue | Stmt::Next | Stmt::Return(None) => {}
        }
    }
}

/// Whether a row's count and sum give this aggregate.
fn counts_give(op: StatOp) -> bool {
    matches!(op, StatOp::Count | StatOp::Sum | StatOp::Avg)
}

/// What each handler touches, through the functions it calls too.
fn handler_refs(p: &Program) -> Vec<Refs> {
    let funcs: Vec<Refs> = p
        .functions
        .iter()
        .map(|f| {
            let mut r = Refs::default();
            r.stmt(&f.body);
            r
        })
        .collect();
    p.handlers
        .iter()
        .map(|h| {
            let mut r = Refs::default();
            r.stmt(&h.body);
            let mut todo: Vec<u32> = r.calls.iter().copied().collect();
            let mut seen = BTreeSet::new();
            while let Some(f) = todo.pop() {
                if !seen.insert(f) {
                    continue;
                }
                let fr = &funcs[f as usize];
                r.globals.extend(fr.globals.iter().copied());
                r.beyond_counts.extend(fr.beyond_counts.iter().copied());
                todo.extend(fr.calls.iter().copied());
            }
            r
        })
        .collect()
}

/// The handlers of `p` the kernel can count, grouped by filter; `k` is
/// what `begin` left (filters over arrays it filled).
pub fn plan(p: &Program, k: &Known) -> Vec<Group> {
    let refs = handler_refs(p);
    let mut cands: Vec<(Counted, Filter)> = (0..p.handlers.len() as u32)
        .filter_map(|h| candidate(p, h, k))
        .collect();
    let beyond: BTreeSet<u32> = refs
        .iter()
        .flat_map(|r| r.beyond_counts.iter().copied())
        .collect();
    let on_events =
        |h: &crate::ir::Handler| h.has(|pt| matches!(pt, Point::Socket(_) | Point::Netdev(_)));
    // Drop candidates until what remains is consistent: no array of a
    // counted handler is read beyond counts, touched by a handler on
    // events that is not counted, or both summed and assigned (the order
    // of assignments and sums among events is not known).
    loop {
        let counted: BTreeSet<u32> = cands.iter().map(|c| c.0.handler).collect();
        let touched: BTreeSet<u32> = p
            .handlers
            .iter()
            .enumerate()
            .filter(|(i, h)| on_events(h) && !counted.contains(&(*i as u32)))
            .flat_map(|(i, _)| refs[i].globals.iter().copied())
            .collect();
        let mut sets = BTreeSet::new();
        let mut adds = BTreeSet::new();
        for (c, _) in &cands {
            for e in &c.effects {
                if matches!(e.update, Update::Set(_)) {
                    sets.insert(e.global);
                } else {
                    adds.insert(e.global);
                }
            }
        }
        let bad = |g: &u32| {
            beyond.contains(g) || touched.contains(g) || (sets.contains(g) && adds.contains(g))
        };
        let before = cands.len();
        cands.retain(|(c, _)| !c.effects.iter().any(|e| bad(&e.global)));
        if cands.len() == before {
            break;
        }
    }
    let mut groups: Vec<Group> = Vec::new();
    for (c, filter) in cands {
        let g = match groups.iter_mut().position(|g| g.filter == filter) {
            Some(i) => &mut groups[i],
            None => {
                groups.push(Group {
                    filter,
                    keys: Keys::default(),
                    carry: Carry::default(),
                    probes: Vec::new(),
                    handlers: Vec::new(),
                });
                let last = groups.len() - 1;
                &mut groups[last]
            }
        };
        for e in &c.effects {
            for part in e.keys.iter().flatten() {
                if let Part::Field(f) = part {
                    key_by(&mut g.keys, *f);
                }
            }
            if let Update::Set(Part::Field(f)) = &e.update {
                match f {
                    Field::Uid => g.carry.uid = true,
                    Field::Comm => g.carry.comm = true,
                    _ => key_by(&mut g.keys, *f),
                }
            }
        }
        for pr in &c.probes {
            if !g.probes.contains(pr) {
                g.probes.push(*pr);
            }
        }
        g.handlers.push(c);
    }
    groups
}

/// Keys a group's rows by a field.
fn key_by(keys: &mut Keys, f: Field) {
    match f {
        Field::Pid => keys.pid = true,
        Field::Uid => keys.uid = true,
        Field::Comm => keys.comm = true,
        Field::Family => keys.family = true,
        Field::Protocol => keys.protocol = true,
        Field::Type => keys.sock_type = true,
    }
}

/// The indexes of the handlers counted in the kernel.
pub fn counted_handlers(groups: &[Group]) -> Vec<u32> {
    groups
        .iter()
        .flat_map(|g| g.handlers.iter().map(|c| c.handler))
        .collect()
}

/// Which handlers must see the kernel's counts before they run: those
/// touching an array a counted handler writes.
pub fn readers(p: &Program, groups: &[Group]) -> Vec<bool> {
    let written: BTreeSet<u32> = groups
        .iter()
        .flat_map(|g| g.handlers.iter())
        .flat_map(|c| c.effects.iter().map(|e| e.global))
        .collect();
    handler_refs(p)
        .iter()
        .map(|r| r.globals.iter().any(|g| written.contains(g)))
        .collect()
}

/// The value of a part for one row.
pub fn value(part: &Part, row: &RowKey) -> Value {
    match part {
        Part::Const(v) => v.clone(),
        Part::Field(f) => match f {
            Field::Pid => Value::Long(i64::from(row.pid)),
            Field::Uid => Value::Long(i64::from(row.uid)),
            Field::Comm => Value::Str(crate::value::string(row.comm.as_bytes())),
            Field::Family => Value::Long(i64::from(row.family)),
            Field::Protocol => Value::Long(i64::from(row.protocol)),
            Field::Type => Value::Long(i64::from(row.sock_type)),
        },
    }
}

/// Adds a group's rows (counted since the last time) into the arrays its
/// handlers write, as if each had run on the events of the rows. Rows go
/// in key order, so that runs are repeatable: the order of the events
/// behind them is not known.
pub fn add_rows(g: &Group, rows: HashMap<RowKey, Counts>, interp: &mut Interp) {
    let mut rows: Vec<_> = rows.into_iter().collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    for (row, c) in rows {
        for h in &g.handlers {
            let n = if h.successes_only {
                c.successes()
            } else {
                c.count
            };
            if n == 0 {
                continue;
            }
            // A path two of the handler's points share runs it twice.
            for p in &h.probes {
                if p.paths().contains(&row.path) {
                    interp.add_counts(&h.effects, &row, n as i64, c.bytes as i64);
                }
            }
        }
    }
}

/// The names of the fields that are on.
fn named(fields: &[(bool, &'static str)]) -> Vec<&'static str> {
    fields.iter().filter(|f| f.0).map(|f| f.1).collect()
}

/// One line per group, for `-v` and `-p3`.
pub fn describe(groups: &[Group]) -> Vec<String> {
    groups
        .iter()
        .map(|g| {
            let probes: Vec<&str> = g.probes.iter().map(|p| p.name()).collect();
            let k = g.keys;
            let keys = named(&[
                (k.pid, "pid"),
                (k.uid, "uid"),
                (k.comm, "execname"),
                (k.family, "family"),
                (k.protocol, "protocol"),
                (k.sock_type, "type"),
            ]);
            let carried = named(&[(g.carry.uid, "uid"), (g.carry.comm, "execname")]);
            format!(
                "{} by {}{}; filter: {}",
                probes.join(" "),
                if keys.is_empty() {
                    "nothing".into()
                } else {
                    keys.join(",")
                },
                if carried.is_empty() {
                    String::new()
                } else {
                    format!(" carrying {}", carried.join(","))
                },
                pushdown::describe(&g.filter)
            )
        })
        .collect()
}
