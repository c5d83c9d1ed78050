//! Container names, and on Kubernetes pod names and namespaces, looked up
//! away from the event path:
//! - from the Docker-compatible API, which Docker and Podman both serve
//!   (`GET /containers/json`, `GET /containers/<id>/json`);
//! - from the kubelet's log links, `/var/log/containers/<pod>_<namespace>_<container>-<id>.log`,
//!   which name every container of every CRI runtime (containerd, CRI-O)
//!   on a node without a gRPC client.
//!
//! One thread does the lookups and fills a shared cache; readers only read
//! the cache and queue ids they miss, so an API that is slow or gone never
//! holds up an event. A failing API is reported once and retried with
//! back-off.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;

use crate::shared::say;

/// What a runtime calls a container. Absent fields are unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    pub container: Option<String>,
    pub pod: Option<String>,
    pub namespace: Option<String>,
}

/// The kubelet's links to container logs.
const KUBELET_LOGS: &str = "/var/log/containers";

/// Where Docker and Podman (as root) serve their API when no
/// `DOCKER_HOST`/`CONTAINER_HOST` says otherwise.
const API_SOCKETS: [&str; 3] = [
    "/run/docker.sock",
    "/var/run/docker.sock",
    "/run/podman/podman.sock",
];

/// One request's limit: past it the API counts as not answering.
const API_TIMEOUT: Duration = Duration::from_secs(2);
/// Back-off after a failure, doubling up to the cap.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_CAP: Duration = Duration::from_secs(60);

/// The Docker-compatible API's socket: `DOCKER_HOST` or `CONTAINER_HOST`
/// as `unix://PATH`, else the first of the usual sockets that exists.
pub fn api_socket() -> Option<PathBuf> {
    for var in ["DOCKER_HOST", "CONTAINER_HOST"] {
        if let Ok(v) = std::env::var(var) {
            if let Some(p) = v.strip_prefix("unix://") {
                return Some(PathBuf::from(p));
            }
        }
    }
    API_SOCKETS.iter().map(PathBuf::from).find(|p| p.exists())
}

/// The Docker-compatible API over its Unix socket.
#[derive(Debug, Clone)]
pub struct Api {
    socket: PathBuf,
}

impl Api {
    pub fn new(socket: PathBuf) -> Api {
        Api { socket }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// One GET; the status and the body.
    async fn get(&self, path: &str) -> anyhow::Result<(StatusCode, Bytes)> {
        let stream = tokio::net::UnixStream::connect(&self.socket).await?;
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::task::spawn_local(conn);
        // The Host header is required by HTTP/1.1; the socket is the host.
        let req = Request::get(path)
            .header(hyper::header::HOST, "localhost")
            .body(Empty::<Bytes>::new())?;
        let resp = send.send_request(req).await?;
        let status = resp.status();
        Ok((status, resp.into_body().collect().await?.to_bytes()))
    }

    async fn get_json(&self, path: &str) -> anyhow::Result<Option<Value>> {
        let (status, body) = tokio::time::timeout(API_TIMEOUT, self.get(path))
            .await
            .map_err(|_| anyhow::anyhow!("no answer within {} s", API_TIMEOUT.as_secs()))??;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            anyhow::bail!("GET {path} answered {status}");
        }
        Ok(Some(serde_json::from_slice(&body)?))
    }

    /// Every running container: its full id and names.
    pub async fn list(&self) -> anyhow::Result<Vec<(String, Names)>> {
        let list = self.get_json("/containers/json").await?;
        let items = list
            .as_ref()
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        Ok(items
            .iter()
            .filter_map(|c| {
                let id = c["Id"].as_str()?.to_string();
                let name = c["Names"].get(0).and_then(Value::as_str);
                Some((id, names_from(name, &c["Labels"])))
            })
            .collect())
    }

    /// One container by id; None if the API does not know it.
    pub async fn inspect(&self, id: &str) -> anyhow::Result<Option<Names>> {
        Ok(self
            .get_json(&format!("/containers/{id}/json"))
            .await?
            .map(|c| names_from(c["Name"].as_str(), &c["Config"]["Labels"])))
    }
}

