//! Socket events as the library hands them out.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::kernel::skel::types;
use crate::tapset::{Path, Probe};

const AF_INET: u8 = types::addr_family::ADDR_INET.0 as u8;
const AF_INET6: u8 = types::addr_family::ADDR_INET6.0 as u8;

/// One firing of a tapset probe, with the tapset's variables and the
/// process context. Plain data: copying one is cheap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// The probe that fired, as the reader asked for it (`socket.send` when
    /// reached through the alias): the tapset's `name`.
    pub probe: Probe,
    /// The kernel-side path, e.g. `socket.sendmsg.return` for a send(2).
    pub path: Path,
    /// CLOCK_MONOTONIC nanoseconds.
    pub timestamp_ns: u64,
    /// The CPU it ran on.
    pub cpu: u32,
    /// A `MSG_PEEK` receive, which leaves the message queued (reported only
    /// with [`TracerBuilder::include_peek`](crate::TracerBuilder::include_peek)).
    pub peek: bool,
    /// Process id (tgid).
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// Real uid.
    pub uid: u32,
    /// Cgroup v2 id.
    pub cgroup: u64,
    comm: [u8; 16],
    /// Socket inode number, as in `/proc/PID/fd/N -> socket:[ino]`; 0 if none.
    pub ino: u32,
    /// Socket cookie (as `ss -e` shows it), 0 where it cannot be had.
    pub cookie: u64,
    /// Entry probes: bytes requested. Return probes: bytes moved or -errno.
    /// Create probes: 0, or `err` on create.return.
    pub size: i64,
    /// Address family (the proto_ops family), -1 if no socket. For create:
    /// the family requested.
    pub family: i32,
    /// `sk->sk_protocol`, -1 if none. For create: the protocol requested.
    pub protocol: i32,
    /// `socket->state` (SS_*), -1 if none.
    pub state: i32,
    /// `socket->type`, -1 if none. For create: the type requested.
    pub sock_type: i32,
    /// `socket->flags`.
    pub flags: u64,
    /// create.return: the creation's result (0 or -errno).
    pub err: i32,
    /// create: 1 if the kernel asked for the socket, 0 for a user.
    pub requester: u8,
    /// Local address and port of an INET/INET6 socket.
    pub local: Option<SocketAddr>,
    /// Remote address and port of an INET/INET6 socket (unspecified when
    /// it is not connected).
    pub remote: Option<SocketAddr>,
}

impl Event {
    /// The task's command name (comm).
    pub fn comm(&self) -> &str {
        let end = self.comm.iter().position(|&b| b == 0).unwrap_or(16);
        std::str::from_utf8(&self.comm[..end]).unwrap_or("?")
    }

    /// The tapset's `success`: only return probes define it.
    pub fn success(&self) -> Option<bool> {
        if !self.path.is_return() {
            return None;
        }
        match self.path {
            Path::CreateReturn => Some(self.err >= 0),
            Path::CloseReturn => None,
            _ => Some(self.size >= 0),
        }
    }

    /// This event as seen through another probe (an alias) that includes it.
    pub fn as_probe(&self, probe: Probe) -> Event {
        Event { probe, ..*self }
    }

    /// A plain send event at `timestamp_ns`, for tests of code that
    /// formats events.
    #[doc(hidden)]
    pub fn for_test(timestamp_ns: u64) -> Event {
        Event {
            probe: Probe::SendmsgReturn,
            path: Path::SendmsgReturn,
            timestamp_ns,
            cpu: 0,
            peek: false,
            pid: 1,
            tid: 1,
            uid: 0,
            cgroup: 0,
            comm: *b"test\0\0\0\0\0\0\0\0\0\0\0\0",
            ino: 0,
            cookie: 0,
            size: 1,
            family: 2,
            protocol: 17,
            state: 1,
            sock_type: 2,
            flags: 0,
            err: 0,
            requester: 0,
            local: None,
            remote: None,
        }
    }

    /// This event with another command name (at most 15 bytes are kept,
    /// as the kernel keeps them), for tests and replayed recordings.
    #[doc(hidden)]
    pub fn with_comm(mut self, comm: &str) -> Event {
        self.comm = [0; 16];
        let n = comm.len().min(15);
        self.comm[..n].copy_from_slice(&comm.as_bytes()[..n]);
        self
    }

