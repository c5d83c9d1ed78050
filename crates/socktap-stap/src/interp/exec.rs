//! Statements: blocks, conditionals, loops, `foreach` with sorting and
//! `limit`, `delete`, `try`/`catch`. Every statement and every loop
//! iteration counts against MAXACTION.

use crate::ir::{DeleteTarget, Foreach, Stmt};
use crate::value::Value;

use super::store::Slot;
use super::{Flow, Interp, R};

impl Interp<'_> {
    /// Runs a statement.
    pub(super) fn stmt(&mut self, s: &Stmt) -> R<Flow> {
        match s {
            Stmt::Block(v) => {
                for s in v {
                    let f = self.stmt(s)?;
                    if f != Flow::Normal {
                        return Ok(f);
                    }
                }
                Ok(Flow::Normal)
            }
            Stmt::Expr(e, tok) => {
                self.action(*tok)?;
                self.eval(e)?;
                Ok(Flow::Normal)
            }
            Stmt::If(c, t, e, tok) => {
                self.action(*tok)?;
                if self.long(c)? != 0 {
                    self.stmt(t)
                } else if let Some(e) = e {
                    self.stmt(e)
                } else {
                    Ok(Flow::Normal)
                }
            }
            Stmt::For(init, cond, step, body, tok) => {
                if let Some(i) = init {
                    self.eval(i)?;
                }
                loop {
                    self.action(*tok)?;
                    if self.long(cond)? == 0 {
                        break;
                    }
                    match self.stmt(body)? {
                        Flow::Break => break,
                        Flow::Next => return Ok(Flow::Next),
                        Flow::Return => return Ok(Flow::Return),
                        Flow::Normal | Flow::Continue => {}
                    }
                    if let Some(s) = step {
                        self.eval(s)?;
                    }
                }
                Ok(Flow::Normal)
            }
            Stmt::Foreach(f) => self.foreach(f),
            Stmt::Break => Ok(Flow::Break),
            Stmt::Continue => Ok(Flow::Continue),
            Stmt::Next => Ok(Flow::Next),
            Stmt::Return(v) => {
                if let Some(v) = v {
                    self.ret = self.eval(v)?;
                }
                Ok(Flow::Return)
            }
            Stmt::Delete(d, tok) => {
                self.action(*tok)?;
                self.delete(d)?;
                Ok(Flow::Normal)
            }
            Stmt::Try(body, var, catch) => match self.stmt(body) {
                Ok(f) => Ok(f),
                Err(e) if e.fatal => Err(e),
                Err(e) => {
                    if let Some(v) = var {
                        let i = self.base + *v as usize;
                        self.stack[i] = Value::Str(crate::value::string(e.msg.as_bytes()));
                    }
                    self.stmt(catch)
                }
            },
        }
    }

    fn delete(&mut self, d: &DeleteTarget) -> R<()> {
        match d {
            DeleteTarget::Local(s) => {
                let i = self.base + *s as usize;
                self.stack[i] = match self.stack[i] {
                    Value::Long(_) => Value::Long(0),
                    Value::Str(_) => Value::Str(crate::value::empty()),
                };
            }
            DeleteTarget::Global(g) | DeleteTarget::Array(g) => {
                let ty = self.prog.globals[*g as usize].ty;
                self.globals[*g as usize].reset(ty);
            }
            DeleteTarget::Element(g, keys, _) => {
                let mut pattern = Vec::with_capacity(keys.len());
                for k in keys {
                    pattern.push(k.as_ref().map(|k| self.eval(k)).transpose()?);
                }
                if let Slot::Array(a) = &mut self.globals[*g as usize] {
                    if pattern.iter().all(Option::is_some) {
                        let k: Vec<Value> = pattern.into_iter().flatten().collect();
                        a.remove(&k);
                    } else {
                        a.remove_matching(&pattern);
                    }
                }
            }
        }
        Ok(())
    }

    fn foreach(&mut self, f: &Foreach) -> R<Flow> {
        // The limit is evaluated once, before anything else.
        let limit = f.limit.as_ref().map(|l| self.long(l)).transpose()?;
        let mut slice = Vec::with_capacity(f.slice.len());
        for k in &f.slice {
            slice.push(k.as_ref().map(|k| self.eval(k)).transpose()?);
        }
        let g = &self.prog.globals[f.array as usize];
        let (shift, _) = (g.shift, ());
        let keys = match &mut self.globals[f.array as usize] {
            Slot::Array(a) => {
                if let Some((col, dir)) = f.sort {
                    a.sort(col, dir, f.sort_aggr, shift, limit);
                }
                a.keys()
            }
            _ => return Ok(Flow::Normal),
        };
        for (done, key) in (0_i64..).zip(keys) {
            self.action(f.tok)?;
            // stap counts every element against the limit, matching or not.
            if limit.is_some_and(|l| done >= l) {
                break;
            }
            if !slice.is_empty() && !super::store::matches(&key, &slice) {
                continue;
            }
            for (slot, k) in f.keys.iter().zip(key.iter()) {
                let i = self.base + *slot as usize;
                self.stack[i] = k.clone();
            }
            if let Some(v) = f.value {
                let val = match &self.globals[f.array as usize] {
                    Slot::Array(a) => a.get(&key),
                    _ => Value::Long(0),
                };
                let i = self.base + v as usize;
                self.stack[i] = val;
            }
            match self.stmt(&f.body)? {
                Flow::Break => break,
                Flow::Next => return Ok(Flow::Next),
                Flow::Return => return Ok(Flow::Return),
                Flow::Normal | Flow::Continue => {}
            }
        }
        Ok(Flow::Normal)
    }
}
