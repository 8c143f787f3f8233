//! The one view of a plan that every plan renderer reads.
//!
//! A [`PlanView`] is built from the plan's JSON document ([`PlanFile`]) and nothing else, after
//! the document passed the checks `apply` runs on a saved plan ([`SavedPlan`]). A fresh plan
//! reaches its renderers through the document it would save, and `plotward show FILE` through
//! the document it reads, so `plan --out p.json` and `show p.json` print the same bytes in
//! every format by construction: no renderer can show what a saved plan does not hold.
//!
//! It also groups the changes for people ([`groups`]): by direction (restrictions first, as
//! apply runs them), then by what decided them ([`Decider`]), each group in plan order.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::apply::{Change, DecidingRule, SavedPlan, SavedPlanError};
use crate::inventory::{Coverage, Sharing};
use crate::plan::{DeadPattern, Direction, FolderChange, RuleRef, Summary};
use crate::wire::plan::{DeadPatternJson, FolderChangeJson, PlanFile, Source, SummaryJson};

/// Plans with more changes than this are summarised in text (per rule and per top-level
/// folder, then the first [`ROWS_PER_GROUP`] rows of each group) unless `--full` is given.
pub(crate) const SUMMARY_THRESHOLD: usize = 200;

/// Rows shown per group in a summarised text plan.
pub(crate) const ROWS_PER_GROUP: usize = 10;

/// A plan as its renderers see it.
#[derive(Clone, Debug)]
pub(crate) struct PlanView {
    /// Its JSON document without its changes, which are the rows: a plan's changes are held
    /// once. [`PlanView::document`] puts them back for `--format json` and `--out`.
    pub file: PlanFile,
    /// Its counts.
    pub summary: Summary,
    /// Its changes, in plan order (path, then fid).
    pub rows: Vec<Row>,
    /// The folders it changes, with what lies below each.
    pub folders: Vec<FolderChange>,
    /// Rules that decided no file.
    pub dead_rules: Vec<RuleRef>,
    /// Patterns that match no file.
    pub dead_patterns: Vec<DeadPattern>,
    /// The guardrails it breaks.
    pub breaches: Vec<Guardrail>,
    /// How it is to be shown.
    pub options: ShowOptions,
}

/// How a plan is shown, beyond its format: the same for `plan` and `show` given the same
/// flags, so their outputs stay the same.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ShowOptions {
    /// Every row in text, however large the plan (`--full`).
    pub full: bool,
    /// The file the full plan is saved in: `plan --out FILE`, or the file `show` reads.
    pub saved_as: Option<String>,
    /// The CI job's artifacts, where a reviewer downloads the saved plan (`--artifact-url`).
    pub artifact_url: Option<String>,
}

/// One change, with the folder that makes the file more exposed than its own flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Row {
    pub change: Change,
    /// The folder above that the world sees the file through now, and the level it gives.
    pub through: Option<(String, Sharing)>,
}

impl Row {
    /// The change as the JSON document holds it.
    fn into_json(self) -> crate::wire::plan::ChangeJson {
        super::json::change_json_of(self.change, self.through)
    }

    /// The level the world sees now: through a folder, or the file's own.
    pub(crate) fn effective(&self) -> Sharing {
        self.through
            .as_ref()
            .map_or(self.change.from, |(_, level)| *level)
    }

    /// Whether it restricts or exposes.
    pub(crate) fn direction(&self) -> Direction {
        self.change.direction()
    }

    /// What decided it, the key it is grouped by.
    pub(crate) fn decider(&self) -> Decider {
        if self.change.required_by.is_some() {
            return Decider::Contents;
        }
        match &self.change.rule {
            DecidingRule::Rule {
                number, pattern, ..
            } => Decider::Rule {
                number: *number,
                pattern: pattern.clone(),
            },
            DecidingRule::Default => Decider::Default,
        }
    }

    /// The top-level folder the file is in (`None` at the top of the account).
    pub(crate) fn top_folder(&self) -> Option<&str> {
        self.change.path.split_once('/').map(|(top, _)| top)
    }
}

