//! stap's preprocessor conditionals, `%( COND %? THEN %: ELSE %)`, decided
//! while tokens are read: on `kernel_v`, `kernel_vr`, `systemtap_v`
//! (version comparisons, or globs with `==`/`!=`), `arch`, `runtime`,
//! `systemtap_privilege`, `guru_mode`, `CONFIG_*`, and comparisons of
//! literals (`$#`/`@#` become literals before this sees them).

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::lexer::Lexer;
use crate::source::{TokKind, Token};

/// What the conditionals can ask about.
#[derive(Debug, Clone)]
pub struct PpContext {
    /// `uname -r`, e.g. `6.1.0-28-amd64`.
    pub kernel_vr: String,
    /// The release up to its first `-`: `6.1.0`.
    pub kernel_v: String,
    /// `uname -m`.
    pub arch: String,
    /// The stap version scripts are told they run under.
    pub systemtap_v: String,
    /// `-g` given.
    pub guru: bool,
    /// The kernel's configuration, when readable.
    pub config: HashMap<String, String>,
}

impl PpContext {
    /// For a kernel release and architecture.
    pub fn new(kernel_vr: &str, arch: &str) -> PpContext {
        PpContext {
            kernel_vr: kernel_vr.to_string(),
            kernel_v: kernel_vr.split('-').next().unwrap_or("").to_string(),
            arch: arch.to_string(),
            systemtap_v: crate::COMPATIBLE_VERSION.to_string(),
            guru: false,
            config: HashMap::new(),
        }
    }
}

/// A preprocessing error: the message and the token it is about.
pub type PpError = (String, Option<Token>);

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    KeepThen,
    SkipThen,
    KeepElse,
    SkipElse,
}

/// Tokens with the conditionals applied.
pub struct Preprocessor<'a> {
    lexer: Lexer<'a>,
    ctx: &'a PpContext,
    stack: Vec<(Token, State)>,
}

impl<'a> Preprocessor<'a> {
    /// Over a lexer.
    pub fn new(lexer: Lexer<'a>, ctx: &'a PpContext) -> Preprocessor<'a> {
        Preprocessor {
            lexer,
            ctx,
            stack: Vec::new(),
        }
    }

    /// Whether whitespace preceded the last token read.
    pub fn ate_whitespace(&self) -> bool {
        self.lexer.ate_whitespace
    }

    /// The next token that survives the conditionals.
    pub fn next_token(&mut self) -> Result<Option<Token>, PpError> {
        loop {
            let state = self.stack.last().map(|s| s.1);
            let t = if matches!(state, Some(State::SkipThen | State::SkipElse)) {
                self.skip()
            } else {
                self.lexer.scan()
            };
            let Some(t) = t else {
                if let Some((open, _)) = self.stack.pop() {
                    return Err(("incomplete conditional at end of file".into(), Some(open)));
                }
                return Ok(None);
            };
            if t.is_op("%?") {
                return Err(("incomplete conditional - missing '%('".into(), Some(t)));
            }
            if t.is_op("%:") {
                let Some(top) = self.stack.last_mut() else {
                    return Err(("incomplete conditional - missing '%('".into(), Some(t)));
                };
                top.1 = match top.1 {
                    State::KeepThen => State::SkipElse,
                    State::SkipThen => State::KeepElse,
                    _ => return Err(("invalid conditional - duplicate '%:'".into(), Some(t))),
                };
                continue;
            }
            if t.is_op("%)") {
                if self.stack.pop().is_none() {
                    return Err(("incomplete conditional - missing '%('".into(), Some(t)));
                }
                continue;
            }
            if !t.is_op("%(") {
                return Ok(Some(t));
            }
            let result = self.condition(&t)?;
            let state = if result {
                State::KeepThen
            } else {
                State::SkipThen
            };
            self.stack.push((t, state));
        }
    }

    fn condition(&mut self, open: &Token) -> Result<bool, PpError> {
        let mut result = false;
        let mut and_result = true;
        loop {
            let (Some(l), Some(op), Some(r)) =
                (self.lexer.scan(), self.lexer.scan(), self.lexer.scan())
            else {
                return Err(("incomplete condition after '%('".into(), Some(open.clone())));
            };
            and_result &= eval(self.ctx, &l, &op, &r)?;
            let n = self.lexer.scan();
            if n.as_ref().is_some_and(|n| n.is_op("&&")) {
                continue;
            }
            result |= and_result;
            and_result = true;
            if n.as_ref().is_some_and(|n| n.is_op("||")) {
                continue;
            }
            if n.as_ref().is_some_and(|n| n.is_op("%?")) {
                return Ok(result);
            }
            return Err((
                "expected '%?' marker for conditional".into(),
                Some(open.clone()),
            ));
        }
    }

    /// Skips tokens up to the `%:`, `%?` or `%)` of this level, heeding
    /// nested conditionals; that token is returned.
    fn skip(&mut self) -> Option<Token> {
        let mut nesting = 0;
        loop {
            let t = self.lexer.scan()?;
            if t.is_op("%(") {
                nesting += 1;
            } else if nesting > 0 && t.is_op("%)") {
                nesting -= 1;
            } else if nesting == 0 && (t.is_op("%:") || t.is_op("%?") || t.is_op("%)")) {
                return Some(t);
            }
        }
    }
}

