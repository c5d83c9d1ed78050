//! stap's rule that a global written but never read is printed at exit.
//! Reads are counted as stap's `varuse_collecting_visitor` counts them:
//! over every handler (`probe never` included) and the functions they
//! call. `x++` or `x += 1` alone is a write that does not count as a read;
//! the same inside an argument, an index or a `delete` does.

use crate::ast::StatOp;
use crate::format;
use crate::ir::{
    DeleteTarget, Expr, Foreach, Global, Handler, HistRef, LValue, Print, StatRef, Stmt, Ty,
};
use crate::probes::{Point, Resolved};
use crate::source::TokId;

#[derive(Default)]
struct Use {
    written: Vec<bool>,
    read: Vec<bool>,
    used: Vec<bool>,
    visited: Vec<bool>,
}

#[derive(Clone, Copy)]
enum Access {
    Write,
    Read,
    ReadWrite,
}

struct Visitor<'a> {
    u: Use,
    functions: &'a [crate::ir::Function],
    // stap's current_lvalue_read: inside arguments, indexes, conditions of
    // ?: and deletes, a read-modify-write counts as a use.
    in_read: bool,
}

impl Visitor<'_> {
    fn read(&mut self, g: u32) {
        self.u.read[g as usize] = true;
        self.u.used[g as usize] = true;
    }

    fn lrvalue(&mut self, g: u32) {
        self.u.written[g as usize] = true;
        self.u.read[g as usize] = true;
        if self.in_read {
            self.u.used[g as usize] = true;
        }
    }

    fn reading<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        let old = std::mem::replace(&mut self.in_read, true);
        let r = f(self);
        self.in_read = old;
        r
    }

    fn keys(&mut self, keys: &[Expr]) {
        self.reading(|v| keys.iter().for_each(|k| v.expr(k)));
    }

    /// A global (or an element, whose keys are read) used as `how`.
    fn target(&mut self, g: u32, keys: Option<&[Expr]>, how: Access) {
        if let Some(k) = keys {
            self.keys(k);
        }
        match how {
            Access::Write => self.u.written[g as usize] = true,
            Access::Read => self.read(g),
            Access::ReadWrite => self.lrvalue(g),
        }
    }

    fn stat(&mut self, s: &StatRef, write: bool) {
        let how = if write { Access::Write } else { Access::Read };
        match s {
            StatRef::Global(g, _) => self.target(*g, None, how),
            StatRef::Index(g, keys, _) => self.target(*g, Some(keys), how),
        }
    }

    fn lvalue(&mut self, lv: &LValue, pure: bool) {
        let how = if pure {
            Access::Write
        } else {
            Access::ReadWrite
        };
        match lv {
            LValue::Local(..) => {}
            LValue::Global(g, _) => self.target(*g, None, how),
            LValue::Index(g, keys, _) => self.target(*g, Some(keys), how),
        }
    }

    fn expr(&mut self, e: &Expr) {
        match e {
            Expr::Num(..) | Expr::Str(..) | Expr::Local(..) | Expr::PVar(..) => {}
            Expr::Global(g, _) => self.read(*g),
            Expr::Index(g, keys, _) => {
                self.keys(keys);
                self.read(*g);
            }
            Expr::In(g, keys, _) => {
                self.reading(|v| keys.iter().flatten().for_each(|k| v.expr(k)));
                self.read(*g);
            }
            Expr::Unary(_, x) => self.expr(x),
            Expr::Binary(_, l, r, _) | Expr::Logical(_, l, r) | Expr::Compare(_, l, r, _) => {
                self.expr(l);
                self.expr(r);
            }
            Expr::Concat(xs, _) => xs.iter().for_each(|x| self.expr(x)),
            Expr::Ternary(c, t, f, _) => {
                self.reading(|v| v.expr(c));
                self.expr(t);
                self.expr(f);
            }
            Expr::Assign(lv, kind, value, _) => {
                self.lvalue(lv, *kind == crate::ir::AssignKind::Set);
                self.expr(value);
            }
            Expr::Crement(lv, ..) => self.lvalue(lv, false),
            Expr::StatAdd(s, value, _) => {
                self.stat(s, true);
                self.expr(value);
            }
            Expr::Stat(_, s, _) => self.stat(s, false),
            Expr::Call(f, args, _) => {
                self.reading(|v| args.iter().for_each(|a| v.expr(a)));
                self.function(*f);
            }
            Expr::Builtin(_, args, _) => self.reading(|v| args.iter().for_each(|a| v.expr(a))),
            Expr::Print(p) => self.reading(|v| {
                p.args.iter().for_each(|a| v.expr(a));
                if let Some(h) = &p.hist {
                    v.stat(&h.stat, false);
                }
            }),
        }
    }

    fn function(&mut self, f: u32) {
        if std::mem::replace(&mut self.u.visited[f as usize], true) {
            return;
        }
        let old = std::mem::replace(&mut self.in_read, false);
        let body = &self.functions[f as usize].body;
        self.stmt(body);
        self.in_read = old;
    }

    fn stmt(&mut self, s: &Stmt) {
        match s {
            Stmt::Block(v) => v.iter().for_each(|s| self.stmt(s)),
            Stmt::Expr(e, _) => self.expr(e),
            Stmt::If(c, t, e, _) => {
                self.expr(c);
                self.stmt(t);
                if let Some(e) = e {
                    self.stmt(e);
                }
            }
            Stmt::For(i, c, st, b, _) => {
                for e in [i.as_ref(), Some(c), st.as_ref()].into_iter().flatten() {
                    self.expr(e);
                }
                self.stmt(b);
            }
            Stmt::Foreach(f) => {
                self.read(f.array);
                if f.sort.is_some() {
                    self.u.written[f.array as usize] = true;
                }
                self.reading(|v| {
                    f.slice.iter().flatten().for_each(|e| v.expr(e));
                    if let Some(l) = &f.limit {
                        v.expr(l);
                    }
                });
                self.stmt(&f.body);
            }
            Stmt::Return(Some(e)) => self.expr(e),
            Stmt::Delete(d, _) => self.reading(|v| match d {
                DeleteTarget::Local(_) => {}
                DeleteTarget::Global(g) | DeleteTarget::Array(g) => v.lrvalue(*g),
                DeleteTarget::Element(g, keys, _) => {
                    keys.iter().flatten().for_each(|k| v.expr(k));
                    v.lrvalue(*g);
                }
            }),
            Stmt::Try(b, _, c) => {
                self.stmt(b);
                self.stmt(c);
            }
            Stmt::Return(None) | Stmt::Break | Stmt::Continue | Stmt::Next => {}
        }
    }
}

