//! The exported policy as a YAML document: a header naming where it came from, then the
//! policy, every pattern double-quoted so that plotward reads back exactly the export's globs.

use std::fmt::Write as _;

use crate::export::{Exported, ExportedRule};
use crate::policy::{Account, KeySource};

/// The policy as YAML, under a comment naming where it came from (`origin`, already made safe
/// to show). Only tests write a policy without an account this way.
#[cfg(test)]
pub(crate) fn exported_policy(exported: &Exported, origin: &str) -> String {
    exported_policy_for(exported, origin, None)
}

/// The policy as YAML, naming `account` (as the policy it was exported with names it: user,
/// server, and where the key is, never the key) so it can be given to `-p` as it is.
pub(crate) fn exported_policy_for(
    exported: &Exported,
    origin: &str,
    account: Option<&Account>,
) -> String {
    let mut out = format!(
        "# Exported by plotward from {origin}.\n\
         # It reproduces today's sharing: `plotward plan` with it changes nothing.\n\
         version: 1\n"
    );
    if let Some(account) = account {
        write_account(account, &mut out);
    }
    let _ = writeln!(out, "default: {}", exported.default);
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

/// The `account:` block, every value quoted.
fn write_account(account: &Account, out: &mut String) {
    let _ = write!(out, "account:\n  user: {}\n", quote(&account.user));
    if let Some(server) = &account.server {
        let _ = writeln!(out, "  server: {}", quote(server));
    }
    let _ = match &account.key {
        KeySource::Env(name) => writeln!(out, "  api_key_env: {}", quote(name)),
        KeySource::File(path) => writeln!(
            out,
            "  api_key_file: {}",
            quote(&path.display().to_string())
        ),
    };
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
