//! Why events were lost: one count per reason, each with one meaning, so
//! that a user who sees losses can tell which size to raise.

use std::fmt;

use crate::kernel::skel::types::loss_reason as kernel;

/// Why an event was not delivered or counted (the BPF side's `enum loss_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum LossReason {
    /// Tracing: the ring buffer had no room for the event. Raise its size
    /// ([`TracerBuilder::ring_buffer_bytes`](crate::TracerBuilder::ring_buffer_bytes)).
    RingFull,
    /// A call's `.return` could not be followed: the table of calls in
    /// flight (one entry per thread between a call's entry and its return)
    /// was full.
    CallsFull,
    /// Counting: a new row found no room in the kernel's maps. Raise the
    /// row capacity ([`AggregatorBuilder::capacity`](crate::AggregatorBuilder::capacity)).
    RowsFull,
    /// Messages of a `sendmmsg`/`recvmmsg` beyond what the programs for
    /// kernels without `bpf_loop` (before 5.17) can walk.
    LoopBound,
    /// Runs of socktap's programs that the kernel skipped because one was
    /// already running on the same CPU (`bpf_prog_info.recursion_misses`):
    /// a task preempted inside a program, on a kernel whose hook allows
    /// it, and another task's hook on that CPU meanwhile. Each skipped run
    /// may have been an event (or the entry half of one); read from the
    /// kernel, not counted by the programs.
    Skipped,
    /// Events read from the kernel that the program's own output could not
    /// take (a reader of `socktap trace` that stopped reading when the trace
    /// ended). Counted by the program, not the kernel: see [`Losses::add`].
    Unwritten,
}

impl LossReason {
    /// Every reason, in the kernel's order.
    pub const ALL: [LossReason; 6] = [
        LossReason::RingFull,
        LossReason::CallsFull,
        LossReason::RowsFull,
        LossReason::LoopBound,
        LossReason::Skipped,
        LossReason::Unwritten,
    ];

    /// Its name in JSON records and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            LossReason::RingFull => "ring_buffer_full",
            LossReason::CallsFull => "calls_in_flight_full",
            LossReason::RowsFull => "rows_full",
            LossReason::LoopBound => "loop_bound",
            LossReason::Skipped => "skipped_runs",
            LossReason::Unwritten => "unwritten",
        }
    }

    /// What was lost, in words.
    pub fn meaning(self) -> &'static str {
        match self {
            LossReason::RingFull => "the ring buffer was full",
            LossReason::CallsFull => "the table of calls in flight was full",
            LossReason::RowsFull => "the kernel's row maps were full",
            LossReason::LoopBound => {
                "sendmmsg/recvmmsg messages beyond the loop bound of kernels without bpf_loop"
            }
            LossReason::Skipped => {
                "the kernel skipped runs of a program already running on the same CPU"
            }
            LossReason::Unwritten => "the output could not take them",
        }
    }

    /// Its index in the kernel's per-CPU `losses` array; None for what only
    /// user space counts.
    pub(crate) fn index(self) -> Option<u32> {
        Some(match self {
            LossReason::RingFull => kernel::LOSS_RING_FULL.0,
            LossReason::CallsFull => kernel::LOSS_CALLS_FULL.0,
            LossReason::RowsFull => kernel::LOSS_ROWS_FULL.0,
            LossReason::LoopBound => kernel::LOSS_LOOP_BOUND.0,
            LossReason::Skipped | LossReason::Unwritten => return None,
        })
    }
}

impl fmt::Display for LossReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Events lost since start, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Losses {
    counts: [u64; LossReason::ALL.len()],
}

impl Losses {
    /// Losses with one reason's count set.
    pub fn of(reason: LossReason, n: u64) -> Losses {
        let mut l = Losses::default();
        l.counts[reason as usize] = n;
        l
    }

    /// How many were lost for this reason.
    pub fn get(&self, reason: LossReason) -> u64 {
        self.counts[reason as usize]
    }

    /// How many were lost in all.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Every reason with its count, zeros included.
    pub fn iter(&self) -> impl Iterator<Item = (LossReason, u64)> + '_ {
        LossReason::ALL.into_iter().map(|r| (r, self.get(r)))
    }

    /// Adds `n` losses for one reason: for what the program itself loses,
    /// such as [`LossReason::Unwritten`].
    pub fn add(&mut self, reason: LossReason, n: u64) {
        self.counts[reason as usize] += n;
    }

    /// Both counts added, reason by reason.
    pub fn plus(&self, other: &Losses) -> Losses {
        Losses {
            counts: std::array::from_fn(|i| self.counts[i] + other.counts[i]),
        }
    }

    /// What was lost after `earlier`, reason by reason.
    pub fn since(&self, earlier: &Losses) -> Losses {
        Losses {
            counts: std::array::from_fn(|i| self.counts[i].saturating_sub(earlier.counts[i])),
        }
    }
}

/// "0", or the total and its reasons: "7 (ring_buffer_full 5, rows_full 2)".
impl fmt::Display for Losses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.total())?;
        let parts: Vec<String> = self
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        if !parts.is_empty() {
            write!(f, " ({})", parts.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_match_the_c_enum() {
        // Every kernel index is used once, and the kernel has no others.
        let mut idx: Vec<u32> = LossReason::ALL.iter().filter_map(|r| r.index()).collect();
        idx.sort_unstable();
        let n = kernel::LOSS_REASONS.0;
        assert_eq!(idx, (0..n).collect::<Vec<_>>());
        for r in LossReason::ALL {
            if let Some(i) = r.index() {
                assert_eq!(r as u32, i, "{r}: array position is the kernel index");
            }
        }
    }

    #[test]
    fn totals_differences_and_words() {
        let a = Losses::of(LossReason::RingFull, 5);
        let mut b = a;
        b.counts[LossReason::RowsFull as usize] = 2;
        assert_eq!(b.total(), 7);
        assert_eq!(b.to_string(), "7 (ring_buffer_full 5, rows_full 2)");
        assert_eq!(b.since(&a), Losses::of(LossReason::RowsFull, 2));
        assert_eq!(Losses::default().to_string(), "0");
    }
}
