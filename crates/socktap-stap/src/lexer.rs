//! The lexer: bytes to tokens, as stap's does it. Command line arguments
//! `$1`…`$N` are pasted into the text as raw characters and `@1`…`@N` as
//! quoted strings (`$#`/`@#` their count), wherever they appear, so they
//! can form parts of tokens; tokens made from pasted text carry the
//! location of the `$N` that brought them.

use crate::source::{Junk, Loc, TokKind, Token};

/// Words the parser treats as keywords.
pub const KEYWORDS: &[&str] = &[
    "probe", "global", "private", "function", "if", "else", "for", "foreach", "in", "limit",
    "return", "delete", "while", "break", "continue", "next", "string", "long", "try", "catch",
];

/// Turns one source into tokens on demand.
pub struct Lexer<'a> {
    input: Vec<u8>,
    pos: usize,
    file: u16,
    line: u32,
    col: u32,
    // While text pasted for an argument is read, the cursor stays on the
    // `$N`; these say how many pasted bytes remain and where to resume.
    suspend: usize,
    resume: (u32, u32),
    args: &'a [String],
    /// Whether the last token was preceded by whitespace or a comment
    /// (probe point components must be adjacent).
    pub ate_whitespace: bool,
}

impl<'a> Lexer<'a> {
    /// A lexer over `text`, file number `file`, with the script arguments.
    pub fn new(text: &[u8], file: u16, args: &'a [String]) -> Lexer<'a> {
        Lexer {
            input: text.to_vec(),
            pos: 0,
            file,
            line: 1,
            col: 1,
            suspend: 0,
            resume: (1, 1),
            args,
            ate_whitespace: false,
        }
    }

    fn peek(&self, n: usize) -> Option<u8> {
        self.input.get(self.pos + n).copied()
    }

    fn get(&mut self) -> Option<u8> {
        let c = self.peek(0)?;
        self.pos += 1;
        if self.suspend > 0 {
            self.suspend -= 1;
            if self.suspend == 0 {
                (self.line, self.col) = self.resume;
            }
        } else if c == b'\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn paste(&mut self, text: &[u8], at: Loc) {
        self.input.splice(self.pos..self.pos, text.iter().copied());
        self.suspend += text.len();
        self.resume = (self.line, self.col);
        self.line = at.line;
        self.col = at.col;
    }

    fn tok(kind: TokKind, text: String, loc: Loc) -> Token {
        Token {
            kind,
            text,
            value: Vec::new(),
            loc,
        }
    }

    /// The next token, or `None` at the end.
    pub fn scan(&mut self) -> Option<Token> {
        self.ate_whitespace = false;
        loop {
            let suspended = self.suspend > 0;
            let loc = Loc {
                file: self.file,
                line: self.line,
                col: self.col,
            };
            let c = self.get()?;
            if c.is_ascii_whitespace() {
                self.ate_whitespace = true;
                continue;
            }
            let c2 = self.peek(0);
            if (c == b'$' || c == b'@') && c2 == Some(b'#') {
                self.get();
                if suspended {
                    return Some(Self::tok(
                        TokKind::Junk(Junk::NestedArg),
                        format!("{}#", c as char),
                        loc,
                    ));
                }
                let n = self.args.len().to_string();
                let text = if c == b'$' { n } else { quote(&n) };
                self.paste(text.as_bytes(), loc);
                continue;
            }
            if (c == b'$' || c == b'@') && c2.is_some_and(|d| d.is_ascii_digit()) {
                let mut idx: usize = 0;
                let mut text = String::from(c as char);
                while let Some(d) = self.peek(0).filter(u8::is_ascii_digit) {
                    if idx > self.args.len() {
                        break;
                    }
                    self.get();
                    text.push(d as char);
                    idx = idx * 10 + usize::from(d - b'0');
                }
                if suspended {
                    return Some(Self::tok(TokKind::Junk(Junk::NestedArg), text, loc));
                }
                if idx == 0 || idx > self.args.len() {
                    return Some(Self::tok(TokKind::Junk(Junk::InvalidArg), text, loc));
                }
                let arg = &self.args[idx - 1];
                let pasted = if c == b'$' { arg.clone() } else { quote(arg) };
                self.paste(pasted.as_bytes(), loc);
                continue;
            }
            if c.is_ascii_alphabetic() || c == b'$' || c == b'@' || c == b'_' {
                let mut text = String::from(c as char);
                while let Some(d) = self
                    .peek(0)
                    .filter(|&d| d.is_ascii_alphanumeric() || d == b'_' || d == b'$')
                {
                    self.get();
                    text.push(d as char);
                }
                let kind = if c == b'@' {
                    TokKind::Op
                } else if KEYWORDS.contains(&text.as_str()) {
                    TokKind::Keyword
                } else {
                    TokKind::Ident
                };
                return Some(Self::tok(kind, text, loc));
            }
            if c.is_ascii_digit() {
                let mut text = String::from(c as char);
                while let Some(d) = self.peek(0).filter(u8::is_ascii_alphanumeric) {
                    self.get();
                    text.push(d as char);
                }
                return Some(Self::tok(TokKind::Num, text, loc));
            }
            if c == b'"' {
                return Some(self.string(loc));
            }
            if c.is_ascii_punctuation() {
                if c == b'#' || (c == b'/' && c2 == Some(b'/')) {
                    let line = self.line;
                    while self.line == line && self.get().is_some() {}
                    self.ate_whitespace = true;
                    continue;
                }
                if c == b'/' && c2 == Some(b'*') {
                    self.get();
                    let mut prev = self.get();
                    while let Some(cur) = self.get() {
                        if prev == Some(b'*') && cur == b'/' {
                            break;
                        }
                        prev = Some(cur);
                    }
                    self.ate_whitespace = true;
                    continue;
                }
                if c == b'%' && c2 == Some(b'{') {
                    return Some(self.embedded(loc));
                }
                return Some(self.operator(c, loc));
            }
            return Some(Self::tok(
                TokKind::Junk(Junk::Unknown),
                format!("\\x{c:02x}"),
                loc,
            ));
        }
    }

    fn operator(&mut self, c: u8, loc: Loc) -> Token {
        let c2 = self.peek(0).unwrap_or(0);
        let c3 = self.peek(1).unwrap_or(0);
        let three = [c, c2, c3];
        let mut text = String::from(c as char);
        if matches!(&three, b"<<<" | b">>>" | b"<<=" | b">>=") {
            text.push(c2 as char);
            text.push(c3 as char);
            self.get();
            self.get();
        } else if matches!(
            &[c, c2],
            b"=="
                | b"!="
                | b"<="
                | b">="
                | b"=~"
                | b"!~"
                | b"+="
                | b"-="
                | b"*="
                | b"/="
                | b"%="
                | b"&="
                | b"^="
                | b"|="
                | b".="
                | b"&&"
                | b"||"
                | b"++"
                | b"--"
                | b"->"
                | b"<<"
                | b">>"
                | b"%("
                | b"%?"
                | b"%:"
                | b"%)"
        ) {
            text.push(c2 as char);
            self.get();
        }
        Self::tok(TokKind::Op, text, loc)
    }

    fn embedded(&mut self, loc: Loc) -> Token {
        self.get(); // the '{'
        let mut body = Vec::new();
        let mut prev = self.get();
        while let Some(cur) = self.get() {
            if prev == Some(b'%') && cur == b'}' {
                return Self::tok(
                    TokKind::Embedded,
                    String::from_utf8_lossy(&body).into_owned(),
                    loc,
                );
            }
            body.extend(prev);
            prev = Some(cur);
        }
        Self::tok(
            TokKind::Junk(Junk::UnclosedEmbedded),
            format!("%{{{}", String::from_utf8_lossy(&body)),
            loc,
        )
    }

    fn string(&mut self, loc: Loc) -> Token {
        let mut raw = Vec::new();
        let mut value = Vec::new();
        loop {
            match self.get() {
                None | Some(b'\n') => {
                    let mut t = Self::tok(
                        TokKind::Junk(Junk::UnclosedQuote),
                        format!("\"{}", String::from_utf8_lossy(&raw)),
                        loc,
                    );
                    t.value = value;
                    return t;
                }
                Some(b'"') => break,
                Some(b'\\') => {
                    raw.push(b'\\');
                    let Some(e) = self.get() else { continue };
                    raw.push(e);
                    value.push(match e {
                        b'a' => 7,
                        b'b' => 8,
                        b't' => b'\t',
                        b'n' => b'\n',
                        b'v' => 11,
                        b'f' => 12,
                        b'r' => b'\r',
                        b'0'..=b'7' => self.octal(e, &mut raw),
                        b'x' => self.hex(&mut raw),
                        other => other,
                    });
                }
                Some(c) => {
                    raw.push(c);
                    value.push(c);
                }
            }
        }
        let mut t = Self::tok(
            TokKind::Str,
            String::from_utf8_lossy(&raw).into_owned(),
            loc,
        );
        t.value = value;
        t
    }

    fn octal(&mut self, first: u8, raw: &mut Vec<u8>) -> u8 {
        let mut v = u32::from(first - b'0');
        for _ in 0..2 {
            match self.peek(0) {
                Some(d @ b'0'..=b'7') => {
                    self.get();
                    raw.push(d);
                    v = v * 8 + u32::from(d - b'0');
                }
                _ => break,
            }
        }
        v as u8
    }

    fn hex(&mut self, raw: &mut Vec<u8>) -> u8 {
        let mut v = 0u32;
        for _ in 0..2 {
            match self.peek(0).and_then(|d| (d as char).to_digit(16)) {
                Some(d) => {
                    raw.push(self.get().unwrap_or(b'0'));
                    v = v * 16 + d;
                }
                None => break,
            }
        }
        v as u8
    }
}

/// A string as a stap string literal: quoted, with `"` and `\` escaped
/// and control characters as C escapes.
pub fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\{:03o}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(s: &str, args: &[String]) -> Vec<(TokKind, String, u32)> {
        let mut l = Lexer::new(s.as_bytes(), 0, args);
        std::iter::from_fn(|| l.scan())
            .map(|t| (t.kind, t.text, t.loc.col))
            .collect()
    }

