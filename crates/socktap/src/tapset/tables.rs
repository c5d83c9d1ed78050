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
//! compare against SystemTap output depend on them. The Linux names the tapset lacks are here too,
//! for [`names`](super::names) and [`parse`](super::parse) only, never for the exact functions.

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

/// Forward lookup shared by all `*_num2str` functions: the table's name or `"UNDEF"`.
pub(crate) fn lookup_name(table: &[(i64, &'static str)], n: i64) -> Option<&'static str> {
    table
        .iter()
        .find(|&&(num, _)| num == n)
        .map(|&(_, name)| name)
}

/// Reverse lookup shared by all `*_str2num` functions: exact, case-sensitive, like the tapset's
/// reverse arrays built from the forward tables.
pub(crate) fn lookup_num(table: &[(i64, &str)], s: &str) -> Option<i64> {
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

/// Writes the exact pair of tapset functions of each table: `*_num2str`, the table's name of `n`
/// or `"UNDEF"`, and `*_str2num`, the table's number of exactly `s` (case-sensitive) or -1.
macro_rules! num2str_and_str2num {
    ($(
        $table:ident:
        $(#[$num2str_doc:meta])* $num2str:ident,
        $(#[$str2num_doc:meta])* $str2num:ident;
    )*) => {
        $(
            $(#[$num2str_doc])*
            pub fn $num2str(n: i64) -> &'static str {
                lookup_name($table, n).unwrap_or(UNDEF)
            }

            $(#[$str2num_doc])*
            pub fn $str2num(s: &str) -> i64 {
                lookup_num($table, s).unwrap_or(-1)
            }
        )*
    };
}

num2str_and_str2num! {
    PROTOCOLS:
    /// Tapset `sock_prot_num2str`: the `/etc/protocols` name of `n`, or `"UNDEF"`.
    sock_prot_num2str,
    /// Tapset `sock_prot_str2num`: the protocol number of exactly `s` (case-sensitive), or -1.
    sock_prot_str2num;

    FAMILIES:
    /// Tapset `sock_fam_num2str`: the family name of `n` (no `AF_` prefix), or `"UNDEF"`.
    sock_fam_num2str,
    /// Tapset `sock_fam_str2num`: the family number of exactly `s` (case-sensitive), or -1.
    sock_fam_str2num;

    STATES:
    /// Tapset `sock_state_num2str`: the socket state name of `n` (no `SS_` prefix), or `"UNDEF"`.
    sock_state_num2str,
    /// Tapset `sock_state_str2num`: the socket state number of exactly `s` (case-sensitive), or -1.
    sock_state_str2num;

    TYPES:
    /// Tapset `sock_type_num2str`: the socket type name of `n` (no `SOCK_` prefix), or `"UNDEF"`.
    sock_type_num2str,
    /// Tapset `sock_type_str2num`: the socket type number of exactly `s` (case-sensitive), or -1.
    sock_type_str2num;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every entry of `table` must round-trip through the exact functions.
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
        // Typed independently from tapset-spec.md §2 to catch typos in PROTOCOLS, grouped by
        // what each group is there to catch.
        let spots: &[(i64, &str)] = &[
            // The protocols everyone filters on.
            (0, "IP"),
            (1, "ICMP"),
            (6, "TCP"),
            (17, "UDP"),
            (41, "IPV6"),
            (47, "GRE"),
            (58, "IPV6-ICMP"),
            (132, "SCTP"),
            // The neighbours of each gap (61, 63, 68, 99, 114) and the last entry, where an
            // entry off by one is most likely.
            (60, "IPV6-OPTS"),
            (62, "CFTP"),
            (64, "SAT-EXPAK"),
            (67, "IPPC"),
            (69, "SAT-MON"),
            (98, "ENCAP"),
            (100, "GMTP"),
            (113, "PGM"),
            (115, "L2TP"),
            (137, "MPLS-IN-IP"),
            // Digits, punctuation and mixed case, spelt exactly.
            (23, "TRUNK-1"),
            (26, "LEAF-2"),
            (29, "ISO-TP4"),
            (34, "3PC"),
            (39, "TP++"),
            (93, "AX.25"),
            (107, "A/N"),
            (135, "Mobility-Header"),
            (136, "UDPLite"),
            // Hyphenated names.
            (10, "BBN-RCC"),
            (22, "XNS-IDP"),
            (32, "MERIT-INP"),
            (38, "IDPR-CMTP"),
            (43, "IPV6-ROUTE"),
            (50, "IPV6-CRYPT"),
            (51, "IPV6-AUTH"),
            (52, "I-NLSP"),
            (59, "IPV6-NONXT"),
            (76, "BR-SAT-MON"),
            (77, "SUN-ND"),
            (82, "SECURE-VMTP"),
            (85, "NSFNET-IGP"),
            (90, "SPRITE-RPC"),
            (96, "SCC-SP"),
            (110, "COMPAQ-PEER"),
            (111, "IPX-IN-IP"),
            (134, "RSVP-E2E-IGNORE"),
            // Short names that are easy to mistype.
            (122, "SM"),
            (128, "SSCOPMCE"),
            (133, "FC"),
        ];
        assert_round_trip(spots, sock_prot_num2str, sock_prot_str2num);
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
        assert_round_trip(families, sock_fam_num2str, sock_fam_str2num);
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
}
