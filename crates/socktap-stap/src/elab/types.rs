//! Type inference, as stap does it: passes over every handler and
//! function until nothing new is learnt. Each variable, array key, array
//! value, parameter and function result gets its type from its first use
//! that fixes one; a later use that disagrees is an error naming both.

use std::collections::HashSet;

use crate::diag::Diagnostic;
use crate::format;
use crate::ir::{AssignKind, DeleteTarget, Expr, LValue, Print, StatRef, Stmt, Ty};
use crate::source::TokId;

use super::Caller;

/// A place that has a type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    /// A global's value (an array's elements).
    Global(u32),
    /// An array's key.
    Key(u32, usize),
    /// A local of a handler or function (parameters first).
    Local(Caller, u32),
    /// A function's result.
    Ret(u32),
}

/// What is known, and where it was learnt.
pub struct Types {
    /// Global value types.
    pub globals: Vec<Option<(Ty, TokId)>>,
    /// Array key types.
    pub keys: Vec<Vec<Option<(Ty, TokId)>>>,
    /// Locals per handler.
    pub handler_locals: Vec<Vec<Option<(Ty, TokId)>>>,
    /// Locals per function.
    pub function_locals: Vec<Vec<Option<(Ty, TokId)>>>,
    /// Function results.
    pub rets: Vec<Option<(Ty, TokId)>>,
    /// Function parameter counts.
    pub params: Vec<usize>,
    /// Errors found.
    pub errors: Vec<Diagnostic>,
    seen: HashSet<(TokId, String)>,
    changed: bool,
    cur: Caller,
}

impl Types {
    /// Nothing known yet, for these shapes.
    pub fn new(
        globals: usize,
        arities: &[usize],
        handlers: &[usize],
        functions: &[(usize, usize)],
    ) -> Types {
        Types {
            globals: vec![None; globals],
            keys: arities.iter().map(|&a| vec![None; a]).collect(),
            handler_locals: handlers.iter().map(|&n| vec![None; n]).collect(),
            function_locals: functions.iter().map(|&(n, _)| vec![None; n]).collect(),
            rets: vec![None; functions.len()],
            params: functions.iter().map(|&(_, p)| p).collect(),
            errors: Vec::new(),
            seen: HashSet::new(),
            changed: false,
            cur: Caller::Handler(0),
        }
    }

    fn get(&self, s: Slot) -> Option<(Ty, TokId)> {
        match s {
            Slot::Global(g) => self.globals[g as usize],
            Slot::Key(g, i) => self.keys[g as usize].get(i).copied().flatten(),
            Slot::Local(Caller::Handler(h), l) => self.handler_locals[h as usize][l as usize],
            Slot::Local(Caller::Func(f), l) => self.function_locals[f as usize][l as usize],
            Slot::Ret(f) => self.rets[f as usize],
        }
    }

    /// Fixes a slot's type (declarations and initializers).
    pub fn set(&mut self, s: Slot, ty: Ty, tok: TokId) {
        let cell = match s {
            Slot::Global(g) => &mut self.globals[g as usize],
            Slot::Key(g, i) => match self.keys[g as usize].get_mut(i) {
                Some(c) => c,
                None => return,
            },
            Slot::Local(Caller::Handler(h), l) => &mut self.handler_locals[h as usize][l as usize],
            Slot::Local(Caller::Func(f), l) => &mut self.function_locals[f as usize][l as usize],
            Slot::Ret(f) => &mut self.rets[f as usize],
        };
        if cell.is_none() {
            *cell = Some((ty, tok));
            self.changed = true;
        }
    }

    /// Records an error once.
    pub fn error(&mut self, d: Diagnostic) {
        if self
            .seen
            .insert((d.tok.unwrap_or(TokId(u32::MAX)), d.message.clone()))
        {
            self.errors.push(d);
        }
    }

    fn mismatch(&mut self, tok: TokId, want: Ty, found: Ty) {
        self.error(Diagnostic::semantic(
            format!(
                "type mismatch: expected {} but found {}",
                want.name(),
                found.name()
            ),
            Some(tok),
        ));
    }