/// What decided a change, as changes are grouped: folders restricted for what they hold
/// first (apply changes folders first), then the rules in policy order, then the default.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Decider {
    /// A folder restricted because a file below it wants less exposure.
    Contents,
    /// A rule, through one of its patterns.
    Rule { number: usize, pattern: Arc<str> },
    /// The policy's default.
    Default,
}

/// A broken guardrail, as the plan file words it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Guardrail {
    /// The setting (`never_public`, `max_changes`, `max_exposures`), as saved.
    pub setting: String,
    pub message: String,
}

/// Changes that share a direction and a decider, in plan order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Group<'v> {
    pub direction: Direction,
    pub decider: Decider,
    pub rows: Vec<&'v Row>,
}

/// Restrictions and exposures per decider or per top-level folder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub restrict: usize,
    pub expose: usize,
}

impl Counts {
    fn add(&mut self, direction: Direction) {
        match direction {
            Direction::Restrict => self.restrict += 1,
            Direction::Expose => self.expose += 1,
        }
    }
}

impl PlanView {
    /// The view of a plan document, once it passed the checks apply runs on a saved plan.
    pub(crate) fn new(
        mut file: PlanFile,
        options: ShowOptions,
    ) -> Result<PlanView, SavedPlanError> {
        // The changes move into the rows; the rest of the document is small.
        let changes = std::mem::take(&mut file.changes);
        let throughs: Vec<Option<(String, Sharing)>> = changes
            .iter()
            .map(|json| json.through.as_ref().map(|t| (t.folder.clone(), t.level)))
            .collect();
        let saved = SavedPlan::try_from(PlanFile {
            changes,
            ..file.clone()
        })?;
        let rows = saved
            .changes
            .into_iter()
            .zip(throughs)
            .map(|(change, through)| Row { change, through })
            .collect();
        Ok(PlanView {
            summary: summary(file.summary),
            rows,
            folders: file.folders.iter().map(folder).collect(),
            dead_rules: saved.dead_rules,
            dead_patterns: file.dead_patterns.iter().map(dead_pattern).collect(),
            breaches: file
                .guardrails
                .iter()
                .map(|b| Guardrail {
                    setting: b.guardrail.clone(),
                    message: b.message.clone(),
                })
                .collect(),
            file,
            options,
        })
    }

    /// The whole JSON document, as `--format json` prints it.
    pub(crate) fn document(&self) -> PlanFile {
        PlanFile {
            changes: self.rows.iter().cloned().map(Row::into_json).collect(),
            ..self.file.clone()
        }
    }

    /// The whole JSON document, as `--out` saves it, taking the rows rather than copying them.
    pub(crate) fn into_document(self) -> PlanFile {
        PlanFile {
            changes: self.rows.into_iter().map(Row::into_json).collect(),
            ..self.file
        }
    }

    /// Where the planned files were listed.
    pub(crate) fn source(&self) -> &Source {
        &self.file.source
    }

    /// What the listing could not vouch for.
    pub(crate) fn coverage(&self) -> Coverage {
        self.file.listing
    }

    /// The groups of its changes, restrictions first.
    pub(crate) fn groups(&self) -> Vec<Group<'_>> {
        groups(&self.rows)
    }

    /// Whether text shows summaries and the first rows of each group rather than every row.
    pub(crate) fn summarised(&self) -> bool {
        !self.options.full && self.rows.len() > SUMMARY_THRESHOLD
    }
}

/// The rows grouped by direction (restrictions first), then by [`Decider`]; each row in
/// exactly one group, in plan order within it.
pub(crate) fn groups(rows: &[Row]) -> Vec<Group<'_>> {
    let mut by: BTreeMap<(Direction, Decider), Vec<&Row>> = BTreeMap::new();
    for row in rows {
        by.entry((row.direction(), row.decider()))
            .or_default()
            .push(row);
    }
    by.into_iter()
        .map(|((direction, decider), rows)| Group {
            direction,
            decider,
            rows,
        })
        .collect()
}

/// Restrictions and exposures per decider, in group order: the complete per-rule summary.
pub(crate) fn per_decider(rows: &[Row]) -> Vec<(Decider, Counts)> {
    let mut by: BTreeMap<Decider, Counts> = BTreeMap::new();
    for row in rows {
        by.entry(row.decider()).or_default().add(row.direction());
    }
    by.into_iter().collect()
}

