//! stap's command line, read as GNU getopt reads stap's option string:
//! options anywhere (until `--`), `-p4` or `-p 4`, `-vvv`, `-DNAME=VALUE`;
//! the first other word is the script file (unless `-e` gave the script),
//! the rest are its arguments.

use crate::diag::suggest;

/// Where the script comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Script {
    /// `-e TEXT`
    Text(String),
    /// A file.
    File(String),
    /// `-`: standard input.
    Stdin,
}

/// A parsed stap command line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StapArgs {
    /// The script (`None` with `-l`/`-L`, `-h`, `-V`).
    pub script: Option<Script>,
    /// `-E TEXT`: more script text.
    pub extra: Vec<String>,
    /// `$1`…
    pub args: Vec<String>,
    /// `-v` count.
    pub verbose: u32,
    /// `-p N`: the last pass to run (default 5).
    pub pass: u8,
    /// `-w`
    pub no_warnings: bool,
    /// `-l PATTERN` / `-L PATTERN` (true: with variables).
    pub list: Option<(String, bool)>,
    /// `-x PID`
    pub target: Option<i64>,
    /// `-c CMD`
    pub command: Option<String>,
    /// `-T SECONDS`
    pub timeout: Option<f64>,
    /// `-o FILE`
    pub output: Option<String>,
    /// `-D NAME[=VALUE]`
    pub defines: Vec<(String, String)>,
    /// `-G NAME=VALUE`
    pub set_globals: Vec<(String, String)>,
    /// `-r RELEASE`
    pub release: Option<String>,
    /// `-a ARCH`
    pub arch: Option<String>,
    /// `-g`
    pub guru: bool,
    /// `--suppress-handler-errors` was given (accepted, and ignored).
    pub keep_going: bool,
    /// Options accepted for compatibility that change nothing here.
    pub ignored: Vec<String>,
    /// `-h`, `--help`
    pub help: bool,
    /// `-V`, `--version`
    pub version: bool,
}

/// A command line stap would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CmdError {
    /// An option that does not exist.
    #[error("invalid option '{option}'{}", if .nearest.is_empty() { String::new() } else { format!(" (did you mean {}?)", .nearest) })]
    Unknown {
        /// As given.
        option: String,
        /// The closest valid options.
        nearest: String,
    },
    /// An option without its value.
    #[error("option requires an argument -- '{0}'")]
    Missing(String),
    /// A value that makes no sense.
    #[error("{0}")]
    Invalid(String),
    /// No script at all.
    #[error("A script must be specified.")]
    NoScript,
}

/// Short options that take a value (stap's option string).
const WITH_VALUE: &str = "pIeEoRramcxDsldLSBJGT";
/// Short options that take none.
const FLAGS: &str = "hVvtkgPbuqiwFjW";
/// Options that only matter to kernel-module builds: accepted, with a warning.
const IGNORED: &str = "IRmksdSBJtPbuqiFjW";
const LONG: &[&str] = &[
    "help",
    "version",
    "suppress-handler-errors",
    "runtime",
    "no-global-var-display",
];

/// The options `--help` lists and suggestions draw from.
pub fn option_names() -> Vec<String> {
    let mut v: Vec<String> = WITH_VALUE
        .chars()
        .chain(FLAGS.chars())
        .map(|c| format!("-{c}"))
        .collect();
    v.extend(LONG.iter().map(|l| format!("--{l}")));
    v
}

fn unknown(option: &str) -> CmdError {
    let names = option_names();
    let nearest = suggest(option, names.iter().map(String::as_str), 3);
    CmdError::Unknown {
        option: option.to_string(),
        nearest,
    }
}

fn number<T: std::str::FromStr>(opt: char, v: &str) -> Result<T, CmdError> {
    v.trim()
        .parse()
        .map_err(|_| CmdError::Invalid(format!("-{opt}: '{v}' is not a valid number")))
}

