//! The built-in functions: session control, process context (from the
//! event, or from socktap itself in begin/end/timers), time, strings, and
//! the socket tapset's tables from `socktap::tapset::tables`.

use socktap::tapset::tables as t;

use crate::builtins::Builtin as B;
use crate::ir::{Expr, Str};
use crate::source::TokId;
use crate::value::{self, Value};

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

/// stap's `ctime`: "Wed Jun 30 21:49:08 1993", UTC, for 32-bit times.
pub fn ctime(secs: i64) -> Result<String, &'static str> {
    if secs > i64::from(i32::MAX) {
        return Err("Time too far in the future to be converted");
    }
    if secs < i64::from(i32::MIN) {
        return Err("Time too far in the past to be converted");
    }
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (hour, min, sec) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let wday = (4 + days).rem_euclid(7) as usize;
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mut year = 1970;
    let mut d = days;
    if d >= 0 {
        loop {
            let len = if leap(year) { 366 } else { 365 };
            if d < len {
                break;
            }
            d -= len;
            year += 1;
        }
    } else {
        while d < 0 {
            year -= 1;
            d += if leap(year) { 366 } else { 365 };
        }
    }
    let mut lens = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if leap(year) {
        lens[1] = 29;
    }
    let mut mon = 0;
    while d >= lens[mon] {
        d -= lens[mon];
        mon += 1;
    }
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    Ok(format!(
        "{} {}{:3} {:02}:{:02}:{:02} {}",
        DAYS[wday],
        MONS[mon],
        d + 1,
        hour,
        min,
        sec,
        year
    ))
}

/// The local time zone: seconds west of UTC (stap's `tz_gmtoff`) and its name.
pub fn timezone(at: i64) -> (i64, String) {
    // SAFETY: an all-zero tm is valid; localtime_r fills it from `at` and
    // writes nothing else.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let secs = at as libc::time_t;
    // SAFETY: both pointers are to valid, owned values.
    let ok = !unsafe { libc::localtime_r(&secs, &mut tm) }.is_null();
    if !ok || tm.tm_zone.is_null() {
        return (0, "UTC".into());
    }
    // SAFETY: tm_zone points to a NUL-terminated string owned by libc's
    // time zone data, valid while no other tz call runs.
    let name = unsafe { std::ffi::CStr::from_ptr(tm.tm_zone) }
        .to_string_lossy()
        .into_owned();
    (-tm.tm_gmtoff, name)
}

/// stap's `_stp_text_str`: printable ASCII kept, `"` and `\` and control
/// characters escaped, UTF-8 as `\uXXXX`, invalid bytes in octal.
pub fn text_str(s: &[u8], limit: usize, quoted: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if quoted {
        out.push(b'"');
    }
    let text = String::from_utf8_lossy(s);
    let valid = std::str::from_utf8(s).is_ok();
    let push = |out: &mut Vec<u8>, piece: &[u8]| -> bool {
        if out.len() + piece.len() > limit {
            return false;
        }
        out.extend_from_slice(piece);
        true
    };
    let bytes_mode = !valid;
    if bytes_mode {
        for &c in s {
            let piece = escape_byte(c);
            if !push(&mut out, &piece) {
                break;
            }
        }
    } else {
        for ch in text.chars() {
            let piece = if ch.is_ascii() {
                escape_byte(ch as u8)
            } else if (ch as u32) <= 0xFFFF {
                format!("\\u{:04x}", ch as u32).into_bytes()
            } else {
                format!("\\U{:08x}", ch as u32).into_bytes()
            };
            if !push(&mut out, &piece) {
                break;
            }
        }
    }
    if quoted {
        out.push(b'"');
    }
    out
}

