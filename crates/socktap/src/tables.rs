//! The SystemTap socket tapset's conversion functions, with its exact tables.
//!
//! The exact functions (`sock_*_num2str`, `sock_*_str2num`, `sock_flags_num2str`,
//! `msg_flags_num2str`) reproduce `tapset/linux/socket.stp` byte for byte, as written down in
//! `tapset-spec.md` §2:
//!
//! - a number that is not in a table gives `"UNDEF"`;
//! - a string that is not in a table gives `-1`, and matching is exact and case-sensitive
//!   (so `"tcp"`, `"PPP0X"` and `"UNIX"` all give `-1`);
//! - the flag functions join the names of the set bits with `"|"` and give `""` when none is set.
//!
//! The tables keep the tapset's quirks on purpose (for example the IP protocol table is applied
//! to every family, and families newer than RXRPC are `"UNDEF"`), because scripts and reports that
//! compare against SystemTap output depend on them.
//!
//! Separately, and clearly not exact, this module offers display helpers
//! ([`family_display_name`], [`protocol_display_name`]) that may name what the tapset calls
//! `"UNDEF"` (semantics.md §3 allows this for displays), and forgiving name parsers for the
//! command line ([`parse_family`], [`parse_protocol`], [`parse_type`]) that suggest near matches.

use std::borrow::Cow;
use std::fmt;

/// What the exact `*_num2str` functions return for a number that is not in their table.
pub const UNDEF: &str = "UNDEF";

/// `sock_prot_num2str` table: the tapset's copy of `/etc/protocols`, keyed by `sk_protocol`
/// whatever the family. Gaps (61, 63, 68, 99, 114 and everything from 138 up) are deliberate:
/// the tapset has no entry for them and prints `"UNDEF"`.
pub const PROTOCOLS: &[(i64, &str)] = &[
    (0, "IP"),
    (1, "ICMP"),
    (2, "IGMP"),
    (3, "GGP"),
    (4, "IPENCAP"),
    (5, "ST"),
    (6, "TCP"),
    (7, "CBT"),
    (8, "EGP"),
    (9, "IGP"),
    (10, "BBN-RCC"),
    (11, "NVP"),
    (12, "PUP"),
    (13, "ARGUS"),
    (14, "EMCON"),
    (15, "XNET"),
    (16, "CHAOS"),
    (17, "UDP"),
    (18, "MUX"),
    (19, "DCN"),
    (20, "HMP"),
    (21, "PRM"),
    (22, "XNS-IDP"),
    (23, "TRUNK-1"),
    (24, "TRUNK-2"),
    (25, "LEAF-1"),
    (26, "LEAF-2"),
    (27, "RDP"),
    (28, "IRTP"),
    (29, "ISO-TP4"),
    (30, "NETBLT"),
    (31, "MFE-NSP"),
    (32, "MERIT-INP"),
    (33, "SEP"),
    (34, "3PC"),
    (35, "IDPR"),
    (36, "XTP"),
    (37, "DDP"),
    (38, "IDPR-CMTP"),
    (39, "TP++"),
    (40, "IL"),
    (41, "IPV6"),
    (42, "SDRP"),
    (43, "IPV6-ROUTE"),
    (44, "IPV6-FRAG"),
    (45, "IDRP"),
    (46, "RSVP"),
    (47, "GRE"),
    (48, "MHRP"),
    (49, "BNA"),
    (50, "IPV6-CRYPT"),
    (51, "IPV6-AUTH"),
    (52, "I-NLSP"),
    (53, "SWIPE"),
    (54, "NARP"),
    (55, "MOBILE"),
    (56, "TLSP"),
    (57, "SKIP"),
    (58, "IPV6-ICMP"),
    (59, "IPV6-NONXT"),
    (60, "IPV6-OPTS"),
    (62, "CFTP"),
    (64, "SAT-EXPAK"),
    (65, "KRYPTOLAN"),
    (66, "RVD"),
    (67, "IPPC"),
    (69, "SAT-MON"),
    (70, "VISA"),
    (71, "IPCV"),
    (72, "CPNX"),
    (73, "CPHB"),
    (74, "WSN"),
    (75, "PVP"),
    (76, "BR-SAT-MON"),
    (77, "SUN-ND"),
    (78, "WB-MON"),
    (79, "WB-EXPAK"),
    (80, "ISO-IP"),
    (81, "VMTP"),
    (82, "SECURE-VMTP"),
    (83, "VINES"),
    (84, "TTP"),
    (85, "NSFNET-IGP"),
    (86, "DGP"),
    (87, "TCF"),
    (88, "EIGRP"),
    (89, "OSPF"),
    (90, "SPRITE-RPC"),
    (91, "LARP"),
    (92, "MTP"),
    (93, "AX.25"),
    (94, "IPIP"),
    (95, "MICP"),
    (96, "SCC-SP"),
    (97, "ETHERIP"),
    (98, "ENCAP"),
    (100, "GMTP"),
    (101, "IFMP"),
    (102, "PNNI"),
    (103, "PIM"),
    (104, "ARIS"),
    (105, "SCPS"),
    (106, "QNX"),
    (107, "A/N"),
    (108, "IPCOMP"),
    (109, "SNP"),
    (110, "COMPAQ-PEER"),
    (111, "IPX-IN-IP"),
    (112, "VRRP"),
    (113, "PGM"),
    (115, "L2TP"),
    (116, "DDX"),
    (117, "IATP"),
    (118, "STP"),
    (119, "SRP"),
    (120, "UTI"),
    (121, "SMP"),
    (122, "SM"),
    (123, "PTP"),
    (124, "ISIS"),
    (125, "FIRE"),
    (126, "CRTP"),
    (127, "CRDUP"),
    (128, "SSCOPMCE"),
    (129, "IPLT"),
    (130, "SPS"),
    (131, "PIPE"),
    (132, "SCTP"),
    (133, "FC"),
    (134, "RSVP-E2E-IGNORE"),
    (135, "Mobility-Header"),
    (136, "UDPLite"),
    (137, "MPLS-IN-IP"),
];

