//! In-kernel aggregation: per-CPU maps of counts, bytes, errors and size
//! histograms, keyed by what a view needs. No per-event record crosses to
//! user space; the reader takes a snapshot per interval.

use std::collections::HashMap;

use libbpf_rs::MapCore;

use crate::backend::Plan;
use crate::builder::{common_setters, setters, Common};
use crate::error::Result;
use crate::kernel::config;
use crate::kernel::loader::{self, Loaded};
use crate::kernel::maps;
use crate::kernel::skel::types;
use crate::loss::Losses;
use crate::tapset::{path_mask, Path, Probe};

/// Number of log2 size buckets: bucket 0 holds size 0, bucket k sizes in
/// [2^(k-1), 2^k), the last one everything larger.
pub const HIST_BUCKETS: usize = types::socktap_limits::HIST_BUCKETS.0 as usize;

/// Default number of rows the kernel side holds.
pub const DEFAULT_CAPACITY: u32 = types::socktap_limits::DEFAULT_ROWS.0;

/// Which event fields a row is keyed by (besides the probe path, always kept).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Keys {
    /// Process id.
    pub pid: bool,
    /// Real uid.
    pub uid: bool,
    /// Command name.
    pub comm: bool,
    /// Cgroup v2 id.
    pub cgroup: bool,
    /// Family.
    pub family: bool,
    /// Protocol.
    pub protocol: bool,
    /// Socket type.
    pub sock_type: bool,
    /// Local port of INET/INET6 sockets.
    pub port: bool,
}

impl Keys {
    fn bits(self) -> u32 {
        [
            self.pid,
            self.uid,
            self.comm,
            self.cgroup,
            self.family,
            self.protocol,
            self.sock_type,
            self.port,
        ]
        .iter()
        .enumerate()
        .map(|(i, &on)| u32::from(on) << i)
        .sum()
    }
}

/// What a row carries without being keyed by it: the row's uid and
/// command as last seen, on the CPU that saw most of its events. A view
/// that shows one command per process keys by pid and carries the
/// command: hashing 16 bytes more on every message costs the traced task
/// more than keeping them. What the rows are keyed by they need not carry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Carry {
    /// Real uid.
    pub uid: bool,
    /// Command name.
    pub comm: bool,
}

impl Carry {
    /// What is left to carry of this for rows keyed by `keys`: a key needs
    /// no carrying.
    fn without(self, keys: Keys) -> Carry {
        Carry {
            uid: self.uid && !keys.uid,
            comm: self.comm && !keys.comm,
        }
    }

    fn bits(self) -> u32 {
        Keys {
            uid: self.uid,
            comm: self.comm,
            ..Keys::default()
        }
        .bits()
    }
}

/// One row's key. Fields neither in the [`Keys`] nor carried are zero.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RowKey {
    /// The kernel-side path.
    pub path: Path,
    /// Process id.
    pub pid: u32,
    /// Real uid (keyed or carried).
    pub uid: u32,
    /// Command name (keyed or carried).
    pub comm: String,
    /// Cgroup v2 id.
    pub cgroup: u64,
    /// Family.
    pub family: i32,
    /// Protocol.
    pub protocol: i32,
    /// Socket type.
    pub sock_type: i32,
    /// Local port.
    pub port: u16,
}

/// Counts of one row over an interval (or since start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts {
    /// Firings.
    pub count: u64,
    /// Bytes moved (return probes, successes only) or requested (entry probes).
    pub bytes: u64,
    /// Return probes whose result was an error.
    pub errors: u64,
    /// Log2 histogram of sizes, when asked for.
    pub hist: Option<[u64; HIST_BUCKETS]>,
}

impl Counts {
    fn zero(hist: bool) -> Counts {
        Counts {
            count: 0,
            bytes: 0,
            errors: 0,
            hist: hist.then_some([0; HIST_BUCKETS]),
        }
    }

    fn minus(&self, before: &Counts) -> Counts {
        let hist = match (self.hist, before.hist) {
            (Some(a), Some(b)) => Some(std::array::from_fn(|i| a[i].saturating_sub(b[i]))),
            (a, _) => a,
        };
        Counts {
            count: self.count.saturating_sub(before.count),
            bytes: self.bytes.saturating_sub(before.bytes),
            errors: self.errors.saturating_sub(before.errors),
            hist,
        }
    }

    /// Adds another row's counts into this one.
    pub fn add(&mut self, other: &Counts) {
        self.count += other.count;
        self.bytes += other.bytes;
        self.errors += other.errors;
        if let (Some(a), Some(b)) = (self.hist.as_mut(), other.hist.as_ref()) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
    }

