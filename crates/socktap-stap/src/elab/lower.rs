//! Name resolution: the parse tree of one handler or function becomes
//! program nodes with every name resolved, in stap's order: parameters,
//! then (in probe handlers) the probe's variables, then globals, then a
//! new local. Arrays must be globals; their arity is fixed by first use.

use std::collections::{HashMap, HashSet};

use crate::ast::{self, AssignOp, Expr as A, Indexable, Stmt as S};
use crate::builtins;
use crate::diag::{similar, suggest, Diagnostic};
use crate::format;
use crate::ir::{
    AssignKind, DeleteTarget, Expr, Foreach, HistRef, LValue, PVar, Print, StatRef, Stmt,
};
use crate::source::TokId;

use super::{Elab, LocalInfo};

/// The result of lowering one body.
pub type LResult<T> = Result<T, Diagnostic>;

/// One handler's or function's names.
pub struct Scope {
    /// Locals by slot.
    pub locals: Vec<LocalInfo>,
    by_name: HashMap<String, u32>,
    /// Probe variables readable here: name → (variable, defined on every point).
    pub pvars: HashMap<&'static str, (PVar, bool)>,
    /// Probe variables the body writes, with their local slots.
    pub pvar_locals: Vec<(PVar, u32)>,
    /// Inside a function (no probe context).
    pub function: bool,
    warned: HashSet<&'static str>,
}

impl Scope {
    /// A scope with these parameters and probe variables.
    pub fn new(
        params: &[(String, TokId, Option<ast::DeclType>)],
        pvars: HashMap<&'static str, (PVar, bool)>,
        function: bool,
    ) -> Scope {
        let mut s = Scope {
            locals: Vec::new(),
            by_name: HashMap::new(),
            pvars,
            pvar_locals: Vec::new(),
            function,
            warned: HashSet::new(),
        };
        for (name, tok, ty) in params {
            let slot = s.add(name, *tok);
            s.locals[slot as usize].declared = *ty;
            s.locals[slot as usize].written = true;
        }
        s
    }

    fn add(&mut self, name: &str, tok: TokId) -> u32 {
        let slot = self.locals.len() as u32;
        self.locals.push(LocalInfo {
            name: name.to_string(),
            tok,
            declared: None,
            written: false,
            read: false,
        });
        self.by_name.insert(name.to_string(), slot);
        slot
    }