/// Restrictions and exposures per top-level folder (`None`: files at the top), by name.
pub(crate) fn per_top_folder(rows: &[Row]) -> Vec<(Option<&str>, Counts)> {
    let mut by: BTreeMap<Option<&str>, Counts> = BTreeMap::new();
    for row in rows {
        by.entry(row.top_folder()).or_default().add(row.direction());
    }
    by.into_iter().collect()
}

/// The rows of a fresh plan, as a saved one would give them (for the check's diff).
pub(crate) fn rows(plan: &crate::plan::Plan<'_>) -> Vec<Row> {
    plan.changes()
        .map(|change| Row {
            through: through(&change),
            change: Change::from(change),
        })
        .collect()
}

/// The folder a planned change's file is seen through now, and the level it gives.
pub(crate) fn through(change: &crate::plan::Change<'_>) -> Option<(String, Sharing)> {
    let entry = change.entry;
    entry
        .through
        .map(|folder| (folder.path.clone(), entry.effective))
}

fn summary(summary: SummaryJson) -> Summary {
    Summary {
        restrict: summary.restrict,
        expose: summary.expose,
        unchanged: summary.unchanged,
        ignored: summary.ignored,
    }
}

fn folder(folder: &FolderChangeJson) -> FolderChange {
    FolderChange {
        fid: folder.fid.clone(),
        path: folder.path.clone(),
        from: folder.from,
        to: folder.to,
        files_below: folder.files_below,
        secret_below: folder.secret_below,
    }
}

