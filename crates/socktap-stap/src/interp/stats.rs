//! Statistics as stap's runtime keeps them: count, sum, min, max, the
//! Welford terms of the variance (with stap's integer arithmetic), and a
//! log2 or linear histogram, printed exactly as `_stp_stat_print_histogram`
//! prints it.

use crate::ast::StatOp;
use crate::ir::HistKind;

/// Buckets of a log histogram, and the one holding 0.
const LOG_BUCKETS: usize = 128;
const LOG_BUCKET0: usize = 64;
const HIST_WIDTH: i64 = 50;
const HIST_ELISION: usize = 2;

/// One statistic.
#[derive(Debug, Clone, Default)]
pub struct Stat {
    /// Values added.
    pub count: i64,
    sum: i64,
    min: i64,
    max: i64,
    avg_s: i64,
    m2: i64,
    variance_s: i64,
    hist: Vec<i64>,
}

/// How many buckets a histogram kind has.
fn buckets(kind: Option<HistKind>) -> usize {
    match kind {
        None => 0,
        Some(HistKind::Log) => LOG_BUCKETS,
        Some(HistKind::Linear(start, stop, interval)) => ((stop - start) / interval + 3) as usize,
    }
}

/// stap's `_stp_val_to_bucket`: 64 holds 0, 64+k holds [2^(k-1), 2^k),
/// below 64 the negatives mirrored.
fn log_bucket(val: i64) -> usize {
    if val == 0 {
        return LOG_BUCKET0;
    }
    let mag = val.unsigned_abs();
    let bits = 64 - mag.leading_zeros() as usize;
    let res = LOG_BUCKET0 + bits;
    if val < 0 {
        LOG_BUCKETS - res
    } else {
        res.min(LOG_BUCKETS - 1)
    }
}

/// The value labelling log bucket `n`.
fn log_value(n: usize) -> i64 {
    if n == LOG_BUCKET0 {
        0
    } else if n < LOG_BUCKET0 {
        i64::MIN >> n
    } else {
        1i64 << (n - LOG_BUCKET0 - 1)
    }
}

impl Stat {
    /// `<<< val`, with `shift` bits of precision for the variance.
    pub fn add(&mut self, val: i64, shift: u32, kind: Option<HistKind>) {
        if self.count == 0 {
            self.count = 1;
            self.sum = val;
            self.min = val;
            self.max = val;
            self.avg_s = val.wrapping_shl(shift);
            self.m2 = 0;
        } else {
            self.count += 1;
            self.sum = self.sum.wrapping_add(val);
            self.max = self.max.max(val);
            self.min = self.min.min(val);
            // Welford's update as stap computes it: `delta` is a C int.
            let delta = i64::from(val.wrapping_shl(shift).wrapping_sub(self.avg_s) as i32);
            self.avg_s = self.avg_s.wrapping_add(delta / self.count);
            self.m2 = self
                .m2
                .wrapping_add(delta.wrapping_mul(val.wrapping_shl(shift).wrapping_sub(self.avg_s)));
            self.variance_s = if self.count < 2 {
                -1
            } else {
                self.m2 / (self.count - 1)
            };
        }
        let n = buckets(kind);
        if n == 0 {
            return;
        }
        if self.hist.len() != n {
            self.hist.resize(n, 0);
        }
        let b = match kind {
            Some(HistKind::Linear(start, _, interval)) => {
                let v = val.wrapping_sub(start);
                let b = if v < 0 {
                    0
                } else {
                    (v / interval) as usize + 1
                };
                b.min(n - 1)
            }
            _ => log_bucket(val).min(n - 1),
        };
        self.hist[b] += 1;
    }

    /// Adds `count` values whose total is `sum`, counted in the kernel:
    /// their spread is unknown, so only the count, the sum and the
    /// average are kept right (counting checks that nothing else is read).
    pub fn add_counted(&mut self, count: i64, sum: i64) {
        self.count = self.count.wrapping_add(count);
        self.sum = self.sum.wrapping_add(sum);
    }

    /// An aggregate; `None` where stap fails on an empty statistic.
    /// `scalar`: stap reads scalar statistics through its per-CPU total
    /// (`_stp_stat_get`), elements of arrays through the map's copy.
    pub fn get(&self, op: StatOp, shift: u32, scalar: bool) -> Option<i64> {
        let empty = self.count == 0;
        Some(match op {
            StatOp::Count => self.count,
            StatOp::Sum if empty => 0,
            StatOp::Sum => self.sum,
            _ if empty => return None,
            StatOp::Min => self.min,
            StatOp::Max => self.max,
            StatOp::Avg => self.sum / self.count,
            StatOp::Variance => {
                let variance_s = if self.count < 2 {
                    0
                } else if scalar {
                    let agg_avg = self.sum.wrapping_shl(shift) / self.count;
                    let d = self.avg_s.wrapping_sub(agg_avg);
                    let s1 = self.count.wrapping_mul(d).wrapping_mul(d);
                    let s2 = (self.count - 1).wrapping_mul(self.variance_s);
                    s1.wrapping_add(s2) / (self.count - 1)
                } else {
                    self.variance_s
                };
                variance_s >> (2 * shift)
            }
        })
    }

