//! The parser's declarations and statements (expressions are in
//! `parse_expr.rs`), following stap's grammar and its messages. After an
//! error it skips to the next `probe`, `global` or `function`, as stap
//! does, so one run reports every parse error.

use crate::ast::{Component, DeclType, Function, Global, Literal, Probe, ProbePoint, Script};
use crate::diag::Diagnostic;
use crate::lexer::Lexer;
use crate::preprocess::{PpContext, Preprocessor};
use crate::source::{Sources, TokId, TokKind, Token};

/// A parse step's result.
pub type PResult<T> = Result<T, Diagnostic>;

/// Parses one source into `script`, its tokens into `sources`.
pub struct Parser<'a> {
    pp: Preprocessor<'a>,
    /// Where tokens go.
    pub sources: &'a mut Sources,
    peeked: Option<(TokId, bool)>,
    last: Option<TokId>,
    nargs: usize,
    /// Inside a function body (`return` is allowed).
    pub in_function: bool,
    guru: bool,
    /// Errors so far.
    pub errors: Vec<Diagnostic>,
}

/// A number literal's value, as strtoull with base 0 reads it (hex `0x`,
/// octal `0`, decimal), wrapping above i64::MAX as stap does.
pub fn parse_number(s: &str) -> Option<i64> {
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    if digits.is_empty() {
        return None;
    }
    u64::from_str_radix(digits, radix).ok().map(|v| v as i64)
}

