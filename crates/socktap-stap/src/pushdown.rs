//! What the kernel can filter for the script: the tests a socket handler
//! makes before doing anything else (`if (!success) next`,
//! `if (pid() != target()) next`, `if (protocol != 6) next`,
//! `if (!(family in f_fam)) next` over an array only `begin` fills…)
//! become a `socktap::Filter`. A kind of filter is pushed only when every
//! socket handler requires it, so the kernel drops only events that every
//! handler would have left with `next`; the handlers still make their
//! tests, so pushing is only ever a saving.

use std::collections::BTreeSet;

use crate::ast::{CmpOp, UnOp};
use crate::builtins::Builtin;
use crate::ir::{DeleteTarget, Expr, LValue, PVar, Program, StatRef, Stmt};
use crate::probes::Point;
use crate::value::Value;

/// One handler's requirements: for each kind, the set of values an event
/// must have (`None`: no requirement).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Needs {
    pids: Option<BTreeSet<i64>>,
    tids: Option<BTreeSet<i64>>,
    uids: Option<BTreeSet<i64>>,
    comms: Option<BTreeSet<Vec<u8>>>,
    families: Option<BTreeSet<i64>>,
    protocols: Option<BTreeSet<i64>>,
    types: Option<BTreeSet<i64>>,
    pub(crate) success: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Kind {
    Pid,
    Tid,
    Uid,
    Comm,
    Family,
    Protocol,
    Type,
}

/// What pushdown may know when it runs (after `begin`).
pub struct Known<'a> {
    /// What `target()` returns.
    pub target: i64,
    /// The keys of a one-key global array, if no handler but `begin`
    /// writes it.
    pub array: &'a dyn Fn(u32) -> Option<Vec<Value>>,
}

pub(crate) fn kind_of(e: &Expr) -> Option<Kind> {
    match e {
        Expr::PVar(PVar::Family, _) => Some(Kind::Family),
        Expr::PVar(PVar::Protocol, _) => Some(Kind::Protocol),
        Expr::PVar(PVar::Type, _) => Some(Kind::Type),
        Expr::Builtin(Builtin::Pid, _, _) => Some(Kind::Pid),
        Expr::Builtin(Builtin::Tid, _, _) => Some(Kind::Tid),
        Expr::Builtin(Builtin::Uid, _, _) => Some(Kind::Uid),
        Expr::Builtin(Builtin::Execname, _, _) => Some(Kind::Comm),
        _ => None,
    }
}

pub(crate) fn constant(e: &Expr, k: &Known) -> Option<Value> {
    match e {
        Expr::Num(n, _) => Some(Value::Long(*n)),
        Expr::Str(s, _) => Some(Value::Str(s.clone())),
        Expr::Builtin(Builtin::Target, _, _) => Some(Value::Long(k.target)),
        _ => None,
    }
}

/// `X == c` or `c == X`: the kind and the value.
fn equality(l: &Expr, r: &Expr, k: &Known) -> Option<(Kind, Value)> {
    match (kind_of(l), constant(r, k)) {
        (Some(kind), Some(v)) => Some((kind, v)),
        _ => Some((kind_of(r)?, constant(l, k)?)),
    }
}

/// `success == n` or `n == success`: n.
fn success_test(l: &Expr, r: &Expr) -> Option<i64> {
    match (l, r) {
        (Expr::PVar(PVar::Success, _), Expr::Num(n, _))
        | (Expr::Num(n, _), Expr::PVar(PVar::Success, _)) => Some(*n),
        _ => None,
    }
}