    /// A use of slot `s` at `tok` that wants type `want`.
    fn slot(&mut self, s: Slot, tok: TokId, want: Option<Ty>) -> Option<Ty> {
        match (self.get(s), want) {
            (Some((t, _)), None) => Some(t),
            (Some((t, _)), Some(w)) if t == w => Some(t),
            (Some((t, first)), Some(w)) => {
                let index = match s {
                    Slot::Key(_, i) => Some(i),
                    Slot::Local(Caller::Func(f), l) if (l as usize) < self.params[f as usize] => {
                        Some(l as usize)
                    }
                    _ => None,
                };
                let (m, c) = match index {
                    Some(i) => (
                        format!("index {i} type mismatch ({})", w.name()),
                        format!("type of index {i} was first inferred here ({})", t.name()),
                    ),
                    None => (
                        format!("type mismatch ({})", w.name()),
                        format!("type was first inferred here ({})", t.name()),
                    ),
                };
                self.error(
                    Diagnostic::semantic(m, Some(tok))
                        .with_chain(Diagnostic::semantic(c, Some(first))),
                );
                Some(t)
            }
            (None, Some(w)) => {
                self.set(s, w, tok);
                Some(w)
            }
            (None, None) => None,
        }
    }

    fn check(&mut self, found: Option<Ty>, want: Option<Ty>, tok: TokId) -> Option<Ty> {
        if let (Some(f), Some(w)) = (found, want) {
            if f != w {
                self.mismatch(tok, w, f);
            }
        }
        found.or(want)
    }

    /// One pass over a handler's or function's body; whether anything
    /// new was learnt in any pass so far is in `changed`.
    pub fn body(&mut self, who: Caller, body: &Stmt) {
        self.cur = who;
        self.stmt(body);
    }

    /// Starts a pass; returns whether the previous one learnt anything.
    pub fn next_pass(&mut self) -> bool {
        std::mem::replace(&mut self.changed, false)
    }

    fn stmt(&mut self, s: &Stmt) {
        match s {
            Stmt::Block(v) => v.iter().for_each(|s| self.stmt(s)),
            Stmt::Expr(e, _) => {
                // A call for its effects may return nothing.
                match e {
                    Expr::Call(f, args, _) => {
                        self.call_args(*f, args);
                    }
                    Expr::Builtin(b, args, _) => {
                        self.builtin_args(*b, args);
                    }
                    _ => {
                        self.expr(e, None);
                    }
                }
            }
            Stmt::If(c, t, e, _) => {
                self.cond(c);
                self.stmt(t);
                if let Some(e) = e {
                    self.stmt(e);
                }
            }
            Stmt::For(init, cond, step, body, _) => {
                if let Some(i) = init {
                    self.expr(i, None);
                }
                self.cond(cond);
                if let Some(s) = step {
                    self.expr(s, None);
                }
                self.stmt(body);
            }
            Stmt::Foreach(f) => {
                for (i, &k) in f.keys.iter().enumerate() {
                    let tok = f.tok;
                    let kt = self.slot(Slot::Key(f.array, i), tok, None);
                    let lt = self.slot(Slot::Local(self.cur, k), tok, kt);
                    self.slot(Slot::Key(f.array, i), tok, lt);
                }
                self.opt_keys(f.array, &f.slice, f.tok);
                if let Some(v) = f.value {
                    let gt = self.get(Slot::Global(f.array)).map(|x| x.0);
                    if gt == Some(Ty::Stats) {
                        self.error(Diagnostic::semantic("foreach value of a statistics array: use @count, @sum, … of the element", Some(f.tok)));
                    } else {
                        let lt = self.slot(Slot::Local(self.cur, v), f.tok, gt);
                        self.slot(Slot::Global(f.array), f.tok, lt);
                    }
                }
                if let Some(l) = &f.limit {
                    self.expr(l, Some(Ty::Long));
                }
                self.stmt(&f.body);
            }
            Stmt::Return(Some(e)) => {
                if let Caller::Func(f) = self.cur {
                    let want = self.get(Slot::Ret(f)).map(|x| x.0);
                    let t = self.expr(e, want);
                    if let Some(t) = t {
                        let tok = expr_tok(e);
                        self.slot(Slot::Ret(f), tok, Some(t));
                    }
                }
            }
            Stmt::Delete(d, _) => match d {
                DeleteTarget::Element(g, keys, tok) => self.opt_keys(*g, keys, *tok),
                DeleteTarget::Local(_) | DeleteTarget::Global(_) | DeleteTarget::Array(_) => {}
            },
            Stmt::Try(b, var, c) => {
                self.stmt(b);
                if let Some(v) = var {
                    if let Some(tok) = first_tok(c) {
                        self.slot(Slot::Local(self.cur, *v), tok, Some(Ty::Str));
                    } else {
                        self.set(Slot::Local(self.cur, *v), Ty::Str, TokId(0));
                    }
                }
                self.stmt(c);
            }
            Stmt::Return(None) | Stmt::Break | Stmt::Continue | Stmt::Next => {}
        }
    }