    /// Probe variables that the body assigns become locals copied from the
    /// event when the handler starts.
    pub fn localize_pvars(&mut self, body: &ast::Block, tok: TokId) {
        let mut names = HashSet::new();
        assigned_in_block(body, &mut names);
        let mut pv: Vec<(&'static str, PVar)> = self
            .pvars
            .iter()
            .filter(|(n, _)| names.contains(**n))
            .map(|(n, (v, _))| (*n, *v))
            .collect();
        pv.sort_by_key(|(n, _)| *n);
        for (name, v) in pv {
            let slot = self.add(name, tok);
            self.locals[slot as usize].written = true;
            self.pvar_locals.push((v, slot));
        }
    }
}

fn assigned_in_block(b: &ast::Block, out: &mut HashSet<String>) {
    for s in &b.stmts {
        assigned_in_stmt(s, out);
    }
}

fn assigned_in_stmt(s: &S, out: &mut HashSet<String>) {
    match s {
        S::Block(b) => assigned_in_block(b, out),
        S::Expr(e) | S::Delete(_, e) => assigned_in_expr(e, out),
        S::Return(_, Some(e)) => assigned_in_expr(e, out),
        S::If {
            cond, then, els, ..
        } => {
            assigned_in_expr(cond, out);
            assigned_in_stmt(then, out);
            if let Some(e) = els {
                assigned_in_stmt(e, out);
            }
        }
        S::For {
            init,
            cond,
            step,
            body,
            ..
        } => {
            for e in [init.as_ref(), Some(cond), step.as_ref()]
                .into_iter()
                .flatten()
            {
                assigned_in_expr(e, out);
            }
            assigned_in_stmt(body, out);
        }
        S::Foreach(f) => {
            out.extend(f.keys.iter().map(|k| k.0.clone()));
            out.extend(f.value.iter().map(|v| v.0.clone()));
            assigned_in_stmt(&f.body, out);
        }
        S::Try {
            body, var, catch, ..
        } => {
            assigned_in_block(body, out);
            out.extend(var.iter().map(|v| v.0.clone()));
            assigned_in_block(catch, out);
        }
        _ => {}
    }
    if let S::Delete(_, A::Sym(n, _)) = s {
        out.insert(n.clone());
    }
}

fn assigned_in_expr(e: &A, out: &mut HashSet<String>) {
    match e {
        A::Assign(_, _, l, r) => {
            if let A::Sym(n, _) = &**l {
                out.insert(n.clone());
            }
            assigned_in_expr(l, out);
            assigned_in_expr(r, out);
        }
        A::Crement(_, _, _, x) => {
            if let A::Sym(n, _) = &**x {
                out.insert(n.clone());
            }
        }
        A::Unary(_, _, x) | A::Stat(_, _, x, _) => assigned_in_expr(x, out),
        A::Binary(_, _, l, r) | A::Logical(_, _, l, r) | A::Compare(_, _, l, r) => {
            assigned_in_expr(l, out);
            assigned_in_expr(r, out);
        }
        A::Ternary(_, c, t, f) => {
            for x in [c, t, f] {
                assigned_in_expr(x, out);
            }
        }
        A::Concat(_, xs) | A::Call(_, _, xs) => xs.iter().for_each(|x| assigned_in_expr(x, out)),
        A::Index(_, _, ks) | A::In(_, ks, _) => {
            ks.iter().flatten().for_each(|x| assigned_in_expr(x, out))
        }
        A::Print(p) => p.args.iter().for_each(|x| assigned_in_expr(x, out)),
        _ => {}
    }
}

/// Lowers one body.
pub struct Lower<'e, 'a> {
    /// The elaboration state (globals, functions).
    pub elab: &'e mut Elab<'a>,
    /// The scope of the body.
    pub scope: Scope,
}

impl Lower<'_, '_> {
    fn global_index(&self, name: &str) -> Option<u32> {
        self.elab.global_names.get(name).copied()
    }

    fn local(&mut self, name: &str, tok: TokId) -> u32 {
        match self.scope.by_name.get(name) {
            Some(&s) => s,
            None => self.scope.add(name, tok),
        }
    }

    /// Checks (and on first use fixes) a global's arity.
    fn arity(&mut self, g: u32, arity: usize, tok: TokId) -> LResult<()> {
        let info = &mut self.elab.globals[g as usize];
        if arity == 0 && info.decl.size.is_some() {
            return Err(Diagnostic::semantic("inconsistent arity", Some(tok)));
        }
        match info.arity {
            None => {
                info.arity = Some((arity, tok));
                Ok(())
            }
            Some((a, _)) if a == arity => Ok(()),
            Some((a, first)) => Err(Diagnostic::semantic(
                format!("inconsistent arity ({a} vs {arity})"),
                Some(tok),
            )
            .with_chain(Diagnostic::semantic(
                format!("arity {a} first inferred here"),
                Some(first),
            ))),
        }
    }

    fn array(&mut self, name: &str, arity: usize, tok: TokId) -> LResult<u32> {
        let Some(g) = self.global_index(name) else {
            return Err(Diagnostic::semantic(
                format!(
                    "unresolved arity-{arity} global array {name}, missing global declaration?"
                ),
                Some(tok),
            ));
        };
        self.arity(g, arity, tok)?;
        Ok(g)
    }

    fn keys(&mut self, keys: &[Option<A>], tok: TokId) -> LResult<Vec<Expr>> {
        keys.iter()
            .map(|k| match k {
                Some(k) => self.expr(k),
                None => Err(Diagnostic::semantic(
                    "wildcard '*' is only allowed in 'in', 'delete' and 'foreach' slices",
                    Some(tok),
                )),
            })
            .collect()
    }

