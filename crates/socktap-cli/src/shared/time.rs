//! Times as socktap prints them: RFC 3339 in JSON, the local time of day
//! in trace's text, and ctime() in socktop's report.

/// Local wall-clock time of day with microseconds.
pub fn time_of_day(unix_ns: i128) -> String {
    let secs = (unix_ns.div_euclid(1_000_000_000)) as libc::time_t;
    let micros = (unix_ns.rem_euclid(1_000_000_000) / 1000) as u32;
    // SAFETY: all-zero is a valid `tm`; localtime_r fills it from `secs`
    // and touches nothing else.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are to valid, owned values.
    unsafe { libc::localtime_r(&secs, &mut tm) };
    format!(
        "{:02}:{:02}:{:02}.{micros:06}",
        tm.tm_hour, tm.tm_min, tm.tm_sec
    )
}

/// Now, in nanoseconds since the Unix epoch.
pub fn now_unix_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// Formats a Unix time in nanoseconds as RFC 3339 UTC.
pub fn rfc3339(unix_ns: i128) -> String {
    let secs = unix_ns.div_euclid(1_000_000_000) as i64;
    let nanos = unix_ns.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `ctime()`'s format of the local time now, e.g. "Mon Jan 29 12:27:24 2007".
pub fn ctime_now() -> String {
    // SAFETY: time(NULL) only returns the current time.
    let now = unsafe { libc::time(std::ptr::null_mut()) };
    // SAFETY: all-zero is a valid `tm`; localtime_r fills it from `now`.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are to valid, owned values.
    unsafe { libc::localtime_r(&now, &mut tm) };
    let mut buf = [0u8; 64];
    let fmt = c"%a %b %e %H:%M:%S %Y";
    // SAFETY: buf has room for the 24-byte result; fmt is NUL-terminated.
    let n = unsafe { libc::strftime(buf.as_mut_ptr().cast(), buf.len(), fmt.as_ptr(), &tm) };
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            rfc3339(1_795_859_521_123_456_789),
            "2026-11-28T09:52:01.123456789Z"
        );
        assert_eq!(
            rfc3339(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000000000Z"
        );
    }

    #[test]
    fn ctime_has_ctimes_shape() {
        let t = ctime_now();
        assert_eq!(t.len(), 24, "{t}");
        assert_eq!(&t[3..4], " ");
        assert_eq!(&t[19..20], " ");
    }
}
