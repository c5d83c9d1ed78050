//! The parse tree as script text, for `-p1` (stap prints its parse tree
//! there): one statement per line, every operation parenthesized, so the
//! printout shows how the script was read.

use std::fmt::Write;

use crate::ast::{AssignOp, Block, Expr, Indexable, Literal, Script, Stmt, UnOp};

fn lit(l: &Literal) -> String {
    match l {
        Literal::Num(n) => n.to_string(),
        Literal::Str(s) => crate::lexer::quote(&String::from_utf8_lossy(s)),
    }
}

fn indexable(i: &Indexable) -> String {
    match i {
        Indexable::Sym(n, _) => n.clone(),
        Indexable::Hist(h) => match h.linear {
            None => format!("@hist_log({})", expr(&h.stat)),
            Some((a, b, c)) => format!("@hist_linear({}, {a}, {b}, {c})", expr(&h.stat)),
        },
    }
}

fn keys(k: &[Option<Expr>]) -> String {
    k.iter()
        .map(|k| k.as_ref().map_or("*".to_string(), expr))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An expression as text.
pub fn expr(e: &Expr) -> String {
    match e {
        Expr::Num(n, _) => n.to_string(),
        Expr::Str(s, _) => crate::lexer::quote(&String::from_utf8_lossy(s)),
        Expr::Sym(n, _) => n.clone(),
        Expr::Index(_, b, k) => format!("{}[{}]", indexable(b), keys(k)),
        Expr::Unary(_, op, x) => {
            let o = match op {
                UnOp::Neg => "-",
                UnOp::Plus => "+",
                UnOp::Not => "!",
                UnOp::BitNot => "~",
            };
            format!("{o}({})", expr(x))
        }
        Expr::Binary(_, op, l, r) => format!("({}) {} ({})", expr(l), op.text(), expr(r)),
        Expr::Logical(_, and, l, r) => format!(
            "({}) {} ({})",
            expr(l),
            if *and { "&&" } else { "||" },
            expr(r)
        ),
        Expr::Compare(_, op, l, r) => format!("({}) {} ({})", expr(l), op.text(), expr(r)),
        Expr::Concat(_, parts) => parts
            .iter()
            .map(|p| format!("({})", expr(p)))
            .collect::<Vec<_>>()
            .join(" . "),
        Expr::Ternary(_, c, t, f) => format!("({}) ? ({}) : ({})", expr(c), expr(t), expr(f)),
        Expr::Assign(_, op, l, r) => {
            let o = match op {
                AssignOp::Set => "=".to_string(),
                other => other.text(),
            };
            format!("{} {o} ({})", expr(l), expr(r))
        }
        Expr::Crement(_, d, pre, x) => {
            let o = if *d > 0 { "++" } else { "--" };
            if *pre {
                format!("{o}{}", expr(x))
            } else {
                format!("{}{o}", expr(x))
            }
        }
        Expr::In(_, k, b) => format!("[{}] in {}", keys(k), indexable(b)),
        Expr::Stat(_, op, x, shift) => match shift {
            Some(s) => format!("{}({}, {s})", op.name(), expr(x)),
            None => format!("{}({})", op.name(), expr(x)),
        },
        Expr::Call(_, name, args) => format!(
            "{name}({})",
            args.iter().map(expr).collect::<Vec<_>>().join(", ")
        ),
        Expr::Print(p) => {
            let mut name = String::new();
            if !p.stream {
                name.push('s');
            }
            name.push_str(if p.char { "print_char" } else { "print" });
            let mut args: Vec<String> = Vec::new();
            if let Some(f) = &p.format {
                name.push('f');
                args.push(crate::lexer::quote(&String::from_utf8_lossy(f)));
            }
            if let Some(d) = &p.delim {
                name.push('d');
                args.push(crate::lexer::quote(&String::from_utf8_lossy(d)));
            }
            if p.newline {
                name.push_str("ln");
            }
            if let Some(h) = &p.hist {
                args.push(indexable(&Indexable::Hist(h.clone())));
            }
            args.extend(p.args.iter().map(expr));
            format!("{name}({})", args.join(", "))
        }
        Expr::Unsupported(_, what) => format!("/* {what} */"),
    }
}

fn block(out: &mut String, b: &Block, depth: usize) {
    out.push_str("{\n");
    for s in &b.stmts {
        stmt(out, s, depth + 1);
    }
    out.push_str(&"  ".repeat(depth));
    out.push('}');
}

fn stmt(out: &mut String, s: &Stmt, depth: usize) {
    let pad = "  ".repeat(depth);
    out.push_str(&pad);
    match s {
        Stmt::Block(b) => block(out, b, depth),
        Stmt::Null(_) => out.push(';'),
        Stmt::Expr(e) => out.push_str(&expr(e)),
        Stmt::If {
            cond, then, els, ..
        } => {
            let _ = writeln!(out, "if ({})", expr(cond));
            stmt(out, then, depth + 1);
            if let Some(e) = els {
                let _ = writeln!(out, "\n{pad}else");
                stmt(out, e, depth + 1);
            }
        }
        Stmt::For {
            init,
            cond,
            step,
            body,
            ..
        } => {
            let o = |e: &Option<Expr>| e.as_ref().map(expr).unwrap_or_default();
            let _ = writeln!(out, "for ({}; {}; {})", o(init), expr(cond), o(step));
            stmt(out, body, depth + 1);
        }
        Stmt::Foreach(f) => {
            let mut head = String::new();
            if let Some((v, _)) = &f.value {
                head.push_str(v);
                head.push_str(" = ");
            }
            let ks: Vec<&str> = f.keys.iter().map(|k| k.0.as_str()).collect();
            let _ = write!(head, "[{}] in {}", ks.join(", "), indexable(&f.base));
            if let Some((col, dir)) = f.sort {
                let _ = write!(
                    head,
                    " /* sorted by column {col} {} */",
                    if dir > 0 { "+" } else { "-" }
                );
            }
            if let Some(l) = &f.limit {
                let _ = write!(head, " limit {}", expr(l));
            }
            let _ = writeln!(out, "foreach ({head})");
            stmt(out, &f.body, depth + 1);
        }
        Stmt::Break(_) => out.push_str("break"),
        Stmt::Continue(_) => out.push_str("continue"),
        Stmt::Next(_) => out.push_str("next"),
        Stmt::Return(_, v) => {
            out.push_str("return");
            if let Some(v) = v {
                out.push(' ');
                out.push_str(&expr(v));
            }
        }
        Stmt::Delete(_, e) => {
            out.push_str("delete ");
            out.push_str(&expr(e));
        }
        Stmt::Try {
            body, var, catch, ..
        } => {
            out.push_str("try ");
            block(out, body, depth);
            out.push_str(" catch");
            if let Some((v, _)) = var {
                let _ = write!(out, " ({v})");
            }
            out.push(' ');
            block(out, catch, depth);
        }
    }
    out.push('\n');
}

/// The whole parse tree, as stap's `-p1` heads it.
pub fn script(s: &Script, file: &str) -> String {
    let mut out = format!("# parse tree dump\n# file {file}\n");
    for g in &s.globals {
        let _ = write!(out, "global {}", g.name);
        if let Some(n) = g.size {
            let _ = write!(out, "[{n}]");
        }
        if let Some(i) = &g.init {
            let _ = write!(out, " = {}", lit(i));
        }
        out.push('\n');
    }
    for f in &s.functions {
        let params: Vec<&str> = f.params.iter().map(|p| p.0.as_str()).collect();
        let _ = write!(out, "function {}({}) ", f.name, params.join(", "));
        block(&mut out, &f.body, 0);
        out.push('\n');
    }
    for p in &s.probes {
        let points: Vec<String> = p
            .points
            .iter()
            .map(|pp| {
                let mut s: Vec<String> = pp
                    .components
                    .iter()
                    .map(|c| match &c.arg {
                        Some(a) => format!("{}({})", c.functor, lit(a)),
                        None => c.functor.clone(),
                    })
                    .collect();
                if pp.sufficient {
                    s.last_mut().into_iter().for_each(|x| x.push('!'));
                } else if pp.optional {
                    s.last_mut().into_iter().for_each(|x| x.push('?'));
                }
                s.join(".")
            })
            .collect();
        let _ = write!(out, "probe {} ", points.join(", "));
        block(&mut out, &p.body, 0);
        out.push('\n');
    }
    out
}
