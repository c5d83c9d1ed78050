//! The parse tree, as the parser builds it: names are not resolved and
//! types not known yet. Every node keeps the token it starts at, for
//! messages.

use crate::source::TokId;

/// A parsed script (all its sources together).
#[derive(Debug, Default, Clone)]
pub struct Script {
    /// `global` declarations, in order.
    pub globals: Vec<Global>,
    /// `function` definitions, in order.
    pub functions: Vec<Function>,
    /// `probe` definitions, in order.
    pub probes: Vec<Probe>,
}

/// `global name[size] = init` (also `private`).
#[derive(Debug, Clone)]
pub struct Global {
    /// The name.
    pub name: String,
    /// Its token.
    pub tok: TokId,
    /// `[N]`: the array's size limit.
    pub size: Option<u32>,
    /// `%`: the array wraps (drops its oldest element) when full.
    pub wrap: bool,
    /// `= literal`.
    pub init: Option<Literal>,
}

/// A number or string literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A number.
    Num(i64),
    /// A string (bytes).
    Str(Vec<u8>),
}

/// A declared type: `:long` or `:string`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclType {
    /// `long`
    Long,
    /// `string`
    String,
}

/// `function name:type(param:type, …) { … }`
#[derive(Debug, Clone)]
pub struct Function {
    /// The name.
    pub name: String,
    /// Its token.
    pub tok: TokId,
    /// Declared return type.
    pub ret: Option<DeclType>,
    /// Parameters: name, token, declared type.
    pub params: Vec<(String, TokId, Option<DeclType>)>,
    /// The body.
    pub body: Block,
}

/// `probe point, point { … }`
#[derive(Debug, Clone)]
pub struct Probe {
    /// The `probe` keyword.
    pub tok: TokId,
    /// The probe points.
    pub points: Vec<ProbePoint>,
    /// The handler.
    pub body: Block,
}

/// One probe point: components separated by dots.
#[derive(Debug, Clone)]
pub struct ProbePoint {
    /// `socket`, `send`, `return`, or `timer`, `ms(100)`.
    pub components: Vec<Component>,
    /// `?`: skipped if it cannot be served.
    pub optional: bool,
    /// `!`: optional, and once it resolves the later points are not tried.
    pub sufficient: bool,
    /// `if (expr)`: a condition on the probe point.
    pub condition: Option<Expr>,
}

/// One dotted component, with an optional literal argument.
#[derive(Debug, Clone)]
pub struct Component {
    /// The name (may contain `*`).
    pub functor: String,
    /// Its token.
    pub tok: TokId,
    /// `(literal)`.
    pub arg: Option<Literal>,
}

/// `{ statements }`
#[derive(Debug, Clone)]
pub struct Block {
    /// The `{`.
    pub tok: TokId,
    /// The statements.
    pub stmts: Vec<Stmt>,
}

/// A statement.
#[derive(Debug, Clone)]
pub enum Stmt {
    /// A nested block.
    Block(Block),
    /// `;`
    Null(TokId),
    /// An expression evaluated for its effects.
    Expr(Expr),
    /// `if (cond) then else els`
    If {
        /// `if`
        tok: TokId,
        /// The condition.
        cond: Expr,
        /// Taken when true.
        then: Box<Stmt>,
        /// Taken when false.
        els: Option<Box<Stmt>>,
    },
    /// `for (init; cond; step) body`, and `while (cond) body`.
    For {
        /// `for` or `while`
        tok: TokId,
        /// Run once first.
        init: Option<Expr>,
        /// Checked before each iteration.
        cond: Expr,
        /// Run after each iteration.
        step: Option<Expr>,
        /// The body.
        body: Box<Stmt>,
    },
    /// `foreach (…)`
    Foreach(Box<Foreach>),
    /// `break`
    Break(TokId),
    /// `continue`
    Continue(TokId),
    /// `next`: leave the handler.
    Next(TokId),
    /// `return [value]`
    Return(TokId, Option<Expr>),
    /// `delete target`
    Delete(TokId, Expr),
    /// `try { } catch (var) { }`
    Try {
        /// `try`
        tok: TokId,
        /// The protected block.
        body: Block,
        /// The variable that receives the error message.
        var: Option<(String, TokId)>,
        /// Run on a runtime error.
        catch: Block,
    },
}

/// `foreach ([v =] [k1, k2] in base [slice] [+/-] limit N) body`
#[derive(Debug, Clone)]
pub struct Foreach {
    /// `foreach`
    pub tok: TokId,
    /// `v =`: the value variable.
    pub value: Option<(String, TokId)>,
    /// The key variables.
    pub keys: Vec<(String, TokId)>,
    /// Sort column (0: the value, k: the k-th key) and direction (1 up, -1 down).
    pub sort: Option<(usize, i8)>,
    /// An aggregate to sort statistics by (`@sum(a)-`): default `@count`.
    pub sort_aggr: Option<StatOp>,
    /// What is iterated.
    pub base: Indexable,
    /// `a[*, 5]`: keys fixed by value (`None` for `*`).
    pub slice: Vec<Option<Expr>>,
    /// `limit N`
    pub limit: Option<Expr>,
    /// The body.
    pub body: Stmt,
}

/// What can be indexed or iterated: an array or a histogram.
#[derive(Debug, Clone)]
pub enum Indexable {
    /// An array, by name.
    Sym(String, TokId),
    /// A histogram of a statistic.
    Hist(Box<HistOp>),
}

/// `@hist_log(e)` or `@hist_linear(e, lo, hi, step)`.
#[derive(Debug, Clone)]
pub struct HistOp {
    /// The `@hist_…` token.
    pub tok: TokId,
    /// Linear parameters (start, stop, interval); `None` for log.
    pub linear: Option<(i64, i64, i64)>,
    /// The statistic.
    pub stat: Expr,
}

