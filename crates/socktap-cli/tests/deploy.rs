//! What ships socktap, each checked by its own ecosystem's tools. The tools
//! come from scripts/setup-debian.sh.

use std::path::{Path, PathBuf};
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

fn socktap(args: &[&str]) -> Output {
    run(Command::new(BIN).args(args))
}

/// A new empty folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("socktap-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creates a scratch folder");
    dir
}

/// socktap's commands, as `socktap --help` lists them (clap's `help` aside).
fn commands() -> Vec<String> {
    let o = socktap(&["--help"]);
    assert_ok("socktap --help", &o);
    let help = text(&o.stdout);
    let list: Vec<String> = help
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(String::from)
        .collect();
    assert!(list.len() >= 8, "{help}");
    list
}

/// What the shell offers after the words typed so far, the last one being
/// completed, from socktap's completion script for that shell.
fn complete(shell: &str, script: &Path, words: &[&str]) -> String {
    let line = words.join(" ");
    let o = match shell {
        "bash" => run(Command::new("bash")
            .args(["--norc", "-c"])
            .arg(
                r#"source "$1"; shift
                   COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
                   fn=$(complete -p socktap | sed -n 's/.* -F \([^ ]*\) .*/\1/p')
                   "$fn" socktap "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
                   printf '%s\n' "${COMPREPLY[@]}""#,
            )
            .arg("bash")
            .arg(script)
            .args(words)),
        "fish" => run(Command::new("fish")
            .args(["--no-config", "-c", r#"source $argv[1]; complete -C $argv[2]"#])
            .arg(script)
            .arg(&line)),
        _ => unreachable!("no completion driver for {shell}"),
    };
    assert_ok(&format!("{shell} completing '{line}'"), &o);
    text(&o.stdout)
}

#[test]
fn completions_parse_in_their_shells_and_complete_commands_and_flags() {
    let dir = scratch("completions");
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = socktap(&["completions", shell]);
        assert_ok(&format!("socktap completions {shell}"), &o);
        assert!(o.stdout.len() > 1000, "{shell}: {}", text(&o.stdout));
        std::fs::write(dir.join(shell), &o.stdout).unwrap();
    }
    // Each shell parses its script without running it.
    for (shell, check) in [
        ("bash", &["-n"][..]),
        ("zsh", &["-n"][..]),
        ("fish", &["--no-execute"][..]),
    ] {
        let o = run(Command::new(shell).args(check).arg(dir.join(shell)));
        assert_ok(&format!("{shell} {check:?} on its completions"), &o);
    }
    let zsh = std::fs::read_to_string(dir.join("zsh")).unwrap();
    assert!(zsh.starts_with("#compdef socktap"), "{zsh}");
    // And bash and fish complete commands and flags with them.
    for shell in ["bash", "fish"] {
        let script = dir.join(shell);
        let offered = complete(shell, &script, &["socktap", "tr"]);
        assert!(
            offered.lines().any(|l| l.starts_with("trace")),
            "{shell}: {offered}"
        );
        let offered = complete(shell, &script, &["socktap", "trace", "--buf"]);
        assert!(offered.contains("--buffer-kib"), "{shell}: {offered}");
    }
    // (clap_complete's fish script leaves positional values to fish's files.)
    let offered = complete("bash", &dir.join("bash"), &["socktap", "completions", "fi"]);
    assert_eq!(offered.trim(), "fish");
    let o = socktap(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A man page as `man -l` renders it, with groff's warnings on: (page, warnings).
fn render_man_page(page: &Path) -> (String, String) {
    let o = run(Command::new("man")
        .args(["--warnings", "-l"])
        .arg(page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .env("LC_ALL", "C.UTF-8"));
    assert_ok(&format!("man -l {}", page.display()), &o);
    (text(&o.stdout), text(&o.stderr))
}

#[test]
fn man_pages_render_one_per_command() {
    let dir = scratch("man");
    let o = socktap(&["man", "--out-dir", dir.to_str().unwrap()]);
    assert_ok("socktap man --out-dir", &o);
    let mut pages: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    let mut expected: Vec<String> = commands()
        .iter()
        .map(|c| format!("socktap-{c}.1"))
        .chain(["socktap.1".to_string()])
        .collect();
    expected.sort();
    assert_eq!(pages, expected);

    for page in &pages {
        let (shown, warnings) = render_man_page(&dir.join(page));
        assert!(warnings.is_empty(), "{page}: {warnings}");
        let name = page.trim_end_matches(".1");
        assert!(shown.starts_with(&format!("{name}(1)")), "{page}:\n{shown}");
        for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "VERSION"] {
            assert!(
                shown.contains(&format!("\n{section}\n")),
                "{page}: {section}:\n{shown}"
            );
        }
        // man justifies lines with extra spaces.
        let words: Vec<&str> = shown.split_whitespace().collect();
        let usage: Vec<&str> = name.splitn(2, '-').collect();
        assert!(
            words.windows(usage.len()).any(|w| w == usage),
            "{page}: no {usage:?}:\n{shown}"
        );
        // The footer names socktap's version.
        let version = concat!("socktap ", env!("CARGO_PKG_VERSION"));
        assert!(shown.contains(version), "{page}:\n{shown}");
    }
    // The top page leads to every command's page.
    let (top, _) = render_man_page(&dir.join("socktap.1"));
    for c in commands() {
        assert!(top.contains(&format!("socktap-{c}(1)")), "{c}:\n{top}");
    }
    // A command's page printed alone is the same page, with its flags.
    let o = socktap(&["man", "trace"]);
    assert_ok("socktap man trace", &o);
    assert_eq!(
        o.stdout,
        std::fs::read(dir.join("socktap-trace.1")).unwrap()
    );
    let (trace, _) = render_man_page(&dir.join("socktap-trace.1"));
    assert!(
        trace.contains("--buffer-kib") && trace.contains("Examples:"),
        "{trace}"
    );

    let o = socktap(&["man", "nosuch"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("trace"), "{}", text(&o.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}
