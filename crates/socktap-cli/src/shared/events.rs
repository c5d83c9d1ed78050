//! Events as trace prints them: text columns or JSON Lines.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;
use std::net::IpAddr;

use serde::Serialize;
use socktap::coverage::KernelFeatures;
use socktap::tapset::names::{family_display_name, protocol_display_name, type_display_name};
use socktap::tapset::tables::sock_state_num2str;
use socktap::{Event, Path};

use super::containers::{Attribution, Containers};
use super::time::{rfc3339, time_of_day};

/// The text header, matching [`text`]'s columns.
pub fn text_header(out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<15} {:<24} {:>7} {:>7} {:<15} {:<7} {:<9} {:<6} {:>8} {:>3} {:<22} {:<22}",
        "TIME",
        "PROBE",
        "PID",
        "TID",
        "COMM",
        "FAMILY",
        "TYPE",
        "PROTO",
        "SIZE",
        "OK",
        "LOCAL",
        "REMOTE"
    )
}

/// One event as a text line. Sizes show only where the probe defines
/// them: "-" for create, close and close.return, err for create.return.
pub fn text(out: &mut impl Write, clock_offset_ns: i128, ev: &Event) -> std::io::Result<()> {
    let size = match ev.path {
        Path::Create | Path::Close | Path::CloseReturn => "-".to_string(),
        Path::CreateReturn => ev.err.to_string(),
        _ => ev.size.to_string(),
    };
    let ok = match ev.success() {
        Some(true) => "1",
        Some(false) => "0",
        None => "-",
    };
    let addr =
        |a: Option<std::net::SocketAddr>| a.map_or_else(|| "-".to_string(), |a| a.to_string());
    // A peek leaves the message queued: marked, so that it is not read as a
    // second copy of the receive that follows.
    let probe = if ev.peek {
        format!("{} (peek)", ev.probe.name())
    } else {
        ev.probe.name().to_string()
    };
    writeln!(
        out,
        "{:<15} {:<24} {:>7} {:>7} {:<15} {:<7} {:<9} {:<6} {:>8} {:>3} {:<22} {:<22}",
        time_of_day(clock_offset_ns + i128::from(ev.timestamp_ns)),
        probe,
        ev.pid,
        ev.tid,
        ev.comm(),
        family_display_name(i64::from(ev.family)),
        type_display_name(i64::from(ev.sock_type)),
        protocol_display_name(i64::from(ev.family), i64::from(ev.protocol)),
        size,
        ok,
        addr(ev.local),
        addr(ev.remote),
    )
}

/// One event in JSON: the tapset's variable names plus context.
#[derive(Serialize)]
struct JsonEvent<'a> {
    name: &'static str,
    probe: &'static str,
    timestamp: u64,
    time: &'a str,
    cpu: u32,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    peek: bool,
    pid: u32,
    tid: u32,
    comm: &'a str,
    uid: u32,
    cgroup: u64,
    ino: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    cookie: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    success: Option<u8>,
    family: i32,
    family_name: Cow<'static, str>,
    protocol: i32,
    protocol_name: Cow<'static, str>,
    #[serde(rename = "type")]
    sock_type: i32,
    type_name: Cow<'static, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_name: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flags: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flags_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    requester: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    err: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    local_addr: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    local_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remote_addr: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remote_port: Option<u16>,
    // Where the task runs, when known (absent, not empty, when not).
    #[serde(skip_serializing_if = "Option::is_none")]
    cgroup_path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    container_runtime: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    container_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    container_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pod: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
}

/// Writes events as JSON lines, reusing what repeats between events so the
/// per-event cost stays small at hundreds of thousands of events a second.
pub struct JsonWriter<'k> {
    features: &'k KernelFeatures,
    /// Names the cgroup, container, pod and unit of each event.
    containers: Option<&'k Containers>,
    clock_offset_ns: i128,
    /// Names of socket flag sets seen so far: there are only a handful.
    flag_names: HashMap<u64, String>,
    /// The last second's RFC 3339 prefix, and which second it is.
    second: (i128, String),
    time: String,
    /// The line being formatted: serde writes it in dozens of small
    /// pieces, which cost far less into a Vec than through the output's
    /// own writer, and the whole line then goes out in one copy.
    line: Vec<u8>,
}

