//! Diagnostics: what is wrong with a policy file, and where.
//!
//! This module only holds the data; `render::diagnostic` turns it into the
//! `error: ... --> file:line:col` text with the source line and a caret.

use std::fmt;

/// A position in the policy source: 1-based line and column (in characters), and the width of
/// the offending text (0 when only the start is known).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Span {
    /// 1-based line.
    pub line: u64,
    /// 1-based column, counted in characters.
    pub column: u64,
    /// Width of the offending text in characters; 0 when unknown.
    pub width: u64,
}

/// One problem in a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Diagnostic {
    /// What is wrong, lowercase, with user text in backticks.
    pub message: String,
    /// Where, when known.
    pub span: Option<Span>,
    /// A short note printed beside the caret, such as a suggestion.
    pub label: Option<String>,
    /// The source line may hold a secret (a password in a URL, a key pasted inline): the
    /// renderer gives the position and the message, never the line.
    pub conceal_source: bool,
}

impl Diagnostic {
    /// A diagnostic about the whole document, at no position.
    pub(crate) fn unplaced(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            span: None,
            label: None,
            conceal_source: false,
        }
    }

    /// A diagnostic at a position.
    pub(crate) fn at(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            span: Some(span),
            label: None,
            conceal_source: false,
        }
    }

    /// Adds a note beside the caret.
    #[must_use]
    pub(crate) fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    /// Keeps the source line out of the rendering, for a line that may hold a secret.
    #[must_use]
    pub(crate) fn concealing_source(mut self) -> Diagnostic {
        self.conceal_source = true;
        self
    }

    /// Adds "did you mean `x`?" when there is a suggestion.
    #[must_use]
    pub(crate) fn with_suggestion(self, suggestion: Option<&str>) -> Diagnostic {
        match suggestion {
            Some(word) => self.with_label(format!("did you mean `{word}`?")),
            None => self,
        }
    }
}

/// Every problem found in one policy file, with the source needed to show them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Diagnostics {
    /// The policy file's name as the user gave it.
    pub name: String,
    /// The policy text, for showing offending lines.
    pub source: String,
    /// The problems, sorted by position.
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// The diagnostics of one YAML document (a policy or a policy test file).
    pub(crate) fn new(name: &str, source: &str, items: Vec<Diagnostic>) -> Diagnostics {
        Diagnostics {
            name: name.to_owned(),
            source: source.to_owned(),
            items,
        }
    }

    /// The text of a 1-based line of the source, if it exists.
    pub(crate) fn line(&self, line: u64) -> Option<&str> {
        let index = usize::try_from(line.checked_sub(1)?).ok()?;
        self.source.lines().nth(index)
    }
}

impl fmt::Display for Diagnostics {
    /// A plain one-line-per-problem form (`file:line:col: message`), for logs and tests;
    /// the terminal form with carets is `render::diagnostic`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            match item.span {
                Some(span) => write!(f, "{}:{}:{}: ", self.name, span.line, span.column)?,
                None => write!(f, "{}: ", self.name)?,
            }
            f.write_str(&item.message)?;
        }
        Ok(())
    }
}

/// The closest candidate to a misspelt word, if any is close enough to be a plausible typo.
pub(crate) fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    // Jaro-Winkler favours shared prefixes, which is how keys and levels get mistyped
    // (`privat`, `filetype`); 0.8 keeps unrelated words out.
    candidates
        .iter()
        .map(|candidate| (strsim::jaro_winkler(word, candidate), *candidate))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_words_only() {
        let levels = ["public", "private", "secret", "ignore"];
        assert_eq!(suggest("privat", &levels), Some("private"));
        assert_eq!(suggest("pubilc", &levels), Some("public"));
        assert_eq!(suggest("Secret", &levels), Some("secret"));
        assert_eq!(suggest("banana", &levels), None);
        assert_eq!(
            suggest("filetype", &["match", "sharing", "filetypes"]),
            Some("filetypes")
        );
    }
}