/// `sock_fam_num2str` table, keyed by the `proto_ops->family` number. 24 is spelled `"PPPOX"`
/// (letter O) as in the tapset code, not `"PPP0X"` as in the old man page. There is no `"UNIX"`
/// alias for 1, and 21, 27, 28, 29 and everything from 34 up are missing (so `"UNDEF"`).
pub const FAMILIES: &[(i64, &str)] = &[
    (0, "UNSPEC"),
    (1, "LOCAL"),
    (2, "INET"),
    (3, "AX25"),
    (4, "IPX"),
    (5, "APPLETALK"),
    (6, "NETROM"),
    (7, "BRIDGE"),
    (8, "ATMPVC"),
    (9, "X25"),
    (10, "INET6"),
    (11, "ROSE"),
    (12, "DECNET"),
    (13, "NETBEUI"),
    (14, "SECURITY"),
    (15, "KEY"),
    (16, "NETLINK"),
    (17, "PACKET"),
    (18, "ASH"),
    (19, "ECONET"),
    (20, "ATMSVC"),
    (22, "SNA"),
    (23, "IRDA"),
    (24, "PPPOX"),
    (25, "WANPIPE"),
    (26, "LLC"),
    (30, "TIPC"),
    (31, "BLUETOOTH"),
    (32, "IUCV"),
    (33, "RXRPC"),
];

/// `sock_state_num2str` table: `socket_state` (`SS_FREE` 0 … `SS_DISCONNECTING` 4) without the
/// `SS_` prefix.
pub const STATES: &[(i64, &str)] = &[
    (0, "FREE"),
    (1, "UNCONNECTED"),
    (2, "CONNECTING"),
    (3, "CONNECTED"),
    (4, "DISCONNECTING"),
];

/// `sock_type_num2str` table: the generic `SOCK_*` values without the prefix. The tapset ignores
/// that MIPS swaps STREAM and DGRAM, and so do we.
pub const TYPES: &[(i64, &str)] = &[
    (1, "STREAM"),
    (2, "DGRAM"),
    (3, "RAW"),
    (4, "RDM"),
    (5, "SEQPACKET"),
    (6, "DCCP"),
    (10, "PACKET"),
];