impl<'k> JsonWriter<'k> {
    pub fn new(
        features: &'k KernelFeatures,
        containers: Option<&'k Containers>,
        clock_offset_ns: i128,
    ) -> Self {
        JsonWriter {
            features,
            containers,
            clock_offset_ns,
            flag_names: HashMap::new(),
            second: (i128::MIN, String::new()),
            time: String::with_capacity(32),
            line: Vec::with_capacity(1024),
        }
    }

    /// One event as a JSON line.
    pub fn write(&mut self, out: &mut impl Write, ev: &Event) -> std::io::Result<()> {
        let unix_ns = self.clock_offset_ns + i128::from(ev.timestamp_ns);
        let sec = unix_ns.div_euclid(1_000_000_000);
        if sec != self.second.0 {
            let full = rfc3339(sec * 1_000_000_000);
            // "YYYY-MM-DDTHH:MM:SS." without the nanoseconds and the Z
            self.second = (sec, full[..20].to_string());
        }
        self.time.clear();
        self.time.push_str(&self.second.1);
        let _ = write!(self.time, "{:09}Z", unix_ns.rem_euclid(1_000_000_000));
        // Creation has no socket yet, so no flags to name.
        let flags = if matches!(ev.path, Path::Create | Path::CreateReturn) {
            None
        } else {
            let k = self.features;
            Some(
                self.flag_names
                    .entry(ev.flags)
                    .or_insert_with(|| k.sock_flags_str(ev.flags))
                    .as_str(),
            )
        };
        let place = self.containers.map(|c| c.of(ev.cgroup)).unwrap_or_default();
        self.line.clear();
        json(&mut self.line, &self.time, flags, &place, ev)?;
        out.write_all(&self.line)
    }
}

fn json(
    out: &mut Vec<u8>,
    time: &str,
    flags_name: Option<&str>,
    place: &Attribution,
    ev: &Event,
) -> std::io::Result<()> {
    let is_create = matches!(ev.path, Path::Create | Path::CreateReturn);
    let rec = JsonEvent {
        name: ev.probe.name(),
        probe: ev.path.name(),
        timestamp: ev.timestamp_ns,
        time,
        cpu: ev.cpu,
        peek: ev.peek,
        pid: ev.pid,
        tid: ev.tid,
        comm: ev.comm(),
        uid: ev.uid,
        cgroup: ev.cgroup,
        ino: ev.ino,
        cookie: (ev.cookie != 0).then_some(ev.cookie),
        size: (!is_create && ev.path != Path::Close && ev.path != Path::CloseReturn)
            .then_some(ev.size),
        success: ev.success().map(u8::from),
        family: ev.family,
        family_name: family_display_name(i64::from(ev.family)),
        protocol: ev.protocol,
        protocol_name: protocol_display_name(i64::from(ev.family), i64::from(ev.protocol)),
        sock_type: ev.sock_type,
        type_name: type_display_name(i64::from(ev.sock_type)),
        state: (!is_create).then_some(ev.state),
        state_name: (!is_create).then(|| sock_state_num2str(i64::from(ev.state))),
        flags: (!is_create).then_some(ev.flags),
        flags_name,
        requester: is_create.then_some(ev.requester),
        err: (ev.path == Path::CreateReturn).then_some(ev.err),
        local_addr: ev.local.map(|a| a.ip()),
        local_port: ev.local.map(|a| a.port()),
        remote_addr: ev.remote.map(|a| a.ip()),
        remote_port: ev.remote.map(|a| a.port()),
        cgroup_path: place.cgroup_path.as_deref(),
        unit: place.place.unit.as_deref(),
        container_runtime: place.runtime().map(|r| r.name()),
        container_id: place.container_id(),
        container_name: place.container_name(),
        pod: place.pod(),
        namespace: place.namespace(),
    };
    serde_json::to_writer(&mut *out, &rec)?;
    out.push(b'\n');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_writer_times_match_rfc3339() {
        let k = KernelFeatures::default();
        let mut w = JsonWriter::new(&k, None, 1_795_859_521_000_000_000);
        for ts in [0u64, 5, 999_999_999, 1_000_000_000, 3_600_123_456_789] {
            let ev = socktap::Event::for_test(ts);
            let mut out = Vec::new();
            w.write(&mut out, &ev).unwrap();
            let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(
                v["time"],
                rfc3339(1_795_859_521_000_000_000 + i128::from(ts))
            );
            assert_eq!(v["timestamp"], ts);
            assert_eq!(v["flags_name"], "");
        }
    }
}