fn escape_byte(c: u8) -> Vec<u8> {
    match c {
        b'"' | b'\\' => vec![b'\\', c],
        7 => b"\\a".to_vec(),
        8 => b"\\b".to_vec(),
        12 => b"\\f".to_vec(),
        b'\n' => b"\\n".to_vec(),
        b'\r' => b"\\r".to_vec(),
        b'\t' => b"\\t".to_vec(),
        11 => b"\\v".to_vec(),
        c if c.is_ascii_graphic() || c == b' ' => vec![c],
        c => format!("\\{c:03o}").into_bytes(),
    }
}

/// The kernel's `simple_strtol`: optional sign, `0x` for base 16 (or base
/// 0 guessing), digits until the first that does not belong.
pub fn strtol(s: &[u8], base: i64) -> i64 {
    let mut i = 0;
    while s.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    let neg = s.get(i) == Some(&b'-');
    if neg || s.get(i) == Some(&b'+') {
        i += 1;
    }
    let mut base = base as u32;
    let hex_prefix = s.get(i) == Some(&b'0') && matches!(s.get(i + 1), Some(b'x' | b'X'));
    if base == 0 {
        base = if hex_prefix {
            16
        } else if s.get(i) == Some(&b'0') {
            8
        } else {
            10
        };
    }
    if base == 16 && hex_prefix {
        i += 2;
    }
    if !(2..=36).contains(&base) {
        return 0;
    }
    let mut v: i64 = 0;
    while let Some(d) = s.get(i).and_then(|c| (*c as char).to_digit(base)) {
        v = v.wrapping_mul(i64::from(base)).wrapping_add(i64::from(d));
        i += 1;
    }
    if neg {
        v.wrapping_neg()
    } else {
        v
    }
}