    fn opt_keys(&mut self, keys: &[Option<A>]) -> LResult<Vec<Option<Expr>>> {
        keys.iter()
            .map(|k| k.as_ref().map(|k| self.expr(k)).transpose())
            .collect()
    }

    fn symbol(&mut self, name: &str, tok: TokId, write: bool) -> LResult<Expr> {
        if let Some(&slot) = self.scope.by_name.get(name) {
            let l = &mut self.scope.locals[slot as usize];
            if write {
                l.written = true;
            } else {
                l.read = true;
            }
            return Ok(Expr::Local(slot, tok));
        }
        if let Some((&key, &(v, all))) = self.scope.pvars.get_key_value(name) {
            if !all && self.scope.warned.insert(key) {
                let zero = if v.ty() == crate::ir::Ty::Str {
                    "\"\""
                } else {
                    "0"
                };
                self.elab.warnings.push(Diagnostic::warning(
                    format!("probe variable '{name}' is not defined by every probe point of this handler; where it is not, it reads as {zero}"),
                    Some(tok),
                ));
            }
            return Ok(Expr::PVar(v, tok));
        }
        if let Some(g) = self.global_index(name) {
            self.arity(g, 0, tok)?;
            return Ok(Expr::Global(g, tok));
        }
        let slot = self.local(name, tok);
        let l = &mut self.scope.locals[slot as usize];
        if write {
            l.written = true;
        } else {
            l.read = true;
        }
        Ok(Expr::Local(slot, tok))
    }

    fn lvalue(&mut self, e: &A) -> LResult<LValue> {
        match e {
            A::Sym(name, tok) => match self.symbol(name, *tok, true)? {
                Expr::Local(s, t) => Ok(LValue::Local(s, t)),
                Expr::Global(g, t) => Ok(LValue::Global(g, t)),
                _ => Err(Diagnostic::semantic("Expecting lvalue", Some(*tok))),
            },
            A::Index(tok, Indexable::Sym(name, _), keys) => {
                let g = self.array(name, keys.len(), *tok)?;
                let k = self.keys(keys, *tok)?;
                Ok(LValue::Index(g, k, *tok))
            }
            other => Err(Diagnostic::semantic("Expecting lvalue", Some(other.tok()))),
        }
    }

    fn stat_ref(&mut self, e: &A) -> LResult<StatRef> {
        match e {
            A::Sym(name, tok) => match self.global_index(name) {
                Some(g) => {
                    self.arity(g, 0, *tok)?;
                    Ok(StatRef::Global(g, *tok))
                }
                None => Err(Diagnostic::semantic(
                    "stat locals not supported, missing global declaration? ",
                    Some(*tok),
                )),
            },
            A::Index(tok, Indexable::Sym(name, _), keys) => {
                let g = self.array(name, keys.len(), *tok)?;
                let k = self.keys(keys, *tok)?;
                Ok(StatRef::Index(g, k, *tok))
            }
            other => Err(Diagnostic::semantic(
                "expected a statistic (a global, or an element of a global array)",
                Some(other.tok()),
            )),
        }
    }

    fn hist(&mut self, h: &ast::HistOp) -> LResult<HistRef> {
        let stat = self.stat_ref(&h.stat)?;
        let g = match &stat {
            StatRef::Global(g, _) | StatRef::Index(g, _, _) => *g,
        };
        let kind = match h.linear {
            None => crate::ir::HistKind::Log,
            Some((start, stop, interval)) => {
                if interval <= 0 {
                    return Err(Diagnostic::semantic(
                        "histogram: interval cannot be zero.",
                        Some(h.tok),
                    ));
                }
                let buckets = (stop - start) / interval + 3;
                if !(3..=128).contains(&buckets) || stop <= start {
                    return Err(Diagnostic::semantic(
                        "histogram: Number of buckets must be between 1 and 126; Number_of_buckets = (stop - start) / interval",
                        Some(h.tok),
                    ));
                }
                crate::ir::HistKind::Linear(start, stop, interval)
            }
        };
        let info = &mut self.elab.globals[g as usize];
        match info.hist {
            None => info.hist = Some((kind, h.tok)),
            Some((k, _)) if k == kind => {}
            Some((_, first)) => {
                return Err(Diagnostic::semantic(
                    "multiple histogram types declared on a statistic",
                    Some(h.tok),
                )
                .with_chain(Diagnostic::semantic(
                    "the other histogram was declared here",
                    Some(first),
                )))
            }
        }
        Ok(HistRef { stat, tok: h.tok })
    }