fn dead_pattern(dead: &DeadPatternJson) -> DeadPattern {
    DeadPattern {
        rule: dead.rule,
        pattern: dead.pattern.as_str().into(),
        line: dead.line,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::{PlanView, ROWS_PER_GROUP, ShowOptions};
    use crate::inventory::{FileType, Inventory, RemoteFile, Sharing};
    use crate::policy::Policy;
    use crate::render::{Format, Painter};
    use crate::wire::plan::Source;

    /// 12,000 changes over 30 top-level folders: `t0/` exposed by rule 1, `t1*/` restricted to
    /// secret by rule 2, the rest restricted to private by the default.
    fn large(options: ShowOptions) -> PlanView {
        let files = (0..12_000)
            .map(|i| {
                let top = i % 30;
                RemoteFile {
                    fid: format!("a:{i}"),
                    path: format!("t{top}/f{i:05}"),
                    filetype: FileType::Plot,
                    flags: if top == 0 {
                        Sharing::Private
                    } else {
                        Sharing::Public
                    }
                    .flags(),
                }
            })
            .collect();
        let inventory = Inventory::new(files);
        let policy = Policy::parse(
            "version: 1\ndefault: private\nrules:\n  - match: \"t0/**\"\n    sharing: public\n  - match: \"t1*/**\"\n    sharing: secret\n",
            "p.yaml",
        )
        .unwrap();
        let plan = crate::plan::diff(&policy, &inventory);
        let source = Source::Api {
            api_url: "https://plotly.example.com".into(),
            user: "a".into(),
        };
        let file = crate::render::json::plan_file(&plan, &policy, (source, &[]), &[]);
        PlanView::new(file, options).unwrap()
    }

    fn render(view: &PlanView, format: Format) -> String {
        let mut out = Vec::new();
        crate::render::plan(view, format, Painter::new(false), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// The rows of a text plan (`  - ` or `  + `), each once.
    fn text_rows(text: &str) -> Vec<&str> {
        let rows: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("  - ") || l.starts_with("  + "))
            .collect();
        let distinct: HashSet<&&str> = rows.iter().collect();
        assert_eq!(distinct.len(), rows.len(), "a row is repeated");
        rows
    }

    #[test]
    fn a_12000_change_text_plan_is_summarised_per_rule_and_folder_with_ten_rows_per_group() {
        let saved = ShowOptions {
            saved_as: Some("plan.json".into()),
            ..ShowOptions::default()
        };
        let view = large(saved);
        assert_eq!(view.rows.len(), 12_000);
        let text = render(&view, Format::Text);
        assert!(text.starts_with("Account: a at https://plotly.example.com\n"));
        assert!(text.lines().count() < 120, "{text}");
        assert!(text.len() < 12_000, "{} bytes", text.len());
        assert!(text.contains("plotward show plan.json --full"), "{text}");
        // Every group: its heading, ten rows, how many more.
        let groups = view.groups();
        assert_eq!(groups.len(), 3);
        for group in &groups {
            let n = group.rows.len();
            let heading = text
                .lines()
                .position(|l| l.ends_with(':') && l.contains(&format!(" {n} files ")))
                .unwrap_or_else(|| panic!("no heading for {n}:\n{text}"));
            let lines: Vec<&str> = text.lines().skip(heading + 1).collect();
            assert!(lines[..ROWS_PER_GROUP].iter().all(|l| l.starts_with("  ")));
            assert_eq!(
                lines[ROWS_PER_GROUP],
                format!("    ... and {} more", n - ROWS_PER_GROUP)
            );
        }
        assert_eq!(text_rows(&text).len(), 3 * ROWS_PER_GROUP);
        // The per-rule summary is complete: its counts add up to every change.
        let summed: usize = text
            .lines()
            .skip_while(|l| *l != "By rule:")
            .skip(2)
            .take_while(|l| !l.is_empty())
            .map(|l| {
                let mut n = l.split_whitespace();
                let restrict: usize = n.next().unwrap().parse().unwrap();
                let expose: usize = n.next().unwrap().parse().unwrap();
                restrict + expose
            })
            .sum();
        assert_eq!(summed, 12_000, "{text}");
        assert!(text.contains("By top-level folder:\n"));
        assert!(text.contains("  ... and 10 more folders\n"), "{text}");
        assert!(
            text.ends_with("Plan: 11600 to restrict, 400 to expose, 0 unchanged, 0 ignored.\n")
        );

        let full = render(
            &large(ShowOptions {
                full: true,
                ..ShowOptions::default()
            }),
            Format::Text,
        );
        let rows = text_rows(&full);
        assert_eq!(rows.len(), 12_000);
        let first_expose = rows.iter().position(|r| r.starts_with("  + ")).unwrap();
        assert!(rows[first_expose..].iter().all(|r| r.starts_with("  + ")));
        assert!(!full.contains("By rule:"));
    }

    #[test]
    fn a_12000_change_markdown_plan_fits_with_every_rule_and_points_at_the_artifact() {
        let view = large(ShowOptions {
            saved_as: Some("plan.json".into()),
            artifact_url: Some("https://ci.example.com/jobs/7/artifacts".into()),
            full: false,
        });
        let markdown = render(&view, Format::Markdown);
        assert!(markdown.len() <= crate::render::markdown::CAP);
        assert!(markdown.contains("Account `a` at `https://plotly.example.com`"));
        for line in [
            "| rule 1 `t0/**` | 0 | 400 |",
            "| rule 2 `t1*/**` | 4400 | 0 |",
            "| default | 7200 | 0 |",
            "| **All** | **11600** | **400** |",
        ] {
            assert!(markdown.contains(line), "{line} missing");
        }
        let rows: Vec<&str> = markdown.lines().filter(|l| l.starts_with("| `t")).collect();
        let distinct: HashSet<&&str> = rows.iter().collect();
        assert_eq!(distinct.len(), rows.len(), "a row is repeated");
        assert!(rows.len() > 100 && rows.len() < 12_000, "{}", rows.len());
        // Exposures are shown although restrictions come first.
        assert!(rows.iter().any(|r| r.contains("private → public")));
        let note = markdown.lines().last().unwrap();
        assert!(
            note.starts_with("> Truncated to stay under 65000 characters:"),
            "{note}"
        );
        assert!(note.contains("[this job's artifacts](<https://ci.example.com/jobs/7/artifacts>)"));
        assert!(note.contains("`plotward show plan.json --full`"), "{note}");
        assert!(
            !markdown.contains("plotward plan`"),
            "a reviewer cannot plan"
        );
    }
}
