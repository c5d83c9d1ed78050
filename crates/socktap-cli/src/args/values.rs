//! Parsers for flag values, run by clap while it reads the command line:
//! a bad value is a usage error (exit 2) that names its flag and says what
//! it accepts, before any BPF is loaded. Numbers that may not be negative
//! still accept a leading '-' here (allow_negative_numbers), so that "-1"
//! gets this explanation rather than clap's "unexpected argument".

use std::net::SocketAddr;
use std::time::Duration;

/// The shortest interval or duration: below it a loop would only spin.
const MIN_SECONDS: f64 = 0.01;
/// The longest: a year.
const MAX_SECONDS: f64 = 365.0 * 86_400.0;
/// The largest ring buffer: 256 MiB, in KiB.
const MAX_BUFFER_KIB: u32 = 256 * 1024;
/// The most rows a kernel map may hold.
const MAX_ROWS: u32 = 1 << 20;

/// A time in seconds, 0.01 to a year, fractions allowed.
pub fn seconds(s: &str) -> Result<Duration, String> {
    let range = "a number of seconds from 0.01 to 31536000 (a year)";
    let v: f64 = s.trim().parse().map_err(|_| format!("expected {range}"))?;
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&v) {
        return Err(format!("{s} is out of range: expected {range}"));
    }
    Ok(Duration::from_secs_f64(v))
}

/// A whole number in `range`, described as `what`.
fn whole<T>(s: &str, what: &str, range: std::ops::RangeInclusive<T>) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let expected = format!(
        "{what}: a whole number from {} to {}",
        range.start(),
        range.end()
    );
    let v: T = s
        .trim()
        .parse()
        .map_err(|_| format!("expected {expected}"))?;
    if !range.contains(&v) {
        return Err(format!("{s} is out of range: expected {expected}"));
    }
    Ok(v)
}

/// The ring buffer's size in KiB: a power of two from 4 (one page) to 256 MiB.
pub fn buffer_kib(s: &str) -> Result<u32, String> {
    let v = whole(s, "KiB, a power of two", 4..=MAX_BUFFER_KIB)?;
    if !v.is_power_of_two() {
        return Err(format!(
            "{v} is not a power of two (4, 8, 16, … {MAX_BUFFER_KIB})"
        ));
    }
    Ok(v)
}

/// How many rows the kernel holds: at least one.
pub fn rows(s: &str) -> Result<u32, String> {
    whole(s, "rows", 1..=MAX_ROWS)
}

/// How many reports, events or rows to show: at least one.
pub fn count(s: &str) -> Result<u64, String> {
    whole(s, "a count", 1..=u64::MAX)
}

/// Rows shown on screen.
pub fn shown(s: &str) -> Result<usize, String> {
    whole(s, "rows", 1..=100_000)
}

/// A process or thread id (pid_max is at most 2^22).
pub fn id(s: &str) -> Result<u32, String> {
    whole(s, "an id", 0..=u32::MAX >> 1)
}

/// A TCP or UDP port.
pub fn port(s: &str) -> Result<u16, String> {
    whole(s, "a port", 0..=u16::MAX)
}

/// An address to listen on: IPv4 or IPv6 with a port, e.g. 127.0.0.1:9745 or [::1]:9745.
pub fn listen(s: &str) -> Result<SocketAddr, String> {
    s.parse()
        .map_err(|_| format!("'{s}' is not an address and port, e.g. 127.0.0.1:9745 or [::]:9745"))
}

/// Where OTLP metrics go: an `http://` URL with a host. A URL without a
/// path gets OTLP/HTTP's metrics path, `/v1/metrics`, as the OpenTelemetry
/// specification does for its base endpoint; a URL with a path is used as
/// it is.
pub fn otlp_endpoint(s: &str) -> Result<String, String> {
    let expected =
        "an http:// URL, e.g. http://localhost:4318 (/v1/metrics is added to a URL without a path)";
    let uri: hyper::Uri = s
        .parse()
        .map_err(|_| format!("'{s}' is not a URL: expected {expected}"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(format!(
                "'{s}': https is not supported: push to a collector on this host or network over http:// (expected {expected})"
            ))
        }
        _ => return Err(format!("'{s}' is not {expected}")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("'{s}' has no host: expected {expected}"));
    }
    let has_path = uri.path_and_query().is_some_and(|p| p.as_str() != "/");
    Ok(if has_path {
        s.to_string()
    } else {
        format!("{}/v1/metrics", s.trim_end_matches('/'))
    })
}

/// An HTTP header sent with every OTLP push: `NAME=VALUE`, with a valid
/// header name and a value without control characters.
pub fn header(s: &str) -> Result<(String, String), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not NAME=VALUE, e.g. Authorization=Bearer..."))?;
    let name = name.trim();
    hyper::header::HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("'{name}' is not a valid HTTP header name"))?;
    hyper::header::HeaderValue::from_str(value)
        .map_err(|_| format!("the value of '{name}' is not a valid HTTP header value"))?;
    Ok((name.to_string(), value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_bounded() {
        assert_eq!(seconds("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(seconds("0.01"), Ok(Duration::from_millis(10)));
        for bad in ["1e20", "1e-12", "0", "-1", "nan", "inf", "", "x"] {
            assert!(seconds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes_counts_ids_and_addresses() {
        assert_eq!(buffer_kib("4096"), Ok(4096));
        for bad in ["0", "3", "-4", "1099511627776", "262145", "524288"] {
            assert!(buffer_kib(bad).is_err(), "{bad}");
        }
        assert_eq!(rows("1"), Ok(1));
        assert!(rows("0").is_err() && rows("99999999999").is_err());
        assert!(count("0").is_err() && count("-1").is_err());
        assert!(id("-1").unwrap_err().contains("a whole number from 0"));
        assert!(port("99999").is_err());
        assert_eq!(listen("127.0.0.1:80").unwrap().port(), 80);
        for bad in ["999.1.1.1:80", "127.0.0.1:99999", "nonsense", "127.0.0.1"] {
            assert!(listen(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn otlp_endpoints_and_headers() {
        assert_eq!(
            otlp_endpoint("http://localhost:4318").unwrap(),
            "http://localhost:4318/v1/metrics"
        );
        assert_eq!(
            otlp_endpoint("http://[::1]:4318/").unwrap(),
            "http://[::1]:4318/v1/metrics"
        );
        assert_eq!(
            otlp_endpoint("http://c:4318/otlp/v1/metrics").unwrap(),
            "http://c:4318/otlp/v1/metrics"
        );
        for bad in [
            "localhost:4318",
            "ftp://x/",
            "nonsense",
            "http://",
            "https://c:4318",
        ] {
            assert!(otlp_endpoint(bad).is_err(), "{bad}");
        }
        assert_eq!(
            header("Authorization=Bearer a=b").unwrap(),
            ("Authorization".to_string(), "Bearer a=b".to_string())
        );
        for bad in ["novalue", "bad name=x", "x=a\nb", "=x"] {
            assert!(header(bad).is_err(), "{bad:?}");
        }
    }
}
