//! The built-ins that are plain functions of their arguments, as stap's
//! tapset implements them: `ctime`, the time zone, `text_str`, `strtol`,
//! `errno_str`, substring search and replacement.

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

/// Where `needle` first occurs in `hay` (stap's `strpos`, via strstr).
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Every `from` in `s` replaced by `to`, left to right (`str_replace`).
pub fn replace(s: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
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
