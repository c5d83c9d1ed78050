//! Losses as every command reports them: by reason, each with what the
//! user can do about it in the words of socktap's flags.

use socktap::{LossReason, Losses};

/// What a user can do about a loss reason. `capacity_flag` is the flag
/// that sizes the kernel's rows in the command at hand.
fn remedy(reason: LossReason, capacity_flag: &str) -> String {
    match reason {
        LossReason::RingFull => "raise --buffer-kib".into(),
        LossReason::CallsFull => {
            "more threads were mid-call at once than the kernel side follows".into()
        }
        LossReason::RowsFull => format!("raise {capacity_flag}"),
        LossReason::Unwritten => "the reader of the output stalled when socktap stopped".into(),
        LossReason::Skipped => {
            "a traced task was preempted inside socktap's program, and the kernel skipped the \
             program for another task on that CPU meanwhile"
                .into()
        }
        _ => "this kernel has no bpf_loop (before 5.17)".into(),
    }
}

/// For a closing line: "0 lost", or
/// "7 lost: 5 ring_buffer_full (raise --buffer-kib), 2 rows_full (raise --capacity)".
pub fn text(l: &Losses, capacity_flag: &str) -> String {
    let parts: Vec<String> = l
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(r, n)| format!("{n} {r} ({})", remedy(r, capacity_flag)))
        .collect();
    if parts.is_empty() {
        format!("{} lost", l.total())
    } else {
        format!("{} lost: {}", l.total(), parts.join(", "))
    }
}

/// Every reason with its count, zeros included, for JSON records.
pub fn json(l: &Losses) -> serde_json::Value {
    l.iter()
        .map(|(r, n)| (r.name().to_string(), serde_json::Value::from(n)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_each_reason_and_its_remedy() {
        assert_eq!(text(&Losses::default(), "--capacity"), "0 lost");
        let l = Losses::of(LossReason::RowsFull, 3);
        assert_eq!(
            text(&l, "--max-series"),
            "3 lost: 3 rows_full (raise --max-series)"
        );
        assert_eq!(json(&l)["rows_full"], 3);
        assert_eq!(json(&l)["ring_buffer_full"], 0);
    }
}