/// Parses the words after `stap` (or `socktap stap`).
pub fn parse(argv: &[String]) -> Result<StapArgs, CmdError> {
    let mut a = StapArgs {
        pass: 5,
        ..StapArgs::default()
    };
    let mut words = Vec::new();
    let mut i = 0;
    let mut only_words = false;
    while i < argv.len() {
        let w = &argv[i];
        i += 1;
        if only_words || w == "-" || !w.starts_with('-') {
            words.push(w.clone());
            continue;
        }
        if w == "--" {
            only_words = true;
            continue;
        }
        if let Some(long) = w.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            match name {
                "help" => a.help = true,
                "version" => a.version = true,
                "suppress-handler-errors" => a.keep_going = true,
                "runtime" | "no-global-var-display" => {
                    let _ = value;
                    a.ignored.push(format!("--{name}"));
                }
                _ => return Err(unknown(w)),
            }
            continue;
        }
        for (pos, c) in w[1..].char_indices() {
            if FLAGS.contains(c) {
                match c {
                    'h' => a.help = true,
                    'V' => a.version = true,
                    'v' => a.verbose += 1,
                    'w' => a.no_warnings = true,
                    'g' => a.guru = true,
                    _ => {}
                }
                if IGNORED.contains(c) || c == 'g' {
                    a.ignored.push(format!("-{c}"));
                }
                continue;
            }
            if !WITH_VALUE.contains(c) {
                return Err(unknown(&format!("-{c}")));
            }
            // The value is the rest of this word, or the next word.
            let rest = &w[1 + pos + c.len_utf8()..];
            let value = if !rest.is_empty() {
                rest.to_string()
            } else if i < argv.len() {
                i += 1;
                argv[i - 1].clone()
            } else {
                return Err(CmdError::Missing(c.to_string()));
            };
            match c {
                'p' => {
                    let n: u8 = number(c, &value)?;
                    if !(1..=5).contains(&n) {
                        return Err(CmdError::Invalid(
                            "Invalid pass number (should be 1-5).".into(),
                        ));
                    }
                    a.pass = n;
                }
                'e' => a.script = Some(Script::Text(value)),
                'E' => a.extra.push(value),
                'o' => a.output = Some(value),
                'l' => a.list = Some((value, false)),
                'L' => a.list = Some((value, true)),
                'x' => a.target = Some(number(c, &value)?),
                'c' => a.command = Some(value),
                'T' => {
                    let t: f64 = number(c, &value)?;
                    if !(t.is_finite() && t > 0.0) {
                        return Err(CmdError::Invalid(format!(
                            "-T: '{value}' is not a positive number of seconds"
                        )));
                    }
                    a.timeout = Some(t);
                }
                'D' => {
                    let (n, v) = value.split_once('=').unwrap_or((value.as_str(), ""));
                    a.defines.push((n.to_string(), v.to_string()));
                }
                'G' => match value.split_once('=') {
                    Some((n, v)) => a.set_globals.push((n.to_string(), v.to_string())),
                    None => {
                        return Err(CmdError::Invalid(format!(
                            "-G: '{value}' is not NAME=VALUE"
                        )))
                    }
                },
                'r' => a.release = Some(value),
                'a' => a.arch = Some(value),
                _ => a.ignored.push(format!("-{c} {value}")),
            }
            break;
        }
    }
    let mut words = words.into_iter();
    if a.script.is_none() && a.list.is_none() {
        a.script = match words.next() {
            Some(w) if w == "-" => Some(Script::Stdin),
            Some(w) => Some(Script::File(w)),
            None if a.help || a.version => None,
            None => return Err(CmdError::NoScript),
        };
    }
    a.args = words.collect();
    Ok(a)
}

/// `socktap stap --help`.
pub const HELP: &str = "\
Usage: stap [options] FILE [ARGS...]         run a script file (- for stdin)
   or: stap [options] -e SCRIPT [ARGS...]   run a script given on the command line
   or: stap [options] -l|-L PROBE-PATTERN   list matching probe points

socktap runs SystemTap scripts written for the socket tapset on its eBPF
probes: no compiler, kernel headers or debuginfo. Invoked as `stap` (a
symlink to socktap), it is this command.

