//! The elaborated program the interpreter runs: names resolved to slots
//! and indexes, probe points to concrete ones, types inferred. Nodes keep
//! the token a runtime error is reported near.

use std::rc::Rc;

use crate::ast::{BinOp, CmpOp, StatOp, UnOp};
use crate::builtins::Builtin;
use crate::format::Piece;
use crate::probes::{Point, Resolved};
use crate::source::TokId;

/// A stap string: bytes, shared.
pub type Str = Rc<[u8]>;

/// The three types of stap values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ty {
    /// 64-bit signed integer.
    Long,
    /// Byte string.
    Str,
    /// Statistics (only globals).
    Stats,
}

impl Ty {
    /// As stap names it.
    pub fn name(self) -> &'static str {
        match self {
            Ty::Long => "long",
            Ty::Str => "string",
            Ty::Stats => "stats",
        }
    }
}

/// A probe variable, read from the event that fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PVar {
    /// The probe's name.
    Name,
    /// Bytes requested, moved, or -errno.
    Size,
    /// `sk_protocol`.
    Protocol,
    /// The socket's family.
    Family,
    /// `socket->state`.
    State,
    /// `socket->flags`.
    Flags,
    /// `socket->type`.
    Type,
    /// 1 if the result is not an error.
    Success,
    /// create: 1 if the kernel asked for the socket.
    Requester,
    /// create.return: the result.
    Err,
    /// netdev: the device name.
    DevName,
    /// netdev: the packet length.
    Length,
}

impl PVar {
    /// The variable named `name`.
    pub fn from_name(name: &str) -> Option<PVar> {
        Some(match name {
            "name" => PVar::Name,
            "size" => PVar::Size,
            "protocol" => PVar::Protocol,
            "family" => PVar::Family,
            "state" => PVar::State,
            "flags" => PVar::Flags,
            "type" => PVar::Type,
            "success" => PVar::Success,
            "requester" => PVar::Requester,
            "err" => PVar::Err,
            "dev_name" => PVar::DevName,
            "length" => PVar::Length,
            _ => return None,
        })
    }

    /// Its type.
    pub fn ty(self) -> Ty {
        if matches!(self, PVar::Name | PVar::DevName) {
            Ty::Str
        } else {
            Ty::Long
        }
    }
}

/// Where an assignment or `++` writes.
#[derive(Debug, Clone)]
pub enum LValue {
    /// A local slot.
    Local(u32, TokId),
    /// A scalar global.
    Global(u32, TokId),
    /// An array element.
    Index(u32, Vec<Expr>, TokId),
}

/// How an assignment combines the old value with the new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignKind {
    /// `=`
    Set,
    /// `.=`
    Concat,
    /// `+=` …
    Op(BinOp),
}

/// A statistic: a scalar global or an element of a statistics array.
#[derive(Debug, Clone)]
pub enum StatRef {
    /// A scalar statistics global.
    Global(u32, TokId),
    /// An element.
    Index(u32, Vec<Expr>, TokId),
}

/// A print-family call, its format compiled.
#[derive(Debug, Clone)]
pub struct Print {
    /// Written to the output (true) or returned as a string.
    pub stream: bool,
    /// The format's pieces (literal text and conversions).
    pub pieces: Vec<Piece>,
    /// No format: each argument as `%d` or `%s` by its type, with this
    /// delimiter between them and a newline if asked (`print`, `printd`,
    /// `println`, …).
    pub auto: Option<(Option<Vec<u8>>, bool)>,
    /// The arguments.
    pub args: Vec<Expr>,
    /// Print this histogram instead.
    pub hist: Option<HistRef>,
    /// The call's token.
    pub tok: TokId,
}

/// A histogram of a statistic.
#[derive(Debug, Clone)]
pub struct HistRef {
    /// The statistic.
    pub stat: StatRef,
    /// Its token.
    pub tok: TokId,
}

/// An expression.
#[derive(Debug, Clone)]
pub enum Expr {
    /// A number.
    Num(i64, TokId),
    /// A string.
    Str(Str, TokId),
    /// A local (or parameter).
    Local(u32, TokId),
    /// A scalar global.
    Global(u32, TokId),
    /// A probe variable.
    PVar(PVar, TokId),
    /// An array element (0 or "" if absent).
    Index(u32, Vec<Expr>, TokId),
    /// `[k…] in a` (`None` keys: `*`).
    In(u32, Vec<Option<Expr>>, TokId),
    /// `-x` …
    Unary(UnOp, Box<Expr>),
    /// `a + b` …
    Binary(BinOp, Box<Expr>, Box<Expr>, TokId),
    /// `&&` (true) / `||` (false).
    Logical(bool, Box<Expr>, Box<Expr>),
    /// Comparisons, of numbers or strings.
    Compare(CmpOp, Box<Expr>, Box<Expr>, TokId),
    /// `a . b`
    Concat(Vec<Expr>, TokId),
    /// `c ? t : f`
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>, TokId),
    /// Assignment; its value is the value stored.
    Assign(LValue, AssignKind, Box<Expr>, TokId),
    /// `++`/`--`: delta, prefix?
    Crement(LValue, i64, bool, TokId),
    /// `s <<< v`
    StatAdd(StatRef, Box<Expr>, TokId),
    /// `@count(s)` …, with `@variance`'s bit shift.
    Stat(StatOp, StatRef, TokId),
    /// A script function: its index and the arguments.
    Call(u32, Vec<Expr>, TokId),
    /// A built-in function.
    Builtin(Builtin, Vec<Expr>, TokId),
    /// A print-family call.
    Print(Box<Print>),
}

