//! What a cgroup path says about the processes in it: the container
//! runtime and the container's id, the Kubernetes pod's uid, and the
//! systemd unit. Only the path is read here: names come from the
//! runtimes' APIs (`names.rs`).

/// A container runtime, as recognised from its cgroup folders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Runtime {
    Docker,
    Containerd,
    CriO,
    Podman,
    /// A container under `kubepods` with the cgroupfs driver, whose folder
    /// is the bare id and does not name the runtime.
    Cri,
}

impl Runtime {
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Containerd => "containerd",
            Runtime::CriO => "cri-o",
            Runtime::Podman => "podman",
            Runtime::Cri => "cri",
        }
    }
}

/// What one cgroup path says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    /// The runtime and the full 64-hex container id.
    pub container: Option<(Runtime, String)>,
    /// The Kubernetes pod's uid, with dashes.
    pub pod_uid: Option<String>,
    /// The systemd unit the cgroup belongs to, e.g. `nginx.service`.
    pub unit: Option<String>,
}

/// Folder prefixes that name a runtime, each followed by the 64-hex id and,
/// under systemd, `.scope`. conmon's folders (`libpod-conmon-<id>`,
/// `crio-conmon-<id>`) hold the monitor, not the container, and do not
/// match since `conmon-` is not hex.
const PREFIXES: [(&str, Runtime); 4] = [
    ("docker-", Runtime::Docker),
    ("cri-containerd-", Runtime::Containerd),
    ("crio-", Runtime::CriO),
    ("libpod-", Runtime::Podman),
];

/// The kinds of systemd unit a cgroup can belong to.
const UNIT_SUFFIXES: [&str; 5] = [".service", ".scope", ".socket", ".mount", ".swap"];

/// Reads a cgroup path (relative to the cgroup v2 root, e.g.
/// `/system.slice/docker-<id>.scope`).
pub fn parse(path: &str) -> Place {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    Place {
        // The deepest folder that names a container: a container's own
        // sub-cgroups (systemd inside it, say) belong to it.
        container: (0..parts.len())
            .rev()
            .find_map(|i| container_of(parts[i], &parts[..i])),
        pod_uid: parts.iter().rev().find_map(|p| pod_uid_of(p)),
        unit: unit_of(&parts),
    }
}

fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A folder that is a container, given its ancestors.
fn container_of(part: &str, ancestors: &[&str]) -> Option<(Runtime, String)> {
    let bare = part.strip_suffix(".scope").unwrap_or(part);
    for (prefix, runtime) in PREFIXES {
        if let Some(id) = bare.strip_prefix(prefix).filter(|id| is_id(id)) {
            return Some((runtime, id.to_ascii_lowercase()));
        }
    }
    // cgroupfs drivers name the folder by the bare id.
    if is_id(part) {
        let runtime = if ancestors.last() == Some(&"docker") {
            Runtime::Docker
        } else if ancestors.iter().any(|a| a.starts_with("kubepods")) {
            Runtime::Cri
        } else {
            return None;
        };
        return Some((runtime, part.to_ascii_lowercase()));
    }
    None
}

/// `pod<uid>` (cgroupfs) or `kubepods-<qos>-pod<uid>.slice` (systemd, where
/// the uid's dashes are underscores).
fn pod_uid_of(part: &str) -> Option<String> {
    let bare = part.strip_suffix(".slice").unwrap_or(part);
    let (_, uid) = bare.rsplit_once("pod")?;
    let uid = uid.replace('_', "-");
    let valid = uid.len() == 36 && uid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    valid.then_some(uid)
}

/// As systemd reads it: the first folder below the slices, if it is a unit.
fn unit_of(parts: &[&str]) -> Option<String> {
    let first = parts.iter().find(|p| !p.ends_with(".slice"))?;
    UNIT_SUFFIXES
        .iter()
        .any(|s| first.len() > s.len() && first.ends_with(s))
        .then(|| first.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904e6e9a1c4a5d2e8c3b1a0f9e8";

    fn container(path: &str) -> Option<(Runtime, String)> {
        parse(path).container
    }

    #[test]
    fn every_runtime_shape_is_recognised() {
        let cases = [
            (format!("/system.slice/docker-{ID}.scope"), Runtime::Docker),
            (format!("/docker/{ID}"), Runtime::Docker),
            (
                format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1f2e3d4c_5b6a_7980_a1b2_c3d4e5f60718.slice/cri-containerd-{ID}.scope"),
                Runtime::Containerd,
            ),
            (
                format!("/kubepods/besteffort/pod1f2e3d4c-5b6a-7980-a1b2-c3d4e5f60718/{ID}"),
                Runtime::Cri,
            ),
            (
                format!("/kubepods.slice/kubepods-pod1f2e3d4c_5b6a_7980_a1b2_c3d4e5f60718.slice/crio-{ID}.scope"),
                Runtime::CriO,
            ),
            (format!("/machine.slice/libpod-{ID}.scope"), Runtime::Podman),
            (format!("/libpod_parent/libpod-{ID}"), Runtime::Podman),
            // systemd running inside the container: still that container.
            (format!("/system.slice/docker-{ID}.scope/init.scope"), Runtime::Docker),
        ];
        for (path, runtime) in cases {
            assert_eq!(container(&path), Some((runtime, ID.to_string())), "{path}");
        }
    }

    #[test]
    fn what_is_not_a_container_is_not_taken_for_one() {
        for path in [
            "/".to_string(),
            "/system.slice/nginx.service".to_string(),
            format!("/machine.slice/libpod-conmon-{ID}.scope"),
            format!("/system.slice/crio-conmon-{ID}.scope"),
            // a 64-hex folder outside docker and kubepods
            format!("/user.slice/{ID}"),
            // one hex digit short
            format!("/docker/{}", &ID[1..]),
        ] {
            assert_eq!(container(&path), None, "{path}");
        }
    }

    #[test]
    fn pods_by_uid_in_both_drivers() {
        let uid = Some("1f2e3d4c-5b6a-7980-a1b2-c3d4e5f60718".to_string());
        assert_eq!(
            parse(&format!("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1f2e3d4c_5b6a_7980_a1b2_c3d4e5f60718.slice/cri-containerd-{ID}.scope")).pod_uid,
            uid
        );
        assert_eq!(
            parse(&format!(
                "/kubepods/pod1f2e3d4c-5b6a-7980-a1b2-c3d4e5f60718/{ID}"
            ))
            .pod_uid,
            uid
        );
        assert_eq!(parse("/system.slice/podman.service").pod_uid, None);
    }

    #[test]
    fn units_as_systemd_names_them() {
        let unit = |p: &str| parse(p).unit;
        assert_eq!(
            unit("/system.slice/nginx.service"),
            Some("nginx.service".into())
        );
        assert_eq!(
            unit("/system.slice/nginx.service/worker"),
            Some("nginx.service".into())
        );
        assert_eq!(
            unit("/user.slice/user-0.slice/session-3.scope"),
            Some("session-3.scope".into())
        );
        assert_eq!(
            unit(&format!("/system.slice/docker-{ID}.scope")),
            Some(format!("docker-{ID}.scope"))
        );
        assert_eq!(unit("/"), None);
        assert_eq!(unit("/system.slice"), None);
        assert_eq!(unit(&format!("/libpod_parent/libpod-{ID}")), None);
    }
}