/// `sock_flags_num2str` table: (bit number, name), tested in this order. These are bit numbers
/// (tested like `test_bit`), not mask values. Bits 3 and 4 are the tapset's fallbacks, which name
/// the wrong flags on kernels 6.16 and newer; see [`sock_flags_num2str_with`] for the fix.
pub const SOCK_FLAG_BITS: &[(u32, &str)] = &[
    (0, "ASYNC_NOSPACE"),
    (1, "ASYNC_WAITDATA"),
    (2, "NOSPACE"),
    (3, "PASSCRED"),
    (4, "PASSSEC"),
];

/// `msg_flags_num2str` table: (mask, name), tested with `&` in this order. 0x4 appears twice
/// because the tapset lists both `DONTROUTE` and its alias `TRYHARD`, so both names print.
pub const MSG_FLAGS: &[(u64, &str)] = &[
    (0x1, "OOB"),
    (0x2, "PEEK"),
    (0x4, "DONTROUTE"),
    (0x4, "TRYHARD"),
    (0x8, "CTRUNC"),
    (0x10, "PROBE"),
    (0x20, "TRUNC"),
    (0x40, "DONTWAIT"),
    (0x80, "EOR"),
    (0x100, "WAITALL"),
    (0x200, "FIN"),
    (0x400, "SYN"),
    (0x800, "CONFIRM"),
    (0x1000, "RST"),
    (0x2000, "ERRQUEUE"),
    (0x4000, "NOSIGNAL"),
    (0x8000, "MORE"),
];

/// Linux `AF_*` families the tapset calls `"UNDEF"`, named for displays and CLI parsing only
/// (never by the exact functions). Values are from `include/linux/socket.h`.
pub const EXTRA_FAMILIES: &[(i64, &str)] = &[
    (21, "RDS"),
    (27, "IB"),
    (28, "MPLS"),
    (29, "CAN"),
    (34, "ISDN"),
    (35, "PHONET"),
    (36, "IEEE802154"),
    (37, "CAIF"),
    (38, "ALG"),
    (39, "NFC"),
    (40, "VSOCK"),
    (41, "KCM"),
    (42, "QIPCRTR"),
    (43, "SMC"),
    (44, "XDP"),
    (45, "MCTP"),
];

/// INET/INET6 protocols the tapset calls `"UNDEF"` but that are common on Linux, named for
/// displays and CLI parsing only (`IPPROTO_RAW`, `IPPROTO_MPTCP`).
pub const EXTRA_PROTOCOLS: &[(i64, &str)] = &[(255, "RAW"), (262, "MPTCP")];

/// Linux `IPPROTO_*` spellings that differ from the tapset's `/etc/protocols` names. Accepted by
/// [`parse_protocol`] only, so that `-P ICMPV6` works; displays keep the tapset's names.
pub const PROTOCOL_ALIASES: &[(i64, &str)] =
    &[(33, "DCCP"), (50, "ESP"), (51, "AH"), (58, "ICMPV6")];

/// Netlink protocol numbers (`NETLINK_*` from `include/uapi/linux/netlink.h`, without the
/// prefix), used by [`protocol_display_name`] because the tapset's IP table means nothing for
/// netlink sockets. 17 is unassigned in Linux.
pub const NETLINK_PROTOCOLS: &[(i64, &str)] = &[
    (0, "ROUTE"),
    (1, "UNUSED"),
    (2, "USERSOCK"),
    (3, "FIREWALL"),
    (4, "SOCK_DIAG"),
    (5, "NFLOG"),
    (6, "XFRM"),
    (7, "SELINUX"),
    (8, "ISCSI"),
    (9, "AUDIT"),
    (10, "FIB_LOOKUP"),
    (11, "CONNECTOR"),
    (12, "NETFILTER"),
    (13, "IP6_FW"),
    (14, "DNRTMSG"),
    (15, "KOBJECT_UEVENT"),
    (16, "GENERIC"),
    (18, "SCSITRANSPORT"),
    (19, "ECRYPTFS"),
    (20, "RDMA"),
    (21, "CRYPTO"),
    (22, "SMC"),
];

/// `AF_INET`: the family whose protocols the tapset's IP table actually describes.
const AF_INET: i64 = 2;
/// `AF_INET6`: shares the IP protocol numbers with `AF_INET`.
const AF_INET6: i64 = 10;
/// `AF_NETLINK`: protocols are `NETLINK_*` numbers, not IP ones.
const AF_NETLINK: i64 = 16;