/// The globals stap would print at exit: written, and not both read and used.
pub fn unread_globals(
    globals: &[Global],
    functions: &[crate::ir::Function],
    handlers: &[Handler],
) -> Vec<u32> {
    let n = globals.len();
    let mut v = Visitor {
        u: Use {
            written: vec![false; n],
            read: vec![false; n],
            used: vec![false; n],
            visited: vec![false; functions.len()],
        },
        functions,
        in_read: false,
    };
    for h in handlers {
        v.stmt(&h.body);
    }
    (0..n as u32)
        .filter(|&g| {
            let i = g as usize;
            v.u.written[i] && !(v.u.read[i] && v.u.used[i])
        })
        .collect()
}

fn lit(s: &str) -> format::Piece {
    format::Piece::Lit(s.as_bytes().to_vec())
}

fn conv(spec: &str) -> Vec<format::Piece> {
    format::compile(spec.as_bytes()).unwrap_or_default()
}

fn stats_pieces(
    pieces: &mut Vec<format::Piece>,
    args: &mut Vec<Expr>,
    s: impl Fn() -> StatRef,
    tok: TokId,
) {
    for op in [
        StatOp::Count,
        StatOp::Min,
        StatOp::Max,
        StatOp::Sum,
        StatOp::Avg,
    ] {
        pieces.push(lit(&format!(" {}=", op.name())));
        pieces.extend(conv("%d"));
        args.push(Expr::Stat(op, s(), tok));
    }
}

