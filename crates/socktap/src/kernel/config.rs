//! Writing what the user asked for into the programs' `.rodata`
//! configuration (`struct config`), before load: the verifier then prunes
//! every branch a run does not need.

use super::skel::types;
use crate::backend::{LoadSettings, Mechanism, Plan, Role};
use crate::error::{Error, Result};
use crate::filter::{Filter, MAX_VALUES};

/// How to set the BPF object up.
pub(crate) struct Options<'a> {
    /// Bit (1 << path) per kernel-side path wanted.
    pub mask: u32,
    pub filter: &'a Filter,
    pub include_peek: bool,
    /// Ring buffer size in bytes (a power of two of at least a page).
    pub ring_bytes: u32,
    /// In-kernel aggregation, instead of events for user space.
    pub aggregate: Option<Counting>,
    /// Count network device traffic.
    pub devices: bool,
    pub settings: LoadSettings,
    /// The kernel side may report every send under socket.sendmsg.return
    /// (and receives likewise): the reader only wants the unions.
    pub unions_only: bool,
}

/// How rows are counted in the kernel.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counting {
    /// What rows are keyed by (`enum agg_key_bits`).
    pub keys: u32,
    /// What they carry in their value, as last seen, without being keyed
    /// by it (`AGG_UID`, `AGG_COMM`; never a bit of `keys`).
    pub carry: u32,
    /// Also keep log2 histograms of sizes.
    pub hist: bool,
    /// Rows the maps hold.
    pub capacity: u32,
}

/// Writes the options and the chosen plan into the configuration; returns
/// the sizes of the row and histogram maps.
pub(crate) fn write_options(
    o: &Options<'_>,
    plan: &Plan,
    cfg: &mut types::config,
) -> Result<(u32, u32)> {
    let served_by_syscalls = |role| u32::from(plan.mechanism(role) == Some(Mechanism::Syscall));
    cfg.probe_mask = o.mask;
    cfg.skip_peek = u32::from(!o.include_peek);
    cfg.syscall_create = served_by_syscalls(Role::Create);
    cfg.syscall_close = served_by_syscalls(Role::Close);
    cfg.syscall_messages = served_by_syscalls(Role::Messages);
    cfg.skip_classify = u32::from(o.unions_only && o.aggregate.is_some());
    // Wake the reader once an eighth of the ring is pending; below that it
    // reads on its own short timer.
    cfg.wakeup_bytes = o.ring_bytes / 8;
    write_filter(o.filter, cfg)?;
    // Unused maps get one entry: they cannot have none.
    Ok(match o.aggregate {
        Some(c) => {
            cfg.aggregate = 1;
            cfg.agg_keys = c.keys;
            cfg.agg_carry = c.carry;
            cfg.hist = u32::from(c.hist);
            let rows = c.capacity.max(1);
            (rows, if c.hist { rows } else { 1 })
        }
        None => (1, 1),
    })
}

fn fill<T: Copy, const N: usize>(
    kind: &'static str,
    values: &[T],
    dst: &mut [T; N],
    count: &mut u32,
) -> Result<()> {
    if values.len() > N {
        return Err(Error::TooManyFilters {
            kind,
            count: values.len(),
            max: N,
        });
    }
    dst[..values.len()].copy_from_slice(values);
    // Bounded by N (8) just above, so the cast cannot truncate.
    *count = values.len() as u32;
    Ok(())
}

/// Writes the filter into the configuration.
pub(crate) fn write_filter(f: &Filter, cfg: &mut types::config) -> Result<()> {
    fill("pid", &f.pids, &mut cfg.pids, &mut cfg.n_pids)?;
    fill("tid", &f.tids, &mut cfg.tids, &mut cfg.n_tids)?;
    fill("uid", &f.uids, &mut cfg.uids, &mut cfg.n_uids)?;
    fill(
        "family",
        &f.families,
        &mut cfg.families,
        &mut cfg.n_families,
    )?;
    fill(
        "protocol",
        &f.protocols,
        &mut cfg.protocols,
        &mut cfg.n_protocols,
    )?;
    fill("type", &f.types, &mut cfg.types, &mut cfg.n_types)?;
    fill("port", &f.ports, &mut cfg.ports, &mut cfg.n_ports)?;
    if f.comms.len() > MAX_VALUES {
        return Err(Error::TooManyFilters {
            kind: "comm",
            count: f.comms.len(),
            max: MAX_VALUES,
        });
    }
    for (slot, comm) in cfg.comms.iter_mut().zip(&f.comms) {
        // The kernel keeps the name and a NUL: compare what it can hold.
        let room = slot.len() - 1;
        for (d, s) in slot.iter_mut().zip(comm.bytes().take(room)) {
            *d = s as i8;
        }
    }
    cfg.n_comms = f.comms.len() as u32;
    if f.cgroups.len() > MAX_VALUES {
        return Err(Error::TooManyFilters {
            kind: "cgroup",
            count: f.cgroups.len(),
            max: MAX_VALUES,
        });
    }
    // The folders themselves go into the cgroup_filter map after load.
    cfg.n_cgroups = f.cgroups.len() as u32;
    cfg.failed_only = u32::from(f.failed_only);
    cfg.succeeded_only = u32::from(f.succeeded_only);
    Ok(())
}

