//! `check`: the read-only compliance gate.

use super::Io;
use super::plan::load_inventory;
use crate::check::{self, Kind};
use crate::config::CheckConfig;
use crate::error::{Error, Exit};
use crate::plan;
use crate::planfile::{RuleJson, Source};
use crate::policy::Policy;
use crate::render::{self, CheckFormat, Painter};

/// `check`: exit 0 when compliant, 2 when anything is wrong. It lists through a read-only
/// client, so it cannot write.
pub fn check(config: &CheckConfig, io: &mut Io<'_>) -> Result<Exit, Error> {
    let policy = Policy::load(&config.policy)?;
    let (inventory, source) = load_inventory(&config.input, true, io)?;
    let plan = plan::diff(&policy, &inventory);
    let report = check::check(&plan, &policy.guardrails);
    match config.format {
        CheckFormat::Text => text(&report, io)?,
        CheckFormat::Json => render::write_json(&wire(&report, &policy, source), io.out)?,
        CheckFormat::Markdown => {
            let diff = render::diff::plan(&plan);
            io.out
                .write_all(render::markdown::check(&report, &diff).as_bytes())?;
        }
        CheckFormat::Junit => io
            .out
            .write_all(render::junit::check(&report, &policy.name).as_bytes())?,
    }
    Ok(if report.is_compliant() {
        Exit::Success
    } else {
        Exit::Changes
    })
}

fn text(report: &check::Report, io: &mut Io<'_>) -> Result<(), Error> {
    let findings: Vec<_> = report.findings().collect();
    let width = |f: &dyn Fn(&&check::Finding) -> usize| findings.iter().map(f).max().unwrap_or(0);
    let (pw, tw, fw) = (
        width(&|f| f.path.chars().count()),
        width(&|f| f.filetype.as_str().len()),
        width(&|f| f.fid.chars().count()),
    );
    for finding in &findings {
        writeln!(
            io.out,
            "  {} {:<pw$}  {:<tw$}  {:<fw$}  {}",
            io.out_painter.paint(Painter::RED, "!"),
            finding.path,
            finding.filetype.as_str(),
            finding.fid,
            finding.message()
        )?;
    }
    if !findings.is_empty() {
        writeln!(io.out)?;
    }
    writeln!(
        io.out,
        "{}",
        io.out_painter.paint(Painter::BOLD, report.summary_line())
    )?;
    Ok(())
}

/// The check result as versioned JSON.
fn wire(report: &check::Report, policy: &Policy, source: Source) -> check::CheckJson {
    let (drift, never_public) = report.counts();
    check::CheckJson {
        format_version: check::CHECK_FORMAT_VERSION,
        policy: policy.name.clone(),
        source,
        compliant: report.is_compliant(),
        summary: check::CheckSummaryJson {
            files: report.judged.len(),
            violations: drift + never_public,
            drift,
            never_public,
        },
        violations: report
            .findings()
            .map(|f| check::ViolationJson {
                fid: f.fid.clone(),
                path: f.path.clone(),
                filetype: f.filetype.clone(),
                kind: match f.kind {
                    Kind::Drift { .. } => "drift".to_owned(),
                    Kind::NeverPublic => "never_public".to_owned(),
                },
                now: f.now,
                wanted: match &f.kind {
                    Kind::Drift { wanted, .. } => Some(*wanted),
                    Kind::NeverPublic => None,
                },
                rule: match &f.kind {
                    Kind::Drift { decided_by, .. } => Some(RuleJson::from(decided_by)),
                    Kind::NeverPublic => None,
                },
                message: f.message(),
            })
            .collect(),
    }
}
