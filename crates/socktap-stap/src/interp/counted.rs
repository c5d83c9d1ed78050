//! Handlers counted in the kernel (`counting`): they no longer run on
//! events; their rows are added into the arrays they write instead.

use std::rc::Rc;

use socktap::RowKey;

use crate::ast::BinOp;
use crate::counting::{self, Effect, Update};
use crate::ir::AssignKind;
use crate::value::Value;

use super::store::{Overflow, Slot};
use super::Interp;

impl Interp<'_> {
    /// Stops running these handlers on events: the kernel counts them.
    pub fn count_in_kernel(&mut self, handlers: &[u32]) {
        for list in self.dispatch.values_mut() {
            if list.iter().any(|(h, _)| handlers.contains(h)) {
                let kept: Vec<_> = list
                    .iter()
                    .filter(|(h, _)| !handlers.contains(h))
                    .cloned()
                    .collect();
                *list = Rc::from(kept);
            }
        }
    }

    /// Adds one kernel row into what a counted handler's statements
    /// write, as if it had run `n` times on events of that row whose
    /// sizes add up to `sum`. An array overflow is the runtime error the
    /// statement would have raised, and ends the session.
    pub fn add_counts(&mut self, effects: &[Effect], row: &RowKey, n: i64, sum: i64) {
        for e in effects {
            if self.exiting() {
                return;
            }
            if let Err(err) = self.add_effect(e, row, n, sum) {
                self.report(&err);
            }
        }
    }

    fn add_effect(&mut self, e: &Effect, row: &RowKey, n: i64, sum: i64) -> super::R<()> {
        let g = e.global as usize;
        let delta = match &e.update {
            Update::AddSize => Some(sum),
            Update::AddCount(d) => Some(d.wrapping_mul(n)),
            Update::Stat | Update::Set(_) => None,
        };
        let Some(keys) = &e.keys else {
            match (&mut self.globals[g], &e.update) {
                (Slot::Stat(st), Update::Stat) => st.add_counted(n, sum),
                (Slot::Scalar(v), Update::Set(p)) => *v = counting::value(p, row),
                (Slot::Scalar(v), _) => {
                    *v = Value::Long(v.as_long().wrapping_add(delta.unwrap_or(0)));
                }
                _ => {}
            }
            return Ok(());
        };
        let k: Vec<Value> = keys.iter().map(|p| counting::value(p, row)).collect();
        match &e.update {
            Update::Stat => {
                let r = match &mut self.globals[g] {
                    Slot::Array(a) => a.stat_entry(&k).map(|st| st.add_counted(n, sum)),
                    _ => Ok(()),
                };
                r.map_err(|Overflow| self.overflow(e.global, e.tok))
            }
            Update::Set(p) => {
                let v = counting::value(p, row);
                self.assign_elem(e.global, &k, AssignKind::Set, v, e.tok, e.tok)
                    .map(drop)
            }
            Update::AddSize | Update::AddCount(_) => {
                let v = Value::Long(delta.unwrap_or(0));
                self.assign_elem(e.global, &k, AssignKind::Op(BinOp::Add), v, e.tok, e.tok)
                    .map(drop)
            }
        }
    }
}
