//! The parser's blocks and statements (declarations are in `parser.rs`,
//! expressions in `parse_expr.rs`), with stap's grammar and messages.

use crate::ast::{Block, Foreach, Indexable, StatOp, Stmt};
use crate::parser::{PResult, Parser};
use crate::source::{Junk, TokId, TokKind};

impl Parser<'_> {
    /// `{ statements }`
    pub fn parse_block(&mut self) -> PResult<Block> {
        let tok = self.advance()?;
        if !self.tok(tok).is_op("{") {
            return Err(self.error("expected '{'"));
        }
        let mut stmts = Vec::new();
        loop {
            if self.peek_op("}")? {
                self.advance()?;
                return Ok(Block { tok, stmts });
            }
            stmts.push(self.parse_statement()?);
        }
    }

    /// One statement, with an optional trailing `;` eaten.
    pub fn parse_statement(&mut self) -> PResult<Stmt> {
        let Some(id) = self.peek()? else {
            return Err(self.error("expected statement"));
        };
        let t = self.tok(id).clone();
        let stmt = if t.is_op(";") {
            self.advance()?;
            return Ok(Stmt::Null(id));
        } else if t.is_op("{") {
            return Ok(Stmt::Block(self.parse_block()?));
        } else if t.is_kw("try") {
            return self.parse_try();
        } else if t.is_kw("if") {
            return self.parse_if();
        } else if t.is_kw("for") {
            return self.parse_for();
        } else if t.is_kw("foreach") {
            return self.parse_foreach();
        } else if t.is_kw("while") {
            return self.parse_while();
        } else if t.is_kw("return") {
            self.advance()?;
            if !self.in_function {
                return Err(self.error("found 'return' not in function context"));
            }
            let value = match self.peek()? {
                None => return Err(self.error("expected ';', '}' or an expression statement")),
                Some(n) if self.tok(n).is_op(";") || self.tok(n).is_op("}") => None,
                Some(_) => Some(self.parse_expr()?),
            };
            Stmt::Return(id, value)
        } else if t.is_kw("delete") {
            self.advance()?;
            Stmt::Delete(id, self.parse_expr()?)
        } else if t.is_kw("break") {
            self.advance()?;
            Stmt::Break(id)
        } else if t.is_kw("continue") {
            self.advance()?;
            Stmt::Continue(id)
        } else if t.is_kw("next") {
            self.advance()?;
            Stmt::Next(id)
        } else if matches!(
            t.kind,
            TokKind::Op | TokKind::Ident | TokKind::Num | TokKind::Str | TokKind::Embedded
        ) || (t.is_kw("string") || t.is_kw("long"))
        {
            Stmt::Expr(self.parse_expr()?)
        } else {
            if let TokKind::Junk(j) = t.kind {
                if j != Junk::Unknown {
                    return Err(self.error("expected statement"));
                }
            }
            return Err(self.error("expected statement"));
        };
        if self.peek_op(";")? {
            self.advance()?;
        }
        Ok(stmt)
    }

    fn parse_try(&mut self) -> PResult<Stmt> {
        let tok = self.advance()?;
        let body = self.parse_block()?;
        let c = self.advance()?;
        if !self.tok(c).is_kw("catch") {
            return Err(self.error("expected 'catch'"));
        }
        let mut var = None;
        if self.peek_op("(")? {
            self.advance()?;
            var = Some(self.expect_ident()?);
            self.expect_op(")")?;
        }
        let catch = self.parse_block()?;
        Ok(Stmt::Try {
            tok,
            body,
            var,
            catch,
        })
    }

    /// `keyword ( expr )`: the keyword's token and the expression.
    fn keyword_condition(&mut self) -> PResult<(TokId, crate::ast::Expr)> {
        let tok = self.advance()?;
        self.expect_op("(")?;
        let cond = self.parse_expr()?;
        self.expect_op(")")?;
        Ok((tok, cond))
    }

    /// After an element of a bracketed list: true at the closing `]`,
    /// false after a `,`.
    pub fn list_end(&mut self) -> PResult<bool> {
        let (_, sep) = self
            .expect_op_any(&[",", "]"])
            .map_err(|_| self.error("expected ',' or ']'"))?;
        Ok(sep == "]")
    }

    /// Keys up to the closing `]` (the `[` is consumed): `item`s or `*`.
    pub fn key_list(
        &mut self,
        item: fn(&mut Self) -> PResult<crate::ast::Expr>,
    ) -> PResult<Vec<Option<crate::ast::Expr>>> {
        let mut keys = Vec::new();
        loop {
            if self.peek_op("*")? {
                self.advance()?;
                keys.push(None);
            } else {
                keys.push(Some(item(self)?));
            }
            if self.list_end()? {
                return Ok(keys);
            }
        }
    }

    fn parse_if(&mut self) -> PResult<Stmt> {
        let (tok, cond) = self.keyword_condition()?;
        let then = Box::new(self.parse_statement()?);
        let els = if self.peek_kw("else")? {
            self.advance()?;
            Some(Box::new(self.parse_statement()?))
        } else {
            None
        };
        Ok(Stmt::If {
            tok,
            cond,
            then,
            els,
        })
    }

    fn parse_for(&mut self) -> PResult<Stmt> {
        let tok = self.advance()?;
        self.expect_op("(")?;
        let init = if self.peek_op(";")? {
            None
        } else {
            Some(self.parse_expr()?)
        };
        self.expect_op(";")?;
        let cond = if self.peek_op(";")? {
            let id = self.advance()?;
            return self.for_rest(tok, init, crate::ast::Expr::Num(1, id));
        } else {
            self.parse_expr()?
        };
        self.expect_op(";")?;
        self.for_rest(tok, init, cond)
    }

    fn for_rest(
        &mut self,
        tok: TokId,
        init: Option<crate::ast::Expr>,
        cond: crate::ast::Expr,
    ) -> PResult<Stmt> {
        let step = if self.peek_op(")")? {
            None
        } else {
            Some(self.parse_expr()?)
        };
        self.expect_op(")")?;
        let body = Box::new(self.parse_statement()?);
        Ok(Stmt::For {
            tok,
            init,
            cond,
            step,
            body,
        })
    }

    fn parse_while(&mut self) -> PResult<Stmt> {
        let (tok, cond) = self.keyword_condition()?;
        let body = Box::new(self.parse_statement()?);
        Ok(Stmt::For {
            tok,
            init: None,
            cond,
            step: None,
            body,
        })
    }

    fn sort_mark(&mut self) -> PResult<Option<i8>> {
        if self.peek_op("+")? {
            self.advance()?;
            return Ok(Some(1));
        }
        if self.peek_op("-")? {
            self.advance()?;
            return Ok(Some(-1));
        }
        Ok(None)
    }

    fn parse_foreach(&mut self) -> PResult<Stmt> {
        let tok = self.advance()?;
        self.expect_op("(")?;
        let mut value = None;
        let mut keys = Vec::new();
        let mut sort: Option<(usize, i8)> = None;
        let mut lookahead = None;
        if let Some(id) = self.peek()? {
            if self.tok(id).kind == TokKind::Ident {
                let sym = self.expect_ident()?;
                let mark = self.sort_mark()?;
                if self.peek_op("=")? {
                    self.advance()?;
                    value = Some(sym);
                    sort = mark.map(|d| (0, d));
                } else {
                    lookahead = Some((sym, mark));
                }
            }
        }
        if let Some((sym, mark)) = lookahead {
            keys.push(sym);
            sort = mark.map(|d| (1, d));
        } else {
            let bracketed = self.peek_op("[")?;
            if bracketed {
                self.advance()?;
            }
            loop {
                keys.push(self.expect_ident()?);
                if let Some(d) = self.sort_mark()? {
                    if sort.is_some() {
                        return Err(self.error("multiple sort directives"));
                    }
                    sort = Some((keys.len(), d));
                }
                if !bracketed || self.list_end()? {
                    break;
                }
            }
        }
        let kw = self.advance()?;
        if !self.tok(kw).is_kw("in") {
            return Err(self.error("expected 'in'"));
        }
        let base = self.parse_indexable()?;
        let mut slice = Vec::new();
        if self.peek_op("[")? {
            self.advance()?;
            slice = self.key_list(Self::parse_expr)?;
        }
        let mut sort_aggr = None;
        if let Some(id) = self.peek()? {
            let t = self.tok(id);
            if t.kind == TokKind::Op && t.text.starts_with('@') {
                let Some(op) = StatOp::from_name(&t.text) else {
                    return Err(self.error("expected statistical operation"));
                };
                self.advance()?;
                sort_aggr = Some(op);
                if !(self.peek_op("+")? || self.peek_op("-")?) {
                    return Err(self.error("expected sort directive"));
                }
            }
        }
        if let Some(d) = self.sort_mark()? {
            if sort.is_some() {
                return Err(self.error("multiple sort directives"));
            }
            sort = Some((0, d));
        }
        let mut limit = None;
        if self.peek_kw("limit")? {
            self.advance()?;
            limit = Some(self.parse_expr()?);
        }
        self.expect_op(")")?;
        let body = self.parse_statement()?;
        Ok(Stmt::Foreach(Box::new(Foreach {
            tok,
            value,
            keys,
            sort,
            sort_aggr,
            base,
            slice,
            limit,
            body,
        })))
    }

    /// An array name or a histogram: what `in` and `foreach` take.
    pub fn parse_indexable(&mut self) -> PResult<Indexable> {
        let id = self.advance()?;
        let t = self.tok(id).clone();
        if t.kind == TokKind::Op && (t.text == "@hist_log" || t.text == "@hist_linear") {
            return Ok(Indexable::Hist(Box::new(self.hist_rest(id)?)));
        }
        if t.kind == TokKind::Ident {
            return Ok(Indexable::Sym(t.text, id));
        }
        Err(self.error("expected identifier or statistical operation"))
    }
}
