//! The sharing manifest and its unified diff: one sorted line `path  filetype  level` per
//! managed file, current against desired, both as the world sees them (through the folders
//! above). Unchanged lines give context, so a reviewer sees the neighbourhood of each change.

use std::io::{self, Write};

use similar::TextDiff;

use super::{Painter, PlanView};
use crate::plan::{Action, Plan};

/// Lines of context around each change.
pub(crate) const CONTEXT: usize = 3;

/// The current and the desired manifest of the managed files, sorted by path.
pub(crate) fn manifests(plan: &Plan) -> (String, String) {
    let mut current = String::new();
    let mut desired = String::new();
    for entry in &plan.entries {
        if entry.action == Action::Ignore {
            continue;
        }
        let wanted = entry.wanted.unwrap_or(entry.effective);
        let line = |level: crate::inventory::Sharing| {
            format!(
                "{}  {}  {}\n",
                plotward_visible::escape(&entry.file.path),
                plotward_visible::escape(entry.file.filetype.as_str()),
                level
            )
        };
        current.push_str(&line(entry.effective));
        desired.push_str(&line(wanted));
    }
    (current, desired)
}

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

/// The plan as a patch: the guardrails it breaks, then [`patch`].
pub(crate) fn plan(view: &PlanView<'_>, _painter: Painter, out: &mut dyn Write) -> io::Result<()> {
    // Broken guardrails lead the patch, in its preamble, where diff tools ignore them.
    for breach in view.breaches {
        writeln!(
            out,
            "# Guardrail broken: {} {}",
            plotward_visible::escape(&super::text::breach(breach)),
            super::text::override_note(breach)
        )?;
    }
    out.write_all(patch(view.plan).as_bytes())
}

/// The plan as a unified diff of the sharing manifest, after what the listing could not vouch
/// for.
pub(crate) fn patch(plan: &Plan) -> String {
    let (current, desired) = manifests(plan);
    let mut out = String::new();
    // Lines before `---` are a patch's preamble, which diff tools ignore.
    for note in super::coverage_notes(plan.coverage) {
        out.push_str("# ");
        out.push_str(&note);
        out.push('\n');
    }
    out.push_str(&unified(&current, &desired, "current", "desired"));
    out
}

#[cfg(test)]
mod tests {
    use crate::inventory::{FileType, Inventory, RemoteFile, Sharing};
    use crate::policy::Policy;

    #[test]
    fn the_manifest_diff_shows_changes_with_context() {
        let files: Vec<RemoteFile> = (0..10)
            .map(|n| RemoteFile {
                fid: format!("a:{n}"),
                path: format!("f{n}"),
                filetype: FileType::Plot,
                flags: if n == 5 {
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
        assert_eq!(
            super::patch(&plan),
            "--- current\n+++ desired\n@@ -3,7 +3,7 @@\n f2  plot  private\n f3  plot  private\n f4  plot  private\n-f5  plot  public\n+f5  plot  private\n f6  plot  private\n f7  plot  private\n f8  plot  private\n"
        );
        let compliant = Policy::parse("version: 1\ndefault: ignore\n", "p.yaml").unwrap();
        assert_eq!(
            super::patch(&crate::plan::diff(&compliant, &Inventory::default())),
            ""
        );
    }
}
