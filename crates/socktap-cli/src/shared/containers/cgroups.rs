//! The cgroup v2 tree: where it is mounted, and each cgroup's path from
//! its id. An event carries the id of its task's cgroup, which is the
//! inode number of the cgroup's folder.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where cgroup v2 is mounted: `/sys/fs/cgroup` on a unified host,
/// `/sys/fs/cgroup/unified` on a hybrid one.
pub fn root() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mount_point(&mounts)
}

/// The first cgroup2 mount in a mountinfo text.
fn mount_point(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        // Fields before " - " are fixed; the filesystem type follows it.
        let (left, right) = line.split_once(" - ")?;
        if right.split(' ').next()? != "cgroup2" {
            return None;
        }
        left.split(' ').nth(4).map(|p| PathBuf::from(unescape(p)))
    })
}

/// mountinfo writes spaces and the like as octal escapes (`\040`).
fn unescape(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|o| o.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(o)) => {
                out.push((o[0] - b'0') * 64 + (o[1] - b'0') * 8 + (o[2] - b'0'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A cgroup given on the command line, as a folder that exists: either a
/// path in the tree (`/system.slice/nginx.service`) or a folder under the
/// mount (`/sys/fs/cgroup/unified/system.slice`).
pub fn folder(root: &Path, arg: &str) -> Option<PathBuf> {
    let given = Path::new(arg);
    if given.starts_with(root) && given.is_dir() {
        return Some(given.to_path_buf());
    }
    let inside = root.join(arg.trim_start_matches('/'));
    inside.is_dir().then_some(inside)
}

/// How often a cgroup id not seen before may send the index back to the
/// tree: a new container is found within this, and ids that are gone
/// (a cgroup removed before its events were read) do not cost a walk each.
const RESCAN_EVERY: Duration = Duration::from_millis(100);

/// Cgroup ids to paths (relative to the root, `/` for the root itself),
/// read from the tree on start and again when an unknown id turns up.
#[derive(Debug)]
pub struct Index {
    root: PathBuf,
    paths: HashMap<u64, String>,
    scanned: Option<Instant>,
}

impl Index {
    pub fn new(root: PathBuf) -> Index {
        Index {
            root,
            paths: HashMap::new(),
            scanned: None,
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path of a cgroup id, or None if it is not (or no longer) in the tree.
    pub fn path(&mut self, id: u64) -> Option<&str> {
        if !self.paths.contains_key(&id) && self.scanned.is_none_or(|t| t.elapsed() >= RESCAN_EVERY)
        {
            self.rescan();
        }
        self.paths.get(&id).map(String::as_str)
    }

    /// Every cgroup folder and its path.
    pub fn folders(&mut self) -> impl Iterator<Item = (&str, PathBuf)> {
        self.rescan();
        let root = &self.root;
        self.paths
            .values()
            .map(move |p| (p.as_str(), root.join(p.trim_start_matches('/'))))
    }

    fn rescan(&mut self) {
        let mut paths = HashMap::new();
        let mut stack = vec![(self.root.clone(), String::from("/"))];
        while let Some((dir, rel)) = stack.pop() {
            let Ok(meta) = std::fs::metadata(&dir) else {
                continue;
            };
            paths.insert(meta.ino(), rel.clone());
            // A cgroup may go away while it is read: skip what vanished.
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    let child = if rel == "/" {
                        format!("/{name}")
                    } else {
                        format!("{rel}/{name}")
                    };
                    stack.push((entry.path(), child));
                }
            }
        }
        self.paths = paths;
        self.scanned = Some(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cgroup id of a folder: its inode number.
    fn id_of(folder: &Path) -> Option<u64> {
        std::fs::metadata(folder).ok().map(|m| m.ino())
    }

    #[test]
    fn finds_cgroup2_in_mountinfo() {
        let hybrid = "\
25 31 0:22 / /sys rw,nosuid shared:7 - sysfs sysfs rw
30 25 0:26 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw,nsdelegate
32 30 0:28 / /sys/fs/cgroup/systemd rw,nosuid shared:11 - cgroup cgroup rw,xattr,name=systemd";
        assert_eq!(
            mount_point(hybrid),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        let odd = "31 30 0:27 / /mnt/my\\040cgroups rw - cgroup2 cgroup2 rw";
        assert_eq!(mount_point(odd), Some(PathBuf::from("/mnt/my cgroups")));
        assert_eq!(mount_point("32 30 0:28 / /x rw - cgroup cgroup rw"), None);
    }

    #[test]
    fn the_running_systems_own_cgroup_is_found_by_id() {
        // This process's own cgroup, from /proc, is in the index under the
        // id of its folder.
        let root = root().expect("cgroup v2 is mounted");
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        let path = own
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .unwrap()
            .to_string();
        let dir = folder(&root, &path).unwrap();
        let id = id_of(&dir).unwrap();
        let mut index = Index::new(root.clone());
        assert_eq!(index.path(id), Some(path.as_str()));
        assert_eq!(index.path(id_of(&root).unwrap()), Some("/"));
        assert_eq!(folder(&root, "/no/such/cgroup"), None);
        assert_eq!(folder(&root, root.to_str().unwrap()), Some(root.clone()));
    }
}
