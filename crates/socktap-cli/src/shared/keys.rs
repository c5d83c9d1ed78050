//! The keys traffic can be grouped by: one definition for `stat --by`,
//! `serve --labels` and the rows of `top`. Each key says which field the
//! kernel must keep in its rows and how a row's value is shown. The
//! container keys (container, pod, namespace, unit) are kept by the kernel
//! as the cgroup id and named in user space.

use socktap::tapset::names::{family_display_name, protocol_display_name, type_display_name};
use socktap::{Keys, Probe, RowKey};

use crate::shared::containers::{Attribution, Containers};
use crate::UsageError;

/// A key a user can group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Probe,
    Pid,
    Comm,
    Uid,
    Cgroup,
    Family,
    Protocol,
    Type,
    Port,
    Container,
    Pod,
    Namespace,
    Unit,
}

impl Key {
    /// Every key, in the order help texts list them.
    pub const ALL: [Key; 13] = [
        Key::Probe,
        Key::Pid,
        Key::Comm,
        Key::Uid,
        Key::Cgroup,
        Key::Family,
        Key::Protocol,
        Key::Type,
        Key::Port,
        Key::Container,
        Key::Pod,
        Key::Namespace,
        Key::Unit,
    ];

    /// Its name on the command line, as a column and as a label.
    pub fn name(self) -> &'static str {
        match self {
            Key::Probe => "probe",
            Key::Pid => "pid",
            Key::Comm => "comm",
            Key::Uid => "uid",
            Key::Cgroup => "cgroup",
            Key::Family => "family",
            Key::Protocol => "protocol",
            Key::Type => "type",
            Key::Port => "port",
            Key::Container => "container",
            Key::Pod => "pod",
            Key::Namespace => "namespace",
            Key::Unit => "unit",
        }
    }

    /// Whether the key is named from the cgroup tree and the runtimes.
    pub fn is_container(self) -> bool {
        matches!(self, Key::Container | Key::Pod | Key::Namespace | Key::Unit)
    }

    /// Parses a comma-separated list given to `flag`, in the user's order,
    /// without repeats; only `allowed` keys are accepted.
    pub fn parse_list(flag: &str, names: &[String], allowed: &[Key]) -> anyhow::Result<Vec<Key>> {
        let mut out = Vec::new();
        for name in names {
            let key = allowed
                .iter()
                .copied()
                .find(|k| k.name() == name)
                .ok_or_else(|| {
                    let names: Vec<&str> = allowed.iter().map(|k| k.name()).collect();
                    UsageError(format!(
                        "{flag}: unknown key '{name}' (keys: {})",
                        names.join(", ")
                    ))
                })?;
            if !out.contains(&key) {
                out.push(key);
            }
        }
        Ok(out)
    }

    /// How a row's value of this key is shown: names where the tapset has
    /// them. `probe` is the requested probe the row is counted under. A
    /// container key with no value (a host process, or a name not known)
    /// is `-`.
    pub fn value(
        self,
        probe: Option<Probe>,
        k: &RowKey,
        containers: Option<&Containers>,
    ) -> String {
        self.text(probe, k, containers)
            .unwrap_or_else(|| "-".to_string())
    }

    /// The value, None for a container key that has none.
    pub fn text(
        self,
        probe: Option<Probe>,
        k: &RowKey,
        containers: Option<&Containers>,
    ) -> Option<String> {
        Some(match self {
            Key::Probe => probe.map_or("*", |p| p.name()).to_string(),
            Key::Pid => k.pid.to_string(),
            Key::Comm => k.comm.clone(),
            Key::Uid => k.uid.to_string(),
            Key::Cgroup => k.cgroup.to_string(),
            Key::Family => family_display_name(i64::from(k.family)).into_owned(),
            Key::Protocol => {
                protocol_display_name(i64::from(k.family), i64::from(k.protocol)).into_owned()
            }
            Key::Type => type_display_name(i64::from(k.sock_type)).into_owned(),
            Key::Port => k.port.to_string(),
            Key::Container | Key::Pod | Key::Namespace | Key::Unit => {
                return self.of(&containers?.of(k.cgroup))
            }
        })
    }

    /// A container key's value from what is known of a cgroup.
    pub fn of(self, a: &Attribution) -> Option<String> {
        match self {
            Key::Container => a.container_key(),
            Key::Pod => a.pod().map(str::to_string),
            Key::Namespace => a.namespace().map(str::to_string),
            Key::Unit => a.place.unit.clone(),
            _ => None,
        }
    }
}

impl Key {
    /// The row's value of this key as a number, for keys that are numbers
    /// (JSON writes them as numbers); None for probe and comm.
    pub fn number(self, k: &RowKey) -> Option<i64> {
        match self {
            Key::Probe | Key::Comm => None,
            Key::Container | Key::Pod | Key::Namespace | Key::Unit => None,
            Key::Pid => Some(i64::from(k.pid)),
            Key::Uid => Some(i64::from(k.uid)),
            Key::Cgroup => i64::try_from(k.cgroup).ok(),
            Key::Family => Some(i64::from(k.family)),
            Key::Protocol => Some(i64::from(k.protocol)),
            Key::Type => Some(i64::from(k.sock_type)),
            Key::Port => Some(i64::from(k.port)),
        }
    }

    /// Whether the number has a name beside it (JSON's `*_name` fields).
    pub fn has_name(self) -> bool {
        matches!(self, Key::Family | Key::Protocol | Key::Type)
    }
}

/// The fields the kernel keeps in its rows for these keys (the probe path
/// is always kept). A protocol number means something only with its
/// family (4 is IPIP for INET, SOCK_DIAG for NETLINK), so the
/// family is kept with it, to name the protocol whatever the other keys.
pub fn kernel_keys(keys: &[Key]) -> Keys {
    Keys {
        pid: keys.contains(&Key::Pid),
        uid: keys.contains(&Key::Uid),
        comm: keys.contains(&Key::Comm),
        cgroup: keys.iter().any(|k| *k == Key::Cgroup || k.is_container()),
        family: keys.contains(&Key::Family) || keys.contains(&Key::Protocol),
        protocol: keys.contains(&Key::Protocol),
        sock_type: keys.contains(&Key::Type),
        port: keys.contains(&Key::Port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_in_order_without_repeats_and_reject() {
        let by = Key::parse_list(
            "--by",
            &["pid".into(), "probe".into(), "pid".into()],
            &Key::ALL,
        )
        .unwrap();
        assert_eq!(by, vec![Key::Pid, Key::Probe]);
        let e = Key::parse_list("--by", &["pdi".into()], &Key::ALL)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--by") && e.contains("pdi"), "{e}");
        let e = Key::parse_list("--labels", &["probe".into()], &Key::ALL[1..])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--labels: unknown key 'probe'"), "{e}");
    }

    #[test]
    fn kernel_keys_follow_the_chosen_keys() {
        let k = kernel_keys(&[Key::Probe, Key::Family, Key::Port]);
        assert!(k.family && k.port && !k.pid && !k.protocol);
    }

    #[test]
    fn protocols_are_named_without_family_among_the_keys() {
        let k = kernel_keys(&[Key::Comm, Key::Protocol]);
        assert!(k.family && k.protocol);
        let row = RowKey {
            path: socktap::Path::SendmsgReturn,
            pid: 0,
            uid: 0,
            comm: "x".into(),
            cgroup: 0,
            family: 2,
            protocol: 17,
            sock_type: 0,
            port: 0,
        };
        assert_eq!(Key::Protocol.value(None, &row, None), "UDP");
    }
}