/// The `probe end` stap synthesizes to print global `g`.
pub fn display_handler(g: u32, global: &Global) -> Handler {
    let tok = global.tok;
    let print = |pieces, args| {
        Stmt::Expr(
            Expr::Print(Box::new(Print {
                stream: true,
                pieces,
                auto: None,
                args,
                hist: None::<HistRef>,
                tok,
            })),
            tok,
        )
    };
    let mut locals = Vec::new();
    let mut pieces = vec![lit(&global.name)];
    let mut args = Vec::new();
    let body = if global.keys.is_empty() {
        match global.ty {
            Ty::Stats => {
                let count = Expr::Stat(StatOp::Count, StatRef::Global(g, tok), tok);
                let empty = Expr::Compare(
                    crate::ast::CmpOp::Eq,
                    Box::new(count),
                    Box::new(Expr::Num(0, tok)),
                    tok,
                );
                stats_pieces(&mut pieces, &mut args, || StatRef::Global(g, tok), tok);
                pieces.push(lit("\n"));
                Stmt::If(
                    empty,
                    Box::new(print(
                        vec![lit(&format!("{} @count=0x0\n", global.name))],
                        Vec::new(),
                    )),
                    Some(Box::new(print(pieces, args))),
                    tok,
                )
            }
            Ty::Str => {
                pieces.push(lit("=\""));
                pieces.extend(conv("%s"));
                pieces.push(lit("\"\n"));
                print(pieces, vec![Expr::Global(g, tok)])
            }
            Ty::Long => {
                pieces.push(lit("="));
                pieces.extend(conv("%d"));
                pieces.push(lit("\n"));
                print(pieces, vec![Expr::Global(g, tok)])
            }
        }
    } else {
        pieces.push(lit("["));
        let mut keys = Vec::new();
        for (i, kt) in global.keys.iter().enumerate() {
            if i > 0 {
                pieces.push(lit(","));
            }
            let slot = locals.len() as u32;
            locals.push(*kt);
            keys.push(slot);
            if *kt == Ty::Str {
                pieces.push(lit("\""));
                pieces.extend(conv("%s"));
                pieces.push(lit("\""));
            } else {
                pieces.extend(conv("%d"));
            }
            args.push(Expr::Local(slot, tok));
        }
        pieces.push(lit("]"));
        let key_exprs = || {
            keys.iter()
                .map(|&k| Expr::Local(k, tok))
                .collect::<Vec<_>>()
        };
        let mut value = None;
        match global.ty {
            Ty::Stats => stats_pieces(
                &mut pieces,
                &mut args,
                || StatRef::Index(g, key_exprs(), tok),
                tok,
            ),
            ty => {
                let slot = locals.len() as u32;
                locals.push(ty);
                value = Some(slot);
                if ty == Ty::Str {
                    pieces.push(lit("=\""));
                    pieces.extend(conv("%s"));
                    pieces.push(lit("\""));
                } else {
                    pieces.push(lit("="));
                    pieces.extend(conv("%d"));
                }
                args.push(Expr::Local(slot, tok));
            }
        }
        pieces.push(lit("\n"));
        Stmt::Foreach(Box::new(Foreach {
            array: g,
            keys: keys.clone(),
            value,
            sort: Some((0, -1)),
            sort_aggr: StatOp::Count,
            slice: Vec::new(),
            limit: None,
            body: print(pieces, args),
            tok,
        }))
    };
    Handler {
        points: vec![Resolved {
            point: Point::End(0),
            name: "end".into(),
            optional: false,
        }],
        locals,
        pvar_locals: Vec::new(),
        body,
        tok,
        synthetic: true,
    }
}
