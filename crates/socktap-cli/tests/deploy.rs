//! What ships socktap, each checked by its own ecosystem's tools. The tools
//! come from scripts/setup-debian.sh.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_socktap");

/// Runs a tool this test needs, failing with how to install it if it is
/// missing.
fn run(cmd: &mut Command) -> Output {
    let name = cmd.get_program().to_string_lossy().into_owned();
    cmd.output().unwrap_or_else(|e| {
        panic!("running {name}: {e} (scripts/setup-debian.sh installs what these tests use)")
    })
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn assert_ok(what: &str, o: &Output) {
    assert!(
        o.status.success(),
        "{what}: {}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        text(&o.stdout),
        text(&o.stderr)
    );
}

/// Dynamic libraries `ldd` names for a binary.
fn needed(bin: &Path) -> String {
    let o = run(Command::new("ldd").arg(bin));
    assert_ok("ldd", &o);
    text(&o.stdout)
}

fn assert_self_contained(bin: &Path) {
    let libs = needed(bin);
    for lib in ["libelf", "libz.", "libbpf"] {
        assert!(
            !libs.contains(lib),
            "{} needs {lib}:\n{libs}",
            bin.display()
        );
    }
    assert!(libs.contains("libc.so.6"), "{libs}");
}

#[test]
fn the_binary_needs_only_glibc() {
    assert_self_contained(Path::new(BIN));
}