    fn cond(&mut self, e: &Expr) {
        self.expr(e, Some(Ty::Long));
    }

    /// Keys where some may be `*`.
    fn opt_keys(&mut self, g: u32, keys: &[Option<Expr>], tok: TokId) {
        for (i, k) in keys.iter().enumerate() {
            if let Some(k) = k {
                let kt = self.get(Slot::Key(g, i)).map(|x| x.0);
                let t = self.expr_own(k, kt);
                self.slot(Slot::Key(g, i), tok, t);
            }
        }
    }

    fn keys(&mut self, g: u32, keys: &[Expr], tok: TokId) {
        for (i, k) in keys.iter().enumerate() {
            let kt = self.get(Slot::Key(g, i)).map(|x| x.0);
            let t = self.expr_own(k, kt);
            if t == Some(Ty::Stats) {
                self.error(Diagnostic::semantic(
                    "invalid type stats for an array index",
                    Some(expr_tok(k)),
                ));
                continue;
            }
            self.slot(Slot::Key(g, i), tok, t);
        }
    }

    fn lvalue(&mut self, lv: &LValue, want: Option<Ty>) -> Option<Ty> {
        let t = match lv {
            LValue::Local(s, tok) => self.slot(Slot::Local(self.cur, *s), *tok, want),
            LValue::Global(g, tok) => self.slot(Slot::Global(*g), *tok, want),
            LValue::Index(g, keys, tok) => {
                self.keys(*g, keys, *tok);
                self.slot(Slot::Global(*g), *tok, want)
            }
        };
        if t == Some(Ty::Stats) {
            let tok = match lv {
                LValue::Local(_, t) | LValue::Global(_, t) | LValue::Index(_, _, t) => *t,
            };
            self.error(Diagnostic::semantic(
                "type mismatch: a statistic takes values with <<<",
                Some(tok),
            ));
        }
        t
    }

    fn stat(&mut self, s: &StatRef) {
        match s {
            StatRef::Global(g, tok) => {
                self.slot(Slot::Global(*g), *tok, Some(Ty::Stats));
            }
            StatRef::Index(g, keys, tok) => {
                self.keys(*g, keys, *tok);
                self.slot(Slot::Global(*g), *tok, Some(Ty::Stats));
            }
        }
    }

    fn call_args(&mut self, f: u32, args: &[Expr]) -> Option<Ty> {
        for (i, a) in args.iter().enumerate() {
            let pt = self
                .get(Slot::Local(Caller::Func(f), i as u32))
                .map(|x| x.0);
            let t = self.expr(a, pt);
            if let Some(t) = t {
                self.slot(Slot::Local(Caller::Func(f), i as u32), expr_tok(a), Some(t));
            }
        }
        self.get(Slot::Ret(f)).map(|x| x.0)
    }

