//! The exported policy as a YAML document: a header naming where it came from, then the
//! policy, every pattern double-quoted so that plotward reads back exactly the export's globs.

use std::fmt::Write as _;

use crate::export::{Exported, ExportedRule};

/// The policy as YAML, under a comment naming where it came from (`origin`, already made safe
/// to show).
pub(crate) fn exported_policy(exported: &Exported, origin: &str) -> String {
    let mut out = format!(
        "# Exported by plotward from {origin}.\n\
         # It reproduces today's sharing: `plotward plan` with it changes nothing.\n\
         version: 1\ndefault: {}\n",
        exported.default
    );
    if exported.rules.is_empty() {
        out.push_str("rules: []\n");
        return out;
    }
    out.push_str("rules:\n");
    for rule in &exported.rules {
        write_rule(rule, &mut out);
    }
    out
}

/// One rule as an item of `rules:`, its patterns a single scalar or a flow list.
fn write_rule(rule: &ExportedRule, out: &mut String) {
    let patterns: Vec<String> = rule.patterns.iter().map(|p| quote(p)).collect();
    let matched = match patterns.as_slice() {
        [one] => one.clone(),
        _ => format!("[{}]", patterns.join(", ")),
    };
    // Writing to a String cannot fail.
    let _ = write!(out, "  - match: {matched}\n    sharing: {}\n", rule.sharing);
    if let Some(filetype) = &rule.filetype {
        let _ = writeln!(out, "    filetypes: [{}]", quote(filetype.as_str()));
    }
}

/// A YAML double-quoted scalar that reads back as exactly `text`: `\\` and `"` escaped, and
/// every character a reader could not see or a YAML reader could take for a line break
/// (control characters, DEL, NEL, bidi controls, invisible characters) as a `\u` escape.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if plotward_visible::needs_escape(c) => {
                let code = u32::from(c);
                let _ = if code > 0xFFFF {
                    write!(out, "\\U{code:08X}")
                } else {
                    write!(out, "\\u{code:04X}")
                };
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