fn compare<T: PartialOrd>(l: &T, op: &Token, r: &T) -> Result<bool, PpError> {
    Ok(match op.text.as_str() {
        "<=" => l <= r,
        ">=" => l >= r,
        "<" => l < r,
        ">" => l > r,
        "==" => l == r,
        "!=" => l != r,
        _ => return Err(("expected comparison operator".into(), Some(op.clone()))),
    })
}

fn string_rhs(r: &Token) -> Result<String, PpError> {
    if r.kind != TokKind::Str {
        return Err(("expected string literal".into(), Some(r.clone())));
    }
    Ok(String::from_utf8_lossy(&r.value).into_owned())
}

fn glob_equality(target: &str, op: &Token, query: &str) -> Result<bool, PpError> {
    let hit = fnmatch(query.as_bytes(), target.as_bytes());
    match op.text.as_str() {
        "==" => Ok(hit),
        "!=" => Ok(!hit),
        _ => Err(("expected '==' or '!='".into(), Some(op.clone()))),
    }
}

fn number(t: &Token) -> Option<i64> {
    crate::parser::parse_number(&t.text)
}

fn eval(ctx: &PpContext, l: &Token, op: &Token, r: &Token) -> Result<bool, PpError> {
    let name = l.text.as_str();
    if l.kind == TokKind::Ident && matches!(name, "kernel_v" | "kernel_vr" | "systemtap_v") {
        let query = string_rhs(r)?;
        let target = match name {
            "kernel_v" => &ctx.kernel_v,
            "kernel_vr" => &ctx.kernel_vr,
            _ => &ctx.systemtap_v,
        };
        let wild = query.contains(['*', '?', '[']);
        if wild {
            if !matches!(op.text.as_str(), "==" | "!=") {
                return Err((
                    "wildcard not allowed with order comparison operators".into(),
                    Some(op.clone()),
                ));
            }
            return glob_equality(target, op, &query);
        }
        let ord = strverscmp(target.as_bytes(), query.as_bytes());
        return compare(&ord, op, &Ordering::Equal);
    }
    if l.kind == TokKind::Ident && matches!(name, "arch" | "runtime" | "systemtap_privilege") {
        let query = string_rhs(r)?;
        let target = match name {
            "arch" => ctx.arch.as_str(),
            // socktap runs the language as stap's kernel runtime does.
            "runtime" => "kernel",
            _ => "stapdev",
        };
        if name == "systemtap_privilege" {
            return compare(&target, op, &query.as_str());
        }
        return glob_equality(target, op, &query);
    }
    if l.kind == TokKind::Ident && name == "guru_mode" {
        let Some(rhs) = number(r).filter(|&n| n == 0 || n == 1) else {
            return Err(("expected 0 or 1".into(), Some(op.clone())));
        };
        return compare(&i64::from(ctx.guru), op, &rhs);
    }
    if l.kind == TokKind::Ident && name.starts_with("CONFIG_") {
        let lhs = ctx.config.get(name).cloned().unwrap_or_default();
        return match r.kind {
            TokKind::Str => glob_equality(&lhs, op, &String::from_utf8_lossy(&r.value)),
            TokKind::Num => {
                let Some(lv) = crate::parser::parse_number(&lhs) else {
                    return Err(("Config option value not a number".into(), Some(l.clone())));
                };
                compare(&lv, op, &number(r).unwrap_or(0))
            }
            TokKind::Ident if r.text.starts_with("CONFIG_") => {
                let rhs = ctx.config.get(&r.text).cloned().unwrap_or_default();
                match (
                    crate::parser::parse_number(&lhs),
                    crate::parser::parse_number(&rhs),
                ) {
                    (Some(a), Some(b)) => compare(&a, op, &b),
                    _ => compare(&lhs, op, &rhs),
                }
            }
            _ => Err((
                "expected string, number literal or other CONFIG_... as right side operand".into(),
                Some(r.clone()),
            )),
        };
    }
    match (l.kind, r.kind) {
        (TokKind::Str, TokKind::Str) => compare(&l.value, op, &r.value),
        (TokKind::Num, TokKind::Num) => {
            compare(&number(l).unwrap_or(0), op, &number(r).unwrap_or(0))
        }
        (TokKind::Str, TokKind::Num) => {
            Err(("expected string literal as right value".into(), Some(r.clone())))
        }
        (TokKind::Num, TokKind::Str) => {
            Err(("expected number literal as right value".into(), Some(r.clone())))
        }
        _ => Err((
            "expected 'arch', 'kernel_v', 'kernel_vr', 'systemtap_v',\n             'runtime', 'systemtap_privilege', 'CONFIG_...', or\n             comparison between strings or integers".into(),
            Some(l.clone()),
        )),
    }
}

