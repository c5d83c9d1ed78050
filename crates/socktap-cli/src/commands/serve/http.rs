//! The exporter's HTTP server: hyper's HTTP/1 on the serve loop's own
//! single-threaded tokio runtime, one task per connection, so that no
//! client can hold up another or the shutdown.
//!
//! What a hostile or slow client meets:
//! - at most [`MAX_CONNECTIONS`] connections; at the bound, the one idle
//!   longest is closed to make room, so idle clients cannot lock out a
//!   scraper;
//! - [`HEADER_TIMEOUT`] to send a request's head (and between requests);
//! - [`STALL_TIMEOUT`] for any read or write that makes no progress, so a
//!   client that stops reading its responses is let go;
//! - request bodies refused without being read (413), and headers bounded
//!   by [`MAX_BUFFER`].

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Body, Bytes, Incoming};
use hyper::header::{HeaderValue, ACCEPT, ALLOW, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, VARY};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;
use tokio::time::Sleep;

use super::exposition::Format;

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 128;
/// Time to send a request's head, counted from the connection's start or
/// the end of the previous response: also the keep-alive idle time.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a read or a write may wait without moving a byte.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes of request head buffered per connection (hyper's minimum).
const MAX_BUFFER: usize = 8192;

/// How long a connection's requests reuse its last read of the kernel's
/// counts: a client that pipelines requests costs one read a second, not
/// one a request.
const REREAD: Duration = Duration::from_secs(1);

/// The metrics in a format, after reading the kernel's counts when asked
/// to (`true`); otherwise as last read.
pub type Scrape = Rc<dyn Fn(Format, bool) -> anyhow::Result<String>>;

const TEXT: &str = "text/plain; charset=utf-8";

const INDEX: &str = "<!DOCTYPE html>
<html><head><meta charset=\"utf-8\"><title>socktap</title></head>
<body><h1>socktap</h1>
<p>Socket traffic by process, counted in the kernel: <a href=\"/metrics\">/metrics</a>
(Prometheus text format 0.0.4, or OpenMetrics when the Accept header asks for it).</p>
</body></html>
";

/// Serves `scrape` on `listener` until the future is dropped; dropping it
/// (and the runtime's tasks) ends every connection at once.
pub async fn serve(listener: TcpListener, scrape: Scrape) -> anyhow::Result<()> {
    let conns = Rc::new(RefCell::new(Conns::default()));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_BUFFER);
    let mut reported = false;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors (EMFILE) or the like: the listener
                // stays open, and accepting resumes once some are freed.
                if !reported {
                    crate::shared::say::warn(format_args!(
                        "accepting a connection: {e}; trying again"
                    ));
                    reported = true;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Responses go out whole at once: no need to wait for more.
        let _ = stream.set_nodelay(true);
        let evicted = conns.borrow_mut().make_room(MAX_CONNECTIONS);
        if let Some(task) = evicted {
            task.abort();
        }
        let active = Rc::new(Cell::new(Instant::now()));
        let io = TokioIo::new(Timed::new(stream, Rc::clone(&active)));
        let scrape = Rc::clone(&scrape);
        let last_read: Rc<Cell<Option<Instant>>> = Rc::default();
        let conn = http.serve_connection(
            io,
            service_fn(move |req| {
                let (scrape, last_read) = (Rc::clone(&scrape), Rc::clone(&last_read));
                async move {
                    // Every request lets the others go first: a client
                    // that pipelines requests is served one at a time, in
                    // turn with every other client and the stop signal.
                    tokio::task::yield_now().await;
                    let read = last_read.get().is_none_or(|t| t.elapsed() >= REREAD);
                    let scrape = |format| {
                        if read {
                            last_read.set(Some(Instant::now()));
                        }
                        scrape(format, read)
                    };
                    Ok::<_, Infallible>(respond(&req, scrape))
                }
            }),
        );
        let id = conns.borrow_mut().next_id();
        let release = Release {
            id,
            conns: Rc::clone(&conns),
        };
        let task = tokio::task::spawn_local(async move {
            let _release = release;
            // A client's errors (it hung up, it stalled, it sent garbage)
            // end its own connection and nothing else.
            let _ = conn.await;
        });
        conns.borrow_mut().live.insert(
            id,
            Slot {
                active,
                task: task.abort_handle(),
            },
        );
    }
}

