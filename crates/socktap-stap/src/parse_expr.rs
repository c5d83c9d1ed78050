//! The parser's expressions, by stap's precedence, loosest first:
//! assignment (right-associative), `?:`, `||`, `&&`, `|`, `^`, `&`, `in`,
//! comparisons, shifts, `.`, `+ -`, `* / %`, unary, `++`/`--`, values.

use crate::ast::{AssignOp, BinOp, CmpOp, Expr, HistOp, Indexable, Print, StatOp, UnOp};
use crate::parser::{PResult, Parser};
use crate::source::{TokId, TokKind};

impl Parser<'_> {
    /// One expression.
    pub fn parse_expr(&mut self) -> PResult<Expr> {
        let left = self.parse_ternary()?;
        let Some(id) = self.peek()? else {
            return Ok(left);
        };
        let t = self.tok(id);
        if t.kind != TokKind::Op {
            return Ok(left);
        }
        let op = match t.text.as_str() {
            "=" => AssignOp::Set,
            "<<<" => AssignOp::Stat,
            ".=" => AssignOp::Concat,
            "+=" => AssignOp::Op(BinOp::Add),
            "-=" => AssignOp::Op(BinOp::Sub),
            "*=" => AssignOp::Op(BinOp::Mul),
            "/=" => AssignOp::Op(BinOp::Div),
            "%=" => AssignOp::Op(BinOp::Mod),
            "<<=" => AssignOp::Op(BinOp::Shl),
            ">>=" => AssignOp::Op(BinOp::Shr),
            "&=" => AssignOp::Op(BinOp::And),
            "^=" => AssignOp::Op(BinOp::Xor),
            "|=" => AssignOp::Op(BinOp::Or),
            _ => return Ok(left),
        };
        self.advance()?;
        let right = self.parse_expr()?;
        Ok(Expr::Assign(id, op, Box::new(left), Box::new(right)))
    }

    fn parse_ternary(&mut self) -> PResult<Expr> {
        let cond = self.parse_logical(false)?;
        if !self.peek_op("?")? {
            return Ok(cond);
        }
        let id = self.advance()?;
        let t = self.parse_expr()?;
        self.expect_op(":")?;
        let f = self.parse_ternary()?;
        Ok(Expr::Ternary(id, Box::new(cond), Box::new(t), Box::new(f)))
    }

    /// `||` (and == false) over `&&` (and == true) over the bitwise levels.
    fn parse_logical(&mut self, and: bool) -> PResult<Expr> {
        let op = if and { "&&" } else { "||" };
        let mut left = if and {
            self.parse_bitwise(0)?
        } else {
            self.parse_logical(true)?
        };
        while self.peek_op(op)? {
            let id = self.advance()?;
            let right = if and {
                self.parse_bitwise(0)?
            } else {
                self.parse_logical(true)?
            };
            left = Expr::Logical(id, and, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    /// `|` (level 0) over `^` (1) over `&` (2) over `in`.
    fn parse_bitwise(&mut self, level: u8) -> PResult<Expr> {
        let (text, op) = match level {
            0 => ("|", BinOp::Or),
            1 => ("^", BinOp::Xor),
            _ => ("&", BinOp::And),
        };
        let sub = |p: &mut Self| {
            if level < 2 {
                p.parse_bitwise(level + 1)
            } else {
                p.parse_array_in()
            }
        };
        let mut left = sub(self)?;
        while self.peek_op(text)? {
            let id = self.advance()?;
            let right = sub(self)?;
            left = Expr::Binary(id, op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_array_in(&mut self) -> PResult<Expr> {
        let mut keys = if self.peek_op("[")? {
            self.advance()?;
            self.key_list(Self::parse_comparison)?
        } else {
            vec![Some(self.parse_comparison()?)]
        };
        if self.peek_kw("in")? {
            self.advance()?;
            let base = self.parse_indexable()?;
            let tok = match &base {
                Indexable::Sym(_, t) => *t,
                Indexable::Hist(h) => h.tok,
            };
            return Ok(Expr::In(tok, keys, base));
        }
        if keys.len() == 1 {
            if let Some(Some(e)) = keys.pop() {
                return Ok(e);
            }
        }
        Err(self.error("unexpected comma-separated expression list"))
    }

    fn parse_comparison(&mut self) -> PResult<Expr> {
        let mut left = self.parse_shift()?;
        if self.peek_op("=~")? || self.peek_op("!~")? {
            let id = self.advance()?;
            self.expect_string()?;
            return Ok(Expr::Unsupported(id, "regular expression matching".into()));
        }
        while let Some(id) = self.peek()? {
            let t = self.tok(id);
            let op = match (t.kind, t.text.as_str()) {
                (TokKind::Op, "==") => CmpOp::Eq,
                (TokKind::Op, "!=") => CmpOp::Ne,
                (TokKind::Op, "<") => CmpOp::Lt,
                (TokKind::Op, "<=") => CmpOp::Le,
                (TokKind::Op, ">") => CmpOp::Gt,
                (TokKind::Op, ">=") => CmpOp::Ge,
                _ => break,
            };
            self.advance()?;
            let right = self.parse_shift()?;
            left = Expr::Compare(id, op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn binary_level(
        &mut self,
        ops: &[(&str, BinOp)],
        sub: fn(&mut Self) -> PResult<Expr>,
    ) -> PResult<Expr> {
        let mut left = sub(self)?;
        while let Some(id) = self.peek()? {
            let t = self.tok(id);
            let Some(&(_, op)) = ops
                .iter()
                .find(|(s, _)| t.kind == TokKind::Op && t.text == *s)
            else {
                break;
            };
            self.advance()?;
            let right = sub(self)?;
            left = Expr::Binary(id, op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_shift(&mut self) -> PResult<Expr> {
        self.binary_level(
            &[("<<", BinOp::Shl), (">>", BinOp::Shr), (">>>", BinOp::Ushr)],
            Self::parse_concat,
        )
    }

    fn parse_concat(&mut self) -> PResult<Expr> {
        let first = self.parse_additive()?;
        if !self.peek_op(".")? {
            return Ok(first);
        }
        let tok = first.tok();
        let mut parts = vec![first];
        while self.peek_op(".")? {
            self.advance()?;
            parts.push(self.parse_additive()?);
        }
        Ok(Expr::Concat(tok, parts))
    }

    fn parse_additive(&mut self) -> PResult<Expr> {
        self.binary_level(
            &[("+", BinOp::Add), ("-", BinOp::Sub)],
            Self::parse_multiplicative,
        )
    }

    fn parse_multiplicative(&mut self) -> PResult<Expr> {
        self.binary_level(
            &[("*", BinOp::Mul), ("/", BinOp::Div), ("%", BinOp::Mod)],
            Self::parse_unary,
        )
    }

    fn parse_unary(&mut self) -> PResult<Expr> {
        if let Some(id) = self.peek()? {
            let t = self.tok(id);
            let op = match (t.kind, t.text.as_str()) {
                (TokKind::Op, "+") => Some(UnOp::Plus),
                (TokKind::Op, "-") => Some(UnOp::Neg),
                (TokKind::Op, "!") => Some(UnOp::Not),
                (TokKind::Op, "~") => Some(UnOp::BitNot),
                _ => None,
            };
            if let Some(op) = op {
                self.advance()?;
                let e = self.parse_unary()?;
                return Ok(Expr::Unary(id, op, Box::new(e)));
            }
        }
        self.parse_crement()
    }

    fn parse_crement(&mut self) -> PResult<Expr> {
        if self.peek_op("++")? || self.peek_op("--")? {
            let id = self.advance()?;
            let d = if self.tok(id).text == "++" { 1 } else { -1 };
            let e = self.parse_value()?;
            return Ok(Expr::Crement(id, d, true, Box::new(e)));
        }
        let e = self.parse_value()?;
        if self.peek_op("++")? || self.peek_op("--")? {
            let id = self.advance()?;
            let d = if self.tok(id).text == "++" { 1 } else { -1 };
            return Ok(Expr::Crement(id, d, false, Box::new(e)));
        }
        Ok(e)
    }

    fn parse_value(&mut self) -> PResult<Expr> {
        let Some(id) = self.peek()? else {
            return Err(self.error("expected value"));
        };
        let t = self.tok(id).clone();
        if t.kind == TokKind::Embedded {
            self.advance()?;
            return Err(crate::diag::Diagnostic::parse_at(
                "embedded expression code in unprivileged script; need stap -g",
                id,
            ));
        }
        if t.is_op("(") {
            self.advance()?;
            let e = self.parse_expr()?;
            self.expect_op(")")?;
            return Ok(e);
        }
        if t.is_op("&") {
            self.advance()?;
            return Ok(Expr::Unsupported(id, "the address-of operator".into()));
        }
        if t.kind == TokKind::Ident && t.text.starts_with('$') {
            self.advance()?;
            return Ok(Expr::Unsupported(id, format!("target variable {}", t.text)));
        }
        // `string(x)`: socktap's conversion of a number to a string.
        if t.is_kw("string") {
            self.advance()?;
            if self.peek_op("(")? {
                return self.call_rest(id, "string".into());
            }
            return Err(self.error("expected value"));
        }
        if t.kind == TokKind::Ident || (t.kind == TokKind::Op && t.text.starts_with('@')) {
            return self.parse_symbol();
        }
        let (lit, lid) = self.parse_literal()?;
        Ok(match lit {
            crate::ast::Literal::Num(n) => Expr::Num(n, lid),
            crate::ast::Literal::Str(s) => Expr::Str(s, lid),
        })
    }

    /// After `@hist_log` / `@hist_linear`: `(stat[, lo, hi, step])`.
    pub fn hist_rest(&mut self, tok: TokId) -> PResult<HistOp> {
        let linear = self.tok(tok).text == "@hist_linear";
        self.expect_op("(")?;
        let stat = self.parse_expr()?;
        let mut params = None;
        if linear {
            let mut p = [0i64; 3];
            for v in &mut p {
                self.expect_op(",")?;
                *v = self.expect_number()?;
            }
            params = Some((p[0], p[1], p[2]));
        }
        self.expect_op(")")?;
        Ok(HistOp {
            tok,
            linear: params,
            stat,
        })
    }

    fn call_rest(&mut self, tok: TokId, name: String) -> PResult<Expr> {
        self.expect_op("(")?;
        let mut args = Vec::new();
        if self.peek_op(")")? {
            self.advance()?;
            return Ok(Expr::Call(tok, name, args));
        }
        loop {
            args.push(self.parse_expr()?);
            let (_, sep) = self.expect_op_any(&[")", ","])?;
            if sep == ")" {
                return Ok(Expr::Call(tok, name, args));
            }
        }
    }

    fn skip_parenthesized(&mut self) -> PResult<()> {
        if !self.peek_op("(")? {
            return Ok(());
        }
        let mut depth = 0;
        loop {
            let id = self.advance()?;
            if self.tok(id).is_op("(") {
                depth += 1;
            } else if self.tok(id).is_op(")") {
                depth -= 1;
                if depth == 0 {
                    return Ok(());
                }
            }
        }
    }

    fn parse_symbol(&mut self) -> PResult<Expr> {
        let id = self.advance()?;
        let name = self.tok(id).text.clone();
        if name == "@hist_log" || name == "@hist_linear" {
            let h = self.hist_rest(id)?;
            if self.peek_op("[")? {
                return self.index_rest(id, Indexable::Hist(Box::new(h)));
            }
            return Err(crate::diag::Diagnostic::parse_at(
                "base histogram operator where expression expected",
                id,
            ));
        }
        if name.starts_with('@') {
            if let Some(op) = StatOp::from_name(&name) {
                self.expect_op("(")?;
                let e = self.parse_expr()?;
                let mut shift = None;
                loop {
                    let (sep_id, sep) = self.expect_op_any(&[")", ","])?;
                    if sep == ")" {
                        break;
                    }
                    if op != StatOp::Variance || shift.is_some() {
                        let n = if op == StatOp::Variance { 2 } else { 1 };
                        let word = if n == 1 { "parameter" } else { "parameters" };
                        return Err(crate::diag::Diagnostic::parse_at(
                            format!("not more than {n} {word} allowed"),
                            sep_id,
                        ));
                    }
                    shift = Some(self.expect_number()?);
                }
                return Ok(Expr::Stat(id, op, Box::new(e), shift));
            }
            if matches!(
                name.as_str(),
                "@defined"
                    | "@entry"
                    | "@perf"
                    | "@const"
                    | "@cast"
                    | "@var"
                    | "@probewrite"
                    | "@kregister"
                    | "@uregister"
                    | "@kderef"
                    | "@uderef"
                    | "@enum"
                    | "@enumname"
            ) {
                self.skip_parenthesized()?;
                return Ok(Expr::Unsupported(id, format!("the {name} operator")));
            }
            return Err(crate::diag::Diagnostic::parse_at(
                format!("unknown operator {name}"),
                id,
            ));
        }
        if let Some(p) = print_kind(&name) {
            return self.print_rest(id, p);
        }
        if self.peek_op("(")? {
            return self.call_rest(id, name);
        }
        if self.peek_op("[")? {
            return self.index_rest(id, Indexable::Sym(name, id));
        }
        Ok(Expr::Sym(name, id))
    }

    fn index_rest(&mut self, tok: TokId, base: Indexable) -> PResult<Expr> {
        self.expect_op("[")?;
        Ok(Expr::Index(tok, base, self.key_list(Self::parse_expr)?))
    }

    fn print_rest(&mut self, tok: TokId, mut p: Print) -> PResult<Expr> {
        p.tok = tok;
        self.expect_op("(")?;
        let plain = !p.char && p.format.is_none() && p.delim.is_none();
        if plain && (self.peek_op("@hist_log")? || self.peek_op("@hist_linear")?) {
            let hid = self.advance()?;
            let h = self.hist_rest(hid)?;
            if self.peek_op("[")? {
                let e = self.index_rest(hid, Indexable::Hist(Box::new(h)))?;
                p.args.push(e);
                while !self.peek_op(")")? {
                    self.expect_op_any(&[",", ")"])?;
                    p.args.push(self.parse_expr()?);
                }
            } else {
                p.hist = Some(Box::new(h));
            }
            self.expect_op(")")?;
            return Ok(Expr::Print(Box::new(p)));
        }
        let mut consumed = false;
        let mut min_args: usize = 0;
        if p.format.is_some() {
            p.format = Some(self.expect_string()?.0);
            consumed = true;
        } else if p.delim.is_some() {
            p.delim = Some(self.expect_string()?.0);
            consumed = true;
            min_args = 2;
        } else if !p.newline || p.char {
            min_args = 1;
        }
        while min_args > 0 || !self.peek_op(")")? {
            if consumed {
                self.expect_op_any(&[",", ")"])?;
            }
            p.args.push(self.parse_expr()?);
            consumed = true;
            min_args = min_args.saturating_sub(1);
        }
        self.expect_op(")")?;
        Ok(Expr::Print(Box::new(p)))
    }
}

/// The print-family function a name denotes, as stap derives it from the
/// name: `s` prefix returns a string, `f` takes a format, `d` a
/// delimiter, `ln` adds a newline.
fn print_kind(name: &str) -> Option<Print> {
    let blank = Print {
        tok: TokId(0),
        stream: true,
        format: None,
        delim: None,
        newline: false,
        char: false,
        args: Vec::new(),
        hist: None,
    };
    if name == "print_char" {
        return Some(Print {
            char: true,
            ..blank
        });
    }
    let (stream, rest) = match name.strip_prefix('s') {
        Some(r) => (false, r),
        None => (true, name),
    };
    let rest = rest.strip_prefix("print")?;
    let mut p = Print { stream, ..blank };
    let rest = if let Some(r) = rest.strip_prefix('f') {
        p.format = Some(Vec::new());
        r
    } else {
        let r = match rest.strip_prefix('d') {
            Some(r) => {
                p.delim = Some(Vec::new());
                r
            }
            None => rest,
        };
        match r.strip_prefix("ln") {
            Some(r) => {
                p.newline = true;
                r
            }
            None => r,
        }
    };
    rest.is_empty().then_some(p)
}