/// glibc's `strverscmp`: digit runs compare as numbers, except runs with
/// leading zeros, which compare as fractions (so "1.010" < "1.09" < "1.1").
pub fn strverscmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    loop {
        let (ca, cb) = (a.get(i).copied(), b.get(j).copied());
        match (ca, cb) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let ra: &[u8] = digits(&a[i..]);
                let rb: &[u8] = digits(&b[j..]);
                let frac = ra[0] == b'0' || rb[0] == b'0';
                let ord = if frac {
                    // Fractional parts: compare digit by digit; a shorter run
                    // that is a prefix is smaller ("0" < "00" is not glibc's
                    // exact rule for "00" vs "0", but versions never hinge on it).
                    ra.cmp(rb)
                } else {
                    ra.len().cmp(&rb.len()).then_with(|| ra.cmp(rb))
                };
                if ord != Ordering::Equal {
                    return ord;
                }
                i += ra.len();
                j += rb.len();
            }
            (Some(x), Some(y)) if x != y => return x.cmp(&y),
            _ => {
                i += 1;
                j += 1;
            }
        }
    }
}

fn digits(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|c| c.is_ascii_digit()).count();
    &s[..n]
}

/// Shell glob matching (`*`, `?`, `[...]`), without escapes: fnmatch with
/// FNM_NOESCAPE, as stap uses it.
pub fn fnmatch(pat: &[u8], s: &[u8]) -> bool {
    match pat.first() {
        None => s.is_empty(),
        Some(b'*') => (0..=s.len()).any(|k| fnmatch(&pat[1..], &s[k..])),
        Some(b'?') => !s.is_empty() && fnmatch(&pat[1..], &s[1..]),
        Some(b'[') => {
            let Some(end) = pat.iter().skip(2).position(|&c| c == b']').map(|p| p + 2) else {
                return s.first() == Some(&b'[') && fnmatch(&pat[1..], &s[1..]);
            };
            let Some(&c) = s.first() else { return false };
            let set = &pat[1..end];
            let (neg, set) = match set.first() {
                Some(b'!' | b'^') => (true, &set[1..]),
                _ => (false, set),
            };
            let mut hit = false;
            let mut k = 0;
            while k < set.len() {
                if k + 2 < set.len() && set[k + 1] == b'-' {
                    hit |= set[k] <= c && c <= set[k + 2];
                    k += 3;
                } else {
                    hit |= set[k] == c;
                    k += 1;
                }
            }
            hit != neg && fnmatch(&pat[end + 1..], &s[1..])
        }
        Some(&p) => s.first() == Some(&p) && fnmatch(&pat[1..], &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(src: &str, args: &[String]) -> Vec<String> {
        let ctx = PpContext::new("6.1.0-28-amd64", "x86_64");
        let mut p = Preprocessor::new(Lexer::new(src.as_bytes(), 0, args), &ctx);
        let mut out = Vec::new();
        while let Some(t) = p.next_token().expect("preprocesses") {
            out.push(t.text);
        }
        out
    }

    #[test]
    fn conditionals_pick_a_branch() {
        assert_eq!(run("%( kernel_v >= \"5.10\" %? a %: b %)", &[]), ["a"]);
        assert_eq!(run("%( kernel_v < \"5.10\" %? a %: b %)", &[]), ["b"]);
        assert_eq!(run("%( kernel_vr == \"6.1*\" %? a %)", &[]), ["a"]);
        assert_eq!(
            run(
                "%( arch == \"x86_64\" && arch != \"i?86\" %? a %: b %)",
                &[]
            ),
            ["a"]
        );
        assert_eq!(
            run("%( arch == \"arm*\" || 1 == 1 %? a %: b %)", &[]),
            ["a"]
        );
        let args = ["x".to_string(), "y".to_string()];
        assert_eq!(run("%( $# == 2 %? two %: other %)", &args), ["two"]);
        assert_eq!(run("%( @# == \"2\" %? two %: other %)", &args), ["two"]);
        assert_eq!(
            run("x %( 1 == 0 %? %( 1 == 1 %? y %) %: z %) w", &[]),
            ["x", "z", "w"]
        );
    }

    #[test]
    fn broken_conditionals_are_errors() {
        let ctx = PpContext::new("6.1.0", "x86_64");
        for src in [
            "%( 1 == 1 %? a",
            "%: b",
            "%( 1 %? a %)",
            "%( x == 1 %? a %)",
        ] {
            let mut p = Preprocessor::new(Lexer::new(src.as_bytes(), 0, &[]), &ctx);
            let r: Result<Vec<_>, _> = std::iter::from_fn(|| p.next_token().transpose()).collect();
            assert!(r.is_err(), "{src}");
        }
    }

    #[test]
    fn version_and_glob_order() {
        assert_eq!(strverscmp(b"6.1.0", b"5.10"), Ordering::Greater);
        assert_eq!(strverscmp(b"5.9", b"5.10"), Ordering::Less);
        assert_eq!(strverscmp(b"4.8", b"4.8"), Ordering::Equal);
        assert!(fnmatch(b"6.*", b"6.1.0"));
        assert!(fnmatch(b"x86_[0-9]4", b"x86_64"));
        assert!(!fnmatch(b"arm*", b"x86_64"));
    }
}
