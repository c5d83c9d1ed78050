//! Probe points: what a script may name, how a written point (with
//! wildcards, `?` and `!`) resolves to concrete ones, and each one's
//! variables. Socket probes come from socktap's tapset (`socktap::Probe`).

use socktap::Probe;

use crate::ast::{Literal, ProbePoint};
use crate::diag::{similar, suggest, Diagnostic};
use crate::preprocess::fnmatch;
use crate::source::TokId;

/// The direction of a network device probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Netdev {
    /// `netdev.transmit`: a packet queued for transmission.
    Transmit,
    /// `netdev.receive`: a packet received.
    Receive,
}

/// A concrete probe point.
#[derive(Debug, Clone, PartialEq)]
pub enum Point {
    /// `begin(N)`: before anything else.
    Begin(i64),
    /// `end(N)`: when the session ends normally.
    End(i64),
    /// `error(N)`: when the session ends after runtime errors.
    Error(i64),
    /// `never`: never runs (its reads still count as reads).
    Never,
    /// A periodic timer.
    Timer(Timer),
    /// A socket tapset probe.
    Socket(Probe),
    /// A network device probe.
    Netdev(Netdev),
}

/// A timer's period and randomization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timer {
    /// Period in nanoseconds.
    pub period_ns: u64,
    /// ± this many nanoseconds of random jitter per period.
    pub randomize_ns: u64,
}

/// A resolved point and how to name it.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// What it is.
    pub point: Point,
    /// As `pp()` names it: `begin`, `timer.s(5)`, `socket.send`.
    pub name: String,
    /// Whether it was marked `?` or `!` (may be skipped if unavailable).
    pub optional: bool,
}

/// The variables a point's handler can read, with their types
/// (`true`: string).
pub fn variables(point: &Point) -> Vec<(&'static str, bool)> {
    match point {
        Point::Socket(p) => p.variables().iter().map(|&v| (v, v == "name")).collect(),
        Point::Netdev(_) => vec![("dev_name", true), ("length", false)],
        _ => Vec::new(),
    }
}

const TIMER_UNITS: &[(&str, u64)] = &[
    ("s", 1_000_000_000),
    ("sec", 1_000_000_000),
    ("ms", 1_000_000),
    ("msec", 1_000_000),
    ("us", 1_000),
    ("usec", 1_000),
    ("ns", 1),
    ("nsec", 1),
    ("jiffies", 0),
    ("hz", 0),
];

/// Every concrete point a wildcard can match, by components. The
/// `*_iter` names are left out: they are the same probes as `aio_*`, and
/// stap fires only one of the two on any kernel.
fn catalog() -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = ["begin", "end", "error", "never"]
        .iter()
        .map(|s| vec![s.to_string()])
        .collect();
    for p in Probe::ALL {
        if p.name().contains("_iter") {
            continue;
        }
        out.push(p.name().split('.').map(str::to_string).collect());
    }
    out.push(vec!["netdev".into(), "transmit".into()]);
    out.push(vec!["netdev".into(), "receive".into()]);
    out
}