/// For a condition under which the handler leaves (`if (cond) next`):
/// the requirements an event must meet to stay, each necessary. Returns
/// whether they are also sufficient: whether every part of the condition
/// was understood, so that an event meeting them never leaves.
fn leave_condition(
    e: &Expr,
    k: &Known,
    needs: &mut Vec<(Kind, Vec<Value>)>,
    success: &mut bool,
) -> bool {
    match e {
        // `1 && x` and `0 || x` test x (wrappers generate these: socktop's
        // `if ('$F_PROT' && !(protocol in f_prot)) next`).
        Expr::Logical(and, c, x) if matches!(**c, Expr::Num(n, _) if (n != 0) == *and) => {
            leave_condition(x, k, needs, success)
        }
        // next if A || B: stay only if !A and !B.
        Expr::Logical(false, a, b) => {
            let exact_a = leave_condition(a, k, needs, success);
            leave_condition(b, k, needs, success) && exact_a
        }
        Expr::Unary(UnOp::Not, x) => match &**x {
            Expr::PVar(PVar::Success, _) => {
                *success = true;
                true
            }
            inner => push(needs, one_of(inner, k, true)),
        },
        Expr::Compare(op @ (CmpOp::Eq | CmpOp::Ne), l, r, _) if success_test(l, r).is_some() => {
            // next if success == 0, or success != 1: stay only on success.
            let n = success_test(l, r).unwrap_or(-1);
            let failure = (*op == CmpOp::Eq && n == 0) || (*op == CmpOp::Ne && n == 1);
            if failure {
                *success = true;
            }
            failure
        }
        // next if X != a (&& X != b …): stay only if X is one of them.
        Expr::Compare(CmpOp::Ne, ..) | Expr::Logical(true, ..) => push(needs, one_of(e, k, false)),
        _ => false,
    }
}

/// Adds a requirement if there is one; whether there was.
fn push(needs: &mut Vec<(Kind, Vec<Value>)>, one: Option<(Kind, Vec<Value>)>) -> bool {
    let found = one.is_some();
    needs.extend(one);
    found
}

/// The values X must take: from `X == a || X == b || X in arr` when
/// `any` (a condition to stay), or from `X != a && X != b` when not (a
/// condition to leave). `None` if the expression is not of that shape.
fn one_of(e: &Expr, k: &Known, any: bool) -> Option<(Kind, Vec<Value>)> {
    let atom = if any { CmpOp::Eq } else { CmpOp::Ne };
    match e {
        Expr::Logical(and, a, b) if *and != any => {
            let (ka, mut va) = one_of(a, k, any)?;
            let (kb, vb) = one_of(b, k, any)?;
            if ka != kb {
                return None;
            }
            va.extend(vb);
            Some((ka, va))
        }
        Expr::Compare(op, l, r, _) if *op == atom => {
            equality(l, r, k).map(|(kind, v)| (kind, vec![v]))
        }
        Expr::In(g, keys, _) if any && keys.len() == 1 => {
            let kind = kind_of(keys[0].as_ref()?)?;
            let values = (k.array)(*g)?;
            (!values.is_empty()).then_some((kind, values))
        }
        _ => None,
    }
}

/// Whether evaluating `e` can change anything or depends on more than
/// the event, constants and `begin`-only arrays.
fn pure(e: &Expr) -> bool {
    match e {
        Expr::Num(..) | Expr::Str(..) | Expr::PVar(..) => true,
        Expr::Builtin(b, args, _) => {
            matches!(
                b,
                Builtin::Pid | Builtin::Tid | Builtin::Uid | Builtin::Execname | Builtin::Target
            ) && args.is_empty()
        }
        Expr::Unary(_, x) => pure(x),
        Expr::Logical(_, a, b) | Expr::Compare(_, a, b, _) => pure(a) && pure(b),
        Expr::In(_, keys, _) => keys.iter().flatten().all(pure),
        _ => false,
    }
}

/// The statements of a handler's body in order, nested blocks opened.
pub(crate) fn flatten(body: &Stmt) -> Vec<&Stmt> {
    let mut out = Vec::new();
    fn walk<'s>(s: &'s Stmt, out: &mut Vec<&'s Stmt>) {
        match s {
            Stmt::Block(v) => v.iter().for_each(|s| walk(s, out)),
            other => out.push(other),
        }
    }
    walk(body, &mut out);
    out
}