    /// Successful firings (count - errors).
    pub fn successes(&self) -> u64 {
        self.count.saturating_sub(self.errors)
    }
}

/// Traffic of one network device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Device {
    /// Interface name, as the kernel had it at the device's first packet
    /// (or its ifindex, if the name could not be read).
    pub name: String,
    /// Inode number of the device's network namespace
    /// (`/proc/PID/ns/net`): each namespace has its own `lo`, and numbers
    /// its devices on its own.
    pub netns: u32,
    /// Packets queued for transmission.
    pub tx_packets: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Bytes queued for transmission.
    pub tx_bytes: u64,
    /// Bytes received.
    pub rx_bytes: u64,
}

/// Configures and starts an [`Aggregator`].
#[derive(Debug, Clone)]
pub struct AggregatorBuilder {
    common: Common,
    keys: Keys,
    carry: Carry,
    hist: bool,
    capacity: u32,
    devices: bool,
}

impl Default for AggregatorBuilder {
    fn default() -> Self {
        AggregatorBuilder {
            common: Common::default(),
            keys: Keys::default(),
            carry: Carry::default(),
            hist: false,
            capacity: DEFAULT_CAPACITY,
            devices: false,
        }
    }
}

impl AggregatorBuilder {
    common_setters!("count");

    setters! {
        /// What rows are keyed by.
        keys(keys: Keys) => keys;
        /// What rows carry, as last seen, without being keyed by it.
        carry(carry: Carry) => carry;
        /// Also keep log2 histograms of sizes.
        histograms(yes: bool) => hist;
        /// How many rows the kernel side holds; events for rows beyond it are
        /// counted as overflow.
        capacity(rows: u32) => capacity;
        /// Also count network device traffic (socktop -d).
        devices(yes: bool) => devices;
    }

    /// Loads and attaches the programs.
    pub fn start(self) -> Result<Aggregator> {
        let mask = path_mask(&self.common.probes);
        let carried = self.carry.without(self.keys);
        let loaded = loader::load(&config::Options {
            mask,
            filter: &self.common.filter,
            include_peek: false,
            // Unused in aggregation: the smallest ring buffer.
            ring_bytes: 4096,
            aggregate: Some(config::Counting {
                keys: self.keys.bits(),
                carry: carried.bits(),
                hist: self.hist,
                capacity: self.capacity,
            }),
            devices: self.devices,
            settings: self.common.settings,
            unions_only: unions_only(&self.common.probes),
        })?;
        Ok(Aggregator {
            loaded,
            carried,
            probes: self.common.probes,
            hist: self.hist,
            before: HashMap::new(),
            devices_before: HashMap::new(),
        })
    }
}

/// Counts events in the kernel until dropped.
pub struct Aggregator {
    loaded: Loaded,
    /// What rows carry and are not keyed by.
    carried: Carry,
    probes: Vec<Probe>,
    hist: bool,
    /// Cumulative counts at the last interval, to subtract, by the rows'
    /// identities.
    before: HashMap<RowKey, Counts>,
    devices_before: HashMap<(u32, u32), Device>,
}

impl std::fmt::Debug for Aggregator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aggregator")
            .field("probes", &self.probes)
            .finish_non_exhaustive()
    }
}

