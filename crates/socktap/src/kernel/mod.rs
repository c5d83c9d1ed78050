//! Everything that touches the BPF object, private to the crate: the
//! skeleton, what the kernel offers, which programs serve what, writing
//! the configuration, loading with fallback, libbpf's messages, and reading
//! the maps back. The public types above it (tracer, aggregator, coverage)
//! only call in here.

pub(crate) mod config;
pub(crate) mod features;
pub(crate) mod loader;
mod log;
pub(crate) mod maps;
mod programs;

/// The skeleton libbpf-cargo generates from `src/bpf/socktap.bpf.c`: the
/// object, its maps and programs, and in `types` the C structs and enums
/// of socktap.h, which are the one definition both sides use.
pub(crate) mod skel {
    #![allow(
        clippy::all,
        clippy::pedantic,
        missing_docs,
        dead_code,
        non_camel_case_types,
        non_snake_case,
        unused_imports,
        unreachable_pub
    )]
    include!(concat!(env!("OUT_DIR"), "/socktap.skel.rs"));
}

#[cfg(test)]
mod stack_tests;