/// The tests that lead a handler (`if (cond) next`, `cond` pure): what an
/// event needs to get past them, how many statements they are, and
/// whether the needs are also sufficient (every test understood).
pub(crate) fn guards(stmts: &[&Stmt], k: &Known) -> (Needs, usize, bool) {
    let mut out = Needs::default();
    let mut reqs = Vec::new();
    let mut exact = true;
    let mut n = 0;
    for s in stmts {
        match s {
            Stmt::If(cond, then, None, _) if matches!(**then, Stmt::Next) && pure(cond) => {
                exact &= leave_condition(cond, k, &mut reqs, &mut out.success);
                n += 1;
            }
            _ => break,
        }
    }
    for (kind, values) in reqs {
        let longs = || values.iter().map(Value::as_long).collect::<BTreeSet<i64>>();
        let slot_long = |s: &mut Option<BTreeSet<i64>>| {
            let new = longs();
            *s = Some(match s.take() {
                Some(old) => old.intersection(&new).copied().collect(),
                None => new,
            });
        };
        match kind {
            Kind::Pid => slot_long(&mut out.pids),
            Kind::Tid => slot_long(&mut out.tids),
            Kind::Uid => slot_long(&mut out.uids),
            Kind::Family => slot_long(&mut out.families),
            Kind::Protocol => slot_long(&mut out.protocols),
            Kind::Type => slot_long(&mut out.types),
            Kind::Comm => {
                let new: BTreeSet<Vec<u8>> = values
                    .iter()
                    .filter_map(|v| match v {
                        Value::Str(s) => Some(s.to_vec()),
                        Value::Long(_) => None,
                    })
                    .collect();
                // A number compared with execname() is a type error
                // elaboration reports; never a requirement.
                exact &= new.len() == values.len();
                out.comms = Some(match out.comms.take() {
                    Some(old) => old.intersection(&new).cloned().collect(),
                    None => new,
                });
            }
        }
    }
    (out, n, exact)
}

fn needs_of(body: &Stmt, k: &Known) -> Needs {
    guards(&flatten(body), k).0
}

/// The globals some handler other than `begin` writes (their contents may
/// change while events flow, so they cannot become a kernel filter).
pub fn written_after_begin(p: &Program) -> Vec<bool> {
    let mut w = vec![false; p.globals.len()];
    fn lv(l: &LValue, w: &mut [bool]) {
        if let LValue::Global(g, _) | LValue::Index(g, _, _) = l {
            w[*g as usize] = true;
        }
    }
    fn ex(e: &Expr, w: &mut [bool]) {
        match e {
            Expr::Assign(l, _, v, _) => {
                lv(l, w);
                ex(v, w);
            }
            Expr::Crement(l, ..) => lv(l, w),
            Expr::StatAdd(StatRef::Global(g, _) | StatRef::Index(g, _, _), v, _) => {
                w[*g as usize] = true;
                ex(v, w);
            }
            Expr::Unary(_, x) => ex(x, w),
            Expr::Binary(_, a, b, _) | Expr::Logical(_, a, b) | Expr::Compare(_, a, b, _) => {
                ex(a, w);
                ex(b, w);
            }
            Expr::Ternary(a, b, c, _) => [a, b, c].iter().for_each(|x| ex(x, w)),
            Expr::Concat(xs, _)
            | Expr::Call(_, xs, _)
            | Expr::Builtin(_, xs, _)
            | Expr::Index(_, xs, _) => xs.iter().for_each(|x| ex(x, w)),
            Expr::Print(pr) => pr.args.iter().for_each(|x| ex(x, w)),
            _ => {}
        }
    }
    fn st(s: &Stmt, w: &mut [bool]) {
        match s {
            Stmt::Block(v) => v.iter().for_each(|s| st(s, w)),
            Stmt::Expr(e, _) | Stmt::Return(Some(e)) => ex(e, w),
            Stmt::If(c, t, e, _) => {
                ex(c, w);
                st(t, w);
                if let Some(e) = e {
                    st(e, w);
                }
            }
            Stmt::For(i, c, s2, b, _) => {
                for e in [i.as_ref(), Some(c), s2.as_ref()].into_iter().flatten() {
                    ex(e, w);
                }
                st(b, w);
            }
            Stmt::Foreach(f) => st(&f.body, w),
            Stmt::Delete(
                DeleteTarget::Global(g) | DeleteTarget::Array(g) | DeleteTarget::Element(g, _, _),
                _,
            ) => {
                w[*g as usize] = true;
            }
            Stmt::Try(a, _, b) => {
                st(a, w);
                st(b, w);
            }
            _ => {}
        }
    }
    for h in &p.handlers {
        if !h.points.iter().all(|r| matches!(r.point, Point::Begin(_))) {
            st(&h.body, &mut w);
        }
    }
    // Functions may be called from anywhere after begin.
    for f in &p.functions {
        st(&f.body, &mut w);
    }
    w
}

/// The kernel filter for the socket handlers of `p`, leaving out those
/// whose index is in `counted` (their events are counted in the kernel,
/// not traced).
pub fn filter(p: &Program, k: &Known, counted: &[u32]) -> socktap::Filter {
    let all: Vec<Needs> = p
        .handlers
        .iter()
        .enumerate()
        .filter(|(i, h)| {
            h.has(|pt| matches!(pt, Point::Socket(_))) && !counted.contains(&(*i as u32))
        })
        .map(|(_, h)| {
            let mut n = needs_of(&h.body, k);
            // Probes without a result (entries, close) cannot be filtered
            // on success.
            if !h.points.iter().all(|r| match r.point {
                Point::Socket(pr) => pr.variables().contains(&"success"),
                _ => false,
            }) {
                n.success = false;
            }
            n
        })
        .collect();
    to_filter(&all)
}