    fn unsupported(tok: TokId, what: &str) -> Diagnostic {
        Diagnostic::semantic(format!("{what} is not supported by socktap (it has no kernel debuginfo; use the tapset's variables)"), Some(tok))
    }

    /// Lowers an expression.
    pub fn expr(&mut self, e: &A) -> LResult<Expr> {
        Ok(match e {
            A::Num(n, tok) => Expr::Num(*n, *tok),
            A::Str(s, tok) => Expr::Str(crate::value::string(s), *tok),
            A::Sym(name, tok) => self.symbol(name, *tok, false)?,
            A::Index(tok, Indexable::Sym(name, _), keys) => {
                let g = self.array(name, keys.len(), *tok)?;
                Expr::Index(g, self.keys(keys, *tok)?, *tok)
            }
            A::Index(tok, Indexable::Hist(_), _) => {
                return Err(Self::unsupported(*tok, "indexing a histogram"))
            }
            A::Unary(_, op, x) => Expr::Unary(*op, Box::new(self.expr(x)?)),
            A::Binary(tok, op, l, r) => {
                Expr::Binary(*op, Box::new(self.expr(l)?), Box::new(self.expr(r)?), *tok)
            }
            A::Logical(_, and, l, r) => {
                Expr::Logical(*and, Box::new(self.expr(l)?), Box::new(self.expr(r)?))
            }
            A::Compare(tok, op, l, r) => {
                Expr::Compare(*op, Box::new(self.expr(l)?), Box::new(self.expr(r)?), *tok)
            }
            A::Concat(tok, parts) => Expr::Concat(
                parts.iter().map(|p| self.expr(p)).collect::<LResult<_>>()?,
                *tok,
            ),
            A::Ternary(tok, c, t, f) => Expr::Ternary(
                Box::new(self.expr(c)?),
                Box::new(self.expr(t)?),
                Box::new(self.expr(f)?),
                *tok,
            ),
            A::Assign(tok, AssignOp::Stat, l, r) => {
                let s = self.stat_ref(l)?;
                Expr::StatAdd(s, Box::new(self.expr(r)?), *tok)
            }
            A::Assign(tok, op, l, r) => {
                // The right side is resolved first: in `x = x + 1` the read
                // comes before the write.
                let value = self.expr(r)?;
                let target = self.lvalue(l)?;
                let kind = match op {
                    AssignOp::Concat => AssignKind::Concat,
                    AssignOp::Op(b) => AssignKind::Op(*b),
                    // `<<<` was taken by the arm above.
                    AssignOp::Set | AssignOp::Stat => AssignKind::Set,
                };
                if kind != AssignKind::Set {
                    self.mark_read(&target);
                }
                Expr::Assign(target, kind, Box::new(value), *tok)
            }
            A::Crement(tok, d, pre, x) => {
                let target = self.lvalue(x)?;
                self.mark_read(&target);
                Expr::Crement(target, *d, *pre, *tok)
            }
            A::In(tok, keys, Indexable::Sym(name, _)) => {
                let g = self.array(name, keys.len(), *tok)?;
                Expr::In(g, self.opt_keys(keys)?, *tok)
            }
            A::In(tok, _, Indexable::Hist(_)) => {
                return Err(Self::unsupported(*tok, "'in' on a histogram"))
            }
            A::Stat(tok, op, x, shift) => {
                let s = self.stat_ref(x)?;
                if let Some(sh) = shift {
                    if !(0..=62).contains(sh) {
                        return Err(Diagnostic::semantic(
                            format!("bit shift ({sh}) out of range <0..62>"),
                            Some(*tok),
                        ));
                    }
                    let g = match &s {
                        StatRef::Global(g, _) | StatRef::Index(g, _, _) => *g,
                    };
                    let info = &mut self.elab.globals[g as usize];
                    match info.shift {
                        Some(old) if old != *sh as u32 && old != 0 => {
                            return Err(Diagnostic::semantic(
                                format!("conflicting variance bit shift ({old} vs {sh})"),
                                Some(*tok),
                            ))
                        }
                        _ => info.shift = Some(*sh as u32),
                    }
                }
                Expr::Stat(*op, s, *tok)
            }
            A::Call(tok, name, args) => self.call(*tok, name, args)?,
            A::Print(p) => self.print(p)?,
            A::Unsupported(tok, what) => return Err(Self::unsupported(*tok, what)),
        })
    }

