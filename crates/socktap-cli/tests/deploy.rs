//! What ships socktap, each checked by its own ecosystem's tools (installed
//! by scripts/setup-debian.sh): the self-contained binary (ldd), the
//! completions (bash, zsh, fish), the man pages (man), the systemd unit
//! (systemd-analyze, and its capabilities run as another user), the alerts
//! (promtool), the dashboard (its queries through promtool), the Kubernetes
//! manifest (PyYAML, and the image run with its privileges), the container
//! image (podman) and the .deb (dpkg). The tests that load BPF, run
//! containers or install packages need root (`privileged`).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;
use socktap_conformance::privileged;

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_socktap");
const WORKLOAD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/workload.py");
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn root() -> PathBuf {
    Path::new(ROOT)
        .canonicalize()
        .expect("the repository's root")
}

/// A file of the repository, by its path from the root.
fn repo_file(path: &str) -> PathBuf {
    root().join(path)
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
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starts socktap serve");
        // Made at once, so that a failure below still ends it.
        let mut served = Served {
            child,
            addr: String::new(),
            cleanup,
        };
        // The address is on the line that says it serves; a container
        // engine may say things first.
        let stderr = served.child.stderr.take().expect("stderr is piped");
        let mut said = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            said += &line;
            said.push('\n');
            if let Some(rest) = line.strip_prefix("Serving Prometheus metrics on http://") {
                served.addr = rest.split_once('/').map_or("", |(a, _)| a).to_string();
                break;
            }
        }
        assert!(
            !served.addr.is_empty(),
            "socktap serve did not start:\n{said}"
        );
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
    let mut cmd = common::as_nobody(
        BIN,
        &[
            "--no-new-privs".into(),
            format!("--inh-caps={caps}"),
            format!("--ambient-caps={caps}"),
            format!("--bounding-set={caps}"),
        ],
    );
    cmd.args(["serve", "--listen", "127.0.0.1:0"]);
    let served = Served::start(cmd, None);
    let body = served.get("/metrics");
    assert!(
        body.contains("socktap_lost_events_total{reason=\"rows_full\"}"),
        "{body}"
    );
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

// --- Kubernetes ------------------------------------------------------------------

const MANIFEST: &str = "deploy/kubernetes/socktap.yaml";

/// The documents of a YAML file, parsed by PyYAML and handed over as JSON.
fn yaml_documents(path: &Path) -> Vec<Value> {
    // Debian's python3, where apt installs python3-yaml (a pyenv python3
    // earlier in PATH may not have it).
    let python = if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    };
    let o = run(Command::new(python)
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))",
        ])
        .arg(path));
    assert_ok(&format!("parsing {}", path.display()), &o);
    serde_json::from_slice(&o.stdout).expect("PyYAML's JSON")
}

fn manifest() -> Vec<Value> {
    yaml_documents(&repo_file(MANIFEST))
}

