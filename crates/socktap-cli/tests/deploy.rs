//! What ships socktap, each checked by its own ecosystem's tools. The tools
//! come from scripts/setup-debian.sh.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;
use socktap_conformance::privileged;

const BIN: &str = env!("CARGO_BIN_EXE_socktap");
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// A file of the repository, by its path from the root.
fn repo_file(path: &str) -> PathBuf {
    Path::new(ROOT).join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo_file(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

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

// --- systemd ------------------------------------------------------------------

const UNIT: &str = "deploy/systemd/socktap-serve.service";
const CAPABILITIES: [&str; 3] = ["CAP_BPF", "CAP_PERFMON", "CAP_SYS_RESOURCE"];

/// The values of a setting in the unit, every line of it, in order.
fn unit_setting(unit: &str, key: &str) -> Vec<String> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(String::from)
        .collect()
}

#[test]
fn the_systemd_unit_verifies_with_three_capabilities_and_hardening() {
    let unit = read(UNIT);
    assert_eq!(unit_setting(&unit, "ExecStart"), ["/usr/bin/socktap serve"]);
    for key in ["AmbientCapabilities", "CapabilityBoundingSet"] {
        let caps: BTreeSet<String> = unit_setting(&unit, key)
            .iter()
            .flat_map(|v| v.split_whitespace().map(String::from).collect::<Vec<_>>())
            .collect();
        assert_eq!(
            caps,
            CAPABILITIES.iter().map(|c| c.to_string()).collect(),
            "{key}"
        );
    }
    for (key, value) in [
        ("DynamicUser", "yes"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
    ] {
        assert_eq!(unit_setting(&unit, key), [value], "{key}");
    }

    // systemd-analyze verify checks that ExecStart's binary and the man page
    // of Documentation= exist: here, this build's binary and its pages.
    let dir = scratch("unit");
    std::fs::create_dir_all(dir.join("man/man1")).unwrap();
    assert_ok(
        "socktap man --out-dir",
        &socktap(&["man", "--out-dir", dir.join("man/man1").to_str().unwrap()]),
    );
    let file = dir.join("socktap-serve.service");
    std::fs::write(&file, unit.replace("/usr/bin/socktap", BIN)).unwrap();
    let o = run(Command::new("systemd-analyze")
        .arg("verify")
        .arg(&file)
        .env("MANPATH", dir.join("man")));
    assert_ok("systemd-analyze verify", &o);
    assert!(o.stderr.is_empty(), "{}", text(&o.stderr));

    // And its hardening, as systemd scores it (0 is the most locked down,
    // 10 the least; 2.0 when written).
    let o = run(Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&file));
    assert_ok("systemd-analyze security", &o);
    let out = text(&o.stdout);
    let exposure: f64 = out
        .lines()
        .find_map(|l| {
            l.split_once("Overall exposure level for ")?
                .1
                .split_once(": ")
        })
        .and_then(|(_, v)| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level:\n{out}"));
    assert!(exposure <= 2.5, "exposure {exposure}:\n{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A running `socktap serve` (directly, under setpriv, or in a container)
/// and the address it serves on; ended when dropped.
struct Served {
    child: Child,
    addr: String,
    /// How to end it for sure (a container outlives its client).
    cleanup: Option<Command>,
}

impl Served {
    /// Starts `cmd`, which runs `socktap serve --listen 127.0.0.1:0 ...`, and
    /// reads the address from its first line.
    fn start(mut cmd: Command, cleanup: Option<Command>) -> Served {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starts socktap serve");
        let mut first = String::new();
        let stderr = child.stderr.take().expect("stderr is piped");
        let _ = BufReader::new(stderr).read_line(&mut first);
        let addr = first
            .strip_prefix("Serving Prometheus metrics on http://")
            .and_then(|r| r.split_once('/'))
            .map(|(addr, _)| addr.to_string());
        let mut served = Served {
            child,
            addr: String::new(),
            cleanup,
        };
        match addr {
            Some(addr) => served.addr = addr,
            None => panic!("socktap serve did not start: {first}"),
        }
        served
    }

    /// GET a path, with curl.
    fn get(&self, path: &str) -> String {
        let o = run(Command::new("curl")
            .args(["--silent", "--show-error", "--fail", "--max-time", "10"])
            .arg(format!("http://{}{path}", self.addr)));
        assert_ok(&format!("GET {path}"), &o);
        text(&o.stdout)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid; SIGINT as Ctrl-C would.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let _ = self.child.wait();
        if let Some(cleanup) = &mut self.cleanup {
            let _ = cleanup.stdout(Stdio::null()).stderr(Stdio::null()).status();
        }
    }
}

/// Whether this process may hand out a capability (its bounding set holds
/// it): the machine's own limits, not socktap's.
fn can_grant(cap: &str) -> bool {
    let bit = match cap {
        "CAP_SYS_RESOURCE" | "SYS_RESOURCE" => 24,
        "CAP_PERFMON" | "PERFMON" => 38,
        "CAP_BPF" | "BPF" => 39,
        _ => panic!("unknown capability {cap}"),
    };
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let bounding = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .expect("CapBnd in /proc/self/status");
    bounding & (1 << bit) != 0
}

#[test]
fn the_units_capabilities_are_enough_without_root() {
    if !privileged("unit capabilities") {
        return;
    }
    // What the unit's DynamicUser= and AmbientCapabilities= make: another
    // user, with these capabilities only (less any this machine withholds:
    // CAP_SYS_RESOURCE here, which kernels since 5.11 do not need).
    let unit = read(UNIT);
    let caps: Vec<String> = unit_setting(&unit, "AmbientCapabilities")
        .iter()
        .flat_map(|v| v.split_whitespace().map(String::from).collect::<Vec<_>>())
        .filter(|c| can_grant(c))
        .map(|c| format!("+{}", c.trim_start_matches("CAP_").to_lowercase()))
        .collect();
    let caps = format!("-all,{}", caps.join(","));
    // A copy of the binary that user can run.
    let dir = scratch("unit-caps");
    let bin = dir.join("socktap");
    std::fs::copy(BIN, &bin).unwrap();
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--no-new-privs",
    ])
    .arg(format!("--inh-caps={caps}"))
    .arg(format!("--ambient-caps={caps}"))
    .arg(format!("--bounding-set={caps}"))
    .arg(&bin)
    .args(["serve", "--listen", "127.0.0.1:0"]);
    let served = Served::start(cmd, None);
    let body = served.get("/metrics");
    assert!(
        body.contains("socktap_lost_events_total{reason=\"rows_full\"}"),
        "{body}"
    );
    drop(served);
    let _ = std::fs::remove_dir_all(&dir);
}

// --- Prometheus and Grafana ----------------------------------------------------

const ALERTS: &str = "deploy/prometheus/alerts.yml";
const DASHBOARD: &str = "deploy/grafana/socktap.json";

/// The metric families `socktap serve` exports, with the labels the
/// dashboard and alerts may use.
const METRICS: [&str; 6] = [
    "socktap_send_bytes_total",
    "socktap_receive_bytes_total",
    "socktap_send_messages_total",
    "socktap_receive_messages_total",
    "socktap_errors_total",
    "socktap_lost_events_total",
];

/// Every `socktap_...` name in a text.
fn socktap_names(s: &str) -> BTreeSet<String> {
    s.match_indices("socktap_")
        .map(|(i, _)| {
            s[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        // socktap_(send|receive)_... in a regular expression.
        .filter(|n| n != "socktap_")
        .collect()
}

#[test]
fn alerts_pass_promtool_and_fire_in_its_unit_tests() {
    let o = run(Command::new("promtool")
        .args(["check", "rules"])
        .arg(repo_file(ALERTS)));
    assert_ok("promtool check rules", &o);
    assert!(
        text(&o.stdout).contains("SUCCESS: 4 rules found"),
        "{}",
        text(&o.stdout)
    );
    let o = run(Command::new("promtool")
        .args(["test", "rules"])
        .arg(repo_file("deploy/prometheus/alerts_test.yml")));
    assert_ok("promtool test rules", &o);

    let alerts = read(ALERTS);
    for name in [
        "SocktapExporterDown",
        "SocktapExporterAbsent",
        "SocktapEventsLost",
        "SocktapSeriesOverflow",
    ] {
        assert!(alerts.contains(&format!("alert: {name}\n")), "{name}");
    }
    let used = socktap_names(&alerts);
    assert_eq!(
        used,
        ["socktap_lost_events_total".to_string()].into(),
        "{used:?}"
    );
}

/// Every query of a dashboard's panels (rows hold none), with its panel's title.
fn queries(dashboard: &Value) -> Vec<(String, String)> {
    let panels = dashboard["panels"].as_array().expect("panels");
    panels
        .iter()
        .filter(|p| p["type"] != "row")
        .flat_map(|p| {
            let title = p["title"].as_str().expect("a panel title").to_string();
            let targets = p["targets"].as_array().cloned().unwrap_or_default();
            assert!(!targets.is_empty(), "panel '{title}' has no query");
            targets.into_iter().map(move |t| {
                let expr = t["expr"].as_str().expect("a PromQL query").to_string();
                (title.clone(), expr)
            })
        })
        .collect()
}

#[test]
fn the_dashboard_queries_socktap_metrics_per_host() {
    let dashboard: Value = serde_json::from_str(&read(DASHBOARD)).expect("the dashboard is JSON");
    let vars = dashboard["templating"]["list"]
        .as_array()
        .expect("variables");
    let host = vars
        .iter()
        .find(|v| v["name"] == "host")
        .expect("a host variable");
    assert_eq!(host["type"], "query");
    assert!(host["definition"].as_str().unwrap().contains("socktap_"));

    let queries = queries(&dashboard);
    for (title, expr) in &queries {
        assert!(
            expr.contains("socktap_") || expr.starts_with("sum(up{"),
            "{title}: {expr}"
        );
        assert!(expr.contains("instance=~\"$host\""), "{title}: {expr}");
    }
    let titles: Vec<String> = queries.iter().map(|(t, _)| t.to_lowercase()).collect();
    for topic in [
        "per process",
        "protocol",
        "family",
        "error",
        "lost",
        "overflow",
    ] {
        assert!(
            titles.iter().any(|t| t.contains(topic)),
            "no panel on {topic}"
        );
    }
    // Every exported family is shown, and nothing else.
    let used: BTreeSet<String> = queries.iter().flat_map(|(_, e)| socktap_names(e)).collect();
    let exported: BTreeSet<String> = METRICS.iter().map(|m| m.to_string()).collect();
    assert_eq!(used, exported);
    // Panel ids are unique.
    let ids: Vec<u64> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_u64().expect("a panel id"))
        .collect();
    assert_eq!(
        ids.len(),
        ids.iter().collect::<BTreeSet<_>>().len(),
        "{ids:?}"
    );

    // The queries are PromQL, as Prometheus parses it: promtool checks them
    // as recording rules, with Grafana's variables given values.
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, (_, expr)) in queries.iter().enumerate() {
        let expr = expr
            .replace("$__rate_interval", "5m")
            .replace("$__range", "1h")
            .replace("$host", ".*");
        let quoted = serde_json::to_string(&expr).unwrap();
        rules += &format!("      - record: dashboard:query{i}\n        expr: {quoted}\n");
    }
    let dir = scratch("dashboard");
    std::fs::write(dir.join("queries.yml"), &rules).unwrap();
    let o = run(Command::new("promtool")
        .args(["check", "rules"])
        .arg(dir.join("queries.yml")));
    assert_ok(
        &format!("promtool check rules on the dashboard's queries:\n{rules}"),
        &o,
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_deploy_files_use_only_what_socktap_serve_exports() {
    if !privileged("serve's exposition") {
        return;
    }
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0"]);
    let served = Served::start(cmd, None);
    let body = served.get("/metrics");
    drop(served);
    let exported = socktap_names(&body);
    for family in METRICS {
        assert!(exported.contains(family), "{family} not in:\n{body}");
    }
    for file in [DASHBOARD, ALERTS] {
        let used = socktap_names(&read(file));
        assert!(
            used.is_subset(&exported),
            "{file}: {used:?} beyond {exported:?}"
        );
    }
    // And the labels they select on.
    for label in [
        "comm=",
        "family=",
        "protocol=",
        "direction=\"send\"",
        "direction=\"receive\"",
    ] {
        assert!(body.contains(label), "{label} not in:\n{body}");
    }
    for reason in [
        "rows_full",
        "calls_in_flight_full",
        "ring_buffer_full",
        "loop_bound",
    ] {
        assert!(body.contains(&format!("reason=\"{reason}\"")), "{reason}");
    }
}
