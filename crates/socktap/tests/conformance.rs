//! The conformance table, run for real against the running kernel.

mod common;

#[test]
fn every_case_of_the_table_produces_exactly_its_events() {
    if !common::privileged("conformance") {
        return;
    }
    let results = socktap::conformance::run(None, socktap::Backend::Auto).expect("tracing works");
    assert_eq!(results.len(), socktap::conformance::cases().len());
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| format!("{} {}: {}", r.op.label(), r.kind.label(), r.detail))
        .collect();
    assert!(failed.is_empty(), "failed cases:\n{}", failed.join("\n"));
}