    /// Decodes one ring-buffer record; `None` if it is not a whole event.
    pub(crate) fn decode(data: &[u8]) -> Option<Event> {
        // The ring buffer gives 8-byte aligned records, but copy anyway so
        // decoding never depends on the alignment of the slice.
        let mut raw = types::event::default();
        plain::copy_from_bytes(&mut raw, data).ok()?;
        let path = Path::from_id(raw.probe)?;
        let comm = raw.comm.map(|c| c as u8);
        let (local, remote) = addresses(&raw);
        Some(Event {
            probe: path.probe(),
            path,
            timestamp_ns: raw.ts_ns,
            cpu: u32::from(raw.cpu),
            peek: raw.peek != 0,
            pid: raw.pid,
            tid: raw.tid,
            uid: raw.uid,
            cgroup: raw.cgroup,
            comm,
            ino: raw.ino,
            cookie: raw.cookie,
            size: raw.size,
            family: raw.family,
            protocol: raw.protocol,
            state: raw.state,
            sock_type: raw.r#type,
            flags: raw.sock_flags,
            err: raw.err,
            requester: raw.requester,
            local,
            remote,
        })
    }
}

fn addresses(raw: &types::event) -> (Option<SocketAddr>, Option<SocketAddr>) {
    let ip = |b: &[u8; 16]| -> Option<IpAddr> {
        match raw.addr_family {
            AF_INET => Some(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))),
            AF_INET6 => Some(IpAddr::V6(Ipv6Addr::from(*b))),
            _ => None,
        }
    };
    let local = ip(&raw.laddr).map(|a| SocketAddr::new(a, raw.lport));
    let remote = ip(&raw.raddr).map(|a| SocketAddr::new(a, raw.rport));
    (local, remote)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_bytes(raw: &types::event) -> Vec<u8> {
        // SAFETY: `types::event` is Plain (see above), so viewing it as bytes is sound.
        unsafe { plain::as_bytes(raw) }.to_vec()
    }

    #[test]
    fn event_layout_is_pinned() {
        // The C struct and the generated Rust struct must agree; a change
        // to socktap.h that reorders fields shows up here.
        assert_eq!(std::mem::size_of::<types::event>(), 136);
    }

    #[test]
    fn decodes_an_inet_send() {
        let mut raw = types::event {
            probe: Path::SendmsgReturn as u16,
            pid: 42,
            tid: 43,
            size: 64,
            family: 2,
            protocol: 17,
            r#type: 2,
            state: 1,
            addr_family: AF_INET,
            lport: 5000,
            rport: 6000,
            ..Default::default()
        };
        raw.laddr[..4].copy_from_slice(&[127, 0, 0, 1]);
        raw.raddr[..4].copy_from_slice(&[127, 0, 0, 2]);
        for (d, s) in raw.comm.iter_mut().zip(b"python3\0") {
            *d = *s as i8;
        }
        let ev = Event::decode(&raw_bytes(&raw)).expect("decodes");
        assert_eq!(ev.path, Path::SendmsgReturn);
        assert_eq!(ev.probe, Probe::SendmsgReturn);
        assert_eq!(ev.comm(), "python3");
        assert_eq!(ev.success(), Some(true));
        assert_eq!(ev.local, Some("127.0.0.1:5000".parse().unwrap()));
        assert_eq!(ev.remote, Some("127.0.0.2:6000".parse().unwrap()));
        assert_eq!(ev.as_probe(Probe::Send).probe, Probe::Send);
    }

    #[test]
    fn failures_and_entries() {
        let raw = types::event {
            probe: Path::RecvmsgReturn as u16,
            size: -11,
            ..Default::default()
        };
        let ev = Event::decode(&raw_bytes(&raw)).expect("decodes");
        assert_eq!(ev.success(), Some(false));
        assert_eq!(ev.local, None);
        let raw = types::event {
            probe: Path::Recvmsg as u16,
            size: 4096,
            ..Default::default()
        };
        assert_eq!(Event::decode(&raw_bytes(&raw)).unwrap().success(), None);
    }

    #[test]
    fn rejects_short_and_unknown_records() {
        assert!(Event::decode(&[0u8; 8]).is_none());
        let raw = types::event {
            probe: 99,
            ..Default::default()
        };
        assert!(Event::decode(&raw_bytes(&raw)).is_none());
    }
}
