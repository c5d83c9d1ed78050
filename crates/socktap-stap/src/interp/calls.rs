//! The built-in functions: session control, process context (from the
//! event, or from socktap itself in begin/end/timers), time, strings, and
//! the socket tapset's tables from `socktap::tapset::tables`.

use socktap::tapset::tables as t;

use crate::builtins::Builtin as B;
use crate::ir::{Expr, Str};
use crate::source::TokId;
use crate::value::{self, Value};

use super::pure::{ctime, errno_name, find, replace, strtol, text_str, timezone};
use super::{rt, Interp, RtError, R};

/// A clock's reading in nanoseconds.
pub fn now_ns(clock: libc::clockid_t) -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid, owned `ts`.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
}

/// A field of `/proc/PID/status` (first number of the line), or of
/// `/proc/PID/comm` for "Name".
fn proc_status(pid: i64, field: &str) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    Some(
        line[field.len()..]
            .trim_start_matches(':')
            .trim()
            .to_string(),
    )
}

fn nth_number(s: Option<String>, n: usize) -> i64 {
    s.and_then(|s| s.split_whitespace().nth(n).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

impl Interp<'_> {
    fn s(&self, v: String) -> Value {
        Value::Str(value::string(v.as_bytes()))
    }

    fn wall_ns(&self) -> i128 {
        match &self.event {
            Some(ev) if ev.wall_ns != 0 => ev.wall_ns,
            _ => now_ns(libc::CLOCK_REALTIME),
        }
    }

    fn mono_ns(&self) -> i128 {
        match &self.event {
            Some(ev) if ev.sock.timestamp_ns != 0 => i128::from(ev.sock.timestamp_ns),
            _ => now_ns(libc::CLOCK_MONOTONIC),
        }
    }

    fn ctx_pid(&self) -> i64 {
        self.event
            .as_ref()
            .map_or(self.own.pid, |e| i64::from(e.sock.pid))
    }

    fn execname_value(&mut self) -> Str {
        if let Some(c) = &self.execname {
            return c.clone();
        }
        let c = match &self.event {
            Some(ev) => value::string(ev.sock.comm().as_bytes()),
            None => self.own.comm.clone(),
        };
        self.execname = Some(c.clone());
        c
    }

    /// The `n`-th number of a `/proc/PID/status` line of the event's
    /// process (read now: it may have gone), or `own()` without an event.
    fn status_number(&self, field: &str, n: usize, own: fn() -> i64) -> i64 {
        match &self.event {
            Some(ev) => nth_number(proc_status(i64::from(ev.sock.pid), field), n),
            None => own(),
        }
    }

    fn random(&mut self) -> u64 {
        // xorshift64*: randint() needs no cryptographic quality.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Calls a built-in.
    pub(super) fn builtin(&mut self, b: B, args: &[Expr], tok: TokId) -> R<Value> {
        let mut a = Vec::with_capacity(args.len());
        for x in args {
            a.push(self.eval(x)?);
        }
        let long = |i: usize| a.get(i).map_or(0, Value::as_long);
        let bytes = |i: usize| -> &[u8] {
            match a.get(i) {
                Some(Value::Str(s)) => s,
                _ => b"",
            }
        };
        let text = |i: usize| String::from_utf8_lossy(bytes(i)).into_owned();
        let num2str = |s: &str| Value::Str(value::string(s.as_bytes()));
        Ok(match b {
            B::Exit => {
                self.exit = true;
                Value::Long(0)
            }
            B::Abort => {
                self.exit = true;
                self.failed = true;
                Value::Long(0)
            }
            B::Log => {
                self.out.extend_from_slice(bytes(0));
                self.out.push(b'\n');
                Value::Long(0)
            }
            B::Warn => {
                let msg = [b"WARNING: ", bytes(0), b"\n"].concat();
                self.diag.extend_from_slice(&msg);
                Value::Long(0)
            }
            B::Error => {
                return Err(Box::new(RtError {
                    msg: text(0),
                    tok: None,
                    fatal: false,
                }))
            }
            B::Assert1 | B::Assert2 => {
                if long(0) == 0 {
                    let msg = if b == B::Assert2 {
                        text(1)
                    } else {
                        "Assertion failed".into()
                    };
                    return Err(Box::new(RtError {
                        msg,
                        tok: None,
                        fatal: false,
                    }));
                }
                Value::Long(0)
            }
            B::Pid => Value::Long(self.ctx_pid()),
            B::Tid => Value::Long(
                self.event
                    .as_ref()
                    .map_or_else(|| i64::from(gettid()), |e| i64::from(e.sock.tid)),
            ),
            B::Uid => Value::Long(self.event.as_ref().map_or_else(
                // SAFETY: getuid cannot fail and has no preconditions.
                || i64::from(unsafe { libc::getuid() }),
                |e| i64::from(e.sock.uid),
            )),
            B::Euid => Value::Long(self.status_number("Uid", 1, own::euid)),
            B::Gid => Value::Long(self.status_number("Gid", 0, own::gid)),
            B::Egid => Value::Long(self.status_number("Gid", 1, own::egid)),
            B::Ppid => Value::Long(self.status_number("PPid", 0, own::ppid)),
            B::Execname => Value::Str(self.execname_value()),
            B::Pexecname => {
                let ppid = self.status_number("PPid", 0, own::ppid);
                let comm = std::fs::read(format!("/proc/{ppid}/comm")).unwrap_or_default();
                Value::Str(value::string(comm.strip_suffix(b"\n").unwrap_or(&comm)))
            }
            B::Cpu => Value::Long(self.event.as_ref().map_or_else(
                // SAFETY: sched_getcpu has no preconditions.
                || i64::from(unsafe { libc::sched_getcpu() }).max(0),
                |e| i64::from(e.sock.cpu),
            )),
            B::Target => Value::Long(self.target),
            B::UserMode => Value::Long(0),
            B::Probefunc => num2str(match &self.event {
                Some(e) if matches!(e.fired, crate::event::Fired::Socket(_)) => {
                    kernel_function(e.sock.path)
                }
                _ => "",
            }),
            B::Pp => Value::Str(self.pp.clone()),
            B::GettimeofdayS => Value::Long((self.wall_ns() / 1_000_000_000) as i64),
            B::GettimeofdayMs => Value::Long((self.wall_ns() / 1_000_000) as i64),
            B::GettimeofdayUs => Value::Long((self.wall_ns() / 1_000) as i64),
            B::GettimeofdayNs => Value::Long(self.wall_ns() as i64),
            B::LocalClockNs => Value::Long(self.mono_ns() as i64),
            B::LocalClockUs => Value::Long((self.mono_ns() / 1_000) as i64),
            B::LocalClockMs => Value::Long((self.mono_ns() / 1_000_000) as i64),
            B::LocalClockS => Value::Long((self.mono_ns() / 1_000_000_000) as i64),
            B::Jiffies => Value::Long((self.mono_ns() / (1_000_000_000 / 250)) as i64),
            B::Hz => Value::Long(250),
            B::Ctime0 | B::Ctime => {
                let secs = if b == B::Ctime {
                    long(0)
                } else {
                    (self.wall_ns() / 1_000_000_000) as i64
                };
                match ctime(secs) {
                    Ok(s) => self.s(s),
                    Err(m) => return Err(rt(m, tok)),
                }
            }
            B::TzCtime => {
                let (off, name) = timezone(long(0));
                match ctime(long(0) - off) {
                    Ok(s) => self.s(format!("{s} {name}")),
                    Err(m) => return Err(rt(m, tok)),
                }
            }
            B::TzGmtoff => Value::Long(timezone((self.wall_ns() / 1_000_000_000) as i64).0),
            B::TzName => self.s(timezone((self.wall_ns() / 1_000_000_000) as i64).1),
            B::Strlen => Value::Long(bytes(0).len() as i64),
            B::Substr => {
                let s = bytes(0);
                let (start, len) = (long(1), long(2));
                let out = if start >= 0 && (start as usize) < s.len() {
                    let n = len.clamp(0, self.limits.maxstringlen as i64 - 1) as usize;
                    &s[start as usize..(start as usize + n).min(s.len())]
                } else {
                    b""
                };
                Value::Str(value::string(out))
            }
            B::Isinstr => Value::Long(i64::from(find(bytes(0), bytes(1)).is_some())),
            B::Strpos => Value::Long(find(bytes(0), bytes(1)).map_or(-1, |p| p as i64)),
            B::StrReplace => {
                let (s, from, to) = (bytes(0), bytes(1), bytes(2));
                let out = if from.is_empty() {
                    s.to_vec()
                } else {
                    replace(s, from, to)
                };
                Value::Str(self.truncate(out))
            }
            B::TextStr => Value::Str(value::string(&text_str(
                bytes(0),
                self.limits.maxstringlen - 1,
                false,
            ))),
            B::TextStrn => {
                let n = long(1).clamp(0, self.limits.maxstringlen as i64 - 1) as usize;
                let s =
                    &bytes(0)[..n
                        .min(bytes(0).len())
                        .max(if n == 0 { bytes(0).len() } else { 0 })];
                let limit = self.limits.maxstringlen - 1;
                Value::Str(value::string(&text_str(s, limit, long(2) != 0)))
            }
            B::StringQuoted => Value::Str(value::string(&text_str(
                bytes(0),
                self.limits.maxstringlen - 1,
                true,
            ))),
            B::Tokenize1 | B::Tokenize2 => {
                let (input, delim) = if b == B::Tokenize2 {
                    (bytes(0).to_vec(), bytes(1).to_vec())
                } else {
                    (Vec::new(), bytes(0).to_vec())
                };
                Value::Str(value::string(&self.tokenize(input, &delim)))
            }
            B::Strtol => Value::Long(strtol(bytes(0), long(1))),
            B::String => self.s(long(0).to_string()),
            B::Isdigit => Value::Long(i64::from(bytes(0).first().is_some_and(u8::is_ascii_digit))),
            B::Stringat => {
                let (s, pos) = (bytes(0), long(1));
                match s.get(pos as usize).filter(|_| pos >= 0) {
                    Some(c) => Value::Long(i64::from(*c as i8)),
                    None => {
                        return Err(Box::new(RtError {
                            msg: "Position out of bounds".into(),
                            tok: None,
                            fatal: false,
                        }))
                    }
                }
            }
            B::Randint => {
                let n = long(0);
                if n as u64 > 1024 * 1024 {
                    return Err(rt("range too wide", tok));
                }
                Value::Long(if n == 0 {
                    0
                } else {
                    (self.random() % n as u64) as i64
                })
            }
            B::Abs => Value::Long(long(0).wrapping_abs()),
            B::Min => Value::Long(long(0).min(long(1))),
            B::Max => Value::Long(long(0).max(long(1))),
            B::ErrnoStr => self.s(errno_name(long(0))),
            B::SockProtNum2str => num2str(t::sock_prot_num2str(long(0))),
            B::SockProtStr2num => Value::Long(t::sock_prot_str2num(&text(0))),
            B::SockFamNum2str => num2str(t::sock_fam_num2str(long(0))),
            B::SockFamStr2num => Value::Long(t::sock_fam_str2num(&text(0))),
            B::SockStateNum2str => num2str(t::sock_state_num2str(long(0))),
            B::SockStateStr2num => Value::Long(t::sock_state_str2num(&text(0))),
            B::SockTypeNum2str => num2str(t::sock_type_num2str(long(0))),
            B::SockTypeStr2num => Value::Long(t::sock_type_str2num(&text(0))),
            B::SockFlagsNum2str => self.s(t::sock_flags_num2str(long(0) as u64)),
            B::MsgFlagsNum2str => self.s(t::msg_flags_num2str(long(0) as u64)),
        })
    }

    /// stap's `tokenize`: a new input starts a new string; "" continues
    /// the previous one. Empty tokens are skipped, as `strsep` loops do.
    fn tokenize(&mut self, input: Vec<u8>, delim: &[u8]) -> Vec<u8> {
        if !input.is_empty() {
            let mut input = input;
            input.truncate(self.limits.maxstringlen - 1);
            self.tokenize = Some((input, 0));
        }
        let Some((buf, pos)) = &mut self.tokenize else {
            return Vec::new();
        };
        loop {
            if *pos > buf.len() {
                return Vec::new();
            }
            let rest = &buf[*pos..];
            let end = rest.iter().position(|c| delim.contains(c));
            let token = match end {
                Some(e) => {
                    let t = rest[..e].to_vec();
                    *pos += e + 1;
                    t
                }
                None => {
                    let t = rest.to_vec();
                    *pos = buf.len() + 1;
                    t
                }
            };
            if !token.is_empty() {
                return token;
            }
        }
    }
}

/// socktap's own process context, for handlers without an event.
mod own {
    pub fn euid() -> i64 {
        // SAFETY: geteuid cannot fail and has no preconditions.
        i64::from(unsafe { libc::geteuid() })
    }

    pub fn gid() -> i64 {
        // SAFETY: getgid cannot fail and has no preconditions.
        i64::from(unsafe { libc::getgid() })
    }

    pub fn egid() -> i64 {
        // SAFETY: getegid cannot fail and has no preconditions.
        i64::from(unsafe { libc::getegid() })
    }

    pub fn ppid() -> i64 {
        // SAFETY: getppid cannot fail and has no preconditions.
        i64::from(unsafe { libc::getppid() })
    }
}

fn gettid() -> u32 {
    // SAFETY: gettid has no preconditions and cannot fail.
    (unsafe { libc::syscall(libc::SYS_gettid) }) as u32
}

/// The kernel function the tapset probes for a path (what stap's
/// `probefunc()` says there).
fn kernel_function(p: socktap::Path) -> &'static str {
    use socktap::Path as P;
    match p {
        P::Sendmsg | P::SendmsgReturn => "sock_sendmsg",
        P::Recvmsg | P::RecvmsgReturn => "sock_recvmsg",
        P::AioWrite | P::AioWriteReturn | P::Writev | P::WritevReturn => "sock_write_iter",
        P::AioRead | P::AioReadReturn | P::Readv | P::ReadvReturn => "sock_read_iter",
        P::Create | P::CreateReturn => "__sock_create",
        P::Close | P::CloseReturn => "__sock_release",
    }
}