/// Forward lookup shared by all `*_num2str` functions: the table's name or `"UNDEF"`.
fn lookup_name(table: &[(i64, &'static str)], n: i64) -> Option<&'static str> {
    table
        .iter()
        .find(|&&(num, _)| num == n)
        .map(|&(_, name)| name)
}

/// Reverse lookup shared by all `*_str2num` functions: exact, case-sensitive, like the tapset's
/// reverse arrays built from the forward tables.
fn lookup_num(table: &[(i64, &str)], s: &str) -> Option<i64> {
    table
        .iter()
        .find(|&&(_, name)| name == s)
        .map(|&(num, _)| num)
}

/// Joins `names` with `"|"`, the tapset's way of printing flag sets (`""` when empty).
fn join_flags<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.collect::<Vec<_>>().join("|")
}

/// Whether bit `bit` is set in `flags`; bits beyond 63 cannot be set in a `u64`.
fn bit_is_set(flags: u64, bit: u32) -> bool {
    1u64.checked_shl(bit).is_some_and(|mask| flags & mask != 0)
}

/// Tapset `sock_prot_num2str`: the `/etc/protocols` name of `n`, or `"UNDEF"`.
pub fn sock_prot_num2str(n: i64) -> &'static str {
    lookup_name(PROTOCOLS, n).unwrap_or(UNDEF)
}

/// Tapset `sock_prot_str2num`: the protocol number of exactly `s` (case-sensitive), or -1.
pub fn sock_prot_str2num(s: &str) -> i64 {
    lookup_num(PROTOCOLS, s).unwrap_or(-1)
}

/// Tapset `sock_fam_num2str`: the family name of `n` (no `AF_` prefix), or `"UNDEF"`.
pub fn sock_fam_num2str(n: i64) -> &'static str {
    lookup_name(FAMILIES, n).unwrap_or(UNDEF)
}

/// Tapset `sock_fam_str2num`: the family number of exactly `s` (case-sensitive), or -1.
pub fn sock_fam_str2num(s: &str) -> i64 {
    lookup_num(FAMILIES, s).unwrap_or(-1)
}

/// Tapset `sock_state_num2str`: the socket state name of `n` (no `SS_` prefix), or `"UNDEF"`.
pub fn sock_state_num2str(n: i64) -> &'static str {
    lookup_name(STATES, n).unwrap_or(UNDEF)
}

/// Tapset `sock_state_str2num`: the socket state number of exactly `s` (case-sensitive), or -1.
pub fn sock_state_str2num(s: &str) -> i64 {
    lookup_num(STATES, s).unwrap_or(-1)
}

/// Tapset `sock_type_num2str`: the socket type name of `n` (no `SOCK_` prefix), or `"UNDEF"`.
pub fn sock_type_num2str(n: i64) -> &'static str {
    lookup_name(TYPES, n).unwrap_or(UNDEF)
}

/// Tapset `sock_type_str2num`: the socket type number of exactly `s` (case-sensitive), or -1.
pub fn sock_type_str2num(s: &str) -> i64 {
    lookup_num(TYPES, s).unwrap_or(-1)
}

/// Tapset `sock_flags_num2str`: the names of bits 0–4 of `flags` (see [`SOCK_FLAG_BITS`]) in
/// bit order joined with `"|"`; `""` if none of them is set. Higher bits are ignored, exactly as
/// in the tapset, even though modern kernels use them.
pub fn sock_flags_num2str(flags: u64) -> String {
    join_flags(
        SOCK_FLAG_BITS
            .iter()
            .filter(|&&(bit, _)| bit_is_set(flags, bit))
            .map(|&(_, name)| name),
    )
}