/// The names `-l` lists, with `-L`'s variables.
pub fn listing() -> Vec<(String, Vec<(&'static str, bool)>)> {
    let mut out: Vec<(String, Vec<(&'static str, bool)>)> = Vec::new();
    for n in [
        "begin",
        "begin(number)",
        "end",
        "end(number)",
        "error",
        "error(number)",
        "never",
    ] {
        out.push((n.to_string(), Vec::new()));
    }
    for (u, _) in TIMER_UNITS {
        out.push((format!("timer.{u}(number)"), Vec::new()));
        if *u != "hz" {
            out.push((format!("timer.{u}(number).randomize(number)"), Vec::new()));
        }
    }
    for p in Probe::ALL {
        out.push((p.name().to_string(), variables(&Point::Socket(p))));
    }
    for (n, d) in [
        ("netdev.transmit", Netdev::Transmit),
        ("netdev.receive", Netdev::Receive),
    ] {
        out.push((n.to_string(), variables(&Point::Netdev(d))));
    }
    out
}

fn num_arg(arg: &Option<Literal>) -> Option<i64> {
    match arg {
        Some(Literal::Num(n)) => Some(*n),
        _ => None,
    }
}

/// How a written point failed: the component's token and message.
struct Mismatch(TokId, String);

/// Resolves one written probe point into concrete ones. `hz` is the
/// kernel's timer frequency, for `timer.jiffies`.
pub fn resolve(pp: &ProbePoint, hz: u64) -> Result<Vec<Resolved>, Diagnostic> {
    let first = pp.components[0].tok;
    let wrap = |Mismatch(tok, msg): Mismatch| {
        Diagnostic::semantic("while resolving probe point", Some(first))
            .with_chain(Diagnostic::semantic(msg, Some(tok)))
    };
    let globbed = pp.components.iter().any(|c| c.functor.contains('*'));
    let points = if globbed {
        resolve_glob(pp).map_err(wrap)?
    } else {
        vec![resolve_exact(pp, hz).map_err(wrap)?]
    };
    Ok(points
        .into_iter()
        .map(|(point, name)| Resolved {
            point,
            name,
            optional: pp.optional,
        })
        .collect())
}

fn resolve_glob(pp: &ProbePoint) -> Result<Vec<(Point, String)>, Mismatch> {
    let pats: Vec<&str> = pp.components.iter().map(|c| c.functor.as_str()).collect();
    if let Some(c) = pp.components.iter().find(|c| c.arg.is_some()) {
        return Err(Mismatch(c.tok, "probe point mismatch".into()));
    }
    let mut out = Vec::new();
    for name in catalog() {
        if glob_components(&pats, &name) {
            let full = name.join(".");
            let point = match name[0].as_str() {
                "begin" => Point::Begin(0),
                "end" => Point::End(0),
                "error" => Point::Error(0),
                "never" => Point::Never,
                "netdev" if name[1] == "transmit" => Point::Netdev(Netdev::Transmit),
                "netdev" => Point::Netdev(Netdev::Receive),
                _ => match Probe::from_name(&full) {
                    Some(p) => Point::Socket(p),
                    None => continue,
                },
            };
            out.push((point, full));
        }
    }
    if out.is_empty() && !pp.optional {
        // Suggest from the level where the first wildcard stands.
        let pos = pp
            .components
            .iter()
            .position(|c| c.functor.contains('*'))
            .unwrap_or(0);
        let prefix = pp.components[pos].functor.split('*').next().unwrap_or("");
        let sugs = if prefix.is_empty() {
            String::new()
        } else {
            suggest(
                prefix,
                level_names(&pats[..pos]).iter().map(String::as_str),
                5,
            )
        };
        return Err(Mismatch(
            pp.components[pos].tok,
            format!(
                "probe point mismatch: didn't find any wildcard matches{}",
                similar(&sugs)
            ),
        ));
    }
    Ok(out)
}

/// Component-wise glob: `*` within a component, `**` across any number.
fn glob_components(pats: &[&str], name: &[String]) -> bool {
    match pats.first() {
        None => name.is_empty(),
        Some(&"**") => (0..=name.len()).any(|k| glob_components(&pats[1..], &name[k..])),
        Some(p) => {
            !name.is_empty()
                && fnmatch(p.as_bytes(), name[0].as_bytes())
                && glob_components(&pats[1..], &name[1..])
        }
    }
}

/// The names that may follow `prefix` (matched exactly).
fn level_names(prefix: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = catalog()
        .into_iter()
        .filter(|n| n.len() > prefix.len() && n.iter().zip(prefix).all(|(a, b)| a == b))
        .map(|n| n[prefix.len()].clone())
        .collect();
    if prefix.is_empty() {
        names.push("timer".into());
    }
    if prefix == ["timer"] {
        names.extend(TIMER_UNITS.iter().map(|(u, _)| u.to_string()));
    }
    if prefix.first() == Some(&"socket") {
        // The *_iter aliases are valid names even though globs skip them.
        for p in Probe::ALL {
            let parts: Vec<&str> = p.name().split('.').collect();
            if parts.len() > prefix.len() && parts.iter().zip(prefix).all(|(a, b)| a == b) {
                names.push(parts[prefix.len()].to_string());
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

fn mismatch(pp: &ProbePoint, pos: usize) -> Mismatch {
    let c = &pp.components[pos];
    let prefix: Vec<&str> = pp.components[..pos]
        .iter()
        .map(|c| c.functor.as_str())
        .collect();
    let names = level_names(&prefix);
    let sugs = suggest(&c.functor, names.iter().map(String::as_str), 5);
    Mismatch(c.tok, format!("probe point mismatch{}", similar(&sugs)))
}

fn resolve_exact(pp: &ProbePoint, hz: u64) -> Result<(Point, String), Mismatch> {
    let c = &pp.components;
    let head = c[0].functor.as_str();
    let n = c.len();
    match head {
        "begin" | "end" | "error" if n == 1 => {
            let prio = match &c[0].arg {
                None => 0,
                Some(Literal::Num(p)) => *p,
                Some(_) => return Err(mismatch(pp, 0)),
            };
            let name = match &c[0].arg {
                None => head.to_string(),
                Some(_) => format!("{head}({prio})"),
            };
            let point = match head {
                "begin" => Point::Begin(prio),
                "end" => Point::End(prio),
                _ => Point::Error(prio),
            };
            Ok((point, name))
        }
        "never" if n == 1 && c[0].arg.is_none() => Ok((Point::Never, "never".into())),
        "timer" if n >= 2 => timer(pp, hz),
        "socket" if n >= 2 => {
            let full: Vec<&str> = c.iter().map(|c| c.functor.as_str()).collect();
            let full = full.join(".");
            if let (Some(p), true) = (Probe::from_name(&full), c.iter().all(|c| c.arg.is_none())) {
                return Ok((Point::Socket(p), full));
            }
            // Find the first component that leads nowhere.
            for pos in 1..n {
                let prefix: Vec<&str> = c[..=pos].iter().map(|c| c.functor.as_str()).collect();
                let ok = Probe::ALL.iter().any(|p| {
                    let parts: Vec<&str> = p.name().split('.').collect();
                    parts.len() >= prefix.len() && parts[..prefix.len()] == prefix[..]
                });
                if !ok || c[pos].arg.is_some() {
                    return Err(mismatch(pp, pos));
                }
            }
            Err(mismatch(pp, n - 1))
        }
        "netdev" if n == 2 => match c[1].functor.as_str() {
            "transmit" if c[1].arg.is_none() => {
                Ok((Point::Netdev(Netdev::Transmit), "netdev.transmit".into()))
            }
            "receive" if c[1].arg.is_none() => {
                Ok((Point::Netdev(Netdev::Receive), "netdev.receive".into()))
            }
            _ => Err(mismatch(pp, 1)),
        },
        "begin" | "end" | "error" | "never" | "timer" | "socket" | "netdev" => {
            Err(mismatch(pp, n.min(2) - 1))
        }
        _ => Err(mismatch(pp, 0)),
    }
}

fn timer(pp: &ProbePoint, hz: u64) -> Result<(Point, String), Mismatch> {
    let c = &pp.components;
    let unit = c[1].functor.as_str();
    let Some(&(_, scale)) = TIMER_UNITS.iter().find(|(u, _)| *u == unit) else {
        return Err(mismatch(pp, 1));
    };
    let Some(period) = num_arg(&c[1].arg) else {
        return Err(mismatch(pp, 1));
    };
    let mut rand = 0;
    if c.len() == 3 {
        if c[2].functor != "randomize" || unit == "hz" {
            return Err(mismatch(pp, 2));
        }
        rand = num_arg(&c[2].arg).ok_or_else(|| mismatch(pp, 2))?;
    } else if c.len() > 3 {
        return Err(mismatch(pp, 3));
    }
    let mut name = format!("timer.{unit}({period})");
    if c.len() == 3 {
        name.push_str(&format!(".randomize({rand})"));
    }
    let tok = c[1].tok;
    let (period_ns, rand_ns) = match unit {
        "jiffies" => {
            if period <= 0 || period > 1_000_000 {
                return Err(Mismatch(tok, "invalid interval for jiffies timer".into()));
            }
            if rand < 0 || rand > period {
                return Err(Mismatch(tok, "invalid randomize for jiffies timer".into()));
            }
            let jiffy = 1_000_000_000 / hz.max(1);
            (period as u64 * jiffy, rand as u64 * jiffy)
        }
        "hz" => {
            if period <= 0 {
                return Err(Mismatch(tok, "frequency must be greater than 0".into()));
            }
            (1_000_000_000_u64.div_ceil(period as u64), 0)
        }
        _ => {
            const MIN: i64 = 100_000;
            const MAX: i64 = 1_000_000_000 * 60 * 60 * 24;
            let p = period.saturating_mul(scale as i64);
            if !(MIN..=MAX).contains(&p) {
                let lo = if (scale as i64) < MIN {
                    MIN / scale as i64
                } else {
                    1
                };
                return Err(Mismatch(
                    tok,
                    format!("interval value out of range ({lo}, {})", MAX / scale as i64),
                ));
            }
            let r = rand.saturating_mul(scale as i64);
            if r < 0 || r > p {
                return Err(Mismatch(tok, "randomization value out of range".into()));
            }
            (p as u64, r as u64)
        }
    };
    Ok((
        Point::Timer(Timer {
            period_ns,
            randomize_ns: rand_ns,
        }),
        name,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Component;

    fn pp(spec: &str) -> ProbePoint {
        ProbePoint {
            components: spec
                .split('.')
                .map(|c| {
                    let (f, arg) = match c.split_once('(') {
                        Some((f, a)) => (
                            f,
                            Some(Literal::Num(a.trim_end_matches(')').parse().unwrap())),
                        ),
                        None => (c, None),
                    };
                    Component {
                        functor: f.to_string(),
                        tok: TokId(0),
                        arg,
                    }
                })
                .collect(),
            optional: false,
            sufficient: false,
            condition: None,
        }
    }

    fn names(spec: &str) -> Vec<String> {
        resolve(&pp(spec), 250)
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect()
    }

    #[test]
    fn exact_and_wildcard_points() {
        assert_eq!(names("socket.send"), ["socket.send"]);
        assert_eq!(
            names("socket.write_iter.return"),
            ["socket.write_iter.return"]
        );
        assert_eq!(names("begin(-5)"), ["begin(-5)"]);
        let all = names("socket.*");
        assert!(all.contains(&"socket.sendmsg".to_string()));
        assert!(!all
            .iter()
            .any(|n| n.ends_with(".return") || n.contains("_iter")));
        let ret = names("socket.*.return");
        assert_eq!(ret.len(), 8, "{ret:?}");
        assert_eq!(names("netdev.*"), ["netdev.transmit", "netdev.receive"]);
        assert!(names("socket.**").len() > all.len());
    }

    #[test]
    fn timers() {
        let r = resolve(&pp("timer.ms(250).randomize(50)"), 250).unwrap();
        assert_eq!(
            r[0].point,
            Point::Timer(Timer {
                period_ns: 250_000_000,
                randomize_ns: 50_000_000
            })
        );
        let r = resolve(&pp("timer.jiffies(25)"), 250).unwrap();
        assert_eq!(
            r[0].point,
            Point::Timer(Timer {
                period_ns: 100_000_000,
                randomize_ns: 0
            })
        );
        assert!(resolve(&pp("timer.us(5)"), 250).is_err());
        for (spec, ns) in [
            ("timer.s(2)", 2_000_000_000),
            ("timer.sec(1)", 1_000_000_000),
            ("timer.msec(3)", 3_000_000),
            ("timer.us(500)", 500_000),
            ("timer.usec(100)", 100_000),
            ("timer.ns(100000)", 100_000),
            ("timer.nsec(250000)", 250_000),
            ("timer.hz(3)", 333_333_334),
        ] {
            let r = resolve(&pp(spec), 250).unwrap();
            assert_eq!(
                r[0].point,
                Point::Timer(Timer {
                    period_ns: ns,
                    randomize_ns: 0
                }),
                "{spec}"
            );
            assert_eq!(r[0].name, spec);
        }
        assert!(resolve(&pp("timer.hz(0)"), 250).is_err());
        assert!(resolve(&pp("timer.ms(10).randomize(20)"), 250).is_err());
    }

    #[test]
    fn every_tapset_probe_and_special_point_resolves() {
        for p in Probe::ALL {
            let r = resolve(&pp(p.name()), 250).unwrap();
            assert_eq!(r[0].point, Point::Socket(p));
            assert_eq!(r[0].name, p.name());
        }
        for (spec, point) in [
            ("begin", Point::Begin(0)),
            ("end(7)", Point::End(7)),
            ("error(-1)", Point::Error(-1)),
            ("never", Point::Never),
            ("netdev.receive", Point::Netdev(Netdev::Receive)),
        ] {
            assert_eq!(resolve(&pp(spec), 250).unwrap()[0].point, point, "{spec}");
        }
    }

    #[test]
    fn mismatches_suggest_names() {
        let e = resolve(&pp("socket.recv"), 250).unwrap_err();
        let chain = e.chain.unwrap();
        assert!(
            chain
                .message
                .starts_with("probe point mismatch (similar: readv, receive, recvmsg"),
            "{}",
            chain.message
        );
        let e = resolve(&pp("sockt.send"), 250).unwrap_err();
        assert!(e.chain.unwrap().message.contains("socket"));
        let e = resolve(&pp("socket.nothing*"), 250).unwrap_err();
        assert!(e
            .chain
            .unwrap()
            .message
            .contains("didn't find any wildcard matches"));
    }
}