/// One response, decided from the request's head alone.
fn respond(
    req: &Request<Incoming>,
    scrape: impl FnOnce(Format) -> anyhow::Result<String>,
) -> Response<Full<Bytes>> {
    let readable = matches!(*req.method(), Method::GET | Method::HEAD);
    // (status, content type, body, one more header)
    let (status, content_type, body, extra) = if !req.body().is_end_stream() {
        // A declared body is refused unread, and the connection closed,
        // since the body's bytes would otherwise be read as the next request.
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            TEXT,
            "socktap takes no request bodies\n".to_string(),
            Some((CONNECTION, "close")),
        )
    } else {
        match (req.uri().path(), readable) {
            ("/metrics", true) => {
                let accept = req.headers().get(ACCEPT).and_then(|v| v.to_str().ok());
                let format = Format::negotiate(accept);
                match scrape(format) {
                    Ok(body) => (StatusCode::OK, format.content_type(), body, None),
                    Err(e) => (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        TEXT,
                        format!("socktap: {e:#}\n"),
                        None,
                    ),
                }
            }
            ("/", true) => (
                StatusCode::OK,
                "text/html; charset=utf-8",
                INDEX.to_string(),
                None,
            ),
            ("/" | "/metrics", false) => (
                StatusCode::METHOD_NOT_ALLOWED,
                TEXT,
                "only GET and HEAD\n".to_string(),
                Some((ALLOW, "GET, HEAD")),
            ),
            _ => (
                StatusCode::NOT_FOUND,
                TEXT,
                "not found: the metrics are at /metrics\n".to_string(),
                None,
            ),
        }
    };
    // HEAD: the same head, with the length the body would have had.
    let length = body.len();
    let body = if *req.method() == Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from(body)
    };
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    let headers = r.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
    // The metrics' format depends on the Accept header: caches must know.
    headers.insert(VARY, HeaderValue::from_static("Accept"));
    if let Some((name, value)) = extra {
        headers.insert(name, HeaderValue::from_static(value));
    }
    r
}

/// The live connections, to bound them.
#[derive(Default)]
struct Conns {
    next: u64,
    live: HashMap<u64, Slot>,
}

struct Slot {
    /// When its client last sent or took a byte.
    active: Rc<Cell<Instant>>,
    task: AbortHandle,
}

impl Conns {
    fn next_id(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    /// At the bound, the connection idle the longest gives up its place:
    /// returns its task, to be aborted once this borrow is over.
    fn make_room(&mut self, max: usize) -> Option<AbortHandle> {
        if self.live.len() < max {
            return None;
        }
        let id = *self.live.iter().min_by_key(|(_, s)| s.active.get())?.0;
        self.live.remove(&id).map(|s| s.task)
    }
}

/// Takes a connection off the live list when its task ends or is dropped.
struct Release {
    id: u64,
    conns: Rc<RefCell<Conns>>,
}

impl Drop for Release {
    fn drop(&mut self) {
        // Never borrowed across an await, so this borrow succeeds; if it
        // did not, the entry would only be evicted later.
        if let Ok(mut c) = self.conns.try_borrow_mut() {
            c.live.remove(&self.id);
        }
    }
}

/// A client's stream with stall timeouts: a read or a write that has moved
/// no byte for [`STALL_TIMEOUT`] fails, which ends the connection.
struct Timed {
    inner: TcpStream,
    active: Rc<Cell<Instant>>,
    read_stall: Option<Pin<Box<Sleep>>>,
    write_stall: Option<Pin<Box<Sleep>>>,
}

impl Timed {
    fn new(inner: TcpStream, active: Rc<Cell<Instant>>) -> Timed {
        Timed {
            inner,
            active,
            read_stall: None,
            write_stall: None,
        }
    }
}

/// What a poll that moved nothing returns: Pending until the stall timer
/// (started by the first such poll) runs out, then a TimedOut error.
fn stalled<T>(timer: &mut Option<Pin<Box<Sleep>>>, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
    let sleep = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(STALL_TIMEOUT)));
    match sleep.as_mut().poll(cx) {
        Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client moved no byte in time",
        ))),
        Poll::Pending => Poll::Pending,
    }
}

/// Progress: the stall timer stops, and the connection counts as active.
fn progressed<T>(
    timer: &mut Option<Pin<Box<Sleep>>>,
    active: &Cell<Instant>,
    moved: bool,
    r: T,
) -> Poll<T> {
    *timer = None;
    if moved {
        active.set(Instant::now());
    }
    Poll::Ready(r)
}

impl AsyncRead for Timed {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                let moved = buf.filled().len() > before;
                progressed(&mut this.read_stall, &this.active, moved, r)
            }
            Poll::Pending => stalled(&mut this.read_stall, cx),
        }
    }
}

impl AsyncWrite for Timed {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(r) => {
                let moved = matches!(r, Ok(n) if n > 0);
                progressed(&mut this.write_stall, &this.active, moved, r)
            }
            Poll::Pending => stalled(&mut this.write_stall, cx),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Ready(r) => progressed(&mut this.write_stall, &this.active, false, r),
            Poll::Pending => stalled(&mut this.write_stall, cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_shutdown(cx) {
            Poll::Ready(r) => progressed(&mut this.write_stall, &this.active, false, r),
            Poll::Pending => stalled(&mut this.write_stall, cx),
        }
    }
}
