//! The sharing manifest and its unified diff.
//!
//! A plan's diff (`--format diff`, and the check's Markdown) covers the changed files only,
//! one manifest line `path  filetype  level` each, current (as the world sees it, through the
//! folders above) against desired. It has no context lines, so a saved plan, which holds only
//! its changes, prints the same diff as the fresh one; and each path's `-` line is followed by
//! its own `+` line, in one hunk, so nothing pairs unrelated lines. It stays a valid unified
//! diff: it applies (`patch`, `git apply`) to the current manifest of the changed files.
//! `export --diff` diffs two policies with context ([`unified`]).

use std::io::{self, Write};

use similar::TextDiff;

use super::view::Row;
use super::{Painter, PlanView};
use crate::inventory::Coverage;

/// Lines of context around each change.
pub(crate) const CONTEXT: usize = 3;

/// The first line of a plan's diff, before `---`, where patch tools ignore it.
pub(crate) const NO_CONTEXT: &str = "# The changed files only, without context lines: each \
path's current line (-) is followed by its desired line (+).";

/// A unified diff of two texts, with control characters in names and lines shown as escapes;
/// empty when the texts are equal.
pub(crate) fn unified(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    if old == new {
        return String::new();
    }
    let diff = TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(CONTEXT)
        .header(
            &plotward_visible::escape(old_name),
            &plotward_visible::escape(new_name),
        )
        .to_string();
    // The lines come from files (an existing policy for `export --diff`): shown, never obeyed.
    plotward_visible::escape_lines(&diff).into_owned()
}

/// One hunk of `n` lines on each side, from the first line.
fn hunk_header(n: usize) -> String {
    format!("@@ -1,{n} +1,{n} @@\n")
}

/// The plan as a patch: what it describes, the guardrails it breaks, then [`patch`].
pub(crate) fn plan(view: &PlanView, _painter: Painter, out: &mut dyn Write) -> io::Result<()> {
    // All of this is the patch's preamble, where diff tools ignore it.
    writeln!(out, "# {}", super::text::origin(view.source()))?;
    writeln!(
        out,
        "# Policy: {}",
        plotward_visible::escape(&view.file.policy)
    )?;
    if let Some(note) = super::targeted_note(&view.file.targets) {
        writeln!(out, "# {note}")?;
    }
    for breach in &view.breaches {
        writeln!(
            out,
            "# Guardrail broken: {} {}",
            plotward_visible::escape(&breach.message),
            super::text::override_note(&breach.setting)
        )?;
    }
    out.write_all(patch(&view.rows, view.coverage()).as_bytes())
}

/// The changes as a unified diff of the manifest of the changed files, after what the listing
/// could not vouch for; empty of hunks when nothing changes.
pub(crate) fn patch(rows: &[Row], coverage: Coverage) -> String {
    let mut out = String::new();
    // Lines before `---` are a patch's preamble, which diff tools ignore.
    for note in super::coverage_notes(coverage) {
        out.push_str("# ");
        out.push_str(&note);
        out.push('\n');
    }
    if rows.is_empty() {
        return out;
    }
    let n = rows.len();
    out.push_str(NO_CONTEXT);
    out.push_str("\n--- current\n+++ desired\n");
    out.push_str(&hunk_header(n));
    for row in rows {
        let change = &row.change;
        let line = |level: crate::inventory::Sharing| {
            format!(
                "{}  {}  {level}\n",
                plotward_visible::escape(&change.path),
                plotward_visible::escape(change.filetype.as_str()),
            )
        };
        out.push('-');
        out.push_str(&line(row.effective()));
        out.push('+');
        out.push_str(&line(change.to));
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::inventory::{FileType, Inventory, RemoteFile, Sharing};
    use crate::policy::Policy;

    #[test]
    fn the_manifest_diff_pairs_each_path_and_drops_context() {
        let files: Vec<RemoteFile> = (0..10)
            .map(|n| RemoteFile {
                fid: format!("a:{n}"),
                path: format!("f{n}"),
                filetype: FileType::Plot,
                flags: if n == 5 || n == 7 {
                    Sharing::Public
                } else {
                    Sharing::Private
                }
                .flags(),
            })
            .collect();
        let policy = Policy::parse("version: 1\ndefault: private\n", "p.yaml").unwrap();
        let files = Inventory::new(files);
        let plan = crate::plan::diff(&policy, &files);
        let rows = crate::render::view::rows(&plan);
        assert_eq!(
            super::patch(&rows, plan.coverage),
            format!(
                "{}\n--- current\n+++ desired\n@@ -1,2 +1,2 @@\n-f5  plot  public\n+f5  plot  private\n-f7  plot  public\n+f7  plot  private\n",
                super::NO_CONTEXT
            )
        );
        let compliant = Policy::parse("version: 1\ndefault: ignore\n", "p.yaml").unwrap();
        let empty = Inventory::default();
        let plan = crate::plan::diff(&compliant, &empty);
        assert_eq!(
            super::patch(&crate::render::view::rows(&plan), plan.coverage),
            ""
        );
    }
}