/// A container's names from its name and labels. On Kubernetes (through
/// cri-dockerd, or Podman's kube play) the labels name the pod, its
/// namespace and the container as the pod spec does.
fn names_from(name: Option<&str>, labels: &Value) -> Names {
    let label = |k: &str| labels[k].as_str().map(str::to_string);
    Names {
        container: label("io.kubernetes.container.name")
            .or_else(|| name.map(|n| n.trim_start_matches('/').to_string())),
        pod: label("io.kubernetes.pod.name"),
        namespace: label("io.kubernetes.pod.namespace"),
    }
}

/// The names the kubelet's log links give, by container id.
fn kubelet_names(dir: &Path) -> HashMap<String, Names> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return HashMap::new();
    };
    entries
        .flatten()
        .filter_map(|e| parse_log_link(&e.file_name().to_string_lossy()))
        .collect()
}

/// `<pod>_<namespace>_<container>-<64-hex id>.log`: Kubernetes names have
/// no `_`, so the three split cleanly.
fn parse_log_link(file: &str) -> Option<(String, Names)> {
    let stem = file.strip_suffix(".log")?;
    let (names, id) = stem.rsplit_once('-')?;
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut parts = names.splitn(3, '_');
    let (pod, namespace, container) = (parts.next()?, parts.next()?, parts.next()?);
    Some((
        id.to_string(),
        Names {
            container: Some(container.to_string()),
            pod: Some(pod.to_string()),
            namespace: Some(namespace.to_string()),
        },
    ))
}

/// The names found so far, by container id: `None` for an id every source
/// was asked about and none knew.
type Cache = Arc<Mutex<HashMap<String, Option<Arc<Names>>>>>;

/// The lookups: a cache that readers read, and the thread that fills it.
#[derive(Debug)]
pub struct Lookups {
    cache: Cache,
    asked: Mutex<HashSet<String>>,
    queue: Mutex<Sender<String>>,
}