    fn builtin_args(&mut self, b: crate::builtins::Builtin, args: &[Expr]) -> Option<Ty> {
        let sig = crate::builtins::TABLE.iter().find(|e| e.3 == b);
        let (params, ret) = sig.map_or((&[][..], None), |e| (e.1, e.2));
        for (a, p) in args.iter().zip(params) {
            let t = self.expr(a, Some(*p));
            self.check(t, Some(*p), expr_tok(a));
        }
        ret
    }

    fn print(&mut self, p: &Print) -> Ty {
        if let Some(h) = &p.hist {
            self.stat(&h.stat);
        } else if p.auto.is_some() {
            for a in &p.args {
                if self.expr(a, None) == Some(Ty::Stats) {
                    self.error(Diagnostic::semantic(
                        "cannot print a raw stats object",
                        Some(expr_tok(a)),
                    ));
                }
            }
        } else {
            for (a, want) in p.args.iter().zip(format::arg_types(&p.pieces)) {
                let t = self.expr(a, Some(want));
                self.check(t, Some(want), expr_tok(a));
            }
        }
        if p.stream {
            Ty::Long
        } else {
            Ty::Str
        }
    }

    /// Types an expression by itself first, and only if that says nothing
    /// tells it `want`: a disagreement is then reported once, by the slot
    /// that knows both uses.
    fn expr_own(&mut self, e: &Expr, want: Option<Ty>) -> Option<Ty> {
        match self.expr(e, None) {
            None => self.expr(e, want),
            t => t,
        }
    }

    /// Types an expression, telling typeless slots it meets what `want` is.
    pub fn expr(&mut self, e: &Expr, want: Option<Ty>) -> Option<Ty> {
        let (found, tok) = match e {
            Expr::Num(_, tok) => (Some(Ty::Long), *tok),
            Expr::Str(_, tok) => (Some(Ty::Str), *tok),
            Expr::Local(s, tok) => return self.slot(Slot::Local(self.cur, *s), *tok, want),
            Expr::Global(g, tok) => return self.slot(Slot::Global(*g), *tok, want),
            Expr::PVar(v, tok) => (Some(v.ty()), *tok),
            Expr::Index(g, keys, tok) => {
                self.keys(*g, keys, *tok);
                if self.get(Slot::Global(*g)).map(|x| x.0) == Some(Ty::Stats) {
                    self.error(Diagnostic::semantic(
                        "cannot use a statistic as a value: use @count, @sum, …",
                        Some(*tok),
                    ));
                    return want;
                }
                return self.slot(Slot::Global(*g), *tok, want);
            }
            Expr::In(g, keys, tok) => {
                self.opt_keys(*g, keys, *tok);
                (Some(Ty::Long), *tok)
            }
            Expr::Unary(_, x) => {
                self.expr(x, Some(Ty::Long));
                (Some(Ty::Long), expr_tok(x))
            }
            Expr::Binary(_, l, r, _) | Expr::Logical(_, l, r) => {
                for x in [l, r] {
                    let t = self.expr(x, Some(Ty::Long));
                    self.check(t, Some(Ty::Long), expr_tok(x));
                }
                (Some(Ty::Long), expr_tok(e))
            }
            Expr::Compare(_, l, r, tok) => {
                let mut lt = self.expr(l, None);
                let rt = self.expr(r, lt);
                if lt.is_none() && rt.is_some() {
                    lt = self.expr(l, rt);
                }
                if let (Some(a), Some(b)) = (lt, rt) {
                    if a != b || a == Ty::Stats {
                        self.error(Diagnostic::semantic(
                            format!(
                                "type mismatch: left and right sides don't agree ({} vs {})",
                                a.name(),
                                b.name()
                            ),
                            Some(*tok),
                        ));
                    }
                }
                (Some(Ty::Long), *tok)
            }
            Expr::Concat(parts, tok) => {
                for p in parts {
                    let t = self.expr(p, Some(Ty::Str));
                    self.check(t, Some(Ty::Str), expr_tok(p));
                }
                (Some(Ty::Str), *tok)
            }
            Expr::Ternary(c, t, f, tok) => {
                self.cond(c);
                let mut tt = self.expr(t, want);
                let ft = self.expr(f, want.or(tt));
                if tt.is_none() && ft.is_some() {
                    tt = self.expr(t, ft);
                }
                if let (Some(a), Some(b)) = (tt, ft) {
                    if a != b {
                        self.mismatch(expr_tok(f), a, b);
                    }
                }
                (tt.or(ft), *tok)
            }
            Expr::Assign(lv, kind, value, tok) => {
                let t = match kind {
                    AssignKind::Set => {
                        // The value's own type first, so that a conflict is
                        // reported once, naming both uses of the variable.
                        let lt = self.lvalue(lv, None);
                        let vt = self.expr_own(value, lt.or(want));
                        // A disagreement is reported by the slot, naming both uses.
                        let t = self.lvalue(lv, vt);
                        t.or(vt)
                    }
                    AssignKind::Concat => {
                        let t = self.lvalue(lv, Some(Ty::Str));
                        let vt = self.expr(value, Some(Ty::Str));
                        self.check(vt, Some(Ty::Str), expr_tok(value));
                        t
                    }
                    AssignKind::Op(_) => {
                        let t = self.lvalue(lv, Some(Ty::Long));
                        let vt = self.expr(value, Some(Ty::Long));
                        self.check(vt, Some(Ty::Long), expr_tok(value));
                        t
                    }
                };
                (t, *tok)
            }
            Expr::Crement(lv, _, _, tok) => {
                self.lvalue(lv, Some(Ty::Long));
                (Some(Ty::Long), *tok)
            }
            Expr::StatAdd(s, v, tok) => {
                self.stat(s);
                let vt = self.expr(v, Some(Ty::Long));
                self.check(vt, Some(Ty::Long), expr_tok(v));
                (Some(Ty::Long), *tok)
            }
            Expr::Stat(_, s, tok) => {
                self.stat(s);
                (Some(Ty::Long), *tok)
            }
            Expr::Call(f, args, tok) => {
                let ret = self.call_args(*f, args);
                if ret.is_none() {
                    if let Some(w) = want {
                        // The result's type may come from the use.
                        return self.slot(Slot::Ret(*f), *tok, Some(w));
                    }
                }
                (ret, *tok)
            }
            Expr::Builtin(b, args, tok) => {
                let ret = self.builtin_args(*b, args);
                if ret.is_none() {
                    self.error(Diagnostic::semantic(
                        "function returns no value",
                        Some(*tok),
                    ));
                }
                (ret, *tok)
            }
            Expr::Print(p) => (Some(self.print(p)), p.tok),
        };
        self.check(found, want, tok)
    }
}

