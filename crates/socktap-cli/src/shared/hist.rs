//! Log2 size histograms as stat prints them: bpftrace's bucket labels and
//! bars in text, explicit bounds in JSON.

use std::io::Write;

use serde::Serialize;
use socktap::aggregate::HIST_BUCKETS;

/// bpftrace-style bucket label: "0", "[8, 16)", "[1K, 2K)", "[1G, ...)".
pub fn bucket_label(i: usize) -> String {
    fn human(n: u64) -> String {
        const UNITS: [(u64, &str); 3] = [(1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")];
        for (size, unit) in UNITS {
            if n >= size && n % size == 0 {
                return format!("{}{unit}", n / size);
            }
        }
        n.to_string()
    }
    match bucket_bounds(i) {
        (0, _) => "0".to_string(),
        (low, None) => format!("[{}, ...)", human(low)),
        (low, Some(high)) => format!("[{}, {})", human(low), human(high)),
    }
}

/// The bounds of bucket i: [low, high), high None for the last, which
/// holds everything larger.
pub fn bucket_bounds(i: usize) -> (u64, Option<u64>) {
    match i {
        0 => (0, Some(1)),
        i if i == HIST_BUCKETS - 1 => (1 << (i - 1), None),
        i => (1 << (i - 1), Some(1 << i)),
    }
}

/// The non-empty buckets as bars 52 wide at the largest, from the first
/// non-empty bucket to the last.
pub fn draw(out: &mut impl Write, h: &[u64; HIST_BUCKETS]) -> std::io::Result<()> {
    let Some(first) = h.iter().position(|&n| n > 0) else {
        return Ok(());
    };
    let last = h.iter().rposition(|&n| n > 0).unwrap_or(first);
    let max = h.iter().copied().max().unwrap_or(1).max(1);
    for (i, &n) in h.iter().enumerate().take(last + 1).skip(first) {
        let width = (n * 52).div_ceil(max) as usize;
        writeln!(
            out,
            "  {:<14} {:>10} |{:<52}|",
            bucket_label(i),
            n,
            "@".repeat(width)
        )?;
    }
    Ok(())
}

#[derive(Serialize)]
struct JsonBucket {
    bucket: String,
    low: u64,
    high: Option<u64>,
    count: u64,
}

/// The non-empty buckets with their labels and bounds.
pub fn json(h: &[u64; HIST_BUCKETS]) -> serde_json::Value {
    let buckets: Vec<JsonBucket> = h
        .iter()
        .enumerate()
        .filter(|(_, &n)| n > 0)
        .map(|(i, &n)| {
            let (low, high) = bucket_bounds(i);
            JsonBucket {
                bucket: bucket_label(i),
                low,
                high,
                count: n,
            }
        })
        .collect();
    serde_json::to_value(buckets).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_labels() {
        let want = [
            (0, "0"),
            (1, "[1, 2)"),
            (4, "[8, 16)"),
            (11, "[1K, 2K)"),
            (21, "[1M, 2M)"),
            (31, "[1G, ...)"),
        ];
        for (i, label) in want {
            assert_eq!(bucket_label(i), label);
        }
        assert_eq!(bucket_bounds(10), (512, Some(1024)));
    }
}
