//! Reading the BPF maps through the skeleton's generated types: per-CPU
//! values are decoded as the C structs they are and summed field by field,
//! never as positional numbers.

use libbpf_rs::{MapCore, MapFlags};

use super::skel::types;
use crate::error::{Error, Result};
use crate::loss::{LossReason, Losses};

/// A per-CPU map value that sums across CPUs.
pub(crate) trait PerCpu: plain::Plain + Default + Copy {
    fn add(&mut self, other: &Self);

    /// The value over all CPUs, from each CPU's copy.
    fn sum(copies: &[Self]) -> Self {
        let mut sum = Self::default();
        for c in copies {
            sum.add(c);
        }
        sum
    }
}

impl PerCpu for u64 {
    fn add(&mut self, other: &Self) {
        *self += other;
    }
}

impl PerCpu for types::agg_value {
    fn add(&mut self, o: &Self) {
        self.count += o.count;
        self.bytes += o.bytes;
        self.errors += o.errors;
    }

    /// Counts add up; what the row carries (its uid and command as last
    /// seen on each CPU) is taken from the CPU that saw the most of it.
    fn sum(copies: &[Self]) -> Self {
        let mut sum = Self::default();
        let mut most = 0;
        for c in copies {
            sum.add(c);
            if c.count > most {
                most = c.count;
                sum.uid = c.uid;
                sum.comm = c.comm;
            }
        }
        sum
    }
}

impl PerCpu for types::agg_hist {
    fn add(&mut self, o: &Self) {
        for (a, b) in self.buckets.iter_mut().zip(&o.buckets) {
            *a += b;
        }
    }
}

impl PerCpu for types::dev_value {
    fn add(&mut self, o: &Self) {
        self.tx_packets += o.tx_packets;
        self.rx_packets += o.rx_packets;
        self.tx_bytes += o.tx_bytes;
        self.rx_bytes += o.rx_bytes;
    }
}

/// The value at `key` summed over the CPUs; None if the key is not there
/// (deleted meanwhile).
pub(crate) fn sum_at<V: PerCpu>(map: &dyn MapCore, key: &[u8], what: &str) -> Result<Option<V>> {
    let Some(per_cpu) = map
        .lookup_percpu(key, MapFlags::ANY)
        .map_err(|e| Error::bpf(format!("reading {what}"), e))?
    else {
        return Ok(None);
    };
    let copies: Vec<V> = per_cpu.iter().map(|cpu| decode(cpu)).collect();
    Ok(Some(V::sum(&copies)))
}

/// A value from a map's bytes. A map may keep only a prefix of the struct
/// (the row map keeps the carried fields only when asked for): the rest
/// reads as zero.
fn decode<V: PerCpu>(raw: &[u8]) -> V {
    let mut v = V::default();
    // SAFETY: V is Plain: any bytes are a valid V.
    let dst = unsafe { plain::as_mut_bytes(&mut v) };
    let n = dst.len().min(raw.len());
    dst[..n].copy_from_slice(&raw[..n]);
    v
}

/// The kernel's loss counters, one per reason, summed over the CPUs.
pub(crate) fn read_losses(map: &dyn MapCore) -> Result<Losses> {
    let mut out = Losses::default();
    for reason in LossReason::ALL {
        let Some(index) = reason.index() else {
            continue; // counted in user space
        };
        let n: Option<u64> = sum_at(map, &index.to_ne_bytes(), "the loss counters")?;
        out = out.plus(&Losses::of(reason, n.unwrap_or(0)));
    }
    Ok(out)
}

// SAFETY: these are `#[repr(C)]` structs of integers and integer arrays
// generated from the C definitions in socktap.h, so every bit pattern is valid.
unsafe impl plain::Plain for types::agg_value {}
// SAFETY: as above.
unsafe impl plain::Plain for types::agg_hist {}
// SAFETY: as above.
unsafe impl plain::Plain for types::dev_value {}
// SAFETY: as above.
unsafe impl plain::Plain for types::agg_key {}
// SAFETY: as above.
unsafe impl plain::Plain for types::dev_key {}
// SAFETY: as above.
unsafe impl plain::Plain for types::dev_name {}
// SAFETY: as above.
unsafe impl plain::Plain for types::event {}
