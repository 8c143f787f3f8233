//! `status`: each given path's sharing, the rule that decides it, the verdict and what `plan`
//! does, as text for people or the versioned JSON document.

use std::io::{self, Write};

use plotward_visible::escape;

use super::Painter;
use crate::apply::DecidingRule;
use crate::plan::{Action, DecidedBy, Direction};
use crate::policy::Policy;
use crate::status::{Basis, Judged, Row};
use crate::wire::plan::{RuleJson, Source};
use crate::wire::status::{STATUS_FORMAT_VERSION, StatusFileJson, StatusJson};

/// `status --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StatusFormat {
    /// A block per path for people.
    Text,
    /// The versioned JSON document.
    Json,
}

/// Writes the status report in `format`.
pub(crate) fn render(
    view: &StatusView<'_>,
    format: StatusFormat,
    painter: Painter,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        StatusFormat::Text => text(view, painter, out),
        StatusFormat::Json => json(view, painter, out),
    }
}

/// What the status renderers show.
pub(crate) struct StatusView<'a> {
    pub rows: &'a [Row],
    pub policy: &'a Policy,
    /// Where the files were read.
    pub source: &'a Source,
    /// How they were read.
    pub basis: Basis,
}

/// The text report: a block per path, then a summary line.
pub(crate) fn text(view: &StatusView<'_>, painter: Painter, out: &mut dyn Write) -> io::Result<()> {
    for row in view.rows {
        match row {
            Row::Missing { path } => writeln!(
                out,
                "{}: {}",
                escape(path),
                painter.paint(Painter::RED, "not found (no file at this path)")
            )?,
            Row::Found(judged) => write_judged(view.policy, judged, painter, out)?,
        }
    }
    if view.basis == Basis::Listing {
        writeln!(
            out,
            "(Read from a listing of the whole account: a folder's plan, or that of a file that \
             owes its level to a folder, depends on other files.)"
        )?;
    }
    writeln!(out, "{}", summary_line(view.rows))
}

fn write_judged(
    policy: &Policy,
    judged: &Judged,
    painter: Painter,
    out: &mut dyn Write,
) -> io::Result<()> {
    let verdict = if judged.is_compliant() {
        painter.paint(Painter::GREEN, "compliant")
    } else {
        painter.paint(Painter::RED, escape(&verdict(judged)))
    };
    writeln!(
        out,
        "{} ({}, {})",
        escape(&judged.path),
        escape(judged.filetype.as_str()),
        escape(&judged.fid)
    )?;
    writeln!(out, "  sharing  {}", escape(&sharing(judged)))?;
    writeln!(out, "  policy   {}", escape(&wants(policy, judged)))?;
    writeln!(out, "  verdict  {verdict}")?;
    writeln!(out, "  plan     {}", escape(&plan_action(judged)))
}

/// `public through folder reports/ (its own flags: private)`, or just `private`.
fn sharing(judged: &Judged) -> String {
    match &judged.through {
        Some(folder) => format!(
            "{} through folder {folder}/ (its own flags: {})",
            judged.effective, judged.own
        ),
        None => judged.own.to_string(),
    }
}

/// `private: rule 2 "reports/**" (plotward.yaml:7)`, `private: default`, or why unmanaged.
fn wants(policy: &Policy, judged: &Judged) -> String {
    let by = match &judged.decided_by {
        DecidedBy::Rule { line, .. } => format!(
            "{} ({}:{line})",
            super::text::decided_by(&judged.decided_by),
            policy.name
        ),
        other => super::text::decided_by(other),
    };
    match judged.wanted {
        Some(level) => format!("{level}: {by}"),
        None if judged.decided_by == DecidedBy::Folder => {
            "unmanaged: a folder no rule names".to_owned()
        }
        None => format!("unmanaged (ignore): {by}"),
    }
}

/// `compliant`, or each finding as `check` words it.
fn verdict(judged: &Judged) -> String {
    if judged.is_compliant() {
        return "compliant".to_owned();
    }
    let findings: Vec<String> = judged.findings.iter().map(super::text::finding).collect();
    format!("not compliant: {}", findings.join("; "))
}

/// What `plan` does: to the file's own flags, and to the folder that exposes it.
fn plan_action(judged: &Judged) -> String {
    let own = match judged.action {
        Action::Ignore => "leaves it alone (unmanaged)".to_owned(),
        Action::Keep => format!("keeps its own flags ({})", judged.own),
        Action::Change(to) => format!(
            "{} it: {} -> {to}",
            direction_word(Direction::of(judged.own, to)),
            judged.own
        ),
    };
    match judged.restricts_folder() {
        Some(folder) => format!(
            "restricts folder {folder}/ (it exposes this file more than the policy wants), and {own}"
        ),
        None => own,
    }
}

fn direction_word(direction: Direction) -> &'static str {
    match direction {
        Direction::Restrict => "restricts",
        Direction::Expose => "exposes",
    }
}

/// `Status: 2 compliant, 1 not compliant, 1 not found.`
pub(crate) fn summary_line(rows: &[Row]) -> String {
    let (mut good, mut bad, mut missing) = (0, 0, 0);
    for row in rows {
        match row {
            Row::Missing { .. } => missing += 1,
            Row::Found(judged) if judged.is_compliant() => good += 1,
            Row::Found(_) => bad += 1,
        }
    }
    let missing = match missing {
        0 => String::new(),
        n => format!(", {n} not found"),
    };
    format!("Status: {good} compliant, {bad} not compliant{missing}.")
}

/// The JSON document.
pub(crate) fn json(
    view: &StatusView<'_>,
    _painter: Painter,
    out: &mut dyn Write,
) -> io::Result<()> {
    super::json::write(&status_json(view), out)
}

