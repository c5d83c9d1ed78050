//! The handlers counted in the kernel, at run time: one aggregator per
//! group (`counting::Group`), whose new rows are added into the script's
//! arrays just before a handler that reads them runs. Each fill takes the
//! counts since the previous one, so a script that deletes its arrays
//! (socktop, every interval) sees only what came after.

use socktap::{Aggregator, Losses};

use crate::counting::{self, Group};
use crate::interp::Interp;

use super::RunError;

/// The running aggregators.
pub(super) struct Counts {
    groups: Vec<(Group, Aggregator)>,
    /// Per handler: whether it reads what the kernel counts.
    readers: Vec<bool>,
}

impl Counts {
    /// Loads and attaches one aggregator per group.
    pub(super) fn start(
        groups: &[Group],
        readers: Vec<bool>,
        settings: socktap::LoadSettings,
    ) -> Result<Counts, RunError> {
        let mut out = Vec::new();
        for g in groups {
            let agg = Aggregator::builder()
                .probes(&g.probes)
                .filter(g.filter.clone())
                .keys(g.keys)
                .carry(g.carry)
                .load_settings(settings)
                .start()?;
            out.push((g.clone(), agg));
        }
        Ok(Counts {
            groups: out,
            readers,
        })
    }

    /// Whether handler `h` must see the counts before it runs.
    pub(super) fn read_by(&self, h: u32) -> bool {
        !self.groups.is_empty() && self.readers.get(h as usize).copied().unwrap_or(true)
    }

    /// Adds what was counted since the last fill into the arrays.
    pub(super) fn fill(&mut self, interp: &mut Interp) -> Result<(), RunError> {
        for (g, agg) in &mut self.groups {
            counting::add_rows(g, agg.interval()?, interp);
        }
        Ok(())
    }

    /// Events the aggregators could not count.
    pub(super) fn losses(&self) -> Result<Losses, RunError> {
        let mut total = Losses::default();
        for (_, agg) in &self.groups {
            total = total.plus(&agg.losses()?);
        }
        Ok(total)
    }
}