fn kind<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = docs.iter().filter(|d| d["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "one {kind}");
    found[0]
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_kubernetes_manifest_runs_serve_on_every_node_with_least_privilege() {
    let docs = manifest();
    let ds = kind(&docs, "DaemonSet");
    assert_eq!(ds["apiVersion"], "apps/v1");
    let pod = &ds["spec"]["template"];
    let labels = &pod["metadata"]["labels"];
    assert_eq!(&ds["spec"]["selector"]["matchLabels"], labels);
    let spec = &pod["spec"];
    assert_eq!(spec["hostPID"], true);
    let containers = spec["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1);
    let c = &containers[0];

    // socktap serve, listening where the port, the probes and the scrape
    // annotations say.
    let args = strings(&c["args"]);
    assert_eq!(args[0], "serve", "{args:?}");
    let listen = args
        .windows(2)
        .find(|w| w[0] == "--listen")
        .map(|w| w[1].clone())
        .expect("--listen");
    let port = listen.rsplit_once(':').unwrap().1;
    assert_eq!(listen, format!("0.0.0.0:{port}"));
    let ports = c["ports"].as_array().expect("ports");
    assert_eq!(ports[0]["containerPort"].to_string(), port);
    let port_name = ports[0]["name"].as_str().expect("a named port");
    for probe in ["livenessProbe", "readinessProbe"] {
        let get = &c[probe]["httpGet"];
        assert_eq!(get["path"], "/metrics", "{probe}");
        assert!(
            get["port"] == port_name || get["port"] == ports[0]["containerPort"],
            "{probe}"
        );
    }
    let annotations = &pod["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/scrape"], "true");
    assert_eq!(annotations["prometheus.io/port"], port);
    assert_eq!(annotations["prometheus.io/path"], "/metrics");

    // Least privilege: three capabilities, not privileged.
    let sc = &c["securityContext"];
    assert_ne!(sc["privileged"], true);
    assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"]);
    let mut add = strings(&sc["capabilities"]["add"]);
    add.sort();
    assert_eq!(add, ["BPF", "PERFMON", "SYS_RESOURCE"]);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);

    // The host's BTF, cgroup filesystem and the kubelet's log links (the
    // names of pods and containers), read-only.
    let volumes = spec["volumes"].as_array().expect("volumes");
    for host_path in ["/sys/kernel/btf", "/sys/fs/cgroup", "/var/log/containers"] {
        let v = volumes
            .iter()
            .find(|v| v["hostPath"]["path"] == host_path)
            .unwrap_or_else(|| panic!("no volume of {host_path}"));
        let mount = c["volumeMounts"]
            .as_array()
            .expect("volumeMounts")
            .iter()
            .find(|m| m["name"] == v["name"])
            .unwrap_or_else(|| panic!("{host_path} is not mounted"));
        assert_eq!(mount["mountPath"], host_path);
        assert_eq!(mount["readOnly"], true);
    }

    // Requests and limits of CPU and memory.
    for bound in ["requests", "limits"] {
        for resource in ["cpu", "memory"] {
            assert!(
                c["resources"][bound][resource].is_string(),
                "{bound}.{resource}"
            );
        }
    }

    // The Service selects the pods, and the ServiceMonitor the Service's port.
    let svc = kind(&docs, "Service");
    assert_eq!(&svc["spec"]["selector"], labels);
    let svc_port = &svc["spec"]["ports"][0];
    assert_eq!(svc_port["targetPort"], port_name);
    let sm = kind(&docs, "ServiceMonitor");
    assert_eq!(sm["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(
        &sm["spec"]["selector"]["matchLabels"],
        &svc["metadata"]["labels"]
    );
    assert_eq!(sm["spec"]["endpoints"][0]["port"], svc_port["name"]);
    assert_eq!(sm["spec"]["endpoints"][0]["path"], "/metrics");
    for d in &docs {
        if d["kind"] != "Namespace" {
            assert_eq!(d["metadata"]["namespace"], ds["metadata"]["namespace"]);
        }
    }
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

// --- The container image ----------------------------------------------------------

/// The image deploy/container/build.sh makes of the release binary, built
/// once for every test that runs it.
fn image() -> &'static str {
    static IMAGE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    IMAGE.get_or_init(|| {
        let o = run(&mut Command::new(repo_file("deploy/container/build.sh")));
        assert_ok("deploy/container/build.sh", &o);
        let out = text(&o.stdout);
        let image = out
            .lines()
            .last()
            .expect("build.sh prints the image")
            .to_string();
        assert!(image.starts_with("localhost/socktap:"), "{out}");
        image
    })
}

/// `podman run` as it works on these machines: runc (crun refuses their
/// hybrid cgroup layout), cgroupfs (no systemd to ask), the host's network,
/// and rlimits pinned low (they may not be raised here). `name` is the
/// container's, to stop it by.
fn podman_run(name: &str) -> Command {
    let mut cmd = Command::new("podman");
    cmd.args([
        "--runtime",
        "runc",
        "--cgroup-manager",
        "cgroupfs",
        "run",
        "--rm",
    ])
    .args(["--name", name, "--network", "host"])
    .args([
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
    ]);
    cmd
}

fn podman(args: &[&str]) -> Command {
    let mut cmd = Command::new("podman");
    cmd.args(args);
    cmd
}

#[test]
fn the_image_traces_the_hosts_sockets() {
    if !privileged("container image") {
        return;
    }
    let image = image();
    let name = format!("socktap-test-trace-{}", std::process::id());
    let comm = "stwork-image";
    // As the Containerfile says to run it: the host's PIDs and /sys.
    let mut container = podman_run(&name)
        .args(["--privileged", "--pid", "host", "--volume", "/sys:/sys:ro"])
        .arg(image)
        .args(["trace", "--json", "-n", comm])
        .args(["socket.send", "socket.receive"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs podman");
    let remove = || {
        let _ = podman(&["rm", "--force", &name]).output();
    };
    let mut stderr = BufReader::new(container.stderr.take().unwrap());
    let mut said = String::new();
    while !said.lines().any(|l| l.starts_with("Tracing")) {
        if stderr.read_line(&mut said).unwrap_or(0) == 0 {
            remove();
            panic!("socktap did not start in the container:\n{said}");
        }
    }

    // A process of the host's, traced from inside the container.
    let workload = Command::new("python3")
        .arg(WORKLOAD)
        .arg(comm)
        .stdout(Stdio::piped())
        .spawn()
        .expect("runs the workload");
    let host_pid = workload.id();
    let done = workload.wait_with_output().expect("the workload ends");
    std::thread::sleep(std::time::Duration::from_millis(200));
    let stopped = run(&mut podman(&["kill", "--signal", "INT", &name]));
    let mut out = String::new();
    std::io::Read::read_to_string(container.stdout.as_mut().unwrap(), &mut out).unwrap();
    let status = container.wait().unwrap();
    remove();
    assert_ok("podman kill", &stopped);
    assert!(done.status.success(), "the workload failed");
    assert!(status.success(), "socktap in the container: {status}");

    let did: Value = serde_json::from_slice(&done.stdout).expect("the workload's account");
    let records: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let events: Vec<&Value> = records.iter().filter(|r| r.get("name").is_some()).collect();
    for e in &events {
        assert_eq!(e["pid"], host_pid, "{e}");
        assert_eq!(e["comm"], comm);
    }
    for probe in ["socket.send", "socket.receive"] {
        let seen: Vec<Value> = events
            .iter()
            .filter(|e| e["name"] == probe)
            .map(|e| serde_json::json!([e["probe"], e["size"]]))
            .collect();
        let key = probe.trim_start_matches("socket.");
        assert_eq!(Value::Array(seen), did[key], "{probe}:\n{out}");
    }
    let summary = records.last().expect("a summary");
    assert_eq!(summary["record"], "summary");
    assert_eq!(summary["lost"], 0);
}

#[test]
fn the_image_serves_metrics_with_the_daemonsets_privileges() {
    if !privileged("container image with capabilities") {
        return;
    }
    let image = image();
    let docs = manifest();
    let spec = &kind(&docs, "DaemonSet")["spec"]["template"]["spec"];
    let c = &spec["containers"][0];
    let sc = &c["securityContext"];
    let name = format!("socktap-test-serve-{}", std::process::id());
    let mut cmd = podman_run(&name);
    let mut made = Vec::new();
    if spec["hostPID"] == true {
        cmd.args(["--pid", "host"]);
    }
    if sc["readOnlyRootFilesystem"] == true {
        cmd.arg("--read-only");
    }
    if sc["seccompProfile"]["type"] == "Unconfined" {
        cmd.args(["--security-opt", "seccomp=unconfined"]);
    }
    assert_ne!(sc["privileged"], true);
    // The DaemonSet's capabilities, less any this machine cannot hand out
    // (CAP_SYS_RESOURCE here, which kernels since 5.11 do not need).
    cmd.args(["--cap-drop", "all"]);
    for cap in strings(&sc["capabilities"]["add"]) {
        if can_grant(&cap) {
            cmd.args(["--cap-add", &cap]);
        }
    }
    for m in c["volumeMounts"].as_array().expect("volumeMounts") {
        let volume = spec["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == m["name"])
            .expect("the mount's volume");
        let host = volume["hostPath"]["path"].as_str().expect("a hostPath");
        // As the kubelet does: a DirectoryOrCreate folder (the kubelet's log
        // links, absent on a host that runs no pods) is made if missing.
        if volume["hostPath"]["type"] == "DirectoryOrCreate" && !Path::new(host).exists() {
            std::fs::create_dir_all(host).expect("makes the DirectoryOrCreate folder");
            made.push(RemoveDir(host.into()));
        }
        let target = m["mountPath"].as_str().unwrap();
        let ro = if m["readOnly"] == true { ":ro" } else { "" };
        cmd.args(["--volume", &format!("{host}:{target}{ro}")]);
    }
    // Its arguments, listening on a free port of the host's loopback
    // instead of the pod's own network.
    let mut args = strings(&c["args"]);
    let at = args.iter().position(|a| a == "--listen").expect("--listen") + 1;
    args[at] = "127.0.0.1:0".into();
    cmd.arg(image).args(&args);
    let cleanup = podman(&["rm", "--force", &name]);
    let served = Served::start(cmd, Some(cleanup));
    let path = c["livenessProbe"]["httpGet"]["path"].as_str().unwrap();
    let body = served.get(path);
    assert!(
        body.contains("socktap_lost_events_total{reason=\"rows_full\"}"),
        "{body}"
    );
    assert!(body.contains("socktap_receive_bytes_total{"), "{body}");
}

/// A folder the test made on the host, removed when dropped.
struct RemoveDir(PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

// --- The .deb ---------------------------------------------------------------------

/// dpkg, waiting its turn while another dpkg or apt holds its lock.
fn dpkg(args: &[&str]) -> Output {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let o = run(Command::new("dpkg").args(args));
        if o.status.success()
            || !text(&o.stderr).contains("lock")
            || std::time::Instant::now() > deadline
        {
            return o;
        }
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
}

/// Purges the package when dropped, so that a failed test leaves nothing
/// installed.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = dpkg(&["--purge", "socktap"]);
    }
}

#[test]
fn the_deb_installs_runs_and_removes_cleanly() {
    if !privileged("dpkg -i") {
        return;
    }
    let o = run(&mut Command::new(repo_file("scripts/package-deb.sh")));
    assert_ok("scripts/package-deb.sh", &o);
    let out = text(&o.stdout);
    let deb = PathBuf::from(out.lines().last().expect("the package's path"));
    let version = env!("CARGO_PKG_VERSION");
    let arch = text(&run(Command::new("dpkg").arg("--print-architecture")).stdout);
    let name = format!("socktap_{version}_{}.deb", arch.trim());
    assert_eq!(deb.file_name().unwrap().to_str(), Some(name.as_str()));
    assert!(
        deb.starts_with(root().join("target/debian")),
        "{}",
        deb.display()
    );

    // What it holds.
    let o = run(Command::new("dpkg-deb").arg("--contents").arg(&deb));
    assert_ok("dpkg-deb --contents", &o);
    let listing = text(&o.stdout);
    let mut files: Vec<String> = vec![
        "/usr/bin/socktap".into(),
        "/usr/lib/systemd/system/socktap-serve.service".into(),
        "/usr/share/bash-completion/completions/socktap".into(),
        "/usr/share/zsh/vendor-completions/_socktap".into(),
        "/usr/share/fish/vendor_completions.d/socktap.fish".into(),
        "/usr/share/man/man1/socktap.1.gz".into(),
    ];
    files.extend(
        commands()
            .iter()
            .map(|c| format!("/usr/share/man/man1/socktap-{c}.1.gz")),
    );
    for f in &files {
        assert!(
            listing.contains(&format!(" .{f}\n")),
            "{f} not in:\n{listing}"
        );
    }

    let installed = Installed;
    let o = dpkg(&["-i", deb.to_str().unwrap()]);
    assert_ok("dpkg -i", &o);
    let bin = Path::new("/usr/bin/socktap");
    let o = run(Command::new(bin).arg("--version"));
    assert_ok("socktap --version", &o);
    assert_eq!(text(&o.stdout).trim(), format!("socktap {version}"));
    let o = run(Command::new(bin).arg("list"));
    assert_ok("socktap list", &o);
    assert!(
        text(&o.stdout).contains("socket.send"),
        "{}",
        text(&o.stdout)
    );
    assert_self_contained(bin);
    // Its pages are where man finds them, its completions parse, and its
    // unit verifies as installed.
    let o = run(Command::new("man").args(["-w", "socktap-trace"]));
    assert_eq!(
        text(&o.stdout).trim(),
        "/usr/share/man/man1/socktap-trace.1.gz"
    );
    let o = run(Command::new("bash")
        .arg("-n")
        .arg("/usr/share/bash-completion/completions/socktap"));
    assert_ok("bash -n", &o);
    let o = run(Command::new("systemd-analyze")
        .arg("verify")
        .arg("/usr/lib/systemd/system/socktap-serve.service"));
    assert_ok("systemd-analyze verify", &o);
    assert!(o.stderr.is_empty(), "{}", text(&o.stderr));

    // Removed, then purged, without a word of complaint and without a trace.
    for step in ["--remove", "--purge"] {
        let o = dpkg(&[step, "socktap"]);
        assert_ok(&format!("dpkg {step}"), &o);
        assert!(!text(&o.stderr).contains("warning"), "{}", text(&o.stderr));
    }
    drop(installed);
    for f in &files {
        assert!(!Path::new(f).exists(), "{f} is left behind");
    }
    let o = run(Command::new("dpkg").args(["--status", "socktap"]));
    assert!(
        !o.status.success(),
        "still known to dpkg:\n{}",
        text(&o.stdout)
    );
}