fn comm_string(c: &[i8; 16]) -> String {
    let bytes: Vec<u8> = c.iter().map(|&b| b as u8).take_while(|&b| b != 0).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

impl Aggregator {
    /// A builder with the defaults: `socket.send` and `socket.receive`,
    /// keyed by path only.
    pub fn builder() -> AggregatorBuilder {
        AggregatorBuilder::default()
    }

    /// The probes counted.
    pub fn probes(&self) -> &[Probe] {
        &self.probes
    }

    /// The mechanism serving each role, as chosen at start.
    pub fn plan(&self) -> &Plan {
        &self.loaded.plan
    }

    /// Cumulative counts since start, per kernel row.
    pub fn totals(&self) -> Result<HashMap<RowKey, Counts>> {
        let m = &self.loaded.skel.maps;
        let mut rows = HashMap::new();
        for raw_key in m.agg.keys() {
            let Some(k) = row_key(&raw_key) else {
                continue;
            };
            let Some(path) = Path::from_id(k.probe) else {
                continue;
            };
            let Some(v) = maps::sum_at::<types::agg_value>(&m.agg, &raw_key, "the row map")? else {
                continue; // deleted meanwhile
            };
            let hist = if self.hist {
                let h =
                    maps::sum_at::<types::agg_hist>(&m.agg_hist, &raw_key, "the histogram map")?;
                Some(h.unwrap_or_default().buckets)
            } else {
                None
            };
            let counts = Counts {
                count: v.count,
                bytes: v.bytes,
                errors: v.errors,
                hist,
            };
            let (uid, comm) = (
                if self.carried.uid { v.uid } else { k.uid },
                if self.carried.comm { &v.comm } else { &k.comm },
            );
            let key = RowKey {
                path,
                pid: k.pid,
                uid,
                comm: comm_string(comm),
                cgroup: k.cgroup,
                family: i32::from(k.family),
                protocol: i32::from(k.protocol),
                sock_type: i32::from(k.r#type),
                port: k.port,
            };
            rows.insert(key, counts);
        }
        Ok(rows)
    }

    /// Counts since the previous call (or since start), per kernel row;
    /// rows with nothing new are left out. Rows idle for a whole interval
    /// are removed from the kernel map, so it holds only active rows.
    pub fn interval(&mut self) -> Result<HashMap<RowKey, Counts>> {
        let totals = self.totals()?;
        let mut out = HashMap::new();
        let zero = Counts::zero(self.hist);
        let mut before = HashMap::new();
        for (key, now) in totals {
            // What a row carries may change between reads (a process
            // execs): the row is the same.
            let id = self.identity(&key);
            let delta = now.minus(self.before.get(&id).unwrap_or(&zero));
            if delta.count > 0 {
                out.insert(key, delta);
                before.insert(id, now);
            } else {
                // Idle: deleted from the kernel map; if it comes back it
                // starts from zero.
                self.forget(&key);
            }
        }
        self.before = before;
        Ok(out)
    }

    /// A row as the kernel keys it: without what it carries.
    fn identity(&self, key: &RowKey) -> RowKey {
        let mut id = key.clone();
        if self.carried.uid {
            id.uid = 0;
        }
        if self.carried.comm {
            id.comm.clear();
        }
        id
    }

    /// Removes one row from the kernel maps, so that its room can be taken
    /// by a new row (an exporter expiring series that have been idle). The
    /// row's counts are gone with it: if its traffic comes back, the row
    /// starts again from zero, in [`totals`](Self::totals) and in the next
    /// [`interval`](Self::interval). Remove only rows seen idle: an event
    /// counted into the row between the last read and the removal is lost
    /// with it. A row that is already gone is not an error.
    pub fn remove(&mut self, key: &RowKey) {
        self.forget(key);
        self.before.remove(&self.identity(key));
    }

    fn forget(&self, key: &RowKey) {
        let maps = &self.loaded.skel.maps;
        let key = &self.identity(key);
        let mut k = types::agg_key {
            cgroup: key.cgroup,
            pid: key.pid,
            uid: key.uid,
            // The kernel's key holds them as 16 bits (socktap.h).
            family: key.family as i16,
            protocol: key.protocol as i16,
            r#type: key.sock_type as i16,
            port: key.port,
            probe: key.path as u16,
            ..Default::default()
        };
        for (d, s) in k.comm.iter_mut().zip(key.comm.bytes()) {
            *d = s as i8;
        }
        // SAFETY: agg_key is Plain (see below): viewing it as bytes is sound.
        let bytes = unsafe { plain::as_bytes(&k) };
        // The maps' keys are the prefix the view keys by.
        let bytes = &bytes[..(maps.agg.key_size() as usize).min(bytes.len())];
        // A row already gone is fine: deleting is only to free room.
        let _ = maps.agg.delete(bytes);
        let _ = maps.agg_hist.delete(bytes);
    }

    /// Events not counted since start, by reason: for counting, mostly
    /// rows beyond the capacity ([`LossReason::RowsFull`](crate::LossReason::RowsFull)).
    pub fn losses(&self) -> Result<Losses> {
        self.loaded.losses()
    }

    /// Device traffic since the previous call, busiest first.
    pub fn devices_interval(&mut self) -> Result<Vec<Device>> {
        let m = &self.loaded.skel.maps;
        let mut now = HashMap::new();
        for raw_key in m.devs.keys() {
            let mut k = types::dev_key::default();
            if plain::copy_from_bytes(&mut k, &raw_key).is_err() {
                continue;
            }
            let Some(v) = maps::sum_at::<types::dev_value>(&m.devs, &raw_key, "the device map")?
            else {
                continue;
            };
            now.insert(
                (k.netns, k.ifindex),
                Device {
                    name: dev_name(&m.dev_names, &raw_key).unwrap_or_else(|| k.ifindex.to_string()),
                    netns: k.netns,
                    tx_packets: v.tx_packets,
                    rx_packets: v.rx_packets,
                    tx_bytes: v.tx_bytes,
                    rx_bytes: v.rx_bytes,
                },
            );
        }
        let mut out: Vec<Device> = now
            .iter()
            .map(|(i, d)| {
                let b = self.devices_before.get(i).cloned().unwrap_or_default();
                Device {
                    name: d.name.clone(),
                    netns: d.netns,
                    tx_packets: d.tx_packets - b.tx_packets.min(d.tx_packets),
                    rx_packets: d.rx_packets - b.rx_packets.min(d.rx_packets),
                    tx_bytes: d.tx_bytes - b.tx_bytes.min(d.tx_bytes),
                    rx_bytes: d.rx_bytes - b.rx_bytes.min(d.rx_bytes),
                }
            })
            .filter(|d| d.tx_packets + d.rx_packets > 0)
            .collect();
        out.sort_by(|a, b| {
            (b.tx_packets + b.rx_packets)
                .cmp(&(a.tx_packets + a.rx_packets))
                .then_with(|| a.name.cmp(&b.name))
        });
        self.devices_before = now;
        Ok(out)
    }
}

/// Whether every requested probe that counts sends or receives takes all
/// of their paths (socket.send, socket.receive): then the kernel need not
/// tell which path a message took, and skips that work.
fn unions_only(probes: &[Probe]) -> bool {
    let send = Probe::Send.paths();
    let recv = Probe::Receive.paths();
    probes.iter().all(|p| {
        let paths = p.paths();
        let touches = |set: &[Path]| paths.iter().any(|x| set.contains(x));
        let covers = |set: &[Path]| set.iter().all(|x| paths.contains(x));
        (!touches(send) || covers(send)) && (!touches(recv) || covers(recv))
    })
}

/// A row's key from the map's bytes: the prefix of `struct agg_key` the
/// view keys by, the rest zero as the programs leave it.
fn row_key(raw: &[u8]) -> Option<types::agg_key> {
    let mut full = [0u8; std::mem::size_of::<types::agg_key>()];
    full.get_mut(..raw.len())?.copy_from_slice(raw);
    let mut k = types::agg_key::default();
    plain::copy_from_bytes(&mut k, &full).ok()?;
    Some(k)
}

/// A device's name, from the map the kernel writes at its first packet.
fn dev_name(names: &impl MapCore, raw_key: &[u8]) -> Option<String> {
    let raw = names
        .lookup(raw_key, libbpf_rs::MapFlags::ANY)
        .ok()
        .flatten()?;
    let mut n = types::dev_name::default();
    plain::copy_from_bytes(&mut n, &raw).ok()?;
    let name = comm_string(&n.name);
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unions_skip_path_classification() {
        assert!(unions_only(&[Probe::Send, Probe::Receive]));
        assert!(unions_only(&[Probe::Send, Probe::Create, Probe::Sendmsg]));
        assert!(!unions_only(&[Probe::Send, Probe::SendmsgReturn]));
        assert!(!unions_only(&[Probe::ReadvReturn]));
    }

    #[test]
    fn key_bits_match_the_c_enum() {
        use types::agg_key_bits as c;
        assert_eq!(Keys::default().bits(), 0);
        let one = |f: fn(&mut Keys)| {
            let mut k = Keys::default();
            f(&mut k);
            k.bits()
        };
        assert_eq!(one(|k| k.pid = true), c::AGG_PID.0);
        assert_eq!(one(|k| k.uid = true), c::AGG_UID.0);
        assert_eq!(one(|k| k.comm = true), c::AGG_COMM.0);
        assert_eq!(one(|k| k.cgroup = true), c::AGG_CGROUP.0);
        assert_eq!(one(|k| k.family = true), c::AGG_FAMILY.0);
        assert_eq!(one(|k| k.protocol = true), c::AGG_PROTOCOL.0);
        assert_eq!(one(|k| k.sock_type = true), c::AGG_TYPE.0);
        assert_eq!(one(|k| k.port = true), c::AGG_PORT.0);
    }

    #[test]
    fn histogram_and_capacity_sizes_are_the_kernels() {
        assert_eq!(types::agg_hist::default().buckets.len(), HIST_BUCKETS);
    }

    #[test]
    fn deltas_subtract_histograms_too() {
        let mut a = Counts::zero(true);
        a.count = 5;
        a.bytes = 500;
        a.hist.as_mut().unwrap()[7] = 5;
        let mut b = Counts::zero(true);
        b.count = 2;
        b.bytes = 200;
        b.hist.as_mut().unwrap()[7] = 2;
        let d = a.minus(&b);
        assert_eq!((d.count, d.bytes, d.hist.unwrap()[7]), (3, 300, 3));
        let mut sum = Counts::zero(true);
        sum.add(&d);
        sum.add(&d);
        assert_eq!((sum.count, sum.hist.unwrap()[7]), (6, 6));
        assert_eq!(sum.successes(), 6);
    }
}
