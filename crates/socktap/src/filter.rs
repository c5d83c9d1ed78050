//! Filters, applied in the kernel before an event is recorded.

use crate::error::{Error, Result};
use crate::skel::types;

/// How many values of one kind the kernel side holds (`MAX_FILTER`).
pub const MAX_VALUES: usize = 8;

/// Which events to keep. Values of one kind are OR'ed, kinds are AND'ed;
/// an empty kind keeps everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Process ids (tgid).
    pub pids: Vec<u32>,
    /// Thread ids.
    pub tids: Vec<u32>,
    /// Real uids.
    pub uids: Vec<u32>,
    /// Command names, matched exactly (at most 15 bytes, as the kernel keeps them).
    pub comms: Vec<String>,
    /// Families (the tapset's `family`), e.g. 2 for INET.
    pub families: Vec<i32>,
    /// Protocols (`sk_protocol`), e.g. 6 for TCP.
    pub protocols: Vec<i32>,
    /// Socket types, e.g. 1 for STREAM.
    pub types: Vec<i32>,
    /// Local or remote ports of INET/INET6 sockets.
    pub ports: Vec<u16>,
    /// Keep only failures: return probes whose result is an error.
    pub failed_only: bool,
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

impl Filter {
    /// Writes the filter into the BPF programs' configuration.
    pub(crate) fn apply(&self, cfg: &mut types::config) -> Result<()> {
        fill("pid", &self.pids, &mut cfg.pids, &mut cfg.n_pids)?;
        fill("tid", &self.tids, &mut cfg.tids, &mut cfg.n_tids)?;
        fill("uid", &self.uids, &mut cfg.uids, &mut cfg.n_uids)?;
        fill(
            "family",
            &self.families,
            &mut cfg.families,
            &mut cfg.n_families,
        )?;
        fill(
            "protocol",
            &self.protocols,
            &mut cfg.protocols,
            &mut cfg.n_protocols,
        )?;
        fill("type", &self.types, &mut cfg.types, &mut cfg.n_types)?;
        fill("port", &self.ports, &mut cfg.ports, &mut cfg.n_ports)?;
        if self.comms.len() > MAX_VALUES {
            return Err(Error::TooManyFilters {
                kind: "comm",
                count: self.comms.len(),
                max: MAX_VALUES,
            });
        }
        for (slot, comm) in cfg.comms.iter_mut().zip(&self.comms) {
            // The kernel keeps 15 bytes and a NUL: compare what it can hold.
            for (d, s) in slot.iter_mut().zip(comm.bytes().take(15)) {
                *d = s as i8;
            }
        }
        cfg.n_comms = self.comms.len() as u32;
        cfg.failed_only = u32::from(self.failed_only);
        Ok(())
    }
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
            ..Default::default()
        };
        let mut cfg = types::config::default();
        f.apply(&mut cfg).unwrap();
        assert_eq!(cfg.n_pids, 2);
        assert_eq!(&cfg.pids[..2], &[1, 2]);
        assert_eq!(cfg.n_families, 2);
        assert_eq!(cfg.n_ports, 1);
        assert_eq!(cfg.ports[0], 443);
        assert_eq!(cfg.failed_only, 1);
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
        let err = f.apply(&mut types::config::default()).unwrap_err();
        assert!(matches!(
            err,
            Error::TooManyFilters {
                kind: "uid",
                count: 9,
                max: 8
            }
        ));
    }
}
