//! Compiles the BPF programs and generates their skeleton into OUT_DIR.

use std::env;
use std::path::PathBuf;

use libbpf_cargo::SkeletonBuilder;

const SRC: &str = "src/bpf/socktap.bpf.c";
/// The headers socktap.bpf.c includes live beside it.
const DIR: &str = "src/bpf";

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let arch = env::var("CARGO_CFG_TARGET_ARCH").expect("cargo sets CARGO_CFG_TARGET_ARCH");
    // The uapi headers (<linux/bpf.h>) include <asm/types.h>, which Debian keeps
    // in the multiarch directory of the target.
    let multiarch = format!("/usr/include/{arch}-linux-gnu");

    SkeletonBuilder::new()
        .source(SRC)
        // Kept beside the skeleton for the tests that read the object itself.
        .obj(out.join("socktap.bpf.o"))
        .clang_args(["-I", &multiarch, "-Wall", "-Wno-unused-function"])
        .build_and_generate(out.join("socktap.skel.rs"))
        .expect("building the BPF programs (needs clang, and libelf-dev + zlib1g-dev for libbpf)");

    // A directory as rerun-if-changed covers every file in it, added ones too.
    println!("cargo:rerun-if-changed={DIR}");
}