/// The aggregates of a statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatOp {
    /// `@count`
    Count,
    /// `@sum`
    Sum,
    /// `@min`
    Min,
    /// `@max`
    Max,
    /// `@avg`
    Avg,
    /// `@variance`
    Variance,
}

impl StatOp {
    /// The `@word`.
    pub fn name(self) -> &'static str {
        match self {
            StatOp::Count => "@count",
            StatOp::Sum => "@sum",
            StatOp::Min => "@min",
            StatOp::Max => "@max",
            StatOp::Avg => "@avg",
            StatOp::Variance => "@variance",
        }
    }

    /// The aggregate named by `@word`.
    pub fn from_name(s: &str) -> Option<StatOp> {
        Some(match s {
            "@count" => StatOp::Count,
            "@sum" => StatOp::Sum,
            "@min" => StatOp::Min,
            "@max" => StatOp::Max,
            "@avg" => StatOp::Avg,
            "@variance" => StatOp::Variance,
            _ => return None,
        })
    }
}

/// A print-family call: `printf`, `sprint`, `println`, …
#[derive(Debug, Clone)]
pub struct Print {
    /// The function's name token.
    pub tok: TokId,
    /// Printed (true) or returned as a string (`s…` names).
    pub stream: bool,
    /// `…f`: the format string.
    pub format: Option<Vec<u8>>,
    /// `…d`: the delimiter.
    pub delim: Option<Vec<u8>>,
    /// `…ln`: add a newline.
    pub newline: bool,
    /// `print_char`.
    pub char: bool,
    /// The arguments (after the format or delimiter).
    pub args: Vec<Expr>,
    /// `print(@hist_log(s))`: print the histogram.
    pub hist: Option<Box<HistOp>>,
}

/// An expression.
#[derive(Debug, Clone)]
pub enum Expr {
    /// A number literal.
    Num(i64, TokId),
    /// A string literal.
    Str(Vec<u8>, TokId),
    /// A name.
    Sym(String, TokId),
    /// `base[k1, k2]` (`*` keys only in `in`).
    Index(TokId, Indexable, Vec<Option<Expr>>),
    /// `-x`, `+x`, `!x`, `~x`
    Unary(TokId, UnOp, Box<Expr>),
    /// Arithmetic and bitwise operators.
    Binary(TokId, BinOp, Box<Expr>, Box<Expr>),
    /// `&&` (true) and `||` (false).
    Logical(TokId, bool, Box<Expr>, Box<Expr>),
    /// Comparisons.
    Compare(TokId, CmpOp, Box<Expr>, Box<Expr>),
    /// `a . b . c`
    Concat(TokId, Vec<Expr>),
    /// `c ? t : f`
    Ternary(TokId, Box<Expr>, Box<Expr>, Box<Expr>),
    /// `l = r`, `l += r`, `l <<< r`, …
    Assign(TokId, AssignOp, Box<Expr>, Box<Expr>),
    /// `++x` / `x--`: (token, +1 or -1, prefix?, operand)
    Crement(TokId, i64, bool, Box<Expr>),
    /// `[k…] in base`
    In(TokId, Vec<Option<Expr>>, Indexable),
    /// `@count(s)` …, with `@variance`'s optional bit shift.
    Stat(TokId, StatOp, Box<Expr>, Option<i64>),
    /// `f(args)`
    Call(TokId, String, Vec<Expr>),
    /// print-family calls.
    Print(Box<Print>),
    /// Something socktap does not run (`$var`, `@cast`, `=~` …): the
    /// token and what it is.
    Unsupported(TokId, String),
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    /// `-`
    Neg,
    /// `+`
    Plus,
    /// `!`
    Not,
    /// `~`
    BitNot,
}

/// Binary arithmetic and bitwise operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `<<`
    Shl,
    /// `>>`
    Shr,
    /// `>>>` (logical shift)
    Ushr,
    /// `&`
    And,
    /// `|`
    Or,
    /// `^`
    Xor,
}

impl BinOp {
    /// The operator's text.
    pub fn text(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Shl => "<<",
            BinOp::Shr => ">>",
            BinOp::Ushr => ">>>",
            BinOp::And => "&",
            BinOp::Or => "|",
            BinOp::Xor => "^",
        }
    }
}

/// Comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// The operator's text.
    pub fn text(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// Assignment operators: `=`, `<<<`, and the compound ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignOp {
    /// `=`
    Set,
    /// `<<<`: add a value to a statistic.
    Stat,
    /// `.=`
    Concat,
    /// `+=`, `-=`, …
    Op(BinOp),
}

impl AssignOp {
    /// The operator's text.
    pub fn text(self) -> String {
        match self {
            AssignOp::Set => "=".into(),
            AssignOp::Stat => "<<<".into(),
            AssignOp::Concat => ".=".into(),
            AssignOp::Op(op) => format!("{}=", op.text()),
        }
    }
}

impl Expr {
    /// The token an expression is reported at.
    pub fn tok(&self) -> TokId {
        match self {
            Expr::Num(_, t)
            | Expr::Str(_, t)
            | Expr::Sym(_, t)
            | Expr::Index(t, ..)
            | Expr::Unary(t, ..)
            | Expr::Binary(t, ..)
            | Expr::Logical(t, ..)
            | Expr::Compare(t, ..)
            | Expr::Concat(t, ..)
            | Expr::Ternary(t, ..)
            | Expr::Assign(t, ..)
            | Expr::Crement(t, ..)
            | Expr::In(t, ..)
            | Expr::Stat(t, ..)
            | Expr::Call(t, ..)
            | Expr::Unsupported(t, _) => *t,
            Expr::Print(p) => p.tok,
        }
    }
}
