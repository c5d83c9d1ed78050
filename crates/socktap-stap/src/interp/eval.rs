//! Expressions: values, operators, assignments, arrays, statistics,
//! script function calls and printing.

use crate::ast::{BinOp, CmpOp, StatOp, UnOp};
use crate::ir::{AssignKind, Expr, LValue, PVar, Print, StatRef};
use crate::value::{self, Value};

use super::store::{Overflow, Slot};
use super::{rt, Interp, RtError, R};

impl Interp<'_> {
    /// A probe variable of the current event (0 or "" without one).
    pub(super) fn pvar(&self, v: PVar) -> Value {
        let Some(ev) = &self.event else {
            return Value::default_of(v.ty());
        };
        Value::Long(match v {
            PVar::Name => return Value::Str(self.pp.clone()),
            PVar::DevName => return Value::Str(ev.dev.clone().unwrap_or_else(value::empty)),
            PVar::Success => i64::from(ev.success()),
            PVar::Size | PVar::Length => ev.sock.size,
            PVar::Protocol => i64::from(ev.sock.protocol),
            PVar::Family => i64::from(ev.sock.family),
            PVar::State => i64::from(ev.sock.state),
            PVar::Flags => ev.sock.flags as i64,
            PVar::Type => i64::from(ev.sock.sock_type),
            PVar::Requester => i64::from(ev.sock.requester),
            PVar::Err => i64::from(ev.sock.err),
        })
    }

    /// Evaluates keys into the reusable key buffer (taken from `self`;
    /// give it back with `self.keybuf = buf`).
    fn keys(&mut self, keys: &[Expr]) -> R<Vec<Value>> {
        let mut buf = std::mem::take(&mut self.keybuf);
        buf.clear();
        for k in keys {
            match self.eval(k) {
                Ok(v) => buf.push(v),
                Err(e) => {
                    self.keybuf = buf;
                    return Err(e);
                }
            }
        }
        Ok(buf)
    }

    pub(super) fn overflow(&self, g: u32, tok: crate::source::TokId) -> Box<RtError> {
        let what = match self.prog.globals[g as usize].size {
            Some(n) => format!("size limit ({n})"),
            None => "MAXMAPENTRIES".into(),
        };
        rt(format!("Array overflow, check {what}"), tok)
    }

    /// A number-valued expression.
    pub(super) fn long(&mut self, e: &Expr) -> R<i64> {
        match e {
            Expr::Num(n, _) => Ok(*n),
            _ => Ok(self.eval(e)?.as_long()),
        }
    }

    /// Evaluates an expression.
    pub(super) fn eval(&mut self, e: &Expr) -> R<Value> {
        Ok(match e {
            Expr::Num(n, _) => Value::Long(*n),
            Expr::Str(s, _) => Value::Str(s.clone()),
            Expr::Local(s, _) => self.stack[self.base + *s as usize].clone(),
            Expr::Global(g, _) => match &self.globals[*g as usize] {
                Slot::Scalar(v) => v.clone(),
                _ => Value::Long(0),
            },
            Expr::PVar(v, _) => self.pvar(*v),
            Expr::Index(g, keys, _) => {
                let k = self.keys(keys)?;
                let v = match &self.globals[*g as usize] {
                    Slot::Array(a) => a.get(&k),
                    _ => Value::Long(0),
                };
                self.keybuf = k;
                v
            }
            Expr::In(g, keys, _) => {
                let mut pattern = Vec::with_capacity(keys.len());
                for k in keys {
                    pattern.push(k.as_ref().map(|k| self.eval(k)).transpose()?);
                }
                let hit = match &self.globals[*g as usize] {
                    Slot::Array(a) if pattern.iter().all(Option::is_some) => {
                        let k: Vec<Value> = pattern.into_iter().flatten().collect();
                        a.contains(&k)
                    }
                    Slot::Array(a) => a.keys().iter().any(|k| super::store::matches(k, &pattern)),
                    _ => false,
                };
                Value::Long(i64::from(hit))
            }
            Expr::Unary(op, x) => {
                let n = self.long(x)?;
                Value::Long(match op {
                    UnOp::Neg => n.wrapping_neg(),
                    UnOp::Plus => n,
                    UnOp::Not => i64::from(n == 0),
                    UnOp::BitNot => !n,
                })
            }
            Expr::Binary(op, l, r, tok) => {
                let a = self.long(l)?;
                let b = self.long(r)?;
                Value::Long(arith(*op, a, b).ok_or_else(|| rt("division by 0", *tok))?)
            }
            Expr::Logical(and, l, r) => {
                let a = self.long(l)? != 0;
                let v = if *and {
                    a && self.long(r)? != 0
                } else {
                    a || self.long(r)? != 0
                };
                Value::Long(i64::from(v))
            }
            Expr::Compare(op, l, r, _) => {
                let a = self.eval(l)?;
                let b = self.eval(r)?;
                let ord = match (&a, &b) {
                    (Value::Long(x), Value::Long(y)) => x.cmp(y),
                    (Value::Str(x), Value::Str(y)) => x.cmp(y),
                    _ => std::cmp::Ordering::Equal,
                };
                let v = match op {
                    CmpOp::Eq => ord.is_eq(),
                    CmpOp::Ne => ord.is_ne(),
                    CmpOp::Lt => ord.is_lt(),
                    CmpOp::Le => ord.is_le(),
                    CmpOp::Gt => ord.is_gt(),
                    CmpOp::Ge => ord.is_ge(),
                };
                Value::Long(i64::from(v))
            }
            Expr::Concat(parts, _) => {
                let mut buf = Vec::new();
                for p in parts {
                    let v = self.eval(p)?;
                    if let Value::Str(s) = v {
                        buf.extend_from_slice(&s);
                    }
                }
                Value::Str(self.truncate(buf))
            }
            Expr::Ternary(c, t, f, _) => {
                if self.long(c)? != 0 {
                    self.eval(t)?
                } else {
                    self.eval(f)?
                }
            }
            Expr::Assign(lv, kind, value, tok) => {
                let v = self.eval(value)?;
                self.assign(lv, *kind, v, *tok)?
            }
            Expr::Crement(lv, delta, pre, tok) => {
                let old = self.read_lvalue(lv)?;
                let new = old.wrapping_add(*delta);
                self.assign(lv, AssignKind::Set, Value::Long(new), *tok)?;
                Value::Long(if *pre { new } else { old })
            }
            Expr::StatAdd(s, v, tok) => {
                let n = self.long(v)?;
                self.stat_add(s, n, *tok)?;
                Value::Long(n)
            }
            Expr::Stat(op, s, tok) => Value::Long(self.stat_get(*op, s, *tok)?),
            Expr::Call(f, args, tok) => self.call(*f, args, *tok)?,
            Expr::Builtin(b, args, tok) => self.builtin(*b, args, *tok)?,
            Expr::Print(p) => self.print(p)?,
        })
    }

    fn read_lvalue(&mut self, lv: &LValue) -> R<i64> {
        Ok(match lv {
            LValue::Local(s, _) => self.stack[self.base + *s as usize].as_long(),
            LValue::Global(g, _) => match &self.globals[*g as usize] {
                Slot::Scalar(v) => v.as_long(),
                _ => 0,
            },
            LValue::Index(g, keys, _) => {
                let k = self.keys(keys)?;
                let v = match &self.globals[*g as usize] {
                    Slot::Array(a) => a.get(&k).as_long(),
                    _ => 0,
                };
                self.keybuf = k;
                v
            }
        })
    }

    /// Stores into an lvalue; returns the value stored.
    fn assign(
        &mut self,
        lv: &LValue,
        kind: AssignKind,
        v: Value,
        tok: crate::source::TokId,
    ) -> R<Value> {
        let combine = |me: &Self, old: Value, v: Value| -> R<Value> {
            Ok(match kind {
                AssignKind::Set => v,
                AssignKind::Concat => {
                    let mut buf = old.into_str().to_vec();
                    buf.extend_from_slice(&v.into_str());
                    Value::Str(me.truncate(buf))
                }
                AssignKind::Op(op) => Value::Long(
                    arith(op, old.as_long(), v.as_long())
                        .ok_or_else(|| rt("division by 0", tok))?,
                ),
            })
        };
        match lv {
            LValue::Local(s, _) => {
                let i = self.base + *s as usize;
                let old = std::mem::replace(&mut self.stack[i], Value::Long(0));
                let new = combine(self, old.clone(), v);
                let new = match new {
                    Ok(n) => n,
                    Err(e) => {
                        self.stack[i] = old;
                        return Err(e);
                    }
                };
                self.stack[i] = new.clone();
                Ok(new)
            }
            LValue::Global(g, _) => {
                let old = match &self.globals[*g as usize] {
                    Slot::Scalar(o) => o.clone(),
                    _ => Value::Long(0),
                };
                let new = combine(self, old, v)?;
                self.globals[*g as usize] = Slot::Scalar(new.clone());
                Ok(new)
            }
            LValue::Index(g, keys, itok) => {
                let k = self.keys(keys)?;
                let r = self.assign_elem(*g, &k, kind, v, tok, *itok);
                self.keybuf = k;
                r
            }
        }
    }

    pub(super) fn assign_elem(
        &mut self,
        g: u32,
        k: &[Value],
        kind: AssignKind,
        v: Value,
        tok: crate::source::TokId,
        itok: crate::source::TokId,
    ) -> R<Value> {
        let Slot::Array(a) = &mut self.globals[g as usize] else {
            return Ok(v);
        };
        let res: Result<Value, Overflow> = match (kind, v) {
            (AssignKind::Set, Value::Str(s)) => a.set_str(k, s.clone()).map(|()| Value::Str(s)),
            (AssignKind::Set, Value::Long(n)) => a.long_entry(k).map(|e| {
                *e = n;
                Value::Long(n)
            }),
            (AssignKind::Concat, v) => {
                let mut buf = a.get(k).into_str().to_vec();
                buf.extend_from_slice(&v.into_str());
                buf.truncate(self.limits.maxstringlen.saturating_sub(1));
                let s = value::string(&buf);
                a.set_str(k, s.clone()).map(|()| Value::Str(s))
            }
            (AssignKind::Op(op), v) => {
                let b = v.as_long();
                if matches!(op, BinOp::Div | BinOp::Mod) && b == 0 {
                    return Err(rt("division by 0", tok));
                }
                a.long_entry(k).map(|e| {
                    *e = arith(op, *e, b).unwrap_or(0);
                    Value::Long(*e)
                })
            }
        };
        res.map_err(|Overflow| self.overflow(g, itok))
    }

    fn stat_add(&mut self, s: &StatRef, n: i64, tok: crate::source::TokId) -> R<()> {
        let _ = tok;
        match s {
            StatRef::Global(g, _) => {
                let info = &self.prog.globals[*g as usize];
                if let Slot::Stat(st) = &mut self.globals[*g as usize] {
                    st.add(n, info.shift, info.hist);
                }
                Ok(())
            }
            StatRef::Index(g, keys, itok) => {
                let k = self.keys(keys)?;
                let info = &self.prog.globals[*g as usize];
                let r = match &mut self.globals[*g as usize] {
                    Slot::Array(a) => a.stat_entry(&k).map(|st| st.add(n, info.shift, info.hist)),
                    _ => Ok(()),
                };
                self.keybuf = k;
                r.map_err(|Overflow| self.overflow(*g, *itok))
            }
        }
    }

    /// Runs `f` on a statistic (an absent element is an empty one).
    pub(super) fn with_stat<T>(
        &mut self,
        s: &StatRef,
        f: impl FnOnce(&super::stats::Stat, u32, bool) -> T,
    ) -> R<T> {
        let empty = super::stats::Stat::default();
        match s {
            StatRef::Global(g, _) => {
                let shift = self.prog.globals[*g as usize].shift;
                Ok(match &self.globals[*g as usize] {
                    Slot::Stat(st) => f(st, shift, true),
                    _ => f(&empty, shift, true),
                })
            }
            StatRef::Index(g, keys, _) => {
                let k = self.keys(keys)?;
                let shift = self.prog.globals[*g as usize].shift;
                let r = match &self.globals[*g as usize] {
                    Slot::Array(a) => f(a.stat(&k).unwrap_or(&empty), shift, false),
                    _ => f(&empty, shift, false),
                };
                self.keybuf = k;
                Ok(r)
            }
        }
    }

    fn stat_get(&mut self, op: StatOp, s: &StatRef, tok: crate::source::TokId) -> R<i64> {
        self.with_stat(s, |st, shift, scalar| st.get(op, shift, scalar))?
            .ok_or_else(|| rt("empty aggregate", tok))
    }

    fn call(&mut self, f: u32, args: &[Expr], tok: crate::source::TokId) -> R<Value> {
        if self.depth >= self.max_nesting {
            return Err(rt("MAXNESTING exceeded", tok));
        }
        let func = &self.prog.functions[f as usize];
        let mut vals = Vec::with_capacity(func.locals.len());
        for a in args {
            vals.push(self.eval(a)?);
        }
        for ty in &func.locals[args.len()..] {
            vals.push(Value::default_of(*ty));
        }
        let saved = self.base;
        self.base = self.stack.len();
        self.stack.extend(vals);
        self.depth += 1;
        let r = self.stmt(&func.body);
        self.depth -= 1;
        self.stack.truncate(self.base);
        self.base = saved;
        r?;
        let default = Value::default_of(func.ret.unwrap_or(crate::ir::Ty::Long));
        Ok(std::mem::replace(&mut self.ret, default))
    }

    fn print(&mut self, p: &Print) -> R<Value> {
        let mut buf = Vec::new();
        if let Some(h) = &p.hist {
            let g = match &h.stat {
                StatRef::Global(g, _) | StatRef::Index(g, _, _) => *g,
            };
            let kind = self.prog.globals[g as usize]
                .hist
                .unwrap_or(crate::ir::HistKind::Log);
            let ok = self.with_stat(&h.stat, |st, _, _| {
                if st.count == 0 {
                    return false;
                }
                st.histogram(kind, &mut buf);
                true
            })?;
            if !ok {
                return Err(rt("empty aggregate", h.tok));
            }
        } else {
            let mut vals = Vec::with_capacity(p.args.len());
            for a in &p.args {
                vals.push(self.eval(a)?);
            }
            match &p.auto {
                Some((delim, newline)) => {
                    for (i, v) in vals.iter().enumerate() {
                        if i > 0 {
                            if let Some(d) = delim {
                                buf.extend_from_slice(d);
                            }
                        }
                        match v {
                            Value::Long(n) => buf.extend_from_slice(n.to_string().as_bytes()),
                            Value::Str(s) => buf.extend_from_slice(s),
                        }
                    }
                    if *newline {
                        buf.push(b'\n');
                    }
                }
                None => crate::format::render(&mut buf, &p.pieces, &vals),
            }
        }
        if p.stream {
            self.out.extend_from_slice(&buf);
            Ok(Value::Long(0))
        } else {
            Ok(Value::Str(self.truncate(buf)))
        }
    }
}

/// Integer arithmetic as stap's runtime does it (wrapping); `None` for a
/// division by zero.
pub fn arith(op: BinOp, a: i64, b: i64) -> Option<i64> {
    Some(match op {
        BinOp::Add => a.wrapping_add(b),
        BinOp::Sub => a.wrapping_sub(b),
        BinOp::Mul => a.wrapping_mul(b),
        BinOp::Div => {
            if b == 0 {
                return None;
            }
            a.wrapping_div(b)
        }
        BinOp::Mod => {
            if b == 0 {
                return None;
            }
            a.wrapping_rem(b)
        }
        BinOp::Shl => a.wrapping_shl(b as u32),
        BinOp::Shr => a.wrapping_shr(b as u32),
        BinOp::Ushr => ((a as u64).wrapping_shr(b as u32)) as i64,
        BinOp::And => a & b,
        BinOp::Or => a | b,
        BinOp::Xor => a ^ b,
    })
}