    /// The histogram's text, as stap prints it (empty statistics are an
    /// error before this is called).
    pub fn histogram(&self, kind: HistKind, out: &mut Vec<u8>) {
        let n = buckets(Some(kind));
        let h = |i: usize| self.hist.get(i).copied().unwrap_or(0);
        let mut low: Option<usize> = None;
        let mut high = 0;
        let mut valmax = 0;
        for i in 0..n {
            if h(i) > 0 {
                low.get_or_insert(i);
                high = i;
            }
            valmax = valmax.max(h(i));
        }
        let mut low = low.map_or(-1, |l| l as i64);
        let mut high = high as i64;
        let linear = matches!(kind, HistKind::Linear(..));
        for _ in 0..2 {
            if linear {
                if low > 0 {
                    low -= 1;
                }
            } else if low != LOG_BUCKET0 as i64 && low > 0 {
                low -= 1;
            }
            if high < n as i64 - 1 {
                high += 1;
            }
        }
        let (mut under, mut over) = (0, 0);
        if let HistKind::Linear(..) = kind {
            if low == 0 && h(0) == 0 {
                low += 1;
            }
            if high == n as i64 - 1 && h(high as usize) == 0 {
                high -= 1;
            }
            under = i64::from(low == 0);
            over = i64::from(high == n as i64 - 1);
        }
        let scale = if valmax <= HIST_WIDTH {
            1
        } else {
            (valmax + HIST_WIDTH - 1) / HIST_WIDTH
        };
        let cnt_space = space(valmax);
        let val_space = match kind {
            HistKind::Linear(start, _, interval) => (space(start) + under)
                .max(space(start.wrapping_add(interval.wrapping_mul(high))) + over),
            HistKind::Log => {
                space(log_value(high.max(0) as usize)).max(space(log_value(low.max(0) as usize)))
            }
        }
        .max(5) as usize;
        out.extend_from_slice(format!("{:>val_space$} |", "value").as_bytes());
        out.extend(std::iter::repeat_n(b'-', HIST_WIDTH as usize));
        out.extend_from_slice(b" count\n");
        let mut eliding = false;
        let mut i = low;
        while i <= high {
            let iu = i as usize;
            let lo = (low as usize).max(iu.saturating_sub(HIST_ELISION));
            let hi = (high as usize).min(iu + HIST_ELISION);
            if (lo..=hi).all(|k| h(k) == 0) {
                eliding = true;
                i += 1;
                continue;
            }
            if eliding {
                out.extend_from_slice(format!("{:>val_space$} ~\n", "").as_bytes());
                eliding = false;
            }
            let (val, prefix) = match kind {
                HistKind::Linear(start, _, interval) => {
                    if iu == 0 {
                        (start, "<")
                    } else if iu == n - 1 {
                        (start + (i - 2) * interval, ">")
                    } else {
                        (start + (i - 1) * interval, "")
                    }
                }
                HistKind::Log => (log_value(iu), ""),
            };
            let pad = (val_space as i64 - space(val)).max(0) as usize;
            out.extend_from_slice(format!("{prefix:>pad$}{val} |").as_bytes());
            let v = h(iu) / scale;
            out.extend(std::iter::repeat_n(b'@', v.max(0) as usize));
            let w = (HIST_WIDTH - v + 1 + cnt_space).max(0) as usize;
            out.extend_from_slice(format!("{:>w$}\n", h(iu)).as_bytes());
            i += 1;
        }
        out.push(b'\n');
    }
}

/// stap's `needed_space`: digits, plus one for a minus sign.
fn space(v: i64) -> i64 {
    if v == 0 {
        return 1;
    }
    let sign = i64::from(v < 0);
    sign + v.unsigned_abs().to_string().len() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(vals: &[i64], kind: Option<HistKind>) -> Stat {
        let mut s = Stat::default();
        for &v in vals {
            s.add(v, 0, kind);
        }
        s
    }

    #[test]
    fn buckets_follow_stap() {
        assert_eq!(log_bucket(0), 64);
        assert_eq!(log_bucket(1), 65);
        assert_eq!(log_bucket(2), 66);
        assert_eq!(log_bucket(3), 66);
        assert_eq!(log_bucket(-1), 63);
        assert_eq!(log_value(63), -1);
        assert_eq!(log_value(62), -2);
        assert_eq!(log_value(66), 2);
    }

    #[test]
    fn aggregates() {
        let s = stat(&[1, 2, 3, 10], None);
        assert_eq!(s.get(StatOp::Count, 0, true), Some(4));
        assert_eq!(s.get(StatOp::Sum, 0, true), Some(16));
        assert_eq!(s.get(StatOp::Min, 0, true), Some(1));
        assert_eq!(s.get(StatOp::Max, 0, true), Some(10));
        assert_eq!(s.get(StatOp::Avg, 0, true), Some(4));
        // stap's running average is an integer, so its variance of 1, 2,
        // 3, 10 is 23, not 16: what its code computes on one CPU.
        assert_eq!(s.get(StatOp::Variance, 0, true), Some(23));
        let e = Stat::default();
        assert_eq!(e.get(StatOp::Count, 0, true), Some(0));
        assert_eq!(e.get(StatOp::Sum, 0, true), Some(0));
        assert_eq!(e.get(StatOp::Min, 0, true), None);
    }

    #[test]
    fn log_histogram_text() {
        let s = stat(&[1, 2, 2, 3, 8, 64], Some(HistKind::Log));
        let mut out = Vec::new();
        s.histogram(HistKind::Log, &mut out);
        let want = "\
value |-------------------------------------------------- count
    0 |                                                   0
    1 |@                                                  1
    2 |@@@                                                3
    4 |                                                   0
    8 |@                                                  1
   16 |                                                   0
   32 |                                                   0
   64 |@                                                  1
  128 |                                                   0
  256 |                                                   0

";
        assert_eq!(String::from_utf8(out).unwrap(), want);
    }

    #[test]
    fn linear_histogram_elides_and_marks_overflow() {
        let s = stat(&[0, 5, 95, 500], Some(HistKind::Linear(0, 100, 10)));
        let mut out = Vec::new();
        s.histogram(HistKind::Linear(0, 100, 10), &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(" ~\n"), "{text}");
        assert!(text.contains(">100 |"), "{text}");
        assert!(text.starts_with("value |"), "{text}");
    }
}
