//! Script texts and their tokens: where every token came from, so that
//! each message can name the file, line and column and show the line.

use std::fmt;

/// One script text: the user's file, the `-e` text, stdin, or an `-E` extra.
#[derive(Debug, Clone)]
pub struct Source {
    /// As stap names it: the path given, or `<input>` for `-e` and stdin.
    pub name: String,
    /// The text, as bytes: stap scripts are byte strings.
    pub text: Vec<u8>,
}

/// A place in a source: 1-based line and column (columns count bytes, as
/// stap's do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loc {
    /// Index into [`Sources`].
    pub file: u16,
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub col: u32,
}

/// What kind of token, as stap's messages name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokKind {
    /// A name: `foo`, `$var`.
    Ident,
    /// A reserved word: `probe`, `if`, `string`, …
    Keyword,
    /// Punctuation and `@words`.
    Op,
    /// A string literal.
    Str,
    /// A number literal (its digits, not yet checked).
    Num,
    /// `%{ … %}` embedded C.
    Embedded,
    /// Something that is not a token: the lexer's complaint.
    Junk(Junk),
}

/// Why the lexer could not make a token; reported when the parser meets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Junk {
    /// A character that starts no token.
    Unknown,
    /// A string literal without its closing quote on the line.
    UnclosedQuote,
    /// `%{` without `%}`.
    UnclosedEmbedded,
    /// `$N`/`@N` beyond the arguments given.
    InvalidArg,
    /// `$N` inside the text pasted for another `$N`.
    NestedArg,
}

/// One token.
#[derive(Debug, Clone)]
pub struct Token {
    /// Its kind.
    pub kind: TokKind,
    /// Its text as written (for messages).
    pub text: String,
    /// A string literal's value, escapes decoded.
    pub value: Vec<u8>,
    /// Where it starts.
    pub loc: Loc,
}

impl Token {
    /// Whether this is the operator `op`.
    pub fn is_op(&self, op: &str) -> bool {
        self.kind == TokKind::Op && self.text == op
    }

    /// Whether this is the keyword `kw`.
    pub fn is_kw(&self, kw: &str) -> bool {
        self.kind == TokKind::Keyword && self.text == kw
    }

    /// What stap's lexer says about a junk token.
    pub fn junk_message(&self, nargs: usize) -> Option<String> {
        let TokKind::Junk(j) = self.kind else {
            return None;
        };
        Some(match j {
            Junk::Unknown => return None,
            Junk::UnclosedQuote => "Could not find matching closing quote".into(),
            Junk::UnclosedEmbedded => {
                "Could not find matching '%}' to close embedded function block".into()
            }
            Junk::InvalidArg => format!("command line argument out of range [1-{nargs}]"),
            Junk::NestedArg => "invalid nested substitution of command line arguments".into(),
        })
    }
}

/// An index into [`Sources::tokens`]: AST and program nodes keep these,
/// and messages turn them back into text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokId(pub u32);

/// The script texts of one run and every token read from them.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// The texts.
    pub files: Vec<Source>,
    /// Every token the parser consumed, in order.
    pub tokens: Vec<Token>,
}

impl Sources {
    /// Keeps a token; its id for later messages.
    pub fn push(&mut self, t: Token) -> TokId {
        self.tokens.push(t);
        TokId(self.tokens.len() as u32 - 1)
    }

    /// The token behind an id.
    pub fn tok(&self, id: TokId) -> &Token {
        &self.tokens[id.0 as usize]
    }

    /// The name of the file a location is in.
    pub fn file_name(&self, loc: Loc) -> &str {
        self.files
            .get(loc.file as usize)
            .map_or("<unknown>", |f| f.name.as_str())
    }

    /// A token as stap names it: `identifier 'x' at <input>:1:5`.
    pub fn describe(&self, id: TokId) -> String {
        self.describe_token(self.tok(id), true)
    }

    /// A token as stap prints it; without the file name when `with_file`
    /// is false (stap leaves it out when the previous token shown was in
    /// the same file).
    pub fn describe_token(&self, t: &Token, with_file: bool) -> String {
        let kind = match t.kind {
            TokKind::Ident => "identifier",
            TokKind::Keyword => "keyword",
            TokKind::Op => "operator",
            TokKind::Str => "string",
            TokKind::Num => "number",
            TokKind::Embedded => "embedded-code",
            TokKind::Junk(_) => "junk",
        };
        let mut s = kind.to_string();
        if !matches!(t.kind, TokKind::Keyword | TokKind::Embedded) {
            let shown: String = t
                .text
                .chars()
                .map(|c| {
                    if c.is_ascii_graphic() || c == ' ' {
                        c
                    } else {
                        '?'
                    }
                })
                .collect();
            s.push_str(&format!(" '{shown}'"));
        }
        let file = if with_file { self.file_name(t.loc) } else { "" };
        s.push_str(&format!(" at {file}:{}:{}", t.loc.line, t.loc.col));
        s
    }

    /// The source line under a token and a caret below its column, each
    /// line prefixed by `align`, as stap's `print_error_source` does.
    pub fn source_excerpt(&self, loc: Loc, align: &str) -> String {
        let Some(file) = self.files.get(loc.file as usize) else {
            return String::new();
        };
        let Some(line) = file.text.split(|&b| b == b'\n').nth(loc.line as usize - 1) else {
            return String::new();
        };
        let mut out = format!("{align}source: {}\n", String::from_utf8_lossy(line));
        out.push_str(align);
        out.push_str("        ");
        // Whitespace is copied so that tabs line the caret up.
        for &b in line.iter().take(loc.col.saturating_sub(1) as usize) {
            out.push(if b.is_ascii_whitespace() {
                b as char
            } else {
                ' '
            });
        }
        out.push_str("^\n");
        out
    }
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}