/// The token an expression is reported at.
pub fn expr_tok(e: &Expr) -> TokId {
    match e {
        Expr::Num(_, t)
        | Expr::Str(_, t)
        | Expr::Local(_, t)
        | Expr::Global(_, t)
        | Expr::PVar(_, t)
        | Expr::Index(_, _, t)
        | Expr::In(_, _, t)
        | Expr::Binary(_, _, _, t)
        | Expr::Compare(_, _, _, t)
        | Expr::Concat(_, t)
        | Expr::Ternary(_, _, _, t)
        | Expr::Assign(_, _, _, t)
        | Expr::Crement(_, _, _, t)
        | Expr::StatAdd(_, _, t)
        | Expr::Stat(_, _, t)
        | Expr::Call(_, _, t)
        | Expr::Builtin(_, _, t) => *t,
        Expr::Unary(_, x) | Expr::Logical(_, x, _) => expr_tok(x),
        Expr::Print(p) => p.tok,
    }
}

fn first_tok(s: &Stmt) -> Option<TokId> {
    match s {
        Stmt::Block(v) => v.iter().find_map(first_tok),
        Stmt::Expr(_, t) | Stmt::If(_, _, _, t) | Stmt::For(_, _, _, _, t) | Stmt::Delete(_, t) => {
            Some(*t)
        }
        Stmt::Foreach(f) => Some(f.tok),
        _ => None,
    }
}
