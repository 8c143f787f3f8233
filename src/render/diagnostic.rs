//! Policy diagnostics as text: `error: message`, `--> file:line:col`, the source line and a
//! caret under the offending text.

use std::fmt::{self, Write as _};
use std::io;

use super::Painter;
use crate::policy::{Diagnostic, Diagnostics};
use plotward_visible::{self as visible, escape};

/// Renders every diagnostic, then a closing count line (`policy.yaml: invalid, 3 errors`), as
/// the text of an [`crate::Error`].
pub(crate) fn render(diagnostics: &Diagnostics, painter: Painter) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_all(&mut out, diagnostics, painter);
    out
}

fn write_all(out: &mut String, diagnostics: &Diagnostics, painter: Painter) -> fmt::Result {
    let gutter = diagnostics
        .items
        .iter()
        .filter_map(|d| d.span.map(|span| span.line.to_string().len()))
        .max()
        .unwrap_or(1);
    for item in &diagnostics.items {
        write_one(out, diagnostics, item, gutter, painter)?;
        out.push('\n');
    }
    let count = diagnostics.items.len();
    let noun = if count == 1 { "error" } else { "errors" };
    writeln!(
        out,
        "{}: invalid, {count} {noun}",
        escape(&diagnostics.name)
    )
}

/// A policy's warnings, one line each: `warning: plotward.yaml:4:12: message`.
pub(crate) fn warnings(
    policy: &crate::policy::Policy,
    painter: Painter,
    out: &mut dyn io::Write,
) -> io::Result<()> {
    for item in &policy.warnings {
        let place = item.span.map_or_else(
            || escape(&policy.name).into_owned(),
            |span| format!("{}:{}:{}", escape(&policy.name), span.line, span.column),
        );
        writeln!(
            out,
            "{}: {place}: {}",
            painter.paint(Painter::YELLOW, "warning"),
            escape(&item.message)
        )?;
    }
    Ok(())
}

fn write_one(
    out: &mut String,
    diagnostics: &Diagnostics,
    item: &Diagnostic,
    gutter: usize,
    painter: Painter,
) -> fmt::Result {
    writeln!(
        out,
        "{}{}",
        painter.paint(Painter::RED, "error"),
        painter.paint(Painter::BOLD, format!(": {}", escape(&item.message)))
    )?;
    let arrow = painter.paint(Painter::BLUE, format!("{:gutter$}-->", ""));
    let Some(span) = item.span else {
        return writeln!(out, "{arrow} {}", escape(&diagnostics.name));
    };
    writeln!(
        out,
        "{arrow} {}:{}:{}",
        escape(&diagnostics.name),
        span.line,
        span.column
    )?;
    let Some(line) = diagnostics.line(span.line) else {
        return write_concealed_label(out, item, gutter, painter);
    };
    if item.conceal_source || may_hold_secret(line) {
        return write_concealed_label(out, item, gutter, painter);
    }
    let bar = painter.paint(Painter::BLUE, "|");
    let number = painter.paint(Painter::BLUE, format!("{:>gutter$}", span.line));
    let indent = usize::try_from(span.column.saturating_sub(1)).unwrap_or(usize::MAX);
    let width = usize::try_from(span.width).unwrap_or(1).max(1);
    let excerpt = Excerpt::around(line, indent, width);
    let caret = painter.paint(Painter::RED, "^".repeat(excerpt.caret));
    let label = item
        .label
        .as_ref()
        .map(|label| format!(" {}", painter.paint(Painter::RED, escape(label))))
        .unwrap_or_default();
    writeln!(out, "{:gutter$} {bar}", "")?;
    writeln!(out, "{number} {bar} {}", excerpt.text)?;
    writeln!(
        out,
        "{:gutter$} {bar} {}{caret}{label}",
        "",
        " ".repeat(excerpt.indent)
    )
}

/// The note of a diagnostic whose source line is not shown (it may hold a secret), on a line
/// of its own: `  = use api_key_env: ...`.
/// Words that, in the key of a line, say its value may be a secret.
const SECRET_WORDS: [&str; 7] = [
    "key",
    "password",
    "passwd",
    "token",
    "secret",
    "credential",
    "auth",
];

/// Whether a source line is kept out of a diagnostic, whatever made the diagnostic: a line
/// with a control character (no policy has one; a file of `NAME=VALUE` pairs separated by NUL
/// does) or one whose key, the text before its first `:` or `=`, names a secret (`api_key:`,
/// a `.credentials` file's `"api_key":`, `PLOTLY_API_KEY=`). A "policy" that is a symlink to a
/// secrets file, or a key one indentation level off, must not have its key quoted back in CI's
/// log. A rule whose glob has such a word (`"keys/**": private`) loses its excerpt only; its
/// position and message are still given.
fn may_hold_secret(line: &str) -> bool {
    if line.chars().any(|c| c.is_control() && c != '\t') {
        return true;
    }
    let key = line.split([':', '=']).next().unwrap_or(line).to_lowercase();
    SECRET_WORDS.iter().any(|word| key.contains(word))
}

fn write_concealed_label(
    out: &mut String,
    item: &Diagnostic,
    gutter: usize,
    painter: Painter,
) -> fmt::Result {
    let Some(label) = &item.label else {
        return Ok(());
    };
    let equals = painter.paint(Painter::BLUE, "=");
    writeln!(out, "{:gutter$} {equals} {}", "", escape(label))
}