Options:
   -e SCRIPT      the script text
   -E SCRIPT      more script text, after the script
   -p NUM         stop after pass NUM: 1 parse, 2 elaborate, 3 plan the
                  BPF side, 4 also load and verify it; 5 run (default)
   -v             more detail about the passes (repeatable)
   -w             no warnings
   -l PATTERN     list the probe points matching PATTERN
   -L PATTERN     the same, with each probe's variables as name:type
   -x PID         target() returns PID
   -c CMD         run CMD under sh -c, target() is its pid; the session
                  ends when it exits
   -T SECONDS     end the session after SECONDS
   -o FILE        write the script's output to FILE
   -D NAME=VALUE  MAXMAPENTRIES (2048), MAXSTRINGLEN (512), MAXACTION (1000),
                  MAXNESTING; other names are ignored with a warning
   -G NAME=VALUE  set a scalar global before begin
   -r RELEASE     the kernel release %( kernel_v %) conditionals test
   -a ARCH        the architecture %( arch %) conditionals test
   -g -k -m NAME -s NUM -t -u -b -P -q -F -I DIR -R DIR -d MOD -S -B -J -j -W
                  accepted for compatibility; they change nothing here (a warning says so)
   --suppress-handler-errors
                  accepted and ignored, with a warning
   -h, --help     this help
   -V, --version  version

Environment:
   SOCKTAP_STAP_NO_KERNEL_COUNTS=1
                  handlers of socktop's shape (only `a[pid(), protocol,
                  family] <<< size`, `b[pid()] += size`, `c[pid()] =
                  execname()` after tests the kernel filter makes) are
                  counted in kernel maps by default (-v says which); this
                  runs them on every event in user space instead, to compare
   SOCKTAP_BACKEND=auto|tracepoint|fentry|kprobe|syscall
                  the kernel mechanisms that serve the probes, as socktap's
                  --backend elsewhere (default auto: the best this kernel
                  accepts); a `?` probe the backend cannot serve is skipped
                  with a warning

Exit status: 0 when the script ran and ended by exit(), -c's command ending,
-T, SIGINT or SIGTERM; 1 for script errors (parse, semantic, runtime);
2 for a bad command line.
";

#[cfg(test)]
mod tests {
    use super::*;

    fn p(words: &[&str]) -> Result<StapArgs, CmdError> {
        parse(&words.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn stap_style_options() {
        let a = p(&["-p4", "-w", "-e", "probe begin{}", "a1", "-vv", "b2"]).unwrap();
        assert_eq!(a.pass, 4);
        assert!(a.no_warnings);
        assert_eq!(a.verbose, 2);
        assert_eq!(a.script, Some(Script::Text("probe begin{}".into())));
        assert_eq!(a.args, ["a1", "b2"]);
        let a = p(&[
            "-DMAXMAPENTRIES=10",
            "-x",
            "42",
            "-T",
            "2.5",
            "script.stp",
            "--",
            "-3",
        ])
        .unwrap();
        assert_eq!(a.defines, [("MAXMAPENTRIES".to_string(), "10".to_string())]);
        assert_eq!(a.target, Some(42));
        assert_eq!(a.timeout, Some(2.5));
        assert_eq!(a.script, Some(Script::File("script.stp".into())));
        assert_eq!(a.args, ["-3"]);
        let a = p(&["-", "x"]).unwrap();
        assert_eq!(a.script, Some(Script::Stdin));
        let a = p(&["-L", "socket.*"]).unwrap();
        assert_eq!(a.list, Some(("socket.*".into(), true)));
        let a = p(&["-gk", "-m", "mod", "--suppress-handler-errors", "-e", "x"]).unwrap();
        assert_eq!(a.ignored, ["-g", "-k", "-m mod"]);
        assert!(a.keep_going);
    }

    #[test]
    fn bad_command_lines() {
        assert!(matches!(p(&["-z", "x"]), Err(CmdError::Unknown { .. })));
        let e = p(&["--suppres-handler-errors", "x"]).unwrap_err();
        assert!(e.to_string().contains("--suppress-handler-errors"), "{e}");
        assert_eq!(p(&["-e"]), Err(CmdError::Missing("e".into())));
        assert!(matches!(p(&["-p", "9", "x"]), Err(CmdError::Invalid(_))));
        assert_eq!(p(&[]), Err(CmdError::NoScript));
    }
}
