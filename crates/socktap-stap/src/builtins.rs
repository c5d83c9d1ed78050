//! The built-in functions a script can call: their names, argument and
//! result types. (What they do is in `interp/calls.rs`.) The print family
//! (`printf`, `sprint`, …) is parsed as its own expression.

use crate::ir::Ty;

/// A built-in function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Builtin {
    Exit,
    Abort,
    Log,
    Warn,
    Error,
    Assert1,
    Assert2,
    Pid,
    Tid,
    Ppid,
    Uid,
    Euid,
    Gid,
    Egid,
    Execname,
    Pexecname,
    Cpu,
    Target,
    UserMode,
    Probefunc,
    Pp,
    GettimeofdayS,
    GettimeofdayMs,
    GettimeofdayUs,
    GettimeofdayNs,
    LocalClockNs,
    LocalClockUs,
    LocalClockMs,
    LocalClockS,
    Jiffies,
    Hz,
    Ctime0,
    Ctime,
    TzCtime,
    TzGmtoff,
    TzName,
    Strlen,
    Substr,
    Isinstr,
    Strpos,
    StrReplace,
    TextStr,
    TextStrn,
    StringQuoted,
    Tokenize1,
    Tokenize2,
    Strtol,
    String,
    Isdigit,
    Stringat,
    Randint,
    Abs,
    Min,
    Max,
    ErrnoStr,
    SockProtNum2str,
    SockProtStr2num,
    SockFamNum2str,
    SockFamStr2num,
    SockStateNum2str,
    SockStateStr2num,
    SockTypeNum2str,
    SockTypeStr2num,
    SockFlagsNum2str,
    MsgFlagsNum2str,
}

use Builtin as B;
use Ty::{Long as L, Str as S};

/// Name, argument types, result type (`None`: no value), function.
pub const TABLE: &[(&str, &[Ty], Option<Ty>, Builtin)] = &[
    ("exit", &[], None, B::Exit),
    ("abort", &[], None, B::Abort),
    ("log", &[S], None, B::Log),
    ("warn", &[S], None, B::Warn),
    ("error", &[S], None, B::Error),
    ("assert", &[L], None, B::Assert1),
    ("assert", &[L, S], None, B::Assert2),
    ("pid", &[], Some(L), B::Pid),
    ("tid", &[], Some(L), B::Tid),
    ("ppid", &[], Some(L), B::Ppid),
    ("uid", &[], Some(L), B::Uid),
    ("euid", &[], Some(L), B::Euid),
    ("gid", &[], Some(L), B::Gid),
    ("egid", &[], Some(L), B::Egid),
    ("execname", &[], Some(S), B::Execname),
    ("pexecname", &[], Some(S), B::Pexecname),
    ("cpu", &[], Some(L), B::Cpu),
    ("target", &[], Some(L), B::Target),
    ("user_mode", &[], Some(L), B::UserMode),
    ("probefunc", &[], Some(S), B::Probefunc),
    ("pp", &[], Some(S), B::Pp),
    ("gettimeofday_s", &[], Some(L), B::GettimeofdayS),
    ("gettimeofday_ms", &[], Some(L), B::GettimeofdayMs),
    ("gettimeofday_us", &[], Some(L), B::GettimeofdayUs),
    ("gettimeofday_ns", &[], Some(L), B::GettimeofdayNs),
    ("local_clock_ns", &[], Some(L), B::LocalClockNs),
    ("local_clock_us", &[], Some(L), B::LocalClockUs),
    ("local_clock_ms", &[], Some(L), B::LocalClockMs),
    ("local_clock_s", &[], Some(L), B::LocalClockS),
    ("jiffies", &[], Some(L), B::Jiffies),
    ("HZ", &[], Some(L), B::Hz),
    ("ctime", &[], Some(S), B::Ctime0),
    ("ctime", &[L], Some(S), B::Ctime),
    ("tz_ctime", &[L], Some(S), B::TzCtime),
    ("tz_gmtoff", &[], Some(L), B::TzGmtoff),
    ("tz_name", &[], Some(S), B::TzName),
    ("strlen", &[S], Some(L), B::Strlen),
    ("substr", &[S, L, L], Some(S), B::Substr),
    ("isinstr", &[S, S], Some(L), B::Isinstr),
    ("strpos", &[S, S], Some(L), B::Strpos),
    ("str_replace", &[S, S, S], Some(S), B::StrReplace),
    ("text_str", &[S], Some(S), B::TextStr),
    ("text_strn", &[S, L, L], Some(S), B::TextStrn),
    ("string_quoted", &[S], Some(S), B::StringQuoted),
    ("tokenize", &[S], Some(S), B::Tokenize1),
    ("tokenize", &[S, S], Some(S), B::Tokenize2),
    ("strtol", &[S, L], Some(L), B::Strtol),
    ("string", &[L], Some(S), B::String),
    ("isdigit", &[S], Some(L), B::Isdigit),
    ("stringat", &[S, L], Some(L), B::Stringat),
    ("randint", &[L], Some(L), B::Randint),
    ("abs", &[L], Some(L), B::Abs),
    ("min", &[L, L], Some(L), B::Min),
    ("max", &[L, L], Some(L), B::Max),
    ("errno_str", &[L], Some(S), B::ErrnoStr),
    ("sock_prot_num2str", &[L], Some(S), B::SockProtNum2str),
    ("sock_prot_str2num", &[S], Some(L), B::SockProtStr2num),
    ("sock_fam_num2str", &[L], Some(S), B::SockFamNum2str),
    ("sock_fam_str2num", &[S], Some(L), B::SockFamStr2num),
    ("sock_state_num2str", &[L], Some(S), B::SockStateNum2str),
    ("sock_state_str2num", &[S], Some(L), B::SockStateStr2num),
    ("sock_type_num2str", &[L], Some(S), B::SockTypeNum2str),
    ("sock_type_str2num", &[S], Some(L), B::SockTypeStr2num),
    ("sock_flags_num2str", &[L], Some(S), B::SockFlagsNum2str),
    ("msg_flags_num2str", &[L], Some(S), B::MsgFlagsNum2str),
];

/// The built-in `name` taking `arity` arguments: its types and id.
pub fn lookup(name: &str, arity: usize) -> Option<(&'static [Ty], Option<Ty>, Builtin)> {
    TABLE
        .iter()
        .find(|(n, args, _, _)| *n == name && args.len() == arity)
        .map(|&(_, args, ret, b)| (args, ret, b))
}

/// Whether a built-in of this name exists with any arity.
pub fn exists(name: &str) -> bool {
    TABLE.iter().any(|(n, ..)| *n == name)
}

/// Every built-in name, plus the print family: for suggestions.
pub fn names() -> impl Iterator<Item = &'static str> {
    TABLE.iter().map(|(n, ..)| *n).chain([
        "print",
        "println",
        "printf",
        "printd",
        "printdln",
        "sprint",
        "sprintln",
        "sprintf",
        "sprintd",
        "sprintdln",
        "print_char",
    ])
}

/// Whether a call reads the firing process's context (for the
/// filter pushdown and for `-p2`'s notes): pid, tid, uid, execname.
pub fn task_context(b: Builtin) -> bool {
    matches!(b, B::Pid | B::Tid | B::Uid | B::Execname)
}
