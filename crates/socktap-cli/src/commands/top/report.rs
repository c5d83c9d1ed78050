//! socktop's rows: per (pid, protocol, family), successful sends and
//! receives with their bytes, from the in-kernel aggregation.

use std::collections::HashMap;

use socktap::aggregate::Device;
use socktap::tapset::tables::{sock_fam_num2str, sock_prot_num2str};
use socktap::{Counts, Probe, RowKey};

use crate::shared::containers::Containers;
use crate::shared::keys::Key;

/// One row of socktop's PROCESSES section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcRow {
    pub pid: u32,
    pub uid: u32,
    pub comm: String,
    pub protocol: i32,
    pub family: i32,
    pub sends: u64,
    pub recvs: u64,
    pub send_bytes: u64,
    pub recv_bytes: u64,
    /// With -C: the process's container (name, else short id); None for
    /// a host process.
    pub container: Option<String>,
}

impl ProcRow {
    pub fn total_bytes(&self) -> u64 {
        self.send_bytes + self.recv_bytes
    }
}

/// Folds kernel rows (keyed by path, pid, uid, comm, family, protocol)
/// into socktop rows. As socktop does, only successful calls count, and a
/// 0-byte success counts as an operation without bytes.
pub fn proc_rows(rows: &HashMap<RowKey, Counts>, containers: Option<&Containers>) -> Vec<ProcRow> {
    let mut by: HashMap<(u32, i32, i32), ProcRow> = HashMap::new();
    for (k, c) in rows {
        let send = Probe::Send.paths().contains(&k.path);
        let recv = Probe::Receive.paths().contains(&k.path);
        if !send && !recv {
            continue;
        }
        let row = by
            .entry((k.pid, k.protocol, k.family))
            .or_insert_with(|| ProcRow {
                pid: k.pid,
                uid: k.uid,
                comm: k.comm.clone(),
                protocol: k.protocol,
                family: k.family,
                container: Key::Container.text(None, k, containers),
                ..Default::default()
            });
        // Bytes count successes only (the kernel adds no bytes for errors).
        if send {
            row.sends += c.successes();
            row.send_bytes += c.bytes;
        } else {
            row.recvs += c.successes();
            row.recv_bytes += c.bytes;
        }
    }
    let mut out: Vec<ProcRow> = by.into_values().filter(|r| r.sends + r.recvs > 0).collect();
    sort_rows(&mut out, SortBy::Bytes);
    out
}

/// What the rows are ordered by (descending, ties by pid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    Bytes,
    Sends,
    Recvs,
    Pid,
    Command,
}

impl SortBy {
    pub fn next(self) -> SortBy {
        match self {
            SortBy::Bytes => SortBy::Sends,
            SortBy::Sends => SortBy::Recvs,
            SortBy::Recvs => SortBy::Pid,
            SortBy::Pid => SortBy::Command,
            SortBy::Command => SortBy::Bytes,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SortBy::Bytes => "bytes",
            SortBy::Sends => "#send",
            SortBy::Recvs => "#recv",
            SortBy::Pid => "pid",
            SortBy::Command => "command",
        }
    }
}

/// Sorts in place; ties fall back to pid, protocol and family so that the
/// order is stable from one interval to the next and rows don't jump.
pub fn sort_rows(rows: &mut [ProcRow], by: SortBy) {
    rows.sort_by(|a, b| {
        let primary = match by {
            SortBy::Bytes => b.total_bytes().cmp(&a.total_bytes()),
            SortBy::Sends => b.sends.cmp(&a.sends),
            SortBy::Recvs => b.recvs.cmp(&a.recvs),
            SortBy::Pid => a.pid.cmp(&b.pid),
            SortBy::Command => a.comm.cmp(&b.comm),
        };
        primary
            .then_with(|| a.pid.cmp(&b.pid))
            .then_with(|| a.protocol.cmp(&b.protocol))
            .then_with(|| a.family.cmp(&b.family))
    });
}

/// socktop's report, byte for byte: banner, PROCESSES, optional DEVICES,
/// closing rule and an empty line.
pub fn socktop_report(
    time: &str,
    rows: &[ProcRow],
    devices: Option<&[Device]>,
    top: usize,
    show_containers: bool,
) -> String {
    let mut s = String::new();
    s.push_str(&format!("{} {} {}\n", "=".repeat(23), time, "=".repeat(24)));
    s.push_str(&format!(
        "{} PROCESSES {}\n",
        "-".repeat(31),
        "-".repeat(31)
    ));
    // One format for the header and the rows of each section: socktop's widths.
    macro_rules! process_line {
        ($($col:expr),*) => {
            format!("{:<5} {:<5} {:>7} {:>7} {:>7} {:>7} {:<4} {:<8} {:<15}", $($col),*)
        };
    }
    macro_rules! device_line {
        ($($col:expr),*) => {
            format!("{:<7} {:>13} {:>13} {:>15} {:>15}\n", $($col),*)
        };
    }
    // -C adds a last column; without it the report is socktop's, byte for byte.
    let container_col = |c: Option<&str>| {
        if show_containers {
            format!(" {}\n", c.unwrap_or("-"))
        } else {
            "\n".to_string()
        }
    };
    s.push_str(&process_line!(
        "PID", "UID", "#SEND", "#RECV", "SEND_KB", "RECV_KB", "PROT", "FAMILY", "COMMAND"
    ));
    s.push_str(&container_col(Some("CONTAINER")));
    for r in rows.iter().take(top) {
        s.push_str(&process_line!(
            r.pid,
            r.uid,
            r.sends,
            r.recvs,
            r.send_bytes / 1024,
            r.recv_bytes / 1024,
            sock_prot_num2str(i64::from(r.protocol)),
            sock_fam_num2str(i64::from(r.family)),
            r.comm
        ));
        s.push_str(&container_col(r.container.as_deref()));
    }
    if let Some(devs) = devices {
        s.push_str(&format!("{} DEVICES {}\n", "-".repeat(32), "-".repeat(32)));
        s.push_str(&device_line!("DEV", "#XMIT", "#RECV", "XMIT_KB", "RECV_KB"));
        for d in devs.iter().take(top) {
            s.push_str(&device_line!(
                d.name,
                d.tx_packets,
                d.rx_packets,
                d.tx_bytes / 1024,
                d.rx_bytes / 1024
            ));
        }
    }
    s.push_str(&"=".repeat(73));
    s.push_str("\n\n");
    s
}

