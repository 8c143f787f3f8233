//! Policy diagnostics as text: `error: message`, `--> file:line:col`, the source line and a
//! caret under the offending text.

use std::fmt::Write as _;

use super::Painter;
use crate::policy::{Diagnostic, Diagnostics};

/// Renders every diagnostic, then a closing count line (`policy.yaml: invalid, 3 errors`).
pub fn render(diagnostics: &Diagnostics, painter: Painter) -> String {
    let gutter = diagnostics
        .items
        .iter()
        .filter_map(|d| d.span.map(|span| span.line.to_string().len()))
        .max()
        .unwrap_or(1);
    let mut out = String::new();
    for item in &diagnostics.items {
        render_one(&mut out, diagnostics, item, gutter, painter);
        out.push('\n');
    }
    let count = diagnostics.items.len();
    let noun = if count == 1 { "error" } else { "errors" };
    let _ = writeln!(out, "{}: invalid, {count} {noun}", diagnostics.name);
    out
}

fn render_one(
    out: &mut String,
    diagnostics: &Diagnostics,
    item: &Diagnostic,
    gutter: usize,
    painter: Painter,
) {
    let _ = writeln!(
        out,
        "{}{}",
        painter.paint(Painter::RED, "error"),
        painter.paint(Painter::BOLD, format!(": {}", item.message))
    );
    let arrow = painter.paint(Painter::BLUE, format!("{:gutter$}-->", ""));
    let Some(span) = item.span else {
        let _ = writeln!(out, "{arrow} {}", diagnostics.name);
        return;
    };
    let _ = writeln!(
        out,
        "{arrow} {}:{}:{}",
        diagnostics.name, span.line, span.column
    );
    let Some(line) = diagnostics.line(span.line) else {
        return;
    };
    let bar = painter.paint(Painter::BLUE, "|");
    let number = painter.paint(Painter::BLUE, format!("{:>gutter$}", span.line));
    // Tabs would shift the caret; columns are counted in characters, so one space per tab
    // keeps them aligned.
    let shown = line.replace('\t', " ");
    let indent = usize::try_from(span.column.saturating_sub(1)).unwrap_or(0);
    let visible = shown.chars().count().saturating_sub(indent).max(1);
    let width = usize::try_from(span.width).unwrap_or(1).clamp(1, visible);
    let caret = painter.paint(Painter::RED, "^".repeat(width));
    let label = item
        .label
        .as_ref()
        .map(|label| format!(" {}", painter.paint(Painter::RED, label)))
        .unwrap_or_default();
    let _ = writeln!(out, "{:gutter$} {bar}", "");
    let _ = writeln!(out, "{number} {bar} {shown}");
    let _ = writeln!(out, "{:gutter$} {bar} {:indent$}{caret}{label}", "", "");
}
