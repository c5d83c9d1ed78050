//! What fires a socket or device handler: one event, from socktap's
//! tracer, from a recording (`socktap trace --json`), or made up by a test.

use socktap::{Path, Probe};

use crate::ir::Str;
use crate::probes::Netdev;

/// Which probe an event fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fired {
    /// A socket probe, under the name the script asked for.
    Socket(Probe),
    /// A device probe.
    Netdev(Netdev),
}

/// One event: socktap's (the tapset's variables and the process
/// context), the probe it fires, and what socktap's event lacks.
#[derive(Debug, Clone)]
pub struct Event {
    /// The probe it fires.
    pub fired: Fired,
    /// The variables and context (`size` is `length` for devices).
    pub sock: socktap::Event,
    /// Nanoseconds since the Unix epoch (0: unknown).
    pub wall_ns: i128,
    /// `dev_name` for devices.
    pub dev: Option<Str>,
}

impl Event {
    /// A socket event from socktap's tracer, with its wall-clock time.
    pub fn from_socktap(ev: &socktap::Event, wall_ns: i128) -> Event {
        Event {
            fired: Fired::Socket(ev.probe),
            sock: *ev,
            wall_ns,
            dev: None,
        }
    }

    /// A made-up socket event of `probe` by process `comm`/`pid`, with
    /// plausible defaults (a UDP/INET socket, `size` bytes).
    pub fn socket(probe: Probe, comm: &str, pid: u32, size: i64) -> Event {
        let path = probe.paths()[0];
        let mut sock = socktap::Event::for_test(0).with_comm(comm);
        sock.probe = probe;
        sock.path = path;
        sock.pid = pid;
        sock.tid = pid;
        sock.size = size;
        sock.err = if path == Path::CreateReturn {
            size.min(0) as i32
        } else {
            0
        };
        Event {
            fired: Fired::Socket(probe),
            sock,
            wall_ns: 0,
            dev: None,
        }
    }

    /// A device packet of `length` bytes on `dev`.
    pub fn netdev(dir: Netdev, dev: &str, length: i64) -> Event {
        let mut e = Event::socket(Probe::Send, "", 0, length);
        e.fired = Fired::Netdev(dir);
        e.dev = Some(crate::value::string(dev.as_bytes()));
        e
    }

    /// `success`: 1 on a return probe whose result is not an error.
    pub fn success(&self) -> bool {
        matches!(self.fired, Fired::Socket(_)) && self.sock.success() == Some(true)
    }

    /// Reads one line of `socktap trace --json`: the event, or `None` for
    /// the other records (losses, summary).
    pub fn from_json(line: &str) -> Option<Event> {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        let probe = Probe::from_name(v.get("name")?.as_str()?)?;
        let int = |k: &str| v.get(k).and_then(serde_json::Value::as_i64).unwrap_or(0);
        let mut e = Event::socket(
            probe,
            v.get("comm")?.as_str()?,
            int("pid") as u32,
            int("size"),
        );
        if let Some(p) = v.get("probe").and_then(|p| p.as_str()) {
            if let Some(path) = Path::ALL.iter().find(|x| x.name() == p) {
                e.sock.path = *path;
            }
        }
        let s = &mut e.sock;
        s.timestamp_ns = int("timestamp") as u64;
        s.cpu = int("cpu") as u32;
        s.tid = int("tid") as u32;
        s.uid = int("uid") as u32;
        s.family = int("family") as i32;
        s.protocol = int("protocol") as i32;
        s.state = int("state") as i32;
        s.sock_type = int("type") as i32;
        s.flags = int("flags") as u64;
        s.err = int("err") as i32;
        s.requester = int("requester") as u8;
        Some(e)
    }
}
