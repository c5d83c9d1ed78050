//! Forgiving parsing of names typed by people: families, protocols and
//! types case-insensitively, with or without their C prefix, and probe
//! names with globs; whatever does not parse comes back with the nearest
//! valid names to suggest. The exact, case-sensitive tapset functions are in
//! [`tables`](super::tables).

use std::fmt;

use super::probe::Probe;

use super::tables::{
    EXTRA_FAMILIES, EXTRA_PROTOCOLS, FAMILIES, PROTOCOLS, PROTOCOL_ALIASES, TYPES,
};

/// Why a CLI name did not parse, with the nearest valid names to suggest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    /// The text the user gave, unchanged.
    pub input: String,
    /// What was being parsed: `"family"`, `"protocol"` or `"type"`.
    pub kind: &'static str,
    /// Up to 3 accepted names closest to the input, best first; empty if none is close.
    pub nearest: Vec<&'static str>,
}

impl fmt::Display for Suggestion {
    /// `unknown family 'INTE' (nearest: INET, INET6)`; the parenthesis is left out when there is
    /// nothing close.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} '{}'", self.kind, self.input)?;
        if !self.nearest.is_empty() {
            write!(f, " (nearest: {})", self.nearest.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for Suggestion {}

/// Families accepted by [`parse_family`] on top of the tapset and [`EXTRA_FAMILIES`] names:
/// `UNIX` is the usual name of `AF_LOCAL`, which the tapset does not know.
const FAMILY_ALIASES: &[(i64, &str)] = &[(1, "UNIX")];

/// Parses a family for the CLI: a decimal number (0–65535, the range of `sa_family_t`), or a
/// name from [`FAMILIES`], [`EXTRA_FAMILIES`] or `UNIX` (= 1), matched case-insensitively and
/// with an optional `AF_` / `PF_` prefix. So `INET`, `inet`, `AF_INET6`, `unix`, `VSOCK` and
/// `40` all parse. This is a convenience on top of the exact, case-sensitive
/// [`sock_fam_str2num`], which the tapset-compatible paths must keep using.
pub fn parse_family(s: &str) -> Result<i64, Suggestion> {
    parse_name(
        s,
        "family",
        &["AF_", "PF_"],
        &[FAMILIES, FAMILY_ALIASES, EXTRA_FAMILIES],
    )
}

/// Parses a protocol for the CLI: a decimal number (0–65535, the range of `sk_protocol`), or a
/// name from [`PROTOCOLS`], [`EXTRA_PROTOCOLS`] (`RAW`, `MPTCP`) or [`PROTOCOL_ALIASES`],
/// matched case-insensitively and with an optional `IPPROTO_` prefix. A convenience on top of
/// the exact [`sock_prot_str2num`].
pub fn parse_protocol(s: &str) -> Result<i64, Suggestion> {
    parse_name(
        s,
        "protocol",
        &["IPPROTO_"],
        &[PROTOCOLS, EXTRA_PROTOCOLS, PROTOCOL_ALIASES],
    )
}

/// Parses a socket type for the CLI: a decimal number (0–65535), or a name from [`TYPES`],
/// matched case-insensitively and with an optional `SOCK_` prefix. A convenience on top of the
/// exact [`sock_type_str2num`].
pub fn parse_type(s: &str) -> Result<i64, Suggestion> {
    parse_name(s, "type", &["SOCK_"], &[TYPES])
}

/// The shared body of the `parse_*` functions. `tables` are searched in order, so earlier
/// tables win suggestion ties (tapset names before Linux extras).
fn parse_name(
    input: &str,
    kind: &'static str,
    prefixes: &[&str],
    tables: &[&[(i64, &'static str)]],
) -> Result<i64, Suggestion> {
    let trimmed = input.trim();
    let not_found = |nearest| Suggestion {
        input: input.to_string(),
        kind,
        nearest,
    };

    // Numbers: the kernel fields are 16 bits wide, so anything larger could never match.
    if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return trimmed
            .parse::<u16>()
            .map(i64::from)
            .map_err(|_| not_found(Vec::new()));
    }

    let bare = strip_prefix_ignore_case(trimmed, prefixes);
    let candidates = tables.iter().flat_map(|table| table.iter());
    if let Some(&(num, _)) = candidates
        .clone()
        .find(|&&(_, name)| name.eq_ignore_ascii_case(bare))
    {
        return Ok(num);
    }
    Err(not_found(nearest_names(
        bare,
        candidates.map(|&(_, name)| name),
    )))
}

/// `s` without the first of `prefixes` it starts with (compared case-insensitively).
fn strip_prefix_ignore_case<'a>(s: &'a str, prefixes: &[&str]) -> &'a str {
    for prefix in prefixes {
        // `get` keeps this safe when the prefix length falls inside a multi-byte character.
        if let Some(head) = s.get(..prefix.len()) {
            if head.eq_ignore_ascii_case(prefix) {
                return &s[prefix.len()..];
            }
        }
    }
    s
}

/// Up to 3 candidates closest to `input` by [`edit_distance`] (case-insensitive), best first,
/// ties in candidate order. Only candidates within about a quarter of the input's length (1 edit
/// up to 3 characters, 2 up to 7, and so on) are offered, so that nonsense input gets no
/// misleading suggestion.
fn nearest_names<'a>(input: &str, candidates: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let input = input.to_ascii_uppercase();
    let limit = (input.chars().count() + 4) / 4;
    let mut scored: Vec<(usize, &'a str)> = Vec::new();
    for name in candidates {
        let distance = edit_distance(&input, &name.to_ascii_uppercase());
        if distance <= limit && !scored.iter().any(|&(_, seen)| seen == name) {
            scored.push((distance, name));
        }
    }
    // A stable sort keeps candidate order among equal distances.
    scored.sort_by_key(|&(distance, _)| distance);
    scored.into_iter().take(3).map(|(_, name)| name).collect()
}

/// Levenshtein distance between `a` and `b`, counting a swap of two adjacent characters as one
/// edit (the "optimal string alignment" variant), because swapped letters (`INTE` for `INET`)
/// are the most common typo in short names.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // d[i][j] = distance between the first i chars of a and the first j chars of b.
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// Matches a probe name against a pattern where `*` is any run of characters
/// and `?` any one character, as in SystemTap and bpftrace probe globs.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matcher with one backtrack point for the last `*`.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// The probes a list of names or globs selects, in `Probe::ALL` order,
/// without duplicates. A name or glob that selects nothing is an error
/// carrying the nearest probe names.
pub fn resolve(patterns: &[impl AsRef<str>]) -> crate::Result<Vec<Probe>> {
    let mut chosen = Vec::new();
    for pat in patterns {
        let pat = pat.as_ref();
        let hits: Vec<Probe> = Probe::ALL
            .into_iter()
            .filter(|p| glob_match(pat, p.name()))
            .collect();
        if hits.is_empty() {
            return Err(crate::Error::UnknownProbe {
                name: pat.to_string(),
                nearest: nearest_probes(pat),
            });
        }
        chosen.extend(hits);
    }
    let mut out: Vec<Probe> = Probe::ALL
        .into_iter()
        .filter(|p| chosen.contains(p))
        .collect();
    out.dedup();
    Ok(out)
}

fn nearest_probes(input: &str) -> Vec<String> {
    let with_prefix = if input.starts_with("socket.") {
        input.to_string()
    } else {
        format!("socket.{input}")
    };
    let mut scored: Vec<(usize, &str)> = Probe::ALL
        .iter()
        .map(|p| (edit_distance(&with_prefix, p.name()), p.name()))
        .collect();
    scored.sort_by_key(|&(d, _)| d);
    scored
        .into_iter()
        .filter(|&(d, _)| d <= 4)
        .take(3)
        .map(|(_, n)| n.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `parse` gives each case's number.
    fn assert_parses(parse: fn(&str) -> Result<i64, Suggestion>, cases: &[(&str, i64)]) {
        for &(input, want) in cases {
            assert_eq!(parse(input), Ok(want), "{input:?}");
        }
    }

    #[test]
    fn parse_family_accepts_names_prefixes_and_numbers() {
        assert_parses(
            parse_family,
            &[
                ("INET", 2),
                ("inet", 2),
                ("Inet6", 10),
                ("AF_INET6", 10),
                ("af_inet", 2),
                ("PF_NETLINK", 16),
                ("UNIX", 1),
                ("af_unix", 1),
                ("LOCAL", 1),
                ("PPPOX", 24),
                ("VSOCK", 40),
                ("AF_XDP", 44),
                ("mctp", 45),
                ("40", 40),
                ("0", 0),
                (" INET ", 2),
            ],
        );
    }

    #[test]
    fn parse_protocol_accepts_names_prefixes_and_numbers() {
        assert_parses(
            parse_protocol,
            &[
                ("TCP", 6),
                ("tcp", 6),
                ("IPPROTO_UDP", 17),
                ("ipproto_udplite", 136),
                ("UDPLite", 136),
                ("mobility-header", 135),
                ("TP++", 39),
                ("ax.25", 93),
                ("A/N", 107),
                ("3PC", 34),
                ("RAW", 255),
                ("IPPROTO_MPTCP", 262),
                ("ICMPV6", 58),
                ("IPPROTO_ICMPV6", 58),
                ("esp", 50),
                ("262", 262),
                ("65535", 65535),
            ],
        );
    }

    #[test]
    fn parse_type_accepts_names_prefixes_and_numbers() {
        assert_parses(
            parse_type,
            &[
                ("STREAM", 1),
                ("stream", 1),
                ("SOCK_DGRAM", 2),
                ("sock_seqpacket", 5),
                ("RAW", 3),
                ("10", 10),
            ],
        );
    }

    #[test]
    fn parse_suggests_nearest_names() {
        let err = parse_family("INTE").unwrap_err();
        assert_eq!(err.kind, "family");
        assert_eq!(err.input, "INTE");
        assert_eq!(err.nearest, vec!["INET", "INET6"]);
        assert_eq!(
            err.to_string(),
            "unknown family 'INTE' (nearest: INET, INET6)"
        );

        assert_eq!(
            parse_family("AF_INTE").unwrap_err().nearest,
            vec!["INET", "INET6"]
        );
        assert_eq!(parse_family("PPP0X").unwrap_err().nearest, vec!["PPPOX"]);
        assert_eq!(parse_family("vsok").unwrap_err().nearest, vec!["VSOCK"]);

        let err = parse_protocol("TPC").unwrap_err();
        // 3PC is one substitution away too; ties keep table order, so TCP (6) comes first.
        assert_eq!(err.nearest, vec!["TCP", "3PC"]);
        assert_eq!(
            err.to_string(),
            "unknown protocol 'TPC' (nearest: TCP, 3PC)"
        );
        assert_eq!(parse_protocol("udplit").unwrap_err().nearest[0], "UDPLite");

        let err = parse_type("STRAEM").unwrap_err();
        assert_eq!(err.kind, "type");
        assert_eq!(err.nearest, vec!["STREAM"]);

        assert!(parse_type("DGRM").unwrap_err().nearest.contains(&"DGRAM"));
        assert!(parse_protocol("UDP6").unwrap_err().nearest.contains(&"UDP"));
    }

    #[test]
    fn parse_without_close_names_has_no_suggestion() {
        let err = parse_family("zzzzzzzz").unwrap_err();
        assert!(err.nearest.is_empty());
        assert_eq!(err.to_string(), "unknown family 'zzzzzzzz'");
        // Out-of-range numbers and empty or odd input are rejected, never panic.
        assert!(parse_family("65536").unwrap_err().nearest.is_empty());
        assert!(parse_protocol("99999999999999999999999").is_err());
        assert!(parse_type("").is_err());
        assert!(parse_type("-1").is_err());
        assert!(parse_family("AF_").is_err());
        assert!(parse_family("ÄF_INET").is_err());
        assert!(parse_protocol("IPPROTÖ").is_err());
        assert!(parse_family("ü").unwrap_err().nearest.len() <= 3);
    }

    #[test]
    fn suggestions_never_exceed_three() {
        for input in ["I", "IP", "IPV", "X", "S", "SM"] {
            assert!(
                parse_protocol(&format!("{input}?"))
                    .unwrap_err()
                    .nearest
                    .len()
                    <= 3
            );
        }
    }

    #[test]
    fn parse_names_are_unambiguous_case_insensitively() {
        // Each kind's accepted names must not collide when case is ignored, or parsing a name
        // would depend on table order.
        let kinds: [&[&[(i64, &str)]]; 3] = [
            &[FAMILIES, FAMILY_ALIASES, EXTRA_FAMILIES],
            &[PROTOCOLS, EXTRA_PROTOCOLS, PROTOCOL_ALIASES],
            &[TYPES],
        ];
        for tables in kinds {
            let names: Vec<&str> = tables.iter().flat_map(|t| t.iter().map(|e| e.1)).collect();
            for (i, a) in names.iter().enumerate() {
                assert!(
                    names[i + 1..].iter().all(|b| !a.eq_ignore_ascii_case(b)),
                    "{a} is ambiguous"
                );
            }
        }
    }

    #[test]
    fn edit_distance_basics() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("ABC", ""), 3);
        assert_eq!(edit_distance("", "AB"), 2);
        assert_eq!(edit_distance("INET", "INET"), 0);
        assert_eq!(edit_distance("INTE", "INET"), 1);
        assert_eq!(edit_distance("KITTEN", "SITTING"), 3);
        assert_eq!(edit_distance("INTE", "INET6"), 2);
    }

    #[test]
    fn globs() {
        assert!(glob_match("socket.send*", "socket.sendmsg.return"));
        assert!(glob_match("socket.send*", "socket.send"));
        assert!(!glob_match("socket.send*", "socket.receive"));
        assert!(glob_match("*.return", "socket.close.return"));
        assert!(glob_match("socket.?eadv", "socket.readv"));
        assert!(!glob_match("socket.readv", "socket.readv.return"));
        assert!(glob_match("*", "socket.create"));
    }

    #[test]
    fn resolve_expands_and_orders() {
        let got = resolve(&["socket.send*"]).unwrap();
        assert_eq!(got, vec![Probe::Send, Probe::Sendmsg, Probe::SendmsgReturn]);
        let got = resolve(&["socket.close", "socket.create", "socket.close"]).unwrap();
        assert_eq!(got, vec![Probe::Create, Probe::Close]);
    }

    #[test]
    fn unknown_probe_names_the_nearest() {
        match resolve(&["socket.sendmgs"]) {
            Err(crate::Error::UnknownProbe { name, nearest }) => {
                assert_eq!(name, "socket.sendmgs");
                assert_eq!(nearest.first().map(String::as_str), Some("socket.sendmsg"));
            }
            other => panic!("expected UnknownProbe, got {other:?}"),
        }
    }
}