/// The part of a source line shown under a diagnostic: at most [`Excerpt::MAX`] characters
/// around the error, escaped, with the caret's place in terminal cells.
struct Excerpt {
    text: String,
    indent: usize,
    caret: usize,
}

impl Excerpt {
    /// Characters of a long line shown around the error.
    const MAX: usize = 160;
    /// Characters shown before the error when the line is cut.
    const BEFORE: usize = 60;

    /// The excerpt of `line` for an error at character `column` (0-based) spanning `width`
    /// characters. Tabs become one space each, so columns counted in characters line up.
    fn around(line: &str, column: usize, width: usize) -> Excerpt {
        let chars: Vec<char> = line
            .chars()
            .map(|c| if c == '\t' { ' ' } else { c })
            .collect();
        let column = column.min(chars.len());
        let start = if chars.len() <= Self::MAX {
            0
        } else {
            column.saturating_sub(Self::BEFORE)
        };
        let end = (start + Self::MAX).min(chars.len()).max(column);
        let piece = |from: usize, to: usize| {
            escape(&chars[from..to].iter().collect::<String>()).into_owned()
        };
        let (open, close) = (
            if start > 0 { "…" } else { "" },
            if end < chars.len() { "…" } else { "" },
        );
        let before = piece(start, column);
        let under = piece(column, (column + width).min(end));
        Excerpt {
            text: format!("{open}{}{close}", piece(start, end)),
            indent: visible::width(open) + visible::width(&before),
            caret: visible::width(&under).max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A diagnostic flagged as concealing gives its file, line, column, message and note, and
    /// never its source line, which may hold a password or a key.
    #[test]
    fn a_concealed_diagnostic_shows_its_place_but_not_its_line() {
        // A line the renderer would show on its own (its key names no secret).
        let source = "version: 1\naccount:\n  server: https://Zq8sLx2VbN4mK7pR1tYw@h\n";
        let span = crate::policy::Span {
            line: 3,
            column: 3,
            width: 7,
        };
        let item = Diagnostic::at(span, "`api_key` would put the API key in the policy")
            .with_label("use `api_key_env: VARIABLE`");
        let shown = render(
            &Diagnostics::new("p.yaml", source, vec![item.clone()]),
            Painter::new(false),
        );
        assert!(
            shown.contains("Zq8sLx2VbN4mK7pR1tYw"),
            "shown when not flagged: {shown}"
        );
        let shown = render(
            &Diagnostics::new("p.yaml", source, vec![item.concealing_source()]),
            Painter::new(false),
        );
        assert!(!shown.contains("Zq8sLx2VbN4mK7pR1tYw"), "{shown}");
        for needle in ["p.yaml:3:3", "would put the API key", "= use `api_key_env"] {
            assert!(shown.contains(needle), "{needle:?} missing from {shown}");
        }
    }

    /// Lines that may hold a secret are never shown, whoever made the diagnostic; others are.
    #[test]
    fn lines_whose_key_names_a_secret_or_that_hold_control_characters_are_never_shown() {
        for line in [
            "api_key: Zq8sLx2VbN4mK7pR1tYw",
            "  \"api_key\": \"Zq8sLx2VbN4mK7pR1tYw\",",
            "PLOTLY_API_KEY=Zq8sLx2VbN4mK7pR1tYw",
            "Password: Zq8sLx2VbN4mK7pR1tYw",
            "token: Zq8sLx2VbN4mK7pR1tYw",
            "HOME=/root\0PLOTLY_KEY=Zq8sLx2VbN4mK7pR1tYw",
        ] {
            assert!(may_hold_secret(line), "{line:?} would be shown");
            let source = format!("version: 1\n{line}\n");
            let span = crate::policy::Span {
                line: 2,
                column: 1,
                width: 3,
            };
            let shown = render(
                &Diagnostics::new("p.yaml", &source, vec![Diagnostic::at(span, "unknown key")]),
                Painter::new(false),
            );
            assert!(!shown.contains("Zq8sLx2VbN4mK7pR1tYw"), "{shown}");
            assert!(shown.contains("p.yaml:2:1"), "{shown}");
        }
        for line in [
            "default: privte",
            "  - match: \"reports/**\"",
            "    sharing: secret",
            "\tversion: 1",
        ] {
            assert!(!may_hold_secret(line), "{line:?} would be hidden");
        }
    }

    #[test]
    fn long_lines_show_a_window_with_the_caret_under_the_error() {
        let line = format!("{}bad{}", "x".repeat(70_000), "y".repeat(10));
        let excerpt = Excerpt::around(&line, 70_000, 3);
        assert!(excerpt.text.chars().count() <= Excerpt::MAX + 2);
        assert_eq!(
            excerpt
                .text
                .chars()
                .skip(excerpt.indent)
                .take(3)
                .collect::<String>(),
            "bad"
        );
        assert_eq!(excerpt.caret, 3);
        let short = Excerpt::around("a:\tb\u{1b}[2J", 3, 1);
        assert_eq!(short.text, "a: b\\e[2J");
        assert_eq!((short.indent, short.caret), (3, 1));
        let wide = Excerpt::around("名前: [", 4, 1);
        assert_eq!(wide.indent, 6, "CJK characters take two cells");
    }
}