/// What a `delete` removes.
#[derive(Debug, Clone)]
pub enum DeleteTarget {
    /// A local: reset to 0 or "".
    Local(u32),
    /// A scalar global (statistics are emptied).
    Global(u32),
    /// A whole array.
    Array(u32),
    /// One element (`None` keys: `*`, every match).
    Element(u32, Vec<Option<Expr>>, TokId),
}

/// `foreach`.
#[derive(Debug, Clone)]
pub struct Foreach {
    /// The array.
    pub array: u32,
    /// Local slots receiving the keys.
    pub keys: Vec<u32>,
    /// Local slot receiving the value.
    pub value: Option<u32>,
    /// Sort column (0 value, k key k) and direction.
    pub sort: Option<(usize, i8)>,
    /// For statistics arrays sorted by value: the aggregate.
    pub sort_aggr: StatOp,
    /// Keys fixed by `a[*, v]` (`None`: any).
    pub slice: Vec<Option<Expr>>,
    /// `limit N`.
    pub limit: Option<Expr>,
    /// The body.
    pub body: Stmt,
    /// The `foreach` token.
    pub tok: TokId,
}

/// A statement.
#[derive(Debug, Clone)]
pub enum Stmt {
    /// Statements in order.
    Block(Vec<Stmt>),
    /// Evaluate for effects.
    Expr(Expr, TokId),
    /// `if`
    If(Expr, Box<Stmt>, Option<Box<Stmt>>, TokId),
    /// `for`/`while`: init, condition, step, body.
    For(Option<Expr>, Expr, Option<Expr>, Box<Stmt>, TokId),
    /// `foreach`
    Foreach(Box<Foreach>),
    /// `break`
    Break,
    /// `continue`
    Continue,
    /// `next`
    Next,
    /// `return`
    Return(Option<Expr>),
    /// `delete`
    Delete(DeleteTarget, TokId),
    /// `try { } catch (slot) { }`
    Try(Box<Stmt>, Option<u32>, Box<Stmt>),
}

/// A global variable.
#[derive(Debug, Clone)]
pub struct Global {
    /// Its name.
    pub name: String,
    /// Its declaration.
    pub tok: TokId,
    /// The value type (elements' type for arrays).
    pub ty: Ty,
    /// Array key types; empty for scalars.
    pub keys: Vec<Ty>,
    /// `global a[N]`: the size limit; else MAXMAPENTRIES.
    pub size: Option<u32>,
    /// `%`: overwrite the oldest element when full.
    pub wrap: bool,
    /// The histogram its statistics keep, if any is printed.
    pub hist: Option<HistKind>,
    /// `@variance(s, N)`: bits of fixed-point precision for the variance.
    pub shift: u32,
    /// The initial value.
    pub init: Option<crate::ast::Literal>,
}

/// Which histogram a statistic keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistKind {
    /// log2 buckets.
    Log,
    /// Linear buckets: start, stop, interval.
    Linear(i64, i64, i64),
}

/// A script function.
#[derive(Debug, Clone)]
pub struct Function {
    /// Its name.
    pub name: String,
    /// The number of parameters (the first local slots).
    pub params: usize,
    /// Types of all local slots.
    pub locals: Vec<Ty>,
    /// The return type (`None`: returns nothing).
    pub ret: Option<Ty>,
    /// The body.
    pub body: Stmt,
    /// Its declaration.
    pub tok: TokId,
}

/// A probe handler.
#[derive(Debug, Clone)]
pub struct Handler {
    /// The probe points that run it.
    pub points: Vec<Resolved>,
    /// Types of its local slots.
    pub locals: Vec<Ty>,
    /// Probe variables written by the handler, copied into these local
    /// slots when it starts.
    pub pvar_locals: Vec<(PVar, u32)>,
    /// The body.
    pub body: Stmt,
    /// The `probe` token.
    pub tok: TokId,
    /// Synthesized by socktap (the display of unread globals at exit).
    pub synthetic: bool,
}

impl Handler {
    /// Whether any of its points is of this kind.
    pub fn has(&self, f: impl Fn(&Point) -> bool) -> bool {
        self.points.iter().any(|r| f(&r.point))
    }
}

/// An elaborated script.
#[derive(Debug, Clone)]
pub struct Program {
    /// The globals.
    pub globals: Vec<Global>,
    /// The functions.
    pub functions: Vec<Function>,
    /// The handlers, in script order (display handlers last).
    pub handlers: Vec<Handler>,
    /// The deepest call nesting allowed (stap's MAXNESTING).
    pub max_nesting: usize,
}
