//! The gate of every test that loads BPF: this crate's, the library's
//! (`crates/socktap/tests`) and the CLI's.

/// Whether this process may load BPF, for a test named `test` that needs
/// it. Without the capabilities the test is skipped (a line on stderr says
/// so and this returns false), unless `SOCKTAP_REQUIRE_BPF=1` (as in CI),
/// where it fails: then this panics.
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