impl Lookups {
    /// Starts the lookup thread. Containers running now are listed first,
    /// before this returns (within the API's timeout), so that the first
    /// events of a long-running container already carry its name.
    pub fn start() -> Lookups {
        let cache: Cache = Arc::default();
        let (tx, rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let worker = Worker {
            api: api_socket().map(Api::new),
            kubelet: PathBuf::from(KUBELET_LOGS),
            cache: cache.clone(),
            failing: None,
        };
        let spawned = std::thread::Builder::new()
            .name("socktap-names".into())
            .spawn(move || worker.run(&rx, &ready_tx));
        if spawned.is_ok() {
            // Up to the API's timeout; past it, names fill in as they come.
            let _ = ready_rx.recv_timeout(API_TIMEOUT);
        }
        Lookups {
            cache,
            asked: Mutex::default(),
            queue: Mutex::new(tx),
        }
    }

    /// The names of a container if known; if not, the id is queued once
    /// and the caller goes on without them.
    pub fn get(&self, id: &str) -> Option<Arc<Names>> {
        if let Some(known) = self.cache.lock().ok()?.get(id) {
            return known.clone();
        }
        let mut asked = self.asked.lock().ok()?;
        // Called for each event of the container until its names are known:
        // only the first call allocates and queues.
        if !asked.contains(id) {
            asked.insert(id.to_string());
            if let Ok(q) = self.queue.lock() {
                let _ = q.send(id.to_string());
            }
        }
        None
    }

    /// Every known container's id and names.
    pub fn known(&self) -> Vec<(String, Arc<Names>)> {
        self.cache.lock().map_or_else(
            |_| Vec::new(),
            |c| {
                c.iter()
                    .filter_map(|(id, n)| n.clone().map(|n| (id.clone(), n)))
                    .collect()
            },
        )
    }
}

struct Worker {
    api: Option<Api>,
    kubelet: PathBuf,
    cache: Cache,
    /// Since when the API fails, and when to try it next.
    failing: Option<(Duration, Instant)>,
}

impl Worker {
    fn run(mut self, queue: &Receiver<String>, ready: &Sender<()>) {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            say::warn(format_args!(
                "container names: cannot start a runtime for the lookups"
            ));
            return;
        };
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async {
            self.prefill().await;
            let _ = ready.send(());
            let mut pending: Vec<String> = Vec::new();
            loop {
                // While the API fails, wake for the next retry; else wait
                // for work (the sender lives as long as the run).
                let wait = self.failing.map_or(Duration::from_secs(3600), |(_, at)| {
                    at.saturating_duration_since(Instant::now())
                });
                match queue.recv_timeout(wait) {
                    Ok(id) => pending.push(id),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return,
                }
                pending.extend(queue.try_iter());
                if self.failing.is_some_and(|(_, at)| Instant::now() < at) {
                    continue;
                }
                pending = self.resolve(pending).await;
            }
        });
    }

    /// What the kubelet's links and the API's list say now.
    async fn prefill(&mut self) {
        let mut found = kubelet_names(&self.kubelet);
        if let Some(api) = self.api.clone() {
            match api.list().await {
                Ok(list) => found.extend(list),
                Err(e) => self.failed(&api, &e),
            }
        }
        if let Ok(mut cache) = self.cache.lock() {
            cache.extend(found.into_iter().map(|(id, n)| (id, Some(Arc::new(n)))));
        }
    }

    /// Looks each id up; returns those to try again after a failure.
    async fn resolve(&mut self, ids: Vec<String>) -> Vec<String> {
        let kubelet = kubelet_names(&self.kubelet);
        let mut retry = Vec::new();
        for id in ids {
            let mut names = kubelet.get(&id).cloned();
            if names.is_none() {
                if let Some(api) = self.api.clone() {
                    match api.inspect(&id).await {
                        Ok(n) => {
                            self.recovered(&api);
                            names = n;
                        }
                        Err(e) => {
                            self.failed(&api, &e);
                            retry.push(id);
                            continue;
                        }
                    }
                }
            }
            if let Ok(mut cache) = self.cache.lock() {
                cache.insert(id, names.map(Arc::new));
            }
        }
        retry
    }

    /// Reported once per outage; the next try backs off, doubling.
    fn failed(&mut self, api: &Api, e: &anyhow::Error) {
        let backoff = match self.failing {
            None => {
                say::warn(format_args!(
                    "the container API at {} did not answer ({e:#}); container names are missing until it does, tried again with back-off",
                    api.socket().display()
                ));
                RETRY_FIRST
            }
            Some((b, _)) => (b * 2).min(RETRY_CAP),
        };
        self.failing = Some((backoff, Instant::now() + backoff));
    }

    fn recovered(&mut self, api: &Api) {
        if self.failing.take().is_some() {
            say::note!(
                "socktap: the container API at {} answers again",
                api.socket().display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904e6e9a1c4a5d2e8c3b1a0f9e8";

    #[test]
    fn kubelet_log_links_name_pod_namespace_and_container() {
        let (id, n) = parse_log_link(&format!("web-7d4b9c-x2x9q_shop_nginx-{ID}.log")).unwrap();
        assert_eq!(id, ID);
        assert_eq!(n.pod.as_deref(), Some("web-7d4b9c-x2x9q"));
        assert_eq!(n.namespace.as_deref(), Some("shop"));
        assert_eq!(n.container.as_deref(), Some("nginx"));
        assert_eq!(parse_log_link("web_shop_nginx-1234.log"), None);
        assert_eq!(parse_log_link(&format!("web_shop-{ID}.log")), None);
    }

    #[test]
    fn names_from_labels_prefer_kubernetes() {
        let plain = names_from(Some("/demo"), &Value::Null);
        assert_eq!(plain.container.as_deref(), Some("demo"));
        assert_eq!(plain.pod, None);
        let labels = serde_json::json!({
            "io.kubernetes.container.name": "app",
            "io.kubernetes.pod.name": "web-1",
            "io.kubernetes.pod.namespace": "shop",
        });
        let k8s = names_from(Some("/k8s_app_web-1_shop_0"), &labels);
        assert_eq!(
            k8s,
            Names {
                container: Some("app".into()),
                pod: Some("web-1".into()),
                namespace: Some("shop".into()),
            }
        );
    }
}
