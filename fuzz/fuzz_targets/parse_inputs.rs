//! Everything socktap parses from a command line, fed arbitrary text: probe
//! names and globs, family/protocol/type names, the grouping key lists, and
//! the flag values (durations, sizes, counts, ids, ports, addresses). None
//! of them may panic, and whatever parses must be within its documented range.
#![no_main]

use libfuzzer_sys::fuzz_target;

// The CLI's usage error, as `crate::UsageError` for the modules below.
#[path = "../../crates/socktap-cli/src/usage.rs"]
mod usage;
pub use usage::UsageError;

// The CLI's own parsers, compiled here from their sources (the CLI is a
// binary crate, with no library to link against).
#[path = "../../crates/socktap-cli/src/args/values.rs"]
#[allow(dead_code)]
mod values;
#[path = "../../crates/socktap-cli/src/shared/keys.rs"]
#[allow(dead_code)]
mod keys;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    use socktap::tapset::parse;
    let _ = parse::resolve(&[text]);
    let _ = parse::glob_match(text, "socket.sendmsg.return");
    for f in [parse::parse_family, parse::parse_protocol, parse::parse_type] {
        if let Ok(n) = f(text) {
            assert!((0..=i64::from(u16::MAX)).contains(&n), "{text:?} -> {n}");
        }
    }
    let list: Vec<String> = text.split(',').map(str::to_string).collect();
    let _ = keys::Key::parse_list("--by", &list, &keys::Key::ALL);
    if let Ok(d) = values::seconds(text) {
        assert!(d.as_secs_f64() >= 0.01 && d.as_secs_f64() <= 365.0 * 86_400.0);
    }
    if let Ok(k) = values::buffer_kib(text) {
        assert!(k.is_power_of_two() && (4..=262_144).contains(&k));
    }
    if let Ok(r) = values::rows(text) {
        assert!(r >= 1);
    }
    let _ = (values::count(text), values::id(text), values::port(text), values::listen(text));
    let _ = (values::shown(text), values::otlp_endpoint(text), values::header(text));
});