    fn mark_read(&mut self, target: &LValue) {
        if let LValue::Local(s, _) = target {
            self.scope.locals[*s as usize].read = true;
        }
    }

    fn call(&mut self, tok: TokId, name: &str, args: &[A]) -> LResult<Expr> {
        let lowered: Vec<Expr> = args.iter().map(|a| self.expr(a)).collect::<LResult<_>>()?;
        // Script functions override built-ins of the same name.
        if let Some(&f) = self
            .elab
            .function_names
            .get(&(name.to_string(), args.len()))
        {
            self.elab.calls.push((self.elab.current, f));
            return Ok(Expr::Call(f, lowered, tok));
        }
        if let Some((_, _, b)) = builtins::lookup(name, args.len()) {
            return Ok(Expr::Builtin(b, lowered, tok));
        }
        let mut names: Vec<&str> = builtins::names().collect();
        names.extend(self.elab.function_names.keys().map(|(n, _)| n.as_str()));
        let sugs = suggest(name, names, 5);
        Err(Diagnostic::semantic(
            format!("unresolved function {name}{}", similar(&sugs)),
            Some(tok),
        ))
    }

    fn print(&mut self, p: &ast::Print) -> LResult<Expr> {
        let args: Vec<Expr> = p
            .args
            .iter()
            .map(|a| self.expr(a))
            .collect::<LResult<_>>()?;
        let hist = p.hist.as_ref().map(|h| self.hist(h)).transpose()?;
        let (pieces, auto) = if let Some(f) = &p.format {
            let pieces = format::compile(f).map_err(|m| Diagnostic::semantic(m, Some(p.tok)))?;
            if format::arg_types(&pieces).len() != args.len() {
                return Err(Diagnostic::semantic(
                    "Wrong number of args to formatted print operator",
                    Some(p.tok),
                ));
            }
            (pieces, None)
        } else if p.char {
            (format::compile(b"%c").unwrap_or_default(), None)
        } else {
            (Vec::new(), Some((p.delim.clone(), p.newline)))
        };
        Ok(Expr::Print(Box::new(Print {
            stream: p.stream,
            pieces,
            auto,
            args,
            hist,
            tok: p.tok,
        })))
    }

    /// Lowers a block.
    pub fn block(&mut self, b: &ast::Block) -> LResult<Stmt> {
        Ok(Stmt::Block(
            b.stmts
                .iter()
                .map(|s| self.stmt(s))
                .collect::<LResult<_>>()?,
        ))
    }