/// One report as a JSON object: the same rows as the text report, with
/// numbers as numbers and names beside them.
pub fn json(
    rows: &[ProcRow],
    devices: Option<&[Device]>,
    top: usize,
    every: std::time::Duration,
    lost: &socktap::Losses,
    show_containers: bool,
) -> serde_json::Value {
    use socktap::tapset::names::{family_display_name, protocol_display_name};
    let processes: Vec<serde_json::Value> = rows
        .iter()
        .take(top)
        .map(|r| {
            let mut p = serde_json::json!({
                "pid": r.pid,
                "uid": r.uid,
                "comm": r.comm,
                "protocol": r.protocol,
                "protocol_name": protocol_display_name(i64::from(r.family), i64::from(r.protocol)),
                "family": r.family,
                "family_name": family_display_name(i64::from(r.family)),
                "sends": r.sends,
                "receives": r.recvs,
                "send_bytes": r.send_bytes,
                "receive_bytes": r.recv_bytes,
            });
            if show_containers {
                p["container"] = r.container.clone().into();
            }
            p
        })
        .collect();
    let mut rec = serde_json::json!({
        "record": "top",
        "time": crate::shared::time::rfc3339(crate::shared::time::now_unix_ns()),
        "seconds": every.as_secs_f64(),
        "processes": processes,
        "lost": lost.total(),
        "lost_by_reason": crate::shared::losses::json(lost),
    });
    if let Some(devs) = devices {
        rec["devices"] = devs
            .iter()
            .take(top)
            .map(|d| {
                serde_json::json!({
                    "name": d.name,
                    "netns": d.netns,
                    "tx_packets": d.tx_packets,
                    "rx_packets": d.rx_packets,
                    "tx_bytes": d.tx_bytes,
                    "rx_bytes": d.rx_bytes,
                })
            })
            .collect();
    }
    rec
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::testing::{counts, row};
    use socktap::Path;

    fn key(path: Path, pid: u32, protocol: i32) -> RowKey {
        RowKey {
            pid,
            uid: 1000,
            protocol,
            ..row(path, &format!("p{pid}"))
        }
    }

    #[test]
    fn folds_paths_into_socktop_rows_sorted_by_bytes() {
        let mut m = HashMap::new();
        m.insert(key(Path::SendmsgReturn, 1, 17), counts(3, 3000, 1));
        m.insert(key(Path::AioWriteReturn, 1, 17), counts(1, 100, 0));
        m.insert(key(Path::RecvmsgReturn, 1, 17), counts(2, 2048, 0));
        m.insert(key(Path::ReadvReturn, 2, 6), counts(1, 9000, 0));
        m.insert(key(Path::Sendmsg, 2, 6), counts(5, 5, 0)); // entries don't count
        let rows = proc_rows(&m, None);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].pid, rows[0].recvs, rows[0].recv_bytes),
            (2, 1, 9000)
        );
        assert_eq!(
            (
                rows[1].sends,
                rows[1].send_bytes,
                rows[1].recvs,
                rows[1].recv_bytes
            ),
            (3, 3100, 2, 2048)
        );
    }

    #[test]
    fn report_layout_is_socktops() {
        let rows = vec![ProcRow {
            pid: 4242,
            uid: 0,
            comm: "python3".into(),
            protocol: 17,
            family: 2,
            sends: 3,
            recvs: 2,
            send_bytes: 3100,
            recv_bytes: 2048,
            container: None,
        }];
        let devs = vec![Device {
            name: "lo".into(),
            netns: 4026531840,
            tx_packets: 5,
            rx_packets: 5,
            tx_bytes: 4096,
            rx_bytes: 4096,
        }];
        let r = socktop_report("Mon Jan 29 12:27:24 2007", &rows, Some(&devs), 10, false);
        let expected = "\
======================= Mon Jan 29 12:27:24 2007 ========================
------------------------------- PROCESSES -------------------------------
PID   UID     #SEND   #RECV SEND_KB RECV_KB PROT FAMILY   COMMAND        
4242  0           3       2       3       2 UDP  INET     python3        
-------------------------------- DEVICES --------------------------------
DEV             #XMIT         #RECV         XMIT_KB         RECV_KB
lo                  5             5               4               4
=========================================================================

";
        assert_eq!(r, expected);
        for line in r
            .lines()
            .filter(|l| l.starts_with('=') || l.starts_with('-'))
        {
            assert_eq!(line.len(), 73, "{line}");
        }
    }
}