    #[test]
    fn operators_comments_and_numbers() {
        let toks = lex("a <<< 0x1f # c\n/* x */ b//y\n%( %)", &[]);
        let texts: Vec<_> = toks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(texts, ["a", "<<<", "0x1f", "b", "%(", "%)"]);
        assert_eq!(toks[0].0, TokKind::Ident);
        assert_eq!(toks[2].0, TokKind::Num);
    }

    #[test]
    fn strings_decode_escapes() {
        let mut l = Lexer::new(br#""a\tb\n\101\x41\"""#, 0, &[]);
        let t = l.scan().unwrap();
        assert_eq!(t.kind, TokKind::Str);
        assert_eq!(t.value, b"a\tb\nAA\"");
        let mut l = Lexer::new(b"\"open\n", 0, &[]);
        assert_eq!(l.scan().unwrap().kind, TokKind::Junk(Junk::UnclosedQuote));
    }

    #[test]
    fn arguments_are_pasted_with_the_location_of_the_dollar() {
        let args = vec!["12".to_string(), "x y".to_string()];
        let toks = lex("a=$1+1 @2 $#", &args);
        let texts: Vec<_> = toks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(texts, ["a", "=", "12", "+", "1", "x y", "2"]);
        // "12" stands where "$1" was; "+" after it keeps its own column.
        assert_eq!(toks[2].2, 3);
        assert_eq!(toks[3].2, 5);
        let toks = lex("$3", &args);
        assert_eq!(toks[0].0, TokKind::Junk(Junk::InvalidArg));
    }

    #[test]
    fn keywords_and_atwords() {
        let toks = lex("probe @count foreach x", &[]);
        assert_eq!(toks[0].0, TokKind::Keyword);
        assert_eq!(toks[1].0, TokKind::Op);
        assert_eq!(toks[2].0, TokKind::Keyword);
        assert_eq!(toks[3].0, TokKind::Ident);
    }
}
