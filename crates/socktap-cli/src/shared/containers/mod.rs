//! Which container, pod, namespace and systemd unit each event comes from.
//! Events carry their task's cgroup v2 id; from it come the cgroup's path
//! (`cgroups`), what the path says about runtime, container id, pod and
//! unit (`runtime`), and the names the runtimes give (`names`). Everything
//! is cached by cgroup id, and no lookup is ever awaited on the event path.

mod cgroups;
mod names;
mod runtime;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub use names::Names;
pub use runtime::{Place, Runtime};

use crate::UsageError;

/// What is known of one cgroup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attribution {
    /// The cgroup's path from the cgroup v2 root; None if the cgroup was
    /// gone before it was looked up.
    pub cgroup_path: Option<String>,
    pub place: Place,
    /// The runtime's names for the container, once looked up.
    pub names: Option<Arc<Names>>,
}

impl Attribution {
    pub fn container_id(&self) -> Option<&str> {
        self.place.container.as_ref().map(|(_, id)| id.as_str())
    }

    pub fn runtime(&self) -> Option<Runtime> {
        self.place.container.as_ref().map(|(r, _)| *r)
    }

    pub fn container_name(&self) -> Option<&str> {
        self.names.as_ref()?.container.as_deref()
    }

    pub fn pod(&self) -> Option<&str> {
        self.names.as_ref()?.pod.as_deref()
    }

    pub fn namespace(&self) -> Option<&str> {
        self.names.as_ref()?.namespace.as_deref()
    }

    /// How a container is shown as a key: its name, else its short id.
    pub fn container_key(&self) -> Option<String> {
        self.container_name()
            .map(str::to_string)
            .or_else(|| self.container_id().map(|id| id[..12].to_string()))
    }
}

/// The resolver: cgroup ids to attributions.
#[derive(Debug)]
pub struct Containers {
    index: Mutex<cgroups::Index>,
    known: Mutex<HashMap<u64, Arc<Attribution>>>,
    names: names::Lookups,
}

impl Containers {
    /// Starts the name lookups (the running containers are listed first);
    /// None where cgroup v2 is not mounted.
    pub fn start() -> Option<Containers> {
        let root = cgroups::root()?;
        Some(Containers {
            index: Mutex::new(cgroups::Index::new(root)),
            known: Mutex::default(),
            names: names::Lookups::start(),
        })
    }

    /// Everything known of a cgroup id now, cached. A container's names
    /// that are not known yet are asked for, and show up in later calls.
    pub fn of(&self, cgroup: u64) -> Arc<Attribution> {
        let Ok(mut known) = self.known.lock() else {
            return Arc::default();
        };
        if let Some(a) = known.get(&cgroup) {
            // A container whose names were not known yet: ask again.
            let names = a
                .container_id()
                .filter(|_| a.names.is_none())
                .and_then(|id| self.names.get(id));
            let Some(names) = names else {
                return a.clone();
            };
            let a = Arc::new(Attribution {
                names: Some(names),
                ..(**a).clone()
            });
            known.insert(cgroup, a.clone());
            return a;
        }
        let path = self
            .index
            .lock()
            .ok()
            .and_then(|mut i| i.path(cgroup).map(str::to_string));
        let Some(path) = path else {
            // Not cached: the cgroup may show up in a later scan.
            return Arc::default();
        };
        let place = runtime::parse(&path);
        let names = place
            .container
            .as_ref()
            .and_then(|(_, id)| self.names.get(id));
        let a = Arc::new(Attribution {
            cgroup_path: Some(path),
            place,
            names,
        });
        known.insert(cgroup, a.clone());
        a
    }

    /// The cgroup folders `--cgroup` and `--container` name, checked before
    /// anything is loaded.
    pub fn folders(
        &self,
        cgroup_args: &[String],
        container_args: &[String],
    ) -> anyhow::Result<Vec<PathBuf>> {
        let mut index = self
            .index
            .lock()
            .map_err(|_| anyhow::anyhow!("the cgroup index is poisoned"))?;
        let mut out = Vec::new();
        for arg in cgroup_args {
            let folder = cgroups::folder(index.root(), arg).ok_or_else(|| {
                UsageError(format!(
                    "--cgroup: no cgroup '{arg}' under {}",
                    index.root().display()
                ))
            })?;
            out.push(folder);
        }
        if container_args.is_empty() {
            return Ok(out);
        }
        // Every container folder in the tree, with its id.
        let folders: Vec<(String, PathBuf)> = index
            .folders()
            .filter_map(|(path, folder)| {
                let (_, id) = runtime::parse(path).container?;
                // Only the container's own folder, not folders below it.
                let own = path
                    .rsplit('/')
                    .next()
                    .is_some_and(|last| last.contains(&id));
                own.then_some((id, folder))
            })
            .collect();
        let known = self.names.known();
        for arg in container_args {
            let by_name: Vec<&str> = known
                .iter()
                .filter(|(_, n)| n.container.as_deref() == Some(arg.trim_start_matches('/')))
                .map(|(id, _)| id.as_str())
                .collect();
            let ids: std::collections::BTreeSet<&String> = folders
                .iter()
                .map(|(id, _)| id)
                .filter(|id| {
                    by_name.contains(&id.as_str())
                        || (arg.len() >= 4 && id.starts_with(arg.as_str()))
                })
                .collect();
            match ids.len() {
                0 => {
                    return Err(UsageError(format!(
                        "--container: no running container has the name or id '{arg}'"
                    ))
                    .into())
                }
                1 => {}
                n => {
                    return Err(UsageError(format!(
                        "--container: '{arg}' matches {n} containers; give more of the id"
                    ))
                    .into())
                }
            }
            for (id, folder) in &folders {
                if ids.contains(id) {
                    out.push(folder.clone());
                }
            }
        }
        Ok(out)
    }
}