/// The filter that keeps an event when any of `all` would keep it.
fn to_filter(all: &[Needs]) -> socktap::Filter {
    let mut f = socktap::Filter::default();
    if all.is_empty() {
        return f;
    }
    fn union<T: Ord + Clone>(
        all: &[Needs],
        get: impl Fn(&Needs) -> &Option<BTreeSet<T>>,
    ) -> Option<Vec<T>> {
        let mut out = BTreeSet::new();
        for n in all {
            out.extend(get(n).as_ref()?.iter().cloned());
        }
        (!out.is_empty() && out.len() <= socktap::MAX_VALUES).then(|| out.into_iter().collect())
    }
    let u32s = |v: Option<Vec<i64>>| -> Vec<u32> {
        v.filter(|v| v.iter().all(|&x| u32::try_from(x).is_ok()))
            .map(|v| v.into_iter().map(|x| x as u32).collect())
            .unwrap_or_default()
    };
    let i32s = |v: Option<Vec<i64>>| -> Vec<i32> {
        v.filter(|v| v.iter().all(|&x| i32::try_from(x).is_ok()))
            .map(|v| v.into_iter().map(|x| x as i32).collect())
            .unwrap_or_default()
    };
    f.pids = u32s(union(all, |n| &n.pids));
    f.tids = u32s(union(all, |n| &n.tids));
    f.uids = u32s(union(all, |n| &n.uids));
    f.families = i32s(union(all, |n| &n.families));
    f.protocols = i32s(union(all, |n| &n.protocols));
    f.types = i32s(union(all, |n| &n.types));
    f.comms = union(all, |n| &n.comms)
        .filter(|v| v.iter().all(|c| c.len() <= socktap::MAX_COMM_BYTES))
        .map(|v| {
            v.into_iter()
                .map(|c| String::from_utf8_lossy(&c).into_owned())
                .collect()
        })
        .unwrap_or_default();
    f.succeeded_only = all.iter().all(|n| n.success);
    f
}

/// The filter that keeps exactly the events meeting `n`, if the kernel
/// can express it: every set of values fits, and none is empty (an empty
/// filter keeps everything, an empty requirement nothing).
pub(crate) fn exact_filter(n: &Needs) -> Option<socktap::Filter> {
    let f = to_filter(std::slice::from_ref(n));
    fn kept<T>(need: &Option<BTreeSet<T>>, got: usize) -> bool {
        need.as_ref()
            .is_none_or(|s| !s.is_empty() && s.len() == got)
    }
    let comms_exact = n
        .comms
        .iter()
        .flatten()
        .all(|c| std::str::from_utf8(c).is_ok());
    (kept(&n.pids, f.pids.len())
        && kept(&n.tids, f.tids.len())
        && kept(&n.uids, f.uids.len())
        && kept(&n.families, f.families.len())
        && kept(&n.protocols, f.protocols.len())
        && kept(&n.types, f.types.len())
        && kept(&n.comms, f.comms.len())
        && comms_exact)
        .then_some(f)
}

/// One line per filter kind, for `-v` and `-p3`.
pub fn describe(f: &socktap::Filter) -> String {
    let mut parts = Vec::new();
    let list =
        |name: &str, v: Vec<String>| (!v.is_empty()).then(|| format!("{name} {}", v.join(",")));
    parts.extend(list("pid", f.pids.iter().map(u32::to_string).collect()));
    parts.extend(list("tid", f.tids.iter().map(u32::to_string).collect()));
    parts.extend(list("uid", f.uids.iter().map(u32::to_string).collect()));
    parts.extend(list("comm", f.comms.clone()));
    parts.extend(list(
        "family",
        f.families.iter().map(i32::to_string).collect(),
    ));
    parts.extend(list(
        "protocol",
        f.protocols.iter().map(i32::to_string).collect(),
    ));
    parts.extend(list("type", f.types.iter().map(i32::to_string).collect()));
    if f.succeeded_only {
        parts.push("successes only".into());
    }
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join("; ")
    }
}