impl<'a> Parser<'a> {
    /// A parser over source number `file`.
    pub fn new(
        sources: &'a mut Sources,
        file: u16,
        args: &'a [String],
        ctx: &'a PpContext,
    ) -> Parser<'a> {
        let text = sources.files[file as usize].text.clone();
        Parser {
            pp: Preprocessor::new(Lexer::new(&text, file, args), ctx),
            sources,
            peeked: None,
            last: None,
            nargs: args.len(),
            in_function: false,
            guru: ctx.guru,
            errors: Vec::new(),
        }
    }

    // ---- tokens -------------------------------------------------------

    /// The next token, without consuming it.
    pub fn peek(&mut self) -> PResult<Option<TokId>> {
        if self.peeked.is_none() {
            match self.pp.next_token() {
                Ok(Some(t)) => {
                    let ws = self.pp.ate_whitespace();
                    let id = self.sources.push(t);
                    self.peeked = Some((id, ws));
                }
                Ok(None) => return Ok(None),
                Err((msg, tok)) => {
                    let id = tok.map(|t| self.sources.push(t));
                    return Err(match id {
                        Some(id) => Diagnostic::parse_at(msg, id),
                        None => Diagnostic::parse(msg, None),
                    });
                }
            }
        }
        let id = self.peeked.map(|p| p.0);
        if id.is_some() {
            self.last = id;
        }
        Ok(id)
    }

    /// Whether whitespace came before the peeked token.
    pub fn peeked_after_whitespace(&self) -> bool {
        self.peeked.is_some_and(|p| p.1)
    }

    /// Consumes and returns the next token; the end of the text is an error.
    pub fn advance(&mut self) -> PResult<TokId> {
        match self.peek()? {
            Some(id) => {
                self.peeked = None;
                Ok(id)
            }
            None => Err(Diagnostic::parse("unexpected end-of-file", None)),
        }
    }

    /// A token's contents.
    pub fn tok(&self, id: TokId) -> &Token {
        self.sources.tok(id)
    }

    /// Whether the next token is operator `op`.
    pub fn peek_op(&mut self, op: &str) -> PResult<bool> {
        Ok(match self.peek()? {
            Some(id) => self.tok(id).is_op(op),
            None => false,
        })
    }

    /// Whether the next token is keyword `kw`.
    pub fn peek_kw(&mut self, kw: &str) -> PResult<bool> {
        Ok(match self.peek()? {
            Some(id) => self.tok(id).is_kw(kw),
            None => false,
        })
    }

    /// A parse error about the last token seen ("saw: …").
    pub fn error(&self, msg: impl Into<String>) -> Diagnostic {
        let mut d = Diagnostic::parse(msg, self.last);
        // A lexer complaint overrides what the parser expected.
        if let Some(id) = self.last {
            if let Some(m) = self.tok(id).junk_message(self.nargs) {
                d.message = m;
                d.at = true;
            }
        }
        d
    }

    /// Consumes operator `op` or fails with "expected 'op'".
    pub fn expect_op(&mut self, op: &str) -> PResult<TokId> {
        let id = self.advance()?;
        if self.tok(id).is_op(op) {
            Ok(id)
        } else {
            Err(self.error(format!("expected '{op}'")))
        }
    }

    /// Consumes one of the operators in `ops`.
    pub fn expect_op_any(&mut self, ops: &[&str]) -> PResult<(TokId, String)> {
        let id = self.advance()?;
        let t = self.tok(id);
        if t.kind == TokKind::Op && ops.contains(&t.text.as_str()) {
            return Ok((id, t.text.clone()));
        }
        Err(self.error(format!("expected one of '{}'", ops.join(" "))))
    }

    /// An identifier: its name and token.
    pub fn expect_ident(&mut self) -> PResult<(String, TokId)> {
        let id = self.advance()?;
        if self.tok(id).kind == TokKind::Ident {
            Ok((self.tok(id).text.clone(), id))
        } else {
            Err(self.error("expected identifier"))
        }
    }

    /// A number literal, possibly negative.
    pub fn expect_number(&mut self) -> PResult<i64> {
        let mut id = self.advance()?;
        let neg = self.tok(id).is_op("-");
        if neg {
            id = self.advance()?;
        }
        if self.tok(id).kind != TokKind::Num {
            return Err(self.error("expected number"));
        }
        self.number_value(id, neg)
    }

    fn number_value(&self, id: TokId, neg: bool) -> PResult<i64> {
        let text = &self.tok(id).text;
        match parse_number(text) {
            Some(v) if !neg || (v as u64) <= 1 << 63 => Ok(if neg { v.wrapping_neg() } else { v }),
            _ => Err(self.error("number invalid or out of range")),
        }
    }

    /// A string literal, with adjacent literals joined ("a" "b").
    pub fn expect_string(&mut self) -> PResult<(Vec<u8>, TokId)> {
        let id = self.advance()?;
        if self.tok(id).kind != TokKind::Str {
            return Err(self.error("expected literal string"));
        }
        Ok((self.string_value(id)?, id))
    }

    fn string_value(&mut self, first: TokId) -> PResult<Vec<u8>> {
        let mut v = self.tok(first).value.clone();
        while let Some(n) = self.peek()? {
            if self.tok(n).kind != TokKind::Str {
                break;
            }
            v.extend_from_slice(&self.tok(n).value);
            self.advance()?;
        }
        Ok(v)
    }

    /// A literal: a string, or a number with an optional `-`.
    pub fn parse_literal(&mut self) -> PResult<(Literal, TokId)> {
        let id = self.advance()?;
        if self.tok(id).kind == TokKind::Str {
            return Ok((Literal::Str(self.string_value(id)?), id));
        }
        let (id, neg) = if self.tok(id).is_op("-") {
            (self.advance()?, true)
        } else {
            (id, false)
        };
        if self.tok(id).kind != TokKind::Num {
            return Err(self.error("expected literal string or number"));
        }
        Ok((Literal::Num(self.number_value(id, neg)?), id))
    }

    // ---- declarations ---------------------------------------------------

    /// Parses the whole source into `script`; errors are in `self.errors`.
    pub fn parse(&mut self, script: &mut Script) {
        loop {
            let step = self.top_level(script);
            match step {
                Ok(true) => {}
                Ok(false) => break,
                Err(d) => {
                    self.errors.push(d);
                    // Recover at the next declaration.
                    loop {
                        match self.peek() {
                            Ok(Some(id)) => {
                                let t = self.tok(id);
                                if ["probe", "global", "private", "function"]
                                    .iter()
                                    .any(|k| t.is_kw(k))
                                    || t.kind == TokKind::Embedded
                                {
                                    break;
                                }
                                self.peeked = None;
                            }
                            Ok(None) => break,
                            Err(d) => {
                                self.errors.push(d);
                                self.peeked = None;
                                if self.peek().ok().flatten().is_none() {
                                    break;
                                }
                            }
                        }
                    }
                    if self.peek().ok().flatten().is_none() {
                        break;
                    }
                }
            }
        }
    }

    fn top_level(&mut self, script: &mut Script) -> PResult<bool> {
        let Some(id) = self.peek()? else {
            return Ok(false);
        };
        let t = self.tok(id).clone();
        if t.is_kw("probe") {
            self.in_function = false;
            let p = self.parse_probe()?;
            script.probes.push(p);
        } else if t.is_kw("global") || t.is_kw("private") {
            self.advance()?;
            if t.is_kw("private") && self.peek_kw("function")? {
                self.advance()?;
                let f = self.parse_function()?;
                script.functions.push(f);
            } else {
                self.parse_globals(script)?;
            }
        } else if t.is_kw("function") {
            self.advance()?;
            let f = self.parse_function()?;
            script.functions.push(f);
        } else if t.kind == TokKind::Embedded {
            self.advance()?;
            let msg = if self.guru {
                "embedded C code is not supported by socktap"
            } else {
                "embedded code in unprivileged script; need stap -g"
            };
            return Err(Diagnostic::parse_at(msg, id));
        } else {
            return Err(self.error("expected 'probe', 'global', 'private', 'function', or '%{'"));
        }
        Ok(true)
    }

    fn parse_globals(&mut self, script: &mut Script) -> PResult<()> {
        loop {
            let (name, tok) = self.expect_ident()?;
            if script.globals.iter().any(|g| g.name == name) {
                return Err(self.error("duplicate global name"));
            }
            let mut g = Global {
                name,
                tok,
                size: None,
                wrap: false,
                init: None,
            };
            if self.peek_op("%")? {
                self.advance()?;
                g.wrap = true;
            }
            if self.peek_op("[")? {
                self.advance()?;
                let n = self.expect_number()?;
                if n <= 0 || n > i64::from(i32::MAX) {
                    return Err(self.error("array size out of range"));
                }
                g.size = Some(n as u32);
                self.expect_op("]")?;
            }
            if self.peek_op("=")? {
                if g.size.is_some() {
                    return Err(self.error("only scalar globals can be initialized"));
                }
                self.advance()?;
                g.init = Some(self.parse_literal()?.0);
            }
            script.globals.push(g);
            if self.peek_op(";")? {
                self.advance()?;
                return Ok(());
            }
            if self.peek_op(",")? {
                self.advance()?;
                continue;
            }
            return Ok(());
        }
    }

    fn decl_type(&mut self) -> PResult<DeclType> {
        let id = self.advance()?;
        let t = self.tok(id);
        if t.is_kw("string") {
            Ok(DeclType::String)
        } else if t.is_kw("long") {
            Ok(DeclType::Long)
        } else {
            Err(self.error("expected 'string' or 'long'"))
        }
    }

    fn parse_function(&mut self) -> PResult<Function> {
        let id = self.advance()?;
        if self.tok(id).kind != TokKind::Ident {
            return Err(self.error("expected identifier"));
        }
        let name = self.tok(id).text.clone();
        let mut ret = None;
        if self.peek_op(":")? {
            self.advance()?;
            ret = Some(self.decl_type()?);
        }
        self.expect_op("(")?;
        let mut params: Vec<(String, TokId, Option<DeclType>)> = Vec::new();
        if self.peek_op(")")? {
            self.advance()?;
        } else {
            loop {
                let (p, ptok) = self.expect_ident()?;
                if params.iter().any(|q| q.0 == p) {
                    return Err(self.error("duplicate parameter names"));
                }
                let mut ty = None;
                if self.peek_op(":")? {
                    self.advance()?;
                    ty = Some(self.decl_type()?);
                }
                params.push((p, ptok, ty));
                let (_, sep) = self
                    .expect_op_any(&[",", ")"])
                    .map_err(|_| self.error("expected ',' or ')'"))?;
                if sep == ")" {
                    break;
                }
            }
        }
        self.in_function = true;
        let body = self.parse_block();
        self.in_function = false;
        Ok(Function {
            name,
            tok: id,
            ret,
            params,
            body: body?,
        })
    }

    fn parse_probe(&mut self) -> PResult<Probe> {
        let tok = self.advance()?;
        let mut points = Vec::new();
        loop {
            points.push(self.parse_probe_point()?);
            let Some(id) = self.peek()? else {
                return Err(self.error("expected one of ', { } = +='"));
            };
            let t = self.tok(id);
            if t.is_op(",") {
                self.advance()?;
                continue;
            }
            if t.is_op("{") {
                break;
            }
            if t.is_op("=") || t.is_op("+=") {
                return Err(Diagnostic::parse_at(
                    "probe aliases are not supported by socktap",
                    id,
                ));
            }
            return Err(self.error("expected one of ', { } = +='"));
        }
        let body = self.parse_block()?;
        Ok(Probe { tok, points, body })
    }

    fn parse_probe_point(&mut self) -> PResult<ProbePoint> {
        let mut components = Vec::new();
        loop {
            let id = self.advance()?;
            let t = self.tok(id);
            if !(matches!(t.kind, TokKind::Ident | TokKind::Keyword) || t.is_op("*")) {
                return Err(self.error("expected identifier or '*'"));
            }
            let mut functor = t.text.clone();
            // "send*" is two tokens: glue adjacent pieces back together.
            while let Some(n) = self.peek()? {
                let u = self.tok(n);
                let piece = matches!(u.kind, TokKind::Ident | TokKind::Keyword) || u.is_op("*");
                if self.peeked_after_whitespace() || !piece {
                    break;
                }
                functor.push_str(&u.text.clone());
                self.advance()?;
            }
            let mut arg = None;
            if self.peek_op("(")? {
                self.advance()?;
                arg = Some(self.parse_literal()?.0);
                self.expect_op(")")?;
            }
            components.push(Component {
                functor,
                tok: id,
                arg,
            });
            if self.peek_op(".")? {
                self.advance()?;
                continue;
            }
            break;
        }
        let mut pp = ProbePoint {
            components,
            optional: false,
            sufficient: false,
            condition: None,
        };
        if self.peek_op("?")? || self.peek_op("!")? {
            let id = self.advance()?;
            pp.optional = true;
            pp.sufficient = self.tok(id).is_op("!");
        }
        if self.peek_kw("if")? {
            self.advance()?;
            self.expect_op("(")?;
            pp.condition = Some(self.parse_expr()?);
            self.expect_op(")")?;
        }
        Ok(pp)
    }
}