/// Like [`sock_flags_num2str`], but with the bit names supplied by the caller, because the
/// tapset's fixed names are wrong on kernels 6.16 and newer.
///
/// socktap passes the running kernel's BTF `enum socket_flags` as (bit, name) pairs, with the
/// `SOCK_` / `SOCKWQ_` prefix already removed by the caller, e.g. `(0, "ASYNC_NOSPACE")`,
/// `(2, "NOSPACE")`, `(3, "SUPPORT_ZC")`. Pairs are tested in the order given (pass them in
/// ascending bit order to match the tapset); every set bit appends its name, so two names for one
/// bit both print. Bits 64 and above are never set. Returns `""` if nothing matches.
pub fn sock_flags_num2str_with(flags: u64, names: &[(u32, String)]) -> String {
    join_flags(
        names
            .iter()
            .filter(|(bit, _)| bit_is_set(flags, *bit))
            .map(|(_, name)| name.as_str()),
    )
}

/// Tapset `msg_flags_num2str`: the names of the `MSG_*` flags set in `flags` (see
/// [`MSG_FLAGS`]) in table order joined with `"|"`; `""` if none. 0x4 prints as
/// `"DONTROUTE|TRYHARD"` because the tapset tests both aliases.
pub fn msg_flags_num2str(flags: u64) -> String {
    join_flags(
        MSG_FLAGS
            .iter()
            .filter(|&&(mask, _)| flags & mask != 0)
            .map(|&(_, name)| name),
    )
}

/// Family name for displays (not the exact tapset function): the tapset name if it has one,
/// else the Linux `AF_*` name from [`EXTRA_FAMILIES`], else the number; `"-"` for -1 (no
/// socket ops, so no family).
pub fn family_display_name(n: i64) -> Cow<'static, str> {
    if n == -1 {
        return Cow::Borrowed("-");
    }
    match lookup_name(FAMILIES, n).or_else(|| lookup_name(EXTRA_FAMILIES, n)) {
        Some(name) => Cow::Borrowed(name),
        None => Cow::Owned(n.to_string()),
    }
}