/// The wire form of `status`, each verdict in words.
pub(crate) fn status_json(view: &StatusView<'_>) -> StatusJson {
    let files: Vec<StatusFileJson> = view.rows.iter().map(file_json).collect();
    StatusJson {
        format_version: STATUS_FORMAT_VERSION,
        policy: view.policy.name.clone(),
        source: view.source.clone(),
        judged_from: match view.basis {
            Basis::Lookup => "lookup",
            Basis::Listing => "listing",
            Basis::Snapshot => "snapshot",
        }
        .to_owned(),
        compliant: files.iter().all(|f| f.compliant == Some(true)),
        files,
    }
}

fn file_json(row: &Row) -> StatusFileJson {
    let judged = match row {
        Row::Missing { path } => {
            return StatusFileJson {
                path: path.clone(),
                found: false,
                fid: None,
                filetype: None,
                sharing: None,
                effective: None,
                through: None,
                wanted: None,
                rule: None,
                compliant: None,
                plan: None,
                to: None,
                restricts_folder: None,
                message: "not found".to_owned(),
            };
        }
        Row::Found(judged) => judged,
    };
    let (plan, to) = match judged.action {
        Action::Ignore => ("ignore", None),
        Action::Keep => ("keep", None),
        Action::Change(to) => match Direction::of(judged.own, to) {
            Direction::Restrict => ("restrict", Some(to)),
            Direction::Expose => ("expose", Some(to)),
        },
    };
    StatusFileJson {
        path: judged.path.clone(),
        found: true,
        fid: Some(judged.fid.clone()),
        filetype: Some(judged.filetype.clone()),
        sharing: Some(judged.own),
        effective: Some(judged.effective),
        through: judged.through.clone(),
        wanted: judged.wanted,
        rule: match judged.decided_by {
            DecidedBy::Rule { .. } | DecidedBy::Default => {
                Some(RuleJson::from(&DecidingRule::from(&judged.decided_by)))
            }
            DecidedBy::Folder | DecidedBy::Contents(_) => None,
        },
        compliant: Some(judged.is_compliant()),
        plan: Some(plan.to_owned()),
        to,
        restricts_folder: judged.restricts_folder().map(str::to_owned),
        message: verdict(judged),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::inventory::{FileType, Flags, Inventory, RemoteFile, Sharing};

    fn view_of(paths: &[String], inventory: &Inventory, policy: &Policy) -> Vec<Row> {
        let plan = crate::plan::diff(policy, inventory);
        crate::status::judge(&plan, &policy.guardrails, paths)
    }

    fn render_text(rows: &[Row], policy: &Policy) -> String {
        let source = Source::Snapshot {
            path: "s.json".into(),
        };
        let view = StatusView {
            rows,
            policy,
            source: &source,
            basis: Basis::Snapshot,
        };
        let mut out = Vec::new();
        text(&view, Painter::new(false), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_file_exposed_through_its_folder_reads_as_check_says_it() {
        let policy = Policy::parse(
            "version: 1\ndefault: private\nrules:\n  - match: \"open/**\"\n    sharing: private\n",
            "p.yaml",
        )
        .unwrap();
        let file = |fid: &str, path: &str, filetype: &str, public: bool| RemoteFile {
            fid: fid.into(),
            path: path.into(),
            filetype: FileType::from_api(filetype),
            flags: Flags {
                world_readable: public,
                share_key_enabled: false,
            },
        };
        let inventory = Inventory::new(vec![
            file("alice:1", "open", "fold", true),
            file("alice:2", "open/chart", "plot", false),
        ]);
        let rows = view_of(&["open/chart".into(), "gone".into()], &inventory, &policy);
        assert_eq!(
            render_text(&rows, &policy),
            "open/chart (plot, alice:2)\n\
             \x20 sharing  public through folder open/ (its own flags: private)\n\
             \x20 policy   private: rule 1 \"open/**\" (p.yaml:4)\n\
             \x20 verdict  not compliant: public through folder open/, the policy wants private (rule 1 \"open/**\")\n\
             \x20 plan     restricts folder open/ (it exposes this file more than the policy wants), and keeps its own flags (private)\n\
             gone: not found (no file at this path)\n\
             Status: 0 compliant, 1 not compliant, 1 not found.\n"
        );
        let source = Source::Snapshot {
            path: "s.json".into(),
        };
        let json = status_json(&StatusView {
            rows: &rows,
            policy: &policy,
            source: &source,
            basis: Basis::Snapshot,
        });
        assert!(!json.compliant);
        assert_eq!(json.files[0].effective, Some(Sharing::Public));
        assert_eq!(json.files[0].restricts_folder.as_deref(), Some("open"));
        assert!(!json.files[1].found);
    }

    proptest! {
        /// Whatever the names, no control character reaches the terminal.
        #[test]
        fn no_control_character_reaches_the_output(name in "\\PC{1,12}", ctl in "[\\x00-\\x1f\\x7f\\u{202e}]") {
            let policy = Policy::parse("version: 1\ndefault: private\n", "p.yaml").unwrap();
            let path = format!("{name}{ctl}x").replace('/', "_");
            let inventory = Inventory::new(vec![RemoteFile {
                fid: "alice:1".into(),
                path: path.clone(),
                filetype: FileType::Plot,
                flags: Flags { world_readable: true, share_key_enabled: false },
            }]);
            let rows = view_of(&[path, format!("missing{ctl}")], &inventory, &policy);
            let shown = render_text(&rows, &policy);
            prop_assert!(!shown.chars().any(|c| c.is_control() && c != '\n'), "{shown:?}");
            prop_assert!(!shown.contains('\u{202e}'), "a bidi override reached the output");
        }
    }
}
