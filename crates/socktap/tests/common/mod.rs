//! Shared by the privileged tests.

/// Whether this process may load BPF. Without the capabilities the test is
/// skipped, unless SOCKTAP_REQUIRE_BPF=1 (as in CI), where it fails.
pub fn privileged(test: &str) -> bool {
    if socktap::can_trace() {
        return true;
    }
    if std::env::var("SOCKTAP_REQUIRE_BPF").as_deref() == Ok("1") {
        panic!("{test}: SOCKTAP_REQUIRE_BPF=1 but this process cannot load BPF (needs CAP_BPF and CAP_PERFMON)");
    }
    eprintln!("skipping {test}: needs CAP_BPF and CAP_PERFMON (run as root)");
    false
}
