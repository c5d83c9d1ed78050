//! A running `socktap serve` and the HTTP that scrapes it, for the tests of
//! serve and of the commands under every backend.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{signal, wait_banner, BIN};

/// How long a scrape may take, whatever other clients do.
pub const SCRAPE_LIMIT: Duration = Duration::from_secs(1);

/// A running `socktap serve`, killed if a test fails.
pub struct Serve {
    child: Child,
    /// Where it listens, from its banner; None without a listener.
    pub addr: Option<String>,
    stderr: Arc<Mutex<String>>,
}

impl Serve {
    pub fn start(args: &[&str]) -> Serve {
        let mut child = Command::new(BIN)
            .arg("serve")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starts socktap serve");
        let (mut err, banner) = wait_banner(&mut child);
        let addr = banner
            .split("Serving Prometheus metrics on http://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .map(str::to_string);
        let stderr = Arc::new(Mutex::new(banner));
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Serve {
            child,
            addr,
            stderr,
        }
    }

    pub fn addr(&self) -> &str {
        self.addr.as_deref().expect("serve listens")
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// SIGINT: serve must stop within `limit`, which its closing line
    /// tells (the programs' detaching after it is the library's, the same
    /// for every command), then exit successfully. Returns its stderr.
    pub fn stop_within(mut self, limit: Duration) -> String {
        signal(&self.child, libc::SIGINT);
        let start = Instant::now();
        while !self.stderr().contains("series expired") {
            assert!(
                start.elapsed() < limit,
                "serve did not stop within {limit:?} of SIGINT: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "serve did not exit"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(status.success(), "serve exited with {status}");
        self.stderr()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request on a new connection that the request closes, answered
/// whole within `limit`: (status line and headers, body).
pub fn exchange(addr: &str, request: &[u8], limit: Duration) -> (String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).expect("connects");
    s.set_read_timeout(Some(limit)).unwrap();
    s.write_all(request).expect("sends the request");
    let mut resp = Vec::new();
    if let Err(e) = s.read_to_end(&mut resp) {
        panic!(
            "no whole response within {limit:?} ({e}): {}",
            String::from_utf8_lossy(&resp)
        );
    }
    let end = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {:?}", String::from_utf8_lossy(&resp)));
    let head = String::from_utf8_lossy(&resp[..end]).into_owned();
    (head, resp[end + 4..].to_vec())
}

pub fn request(method: &str, path: &str, extra: &str) -> Vec<u8> {
    format!("{method} {path} HTTP/1.1\r\nHost: socktap\r\n{extra}Connection: close\r\n\r\n")
        .into_bytes()
}

/// GET `path`, with an Accept header if given: (head, body).
pub fn get(addr: &str, path: &str, accept: Option<&str>) -> (String, String) {
    let extra = accept.map_or(String::new(), |a| format!("Accept: {a}\r\n"));
    let (head, body) = exchange(addr, &request("GET", path, &extra), SCRAPE_LIMIT);
    (head, String::from_utf8(body).expect("UTF-8 body"))
}

pub fn status(head: &str) -> u16 {
    head.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A scrape of /metrics, answered within a second.
pub fn scrape(addr: &str, when: &str) -> String {
    // Said first, so that a scrape that fails in `exchange` is placed.
    eprintln!("scrape {when}");
    let start = Instant::now();
    let (head, body) = get(addr, "/metrics", None);
    let took = start.elapsed();
    eprintln!("scrape {when}: {took:?}");
    assert_eq!(status(&head), 200, "{when}: {head}");
    assert!(took < SCRAPE_LIMIT, "{when}: the scrape took {took:?}");
    body
}