/// The errno name of `n` (positive), as stap's `errno_str`.
pub fn errno_name(n: i64) -> String {
    const NAMES: &[&str] = &[
        "",
        "EPERM",
        "ENOENT",
        "ESRCH",
        "EINTR",
        "EIO",
        "ENXIO",
        "E2BIG",
        "ENOEXEC",
        "EBADF",
        "ECHILD",
        "EAGAIN",
        "ENOMEM",
        "EACCES",
        "EFAULT",
        "ENOTBLK",
        "EBUSY",
        "EEXIST",
        "EXDEV",
        "ENODEV",
        "ENOTDIR",
        "EISDIR",
        "EINVAL",
        "ENFILE",
        "EMFILE",
        "ENOTTY",
        "ETXTBSY",
        "EFBIG",
        "ENOSPC",
        "ESPIPE",
        "EROFS",
        "EMLINK",
        "EPIPE",
        "EDOM",
        "ERANGE",
        "EDEADLK",
        "ENAMETOOLONG",
        "ENOLCK",
        "ENOSYS",
        "ENOTEMPTY",
        "ELOOP",
        "",
        "ENOMSG",
        "EIDRM",
        "ECHRNG",
        "EL2NSYNC",
        "EL3HLT",
        "EL3RST",
        "ELNRNG",
        "EUNATCH",
        "ENOCSI",
        "EL2HLT",
        "EBADE",
        "EBADR",
        "EXFULL",
        "ENOANO",
        "EBADRQC",
        "EBADSLT",
        "",
        "EBFONT",
        "ENOSTR",
        "ENODATA",
        "ETIME",
        "ENOSR",
        "ENONET",
        "ENOPKG",
        "EREMOTE",
        "ENOLINK",
        "EADV",
        "ESRMNT",
        "ECOMM",
        "EPROTO",
        "EMULTIHOP",
        "EDOTDOT",
        "EBADMSG",
        "EOVERFLOW",
        "ENOTUNIQ",
        "EBADFD",
        "EREMCHG",
        "ELIBACC",
        "ELIBBAD",
        "ELIBSCN",
        "ELIBMAX",
        "ELIBEXEC",
        "EILSEQ",
        "ERESTART",
        "ESTRPIPE",
        "EUSERS",
        "ENOTSOCK",
        "EDESTADDRREQ",
        "EMSGSIZE",
        "EPROTOTYPE",
        "ENOPROTOOPT",
        "EPROTONOSUPPORT",
        "ESOCKTNOSUPPORT",
        "EOPNOTSUPP",
        "EPFNOSUPPORT",
        "EAFNOSUPPORT",
        "EADDRINUSE",
        "EADDRNOTAVAIL",
        "ENETDOWN",
        "ENETUNREACH",
        "ENETRESET",
        "ECONNABORTED",
        "ECONNRESET",
        "ENOBUFS",
        "EISCONN",
        "ENOTCONN",
        "ESHUTDOWN",
        "ETOOMANYREFS",
        "ETIMEDOUT",
        "ECONNREFUSED",
        "EHOSTDOWN",
        "EHOSTUNREACH",
        "EALREADY",
        "EINPROGRESS",
        "ESTALE",
        "EUCLEAN",
        "ENOTNAM",
        "ENAVAIL",
        "EISNAM",
        "EREMOTEIO",
        "EDQUOT",
        "ENOMEDIUM",
        "EMEDIUMTYPE",
        "ECANCELED",
        "ENOKEY",
        "EKEYEXPIRED",
        "EKEYREVOKED",
        "EKEYREJECTED",
        "EOWNERDEAD",
        "ENOTRECOVERABLE",
        "ERFKILL",
        "EHWPOISON",
    ];
    match NAMES.get(n as usize) {
        Some(name) if n > 0 && !name.is_empty() => name.to_string(),
        _ => match n {
            512 => "ERESTARTSYS".into(),
            513 => "ERESTARTNOINTR".into(),
            _ => format!("E#{n}"),
        },
    }
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
            // SAFETY (the four below): these getters cannot fail and have no preconditions.
            B::Euid => {
                Value::Long(self.status_number("Uid", 1, || i64::from(unsafe { libc::geteuid() })))
            }
            B::Gid => {
                Value::Long(self.status_number("Gid", 0, || i64::from(unsafe { libc::getgid() })))
            }
            B::Egid => {
                Value::Long(self.status_number("Gid", 1, || i64::from(unsafe { libc::getegid() })))
            }
            B::Ppid => {
                Value::Long(self.status_number("PPid", 0, || i64::from(unsafe { libc::getppid() })))
            }
            B::Execname => Value::Str(self.execname_value()),
            B::Pexecname => {
                // SAFETY: getppid cannot fail and has no preconditions.
                let ppid = self.status_number("PPid", 0, || i64::from(unsafe { libc::getppid() }));
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

fn gettid() -> u32 {
    // SAFETY: gettid has no preconditions and cannot fail.
    (unsafe { libc::syscall(libc::SYS_gettid) }) as u32
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

fn replace(s: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctime_like_stap() {
        assert_eq!(ctime(0).unwrap(), "Thu Jan  1 00:00:00 1970");
        assert_eq!(ctime(741_484_148).unwrap(), "Wed Jun 30 23:49:08 1993");
        assert_eq!(ctime(-1).unwrap(), "Wed Dec 31 23:59:59 1969");
        assert_eq!(ctime(1_796_112_944).unwrap(), "Tue Dec  1 08:15:44 2026");
        assert!(ctime(1 << 40).is_err());
    }

    #[test]
    fn strings() {
        assert_eq!(strtol(b"42x", 10), 42);
        assert_eq!(strtol(b"-0x1f", 16), -31);
        assert_eq!(strtol(b"0x1f", 0), 31);
        assert_eq!(strtol(b"017", 0), 15);
        assert_eq!(text_str(b"a\"b\n\x01", 100, false), b"a\\\"b\\n\\001");
        assert_eq!(text_str("é".as_bytes(), 100, true), b"\"\\u00e9\"");
        assert_eq!(errno_name(11), "EAGAIN");
        assert_eq!(errno_name(104), "ECONNRESET");
        assert_eq!(replace(b"a-b-c", b"-", b"+"), b"a+b+c");
    }
}
