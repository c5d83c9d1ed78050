//! Names for displays: what the tapset calls `"UNDEF"` may get its Linux
//! name here (semantics.md §3 allows it for displays), and a missing value
//! (-1: no socket) shows as `"-"`. Not the exact tapset functions: scripts
//! that compare with SystemTap use [`tables`](super::tables).

use std::borrow::Cow;

use super::tables::{
    lookup_name, EXTRA_FAMILIES, EXTRA_PROTOCOLS, FAMILIES, NETLINK_PROTOCOLS, PROTOCOLS, TYPES,
};

/// `AF_INET`: the family whose protocols the tapset's IP table actually describes.
const AF_INET: i64 = 2;
/// `AF_INET6`: shares the IP protocol numbers with `AF_INET`.
const AF_INET6: i64 = 10;
/// `AF_NETLINK`: protocols are `NETLINK_*` numbers, not IP ones.
const AF_NETLINK: i64 = 16;

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

/// Socket type name for displays: the tapset name (`STREAM`, `DGRAM`, …),
/// else the number; `"-"` for -1 (no socket).
pub fn type_display_name(n: i64) -> Cow<'static, str> {
    if n == -1 {
        return Cow::Borrowed("-");
    }
    match lookup_name(TYPES, n) {
        Some(name) => Cow::Borrowed(name),
        None => Cow::Owned(n.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use libc::{
        AF_ALG, AF_CAIF, AF_CAN, AF_IB, AF_IEEE802154, AF_ISDN, AF_MPLS, AF_NFC, AF_PHONET, AF_RDS,
        AF_VSOCK, AF_XDP,
    };

    use super::*;
    use crate::tapset::tables::sock_fam_num2str;

    #[test]
    fn family_display_names() {
        assert_eq!(family_display_name(2), "INET");
        assert_eq!(family_display_name(1), "LOCAL");
        assert_eq!(family_display_name(24), "PPPOX");
        // The extras at Linux's numbers, from libc where it has them (it lacks AF_KCM, AF_QIPCRTR,
        // AF_SMC and AF_MCTP): a second source for the numbers in EXTRA_FAMILIES.
        let extras: &[(i32, &str)] = &[
            (AF_RDS, "RDS"),
            (AF_IB, "IB"),
            (AF_MPLS, "MPLS"),
            (AF_CAN, "CAN"),
            (AF_ISDN, "ISDN"),
            (AF_PHONET, "PHONET"),
            (AF_IEEE802154, "IEEE802154"),
            (AF_CAIF, "CAIF"),
            (AF_ALG, "ALG"),
            (AF_NFC, "NFC"),
            (AF_VSOCK, "VSOCK"),
            (41, "KCM"),
            (42, "QIPCRTR"),
            (43, "SMC"),
            (AF_XDP, "XDP"),
            (45, "MCTP"),
        ];
        for &(num, name) in extras {
            let num = i64::from(num);
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
    fn type_display_names() {
        assert_eq!(type_display_name(1), "STREAM");
        assert_eq!(type_display_name(2), "DGRAM");
        assert_eq!(type_display_name(-1), "-");
        assert_eq!(type_display_name(99), "99");
    }
}
