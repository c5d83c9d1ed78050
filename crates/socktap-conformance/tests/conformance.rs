//! The conformance table, run for real against the running kernel.

use socktap_conformance::{cases, privileged, run, Error};

#[test]
fn every_case_of_the_table_produces_exactly_its_events() {
    if !privileged("conformance") {
        return;
    }
    let results = run(None, socktap::Backend::Auto).expect("tracing works");
    assert_eq!(results.len(), cases().len());
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| format!("{} {}: {}", r.op.label(), r.kind.label(), r.detail))
        .collect();
    assert!(failed.is_empty(), "failed cases:\n{}", failed.join("\n"));
}

fn table_passes(backend: socktap::Backend) -> Result<(), Error> {
    let results = run(None, backend)?;
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| format!("{} {}: {}", r.op.label(), r.kind.label(), r.detail))
        .collect();
    assert!(
        failed.is_empty(),
        "{backend:?}: failed cases:\n{}",
        failed.join("\n")
    );
    Ok(())
}

#[test]
fn the_syscall_backend_passes_the_table_too() {
    if !privileged("syscall backend conformance") {
        return;
    }
    table_passes(socktap::Backend::Only(socktap::Mechanism::Syscall))
        .expect("the syscall layer loads");
}

#[test]
fn the_tracepoint_backend_passes_the_table_where_the_kernel_has_it() {
    if !privileged("tracepoint backend conformance") {
        return;
    }
    let has = socktap::coverage::KernelFeatures::probe().length_tracepoints;
    match table_passes(socktap::Backend::Only(socktap::Mechanism::Tracepoint)) {
        Ok(()) => assert!(has, "loaded without the tracepoints in BTF?"),
        Err(e) => assert!(!has, "the kernel has the length tracepoints: {e}"),
    }
}

/// A forced function-hook backend either passes, or is refused because the
/// kernel lacks the mechanism. The verifier rejecting socktap's own program
/// is a failure: that is a broken program, not a missing feature.
#[test]
fn a_forced_backend_passes_the_table_or_the_kernel_lacks_it() {
    if !privileged("forced backends") {
        return;
    }
    for m in [socktap::Mechanism::Fentry, socktap::Mechanism::Kprobe] {
        match table_passes(socktap::Backend::Only(m)) {
            Ok(()) => {}
            Err(Error::Trace(socktap::Error::Unsupported {
                probe,
                reason,
                rejected_by_verifier,
            })) => {
                assert!(
                    !rejected_by_verifier,
                    "{m}: the verifier rejected socktap's program: {probe}: {reason}"
                );
                // Refused here: the error names the mechanism and why.
                assert!(reason.starts_with(m.name()), "{probe}: {reason}");
                assert!(reason.len() > m.name().len() + 5, "{reason}");
            }
            Err(e) => panic!("{m}: unexpected error {e}"),
        }
    }
}