    /// Lowers a statement.
    pub fn stmt(&mut self, s: &S) -> LResult<Stmt> {
        Ok(match s {
            S::Block(b) => self.block(b)?,
            S::Null(_) => Stmt::Block(Vec::new()),
            S::Expr(e) => Stmt::Expr(self.expr(e)?, e.tok()),
            S::If {
                tok,
                cond,
                then,
                els,
            } => Stmt::If(
                self.expr(cond)?,
                Box::new(self.stmt(then)?),
                els.as_ref()
                    .map(|e| self.stmt(e))
                    .transpose()?
                    .map(Box::new),
                *tok,
            ),
            S::For {
                tok,
                init,
                cond,
                step,
                body,
            } => Stmt::For(
                init.as_ref().map(|e| self.expr(e)).transpose()?,
                self.expr(cond)?,
                step.as_ref().map(|e| self.expr(e)).transpose()?,
                Box::new(self.stmt(body)?),
                *tok,
            ),
            S::Foreach(f) => self.foreach(f)?,
            S::Break(_) => Stmt::Break,
            S::Continue(_) => Stmt::Continue,
            S::Next(tok) => {
                if self.scope.function {
                    return Err(Diagnostic::semantic(
                        "next statement only allowed in probe handlers",
                        Some(*tok),
                    ));
                }
                Stmt::Next
            }
            S::Return(_, v) => Stmt::Return(v.as_ref().map(|e| self.expr(e)).transpose()?),
            S::Delete(tok, target) => Stmt::Delete(self.delete(target)?, *tok),
            S::Try {
                body, var, catch, ..
            } => {
                let body = self.block(body)?;
                let slot = var.as_ref().map(|(n, t)| {
                    let s = self.local(n, *t);
                    self.scope.locals[s as usize].written = true;
                    s
                });
                Stmt::Try(Box::new(body), slot, Box::new(self.block(catch)?))
            }
        })
    }

    fn delete(&mut self, target: &A) -> LResult<DeleteTarget> {
        match target {
            A::Sym(name, tok) => {
                if let Some(&slot) = self.scope.by_name.get(name) {
                    return Ok(DeleteTarget::Local(slot));
                }
                match self.global_index(name) {
                    Some(g) => {
                        let info = &self.elab.globals[g as usize];
                        let array =
                            info.decl.size.is_some() || info.arity.is_some_and(|(a, _)| a > 0);
                        if array {
                            Ok(DeleteTarget::Array(g))
                        } else if info.arity.is_none() {
                            // Arity not known yet: the interpreter empties
                            // an array or resets a scalar, whichever it is.
                            let _ = tok;
                            Ok(DeleteTarget::Array(g))
                        } else {
                            Ok(DeleteTarget::Global(g))
                        }
                    }
                    None => {
                        let slot = self.local(name, *tok);
                        self.scope.locals[slot as usize].written = true;
                        Ok(DeleteTarget::Local(slot))
                    }
                }
            }
            A::Index(tok, Indexable::Sym(name, _), keys) => {
                let g = self.array(name, keys.len(), *tok)?;
                Ok(DeleteTarget::Element(g, self.opt_keys(keys)?, *tok))
            }
            other => Err(Diagnostic::semantic(
                "unresolved array in delete statement",
                Some(other.tok()),
            )),
        }
    }

    fn foreach(&mut self, f: &ast::Foreach) -> LResult<Stmt> {
        let Indexable::Sym(name, atok) = &f.base else {
            return Err(Self::unsupported(f.tok, "iterating over histogram buckets"));
        };
        let g = self.array(name, f.keys.len(), *atok)?;
        if !f.slice.is_empty() && f.slice.len() != f.keys.len() {
            return Err(Diagnostic::semantic(
                format!(
                    "unresolved arity-{} global array {name}, missing global declaration?",
                    f.slice.len()
                ),
                Some(*atok),
            ));
        }
        let slice = self.opt_keys(&f.slice)?;
        let limit = f.limit.as_ref().map(|e| self.expr(e)).transpose()?;
        let mut keys = Vec::new();
        for (k, t) in &f.keys {
            let s = self.local(k, *t);
            self.scope.locals[s as usize].written = true;
            keys.push(s);
        }
        let value = f.value.as_ref().map(|(v, t)| {
            let s = self.local(v, *t);
            self.scope.locals[s as usize].written = true;
            s
        });
        let body = self.stmt(&f.body)?;
        Ok(Stmt::Foreach(Box::new(Foreach {
            array: g,
            keys,
            value,
            sort: f.sort,
            sort_aggr: f.sort_aggr.unwrap_or(ast::StatOp::Count),
            slice,
            limit,
            body,
            tok: f.tok,
        })))
    }
}