/// Protocol name for displays (not the exact tapset function), interpreted by family, because
/// the tapset's IP table is only meaningful for INET/INET6:
///
/// - protocol -1 (no sk) → `"-"`;
/// - INET (2) / INET6 (10): the tapset name, or `"RAW"` (255) / `"MPTCP"` (262), else the number;
/// - NETLINK (16): the `NETLINK_*` name from [`NETLINK_PROTOCOLS`], else the number;
/// - every other family (including LOCAL/UNIX, which has no protocols): the number.
pub fn protocol_display_name(family: i64, protocol: i64) -> Cow<'static, str> {
    if protocol == -1 {
        return Cow::Borrowed("-");
    }
    let name = match family {
        AF_INET | AF_INET6 => {
            lookup_name(PROTOCOLS, protocol).or_else(|| lookup_name(EXTRA_PROTOCOLS, protocol))
        }
        AF_NETLINK => lookup_name(NETLINK_PROTOCOLS, protocol),
        _ => None,
    };
    match name {
        Some(name) => Cow::Borrowed(name),
        None => Cow::Owned(protocol.to_string()),
    }
}

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
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every table entry must round-trip through the exact functions.
    fn assert_round_trip(
        table: &[(i64, &str)],
        num2str: fn(i64) -> &'static str,
        str2num: fn(&str) -> i64,
    ) {
        for &(num, name) in table {
            assert_eq!(num2str(num), name, "num2str({num})");
            assert_eq!(str2num(name), num, "str2num({name:?})");
        }
    }

    #[test]
    fn every_table_entry_round_trips() {
        assert_round_trip(PROTOCOLS, sock_prot_num2str, sock_prot_str2num);
        assert_round_trip(FAMILIES, sock_fam_num2str, sock_fam_str2num);
        assert_round_trip(STATES, sock_state_num2str, sock_state_str2num);
        assert_round_trip(TYPES, sock_type_num2str, sock_type_str2num);
    }

    #[test]
    fn table_sizes_and_uniqueness() {
        // Counted from tapset-spec.md §2: 0..=137 minus the five gaps.
        assert_eq!(PROTOCOLS.len(), 138 - 5);
        assert_eq!(FAMILIES.len(), 30);
        assert_eq!(STATES.len(), 5);
        assert_eq!(TYPES.len(), 7);
        assert_eq!(SOCK_FLAG_BITS.len(), 5);
        assert_eq!(MSG_FLAGS.len(), 17);
        for table in [PROTOCOLS, FAMILIES, STATES, TYPES, NETLINK_PROTOCOLS] {
            // Strictly ascending numbers: no duplicates, nothing out of place.
            assert!(table.windows(2).all(|w| w[0].0 < w[1].0));
            for (i, &(_, a)) in table.iter().enumerate() {
                assert!(table[i + 1..].iter().all(|&(_, b)| a != b), "dup {a}");
            }
        }
    }

    #[test]
    fn protocol_spot_values_from_spec() {
        // Typed independently from tapset-spec.md §2 to catch typos in PROTOCOLS.
        let spots: &[(i64, &str)] = &[
            (0, "IP"),
            (1, "ICMP"),
            (6, "TCP"),
            (10, "BBN-RCC"),
            (17, "UDP"),
            (22, "XNS-IDP"),
            (23, "TRUNK-1"),
            (26, "LEAF-2"),
            (29, "ISO-TP4"),
            (32, "MERIT-INP"),
            (34, "3PC"),
            (38, "IDPR-CMTP"),
            (39, "TP++"),
            (41, "IPV6"),
            (43, "IPV6-ROUTE"),
            (47, "GRE"),
            (50, "IPV6-CRYPT"),
            (51, "IPV6-AUTH"),
            (52, "I-NLSP"),
            (58, "IPV6-ICMP"),
            (59, "IPV6-NONXT"),
            (60, "IPV6-OPTS"),
            (62, "CFTP"),
            (64, "SAT-EXPAK"),
            (67, "IPPC"),
            (69, "SAT-MON"),
            (76, "BR-SAT-MON"),
            (77, "SUN-ND"),
            (82, "SECURE-VMTP"),
            (85, "NSFNET-IGP"),
            (90, "SPRITE-RPC"),
            (93, "AX.25"),
            (96, "SCC-SP"),
            (98, "ENCAP"),
            (100, "GMTP"),
            (107, "A/N"),
            (110, "COMPAQ-PEER"),
            (111, "IPX-IN-IP"),
            (113, "PGM"),
            (115, "L2TP"),
            (122, "SM"),
            (128, "SSCOPMCE"),
            (132, "SCTP"),
            (133, "FC"),
            (134, "RSVP-E2E-IGNORE"),
            (135, "Mobility-Header"),
            (136, "UDPLite"),
            (137, "MPLS-IN-IP"),
        ];
        for &(num, name) in spots {
            assert_eq!(sock_prot_num2str(num), name);
            assert_eq!(sock_prot_str2num(name), num);
        }
    }

    #[test]
    fn family_state_type_spot_values_from_spec() {
        let families: &[(i64, &str)] = &[
            (0, "UNSPEC"),
            (1, "LOCAL"),
            (2, "INET"),
            (3, "AX25"),
            (9, "X25"),
            (10, "INET6"),
            (16, "NETLINK"),
            (17, "PACKET"),
            (20, "ATMSVC"),
            (22, "SNA"),
            (24, "PPPOX"),
            (26, "LLC"),
            (30, "TIPC"),
            (33, "RXRPC"),
        ];
        for &(num, name) in families {
            assert_eq!(sock_fam_num2str(num), name);
            assert_eq!(sock_fam_str2num(name), num);
        }
        assert_eq!(sock_state_num2str(0), "FREE");
        assert_eq!(sock_state_num2str(4), "DISCONNECTING");
        assert_eq!(sock_state_str2num("CONNECTED"), 3);
        assert_eq!(sock_type_num2str(1), "STREAM");
        assert_eq!(sock_type_num2str(6), "DCCP");
        assert_eq!(sock_type_num2str(10), "PACKET");
        assert_eq!(sock_type_str2num("SEQPACKET"), 5);
    }

    #[test]
    fn undocumented_numbers_are_undef() {
        for n in [
            61,
            63,
            68,
            99,
            114,
            138,
            143,
            255,
            256,
            262,
            -1,
            i64::MIN,
            i64::MAX,
        ] {
            assert_eq!(sock_prot_num2str(n), "UNDEF", "protocol {n}");
        }
        for n in [21, 27, 28, 29, 34, 35, 40, 43, 44, 45, 46, -1, 1000] {
            assert_eq!(sock_fam_num2str(n), "UNDEF", "family {n}");
        }
        for n in [-1, 5, 100] {
            assert_eq!(sock_state_num2str(n), "UNDEF", "state {n}");
        }
        for n in [-1, 0, 7, 8, 9, 11] {
            assert_eq!(sock_type_num2str(n), "UNDEF", "type {n}");
        }
    }

    #[test]
    fn str2num_is_exact_and_case_sensitive() {
        for s in [
            "tcp",
            "Tcp",
            "TCP ",
            " TCP",
            "IPPROTO_TCP",
            "udplite",
            "UDPLITE",
            "RAW",
            "MPTCP",
            "",
            "UNDEF",
        ] {
            assert_eq!(sock_prot_str2num(s), -1, "protocol {s:?}");
        }
        for s in ["PPP0X", "UNIX", "inet", "AF_INET", "VSOCK", "", "UNDEF"] {
            assert_eq!(sock_fam_str2num(s), -1, "family {s:?}");
        }
        for s in ["connected", "SS_CONNECTED", ""] {
            assert_eq!(sock_state_str2num(s), -1, "state {s:?}");
        }
        for s in ["stream", "SOCK_STREAM", ""] {
            assert_eq!(sock_type_str2num(s), -1, "type {s:?}");
        }
    }

    #[test]
    fn sock_flags_join_in_bit_order() {
        assert_eq!(sock_flags_num2str(0), "");
        assert_eq!(sock_flags_num2str(1), "ASYNC_NOSPACE");
        assert_eq!(sock_flags_num2str(0b100), "NOSPACE");
        assert_eq!(sock_flags_num2str(0b11000), "PASSCRED|PASSSEC");
        assert_eq!(
            sock_flags_num2str(0b11111),
            "ASYNC_NOSPACE|ASYNC_WAITDATA|NOSPACE|PASSCRED|PASSSEC"
        );
        // Bits 5 and up are ignored, not UNDEF.
        assert_eq!(sock_flags_num2str(1 << 5), "");
        assert_eq!(sock_flags_num2str(!0b11111), "");
        assert_eq!(sock_flags_num2str(u64::MAX), sock_flags_num2str(0b11111));
        assert_eq!(sock_flags_num2str((1 << 7) | (1 << 2)), "NOSPACE");
    }

    #[test]
    fn sock_flags_with_caller_names() {
        let names: Vec<(u32, String)> = [
            (0, "ASYNC_NOSPACE"),
            (1, "ASYNC_WAITDATA"),
            (2, "NOSPACE"),
            (3, "SUPPORT_ZC"),
            (4, "CUSTOM_SOCKOPT"),
        ]
        .iter()
        .map(|&(bit, name)| (bit, name.to_string()))
        .collect();
        assert_eq!(sock_flags_num2str_with(0, &names), "");
        assert_eq!(
            sock_flags_num2str_with(0b1100, &names),
            "NOSPACE|SUPPORT_ZC"
        );
        assert_eq!(sock_flags_num2str_with(1 << 9, &names), "");
        assert_eq!(sock_flags_num2str_with(u64::MAX, &[]), "");
        // Bits past the width of u64 never match and must not panic.
        let odd = vec![(64, "X".to_string()), (63, "TOP".to_string())];
        assert_eq!(sock_flags_num2str_with(u64::MAX, &odd), "TOP");
        // With the tapset's names it behaves exactly like sock_flags_num2str.
        let tapset: Vec<(u32, String)> = SOCK_FLAG_BITS
            .iter()
            .map(|&(bit, name)| (bit, name.to_string()))
            .collect();
        for flags in 0..64 {
            assert_eq!(
                sock_flags_num2str_with(flags, &tapset),
                sock_flags_num2str(flags)
            );
        }
    }

    #[test]
    fn msg_flags_in_table_order() {
        assert_eq!(msg_flags_num2str(0), "");
        assert_eq!(msg_flags_num2str(0x4), "DONTROUTE|TRYHARD");
        assert_eq!(msg_flags_num2str(0x1), "OOB");
        assert_eq!(msg_flags_num2str(0x2 | 0x40), "PEEK|DONTWAIT");
        assert_eq!(msg_flags_num2str(0x4000 | 0x8000), "NOSIGNAL|MORE");
        assert_eq!(
            msg_flags_num2str(0xffff),
            "OOB|PEEK|DONTROUTE|TRYHARD|CTRUNC|PROBE|TRUNC|DONTWAIT|EOR|WAITALL|FIN|SYN|\
             CONFIRM|RST|ERRQUEUE|NOSIGNAL|MORE"
        );
        // Bits the tapset does not know (e.g. MSG_CMSG_CLOEXEC 0x40000000) are ignored.
        assert_eq!(msg_flags_num2str(0x4000_0000), "");
        assert_eq!(msg_flags_num2str(0x4000_0000 | 0x100), "WAITALL");
        for &(mask, name) in MSG_FLAGS {
            if mask != 0x4 {
                assert_eq!(msg_flags_num2str(mask), name);
            }
        }
    }

    #[test]
    fn family_display_names() {
        assert_eq!(family_display_name(2), "INET");
        assert_eq!(family_display_name(1), "LOCAL");
        assert_eq!(family_display_name(24), "PPPOX");
        let extras: &[(i64, &str)] = &[
            (21, "RDS"),
            (27, "IB"),
            (28, "MPLS"),
            (29, "CAN"),
            (34, "ISDN"),
            (35, "PHONET"),
            (36, "IEEE802154"),
            (37, "CAIF"),
            (38, "ALG"),
            (39, "NFC"),
            (40, "VSOCK"),
            (41, "KCM"),
            (42, "QIPCRTR"),
            (43, "SMC"),
            (44, "XDP"),
            (45, "MCTP"),
        ];
        for &(num, name) in extras {
            assert_eq!(family_display_name(num), name);
            // The exact function must still say UNDEF.
            assert_eq!(sock_fam_num2str(num), "UNDEF");
        }
        assert_eq!(family_display_name(46), "46");
        assert_eq!(family_display_name(-1), "-");
    }

    #[test]
    fn protocol_display_names() {
        assert_eq!(protocol_display_name(2, 6), "TCP");
        assert_eq!(protocol_display_name(10, 17), "UDP");
        assert_eq!(protocol_display_name(2, 0), "IP");
        assert_eq!(protocol_display_name(2, 255), "RAW");
        assert_eq!(protocol_display_name(10, 262), "MPTCP");
        assert_eq!(protocol_display_name(2, 61), "61");
        assert_eq!(protocol_display_name(2, 300), "300");
        assert_eq!(protocol_display_name(16, 0), "ROUTE");
        assert_eq!(protocol_display_name(16, 4), "SOCK_DIAG");
        assert_eq!(protocol_display_name(16, 9), "AUDIT");
        assert_eq!(protocol_display_name(16, 15), "KOBJECT_UEVENT");
        assert_eq!(protocol_display_name(16, 16), "GENERIC");
        assert_eq!(protocol_display_name(16, 17), "17");
        assert_eq!(protocol_display_name(16, 22), "SMC");
        // UNIX has no protocols: show the number, not the IP table's "IP".
        assert_eq!(protocol_display_name(1, 0), "0");
        assert_eq!(protocol_display_name(17, 768), "768");
        assert_eq!(protocol_display_name(40, 0), "0");
        assert_eq!(protocol_display_name(2, -1), "-");
        assert_eq!(protocol_display_name(-1, -1), "-");
    }

    #[test]
    fn parse_family_accepts_names_prefixes_and_numbers() {
        for (input, want) in [
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
        ] {
            assert_eq!(parse_family(input), Ok(want), "{input:?}");
        }
    }

    #[test]
    fn parse_protocol_accepts_names_prefixes_and_numbers() {
        for (input, want) in [
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
        ] {
            assert_eq!(parse_protocol(input), Ok(want), "{input:?}");
        }
    }

    #[test]
    fn parse_type_accepts_names_prefixes_and_numbers() {
        for (input, want) in [
            ("STREAM", 1),
            ("stream", 1),
            ("SOCK_DGRAM", 2),
            ("sock_seqpacket", 5),
            ("RAW", 3),
            ("10", 10),
        ] {
            assert_eq!(parse_type(input), Ok(want), "{input:?}");
        }
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
}