/// How many bytes of `struct agg_value` the row map keeps: the counts, and
/// the carried fields after them only when something is carried (each
/// row has one value per CPU, so they are not kept for nothing).
pub(crate) fn agg_value_size(carry: u32) -> u32 {
    let full = std::mem::size_of::<types::agg_value>();
    let counts = std::mem::offset_of!(types::agg_value, uid);
    (if carry == 0 { counts } else { full }) as u32
}

/// How many bytes of `struct agg_key` the row maps hash and compare for a
/// view keyed by `keys` (`enum agg_key_bits`): up to the end of the last
/// field used, in the struct's order. Each program builds the whole key,
/// zeroing what it does not use, and the maps read only this prefix.
pub(crate) fn agg_key_size(keys: u32) -> u32 {
    use types::agg_key_bits as bit;
    let k = types::agg_key::default();
    // The end of a field: its offset and its size.
    macro_rules! end {
        ($field:ident) => {
            std::mem::offset_of!(types::agg_key, $field) + std::mem::size_of_val(&k.$field)
        };
    }
    let fields = [
        (bit::AGG_PORT.0, end!(port)),
        (bit::AGG_PID.0, end!(pid)),
        (bit::AGG_FAMILY.0, end!(family)),
        (bit::AGG_PROTOCOL.0, end!(protocol)),
        (bit::AGG_TYPE.0, end!(r#type)),
        (bit::AGG_CGROUP.0, end!(cgroup)),
        (bit::AGG_UID.0, end!(uid)),
        (bit::AGG_COMM.0, end!(comm)),
    ];
    // The probe and port fill the first 4 bytes, the least any key has.
    let least = end!(port);
    let used = fields
        .iter()
        .filter(|(b, _)| keys & b != 0)
        .map(|&(_, e)| e);
    used.fold(least, usize::max) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_the_config() {
        let f = Filter {
            pids: vec![1, 2],
            comms: vec!["a-very-long-command-name".into()],
            families: vec![2, 10],
            ports: vec![443],
            failed_only: true,
            succeeded_only: true,
            ..Default::default()
        };
        let mut cfg = types::config::default();
        write_filter(&f, &mut cfg).unwrap();
        assert_eq!(cfg.n_pids, 2);
        assert_eq!(&cfg.pids[..2], &[1, 2]);
        assert_eq!(cfg.n_families, 2);
        assert_eq!(cfg.n_ports, 1);
        assert_eq!(cfg.ports[0], 443);
        assert_eq!(cfg.failed_only, 1);
        assert_eq!(cfg.succeeded_only, 1);
        assert_eq!(cfg.n_comms, 1);
        let comm: Vec<u8> = cfg.comms[0].iter().map(|&c| c as u8).collect();
        assert_eq!(&comm[..15], b"a-very-long-com");
        assert_eq!(comm[15], 0);
    }

    #[test]
    fn too_many_values_is_an_error() {
        let f = Filter {
            uids: (0..9).collect(),
            ..Default::default()
        };
        let err = write_filter(&f, &mut types::config::default()).unwrap_err();
        assert!(matches!(
            err,
            Error::TooManyFilters {
                kind: "uid",
                count: 9,
                max: 8
            }
        ));
    }

    #[test]
    fn filter_capacity_is_the_kernels() {
        assert_eq!(types::config::default().pids.len(), MAX_VALUES);
    }

    #[test]
    fn row_keys_are_the_prefix_up_to_the_last_field_used() {
        use types::agg_key_bits as bit;
        assert_eq!(agg_key_size(0), 4, "probe and port");
        assert_eq!(agg_key_size(bit::AGG_PID.0), 8);
        assert_eq!(
            agg_key_size(bit::AGG_PID.0 | bit::AGG_FAMILY.0 | bit::AGG_PROTOCOL.0),
            12
        );
        assert_eq!(agg_key_size(bit::AGG_CGROUP.0), 24);
        assert_eq!(agg_key_size(bit::AGG_UID.0), 28);
        assert_eq!(agg_key_size(bit::AGG_COMM.0 | bit::AGG_PID.0), 44);
        // All of it but the struct's tail padding.
        assert_eq!(agg_key_size(u32::MAX), 44);
        assert_eq!(std::mem::size_of::<types::agg_key>(), 48);
    }

    #[test]
    fn row_values_carry_only_when_asked() {
        use types::agg_key_bits as bit;
        assert_eq!(agg_value_size(0), 24, "count, bytes, errors");
        assert_eq!(
            agg_value_size(bit::AGG_COMM.0) as usize,
            std::mem::size_of::<types::agg_value>()
        );
    }
}
