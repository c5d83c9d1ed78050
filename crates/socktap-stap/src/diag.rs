//! Messages in stap's words and layout: `parse error:` / `semantic error:`
//! / `WARNING:` with the token, the source line and a caret.

use std::cell::Cell;

use crate::source::{Sources, TokId};

/// How bad a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Pass 1: the text is not a script.
    Parse,
    /// Pass 2: the script does not make sense (names, types, probes).
    Semantic,
    /// Worth saying, not fatal (`-w` silences these).
    Warning,
}

/// One message about a place in the script.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// Parse, semantic or warning.
    pub severity: Severity,
    /// What is wrong, without the place.
    pub message: String,
    /// The token it is about.
    pub tok: Option<TokId>,
    /// For parse errors: whether the token is where the error is (`at:`)
    /// or only what the parser saw instead of what it expected (`saw:`).
    pub at: bool,
    /// A second message that explains this one (e.g. where a type was
    /// first inferred).
    pub chain: Option<Box<Diagnostic>>,
}

impl Diagnostic {
    /// A parse error about the token the parser saw.
    pub fn parse(message: impl Into<String>, tok: Option<TokId>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Parse,
            message: message.into(),
            tok,
            at: false,
            chain: None,
        }
    }

    /// A parse error located at a token.
    pub fn parse_at(message: impl Into<String>, tok: TokId) -> Diagnostic {
        Diagnostic {
            at: true,
            ..Diagnostic::parse(message, Some(tok))
        }
    }

    /// A semantic error at a token.
    pub fn semantic(message: impl Into<String>, tok: Option<TokId>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Semantic,
            message: message.into(),
            tok,
            at: true,
            chain: None,
        }
    }

    /// A warning at a token.
    pub fn warning(message: impl Into<String>, tok: Option<TokId>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            message: message.into(),
            tok,
            at: true,
            chain: None,
        }
    }

    /// This message followed by `next`.
    pub fn with_chain(mut self, next: Diagnostic) -> Diagnostic {
        self.chain = Some(Box::new(next));
        self
    }
}

/// Renders messages as stap prints them. Like stap, a token in the same
/// file as the previous token shown is printed without the file name.
pub struct Renderer<'a> {
    sources: &'a Sources,
    last_file: Cell<Option<u16>>,
}

impl<'a> Renderer<'a> {
    /// A renderer over the run's sources.
    pub fn new(sources: &'a Sources) -> Renderer<'a> {
        Renderer {
            sources,
            last_file: Cell::new(None),
        }
    }

    fn token(&self, id: TokId) -> String {
        let t = self.sources.tok(id);
        let same = self.last_file.get() == Some(t.loc.file);
        self.last_file.set(Some(t.loc.file));
        self.sources.describe_token(t, !same)
    }

    /// One message (and its chain), with the blank line stap ends it with.
    pub fn render(&self, d: &Diagnostic) -> String {
        let mut out = String::new();
        let mut cur = Some(d);
        while let Some(d) = cur {
            out.push_str(&self.render_one(d));
            cur = d.chain.as_deref();
        }
        out
    }

    fn render_one(&self, d: &Diagnostic) -> String {
        match d.severity {
            Severity::Parse => {
                let align = "     ";
                let mut s = format!("parse error: {}\n", d.message);
                match d.tok {
                    Some(id) => {
                        let label = if d.at { "    at: " } else { "   saw: " };
                        // Parse errors always name the file.
                        let t = self.sources.tok(id);
                        s.push_str(&format!(
                            "{align}{label}{}\n",
                            self.sources.describe_token(t, true)
                        ));
                        s.push_str(&self.sources.source_excerpt(t.loc, align));
                    }
                    None => {
                        let name = self
                            .sources
                            .files
                            .first()
                            .map_or("<input>", |f| f.name.as_str());
                        s.push_str(&format!("{align}   saw: {name} EOF\n"));
                    }
                }
                s.push('\n');
                s
            }
            Severity::Semantic => {
                let align = "        ";
                let mut s = format!("semantic error: {}", d.message);
                match d.tok {
                    Some(id) => {
                        s.push_str(&format!(": {}\n", self.token(id)));
                        s.push_str(&self.sources.source_excerpt(self.sources.tok(id).loc, align));
                    }
                    None => s.push('\n'),
                }
                s.push('\n');
                s
            }
            Severity::Warning => {
                let mut s = format!("WARNING: {}", d.message);
                match d.tok {
                    Some(id) => {
                        s.push_str(&format!(": {}\n", self.token(id)));
                        s.push_str(&self.sources.source_excerpt(self.sources.tok(id).loc, " "));
                    }
                    None => s.push('\n'),
                }
                s
            }
        }
    }
}

/// stap's "did you mean" list: the closest candidates by its Levenshtein
/// variant (substitution 2, a case-only change 1, insertion and deletion
/// 2), at most `max`, closest first, ties alphabetical, joined by ", ".
pub fn suggest<'a>(
    target: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    max: usize,
) -> String {
    let mut names: Vec<&str> = candidates.into_iter().filter(|c| !c.is_empty()).collect();
    names.sort_unstable();
    names.dedup();
    let mut scored: Vec<(usize, &str)> = names
        .into_iter()
        .map(|c| (distance(target.as_bytes(), c.as_bytes()), c))
        .collect();
    // Stable: equal scores keep the alphabetical order.
    scored.sort_by_key(|&(score, _)| score);
    scored
        .iter()
        .take(max)
        .map(|&(_, c)| c)
        .collect::<Vec<_>>()
        .join(", ")
}

fn distance(a: &[u8], b: &[u8]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).map(|j| j * 2).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, &ca) in a.iter().enumerate() {
        cur[0] = (i + 1) * 2;
        for (j, &cb) in b.iter().enumerate() {
            cur[j + 1] = if ca == cb {
                prev[j]
            } else {
                let sub = if ca.eq_ignore_ascii_case(&cb) { 1 } else { 2 };
                (prev[j] + sub).min(prev[j + 1] + 2).min(cur[j] + 2)
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The text after a list of messages: `(similar: a, b)` when there are
/// suggestions, else nothing.
pub fn similar(sugs: &str) -> String {
    if sugs.is_empty() {
        String::new()
    } else {
        format!(" (similar: {sugs})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_rank_like_stap() {
        let names = ["receive", "recvmsg", "send", "sendmsg", "create", "close"];
        assert_eq!(suggest("recv", names, 2), "receive, recvmsg");
        assert_eq!(suggest("sned", names, 1), "send");
        assert_eq!(distance(b"a", b"A"), 1);
        assert_eq!(distance(b"", b"ab"), 4);
    }
}
