//! The commands: each reads its inputs, calls the pure core and writes its output.

use std::io::{self, Write};
use std::path::Path;

use crate::config::PlanConfig;
use crate::error::{Error, Exit};
use crate::inventory::{FileType, Snapshot};
use crate::plan;
use crate::planfile::{PlanFile, Source};
use crate::policy::{Decision, Policy};
use crate::render::{self, Format, Painter};

/// Output streams and their painters.
pub struct Io<'a> {
    /// Standard output.
    pub out: &'a mut dyn Write,
    /// Painter for `out`.
    pub out_painter: Painter,
    /// Standard error, for warnings.
    pub err: &'a mut dyn Write,
    /// Painter for `err`.
    pub err_painter: Painter,
}

/// `validate`: `policy.yaml: valid, 4 rules`.
pub fn validate(policy: &Path, io: &mut Io<'_>) -> Result<Exit, Error> {
    let policy = Policy::load(policy)?;
    let count = policy.rules.len();
    let noun = if count == 1 { "rule" } else { "rules" };
    writeln!(io.out, "{}: valid, {count} {noun}", policy.name)?;
    Ok(Exit::Success)
}

/// `explain`: which rule decides each path, for each file type where they differ.
pub fn explain(
    policy: &Path,
    filetypes: &[FileType],
    paths: &[String],
    io: &mut Io<'_>,
) -> Result<Exit, Error> {
    let policy = Policy::load(policy)?;
    let mut decider = policy.decider();
    for path in paths {
        // Group the file types by the decision they get, keeping the first type's order.
        let mut groups: Vec<(Decision<'_>, Vec<&FileType>)> = Vec::new();
        for filetype in filetypes {
            let decision = decider.decide(path, filetype);
            match groups.iter_mut().find(|(seen, _)| *seen == decision) {
                Some((_, types)) => types.push(filetype),
                None => groups.push((decision, vec![filetype])),
            }
        }
        let all_alike = groups.len() == 1 && filetypes.len() > 1;
        for (decision, types) in &groups {
            let label = if all_alike {
                String::new()
            } else {
                let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
                format!(" [{}]", names.join(", "))
            };
            let reason = explain_decision(&policy, decision);
            let target = decision.target().as_str();
            writeln!(io.out, "{path}{label}: {target}  ({reason})")?;
        }
    }
    Ok(Exit::Success)
}

fn explain_decision(policy: &Policy, decision: &Decision<'_>) -> String {
    match decision {
        Decision::Rule { rule, pattern } => format!(
            "rule {} \"{}\", {}:{}:{}",
            rule.number, pattern.glob, policy.name, pattern.span.line, pattern.span.column
        ),
        Decision::Default(_) => "no rule matches; the default applies".to_owned(),
        Decision::Folder => "a folder no rule names; folders need a rule with `fold`".to_owned(),
    }
}

/// `plan`: the diff, rendered; saved as JSON with `--out`.
pub fn plan(config: &PlanConfig, io: &mut Io<'_>) -> Result<Exit, Error> {
    let policy = Policy::load(&config.policy)?;
    let inventory = Snapshot::load(&config.snapshot)?.into_inventory();
    let plan = plan::diff(&policy, &inventory);
    render::text::dead_rule_warnings(&plan.dead_rules, &policy.name, io.err_painter, io.err)?;
    let source = Source::Snapshot {
        path: config.snapshot.display().to_string(),
    };
    let file = PlanFile::new(&plan, &policy.name, source);
    match config.format {
        Format::Text => render::text::plan(&plan, io.out_painter, io.out)?,
        Format::Json => render::json(&file, io.out)?,
    }
    if let Some(path) = &config.out {
        let mut bytes = Vec::new();
        render::json(&file, &mut bytes)?;
        write_atomically(path, &bytes)?;
    }
    let pending = plan.summary().has_changes();
    Ok(if pending && config.detailed_exitcode {
        Exit::Changes
    } else {
        Exit::Success
    })
}

/// Writes a file through a temporary sibling and a rename, so a reader never sees half of it.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let fail = |source: io::Error| Error::WriteFile {
        path: path.to_owned(),
        source,
    };
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    std::fs::write(&temporary, bytes).map_err(fail)?;
    std::fs::rename(&temporary, path).map_err(fail)
}

/// `sandbox`: serves until Ctrl-C or SIGTERM, after printing where and as whom to connect.
pub fn sandbox(options: &crate::sandbox::Options, io: &mut Io<'_>) -> Result<Exit, Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut printed = Ok(());
    runtime.block_on(crate::sandbox::serve(
        options.clone(),
        shutdown_signal(),
        |started| {
            printed = print_sandbox_banner(started, options, io.out);
        },
    ))?;
    printed?;
    writeln!(io.err, "sandbox stopped")?;
    Ok(Exit::Success)
}

fn print_sandbox_banner(
    started: &crate::sandbox::Started,
    options: &crate::sandbox::Options,
    out: &mut dyn Write,
) -> io::Result<()> {
    let url = &started.url;
    writeln!(out, "plotward sandbox: Chart Studio v2 API at {url}")?;
    writeln!(
        out,
        "  files: {}, folders: {}",
        started.files, started.folders
    )?;
    if let Some(state) = &options.state {
        writeln!(out, "  state: {}", state.display())?;
    }
    for user in &started.users {
        writeln!(out, "  user: {}  api key: {}", user.username, user.api_key)?;
    }
    if let Some(user) = started.users.first() {
        writeln!(out, "Point clients at it:")?;
        writeln!(
            out,
            "  export PLOTLY_API_DOMAIN={url} PLOTLY_USERNAME={} PLOTLY_API_KEY={}",
            user.username, user.api_key
        )?;
    }
    writeln!(
        out,
        "Not part of Chart Studio: {url}/_sandbox/requests, /_sandbox/state, /_sandbox/reset, /_sandbox/faults"
    )?;
    writeln!(out, "Press Ctrl-C to stop.")?;
    // Scripts read the URL from the first line while the server runs: flush now.
    out.flush()
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = ctrl_c.await;
            return;
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
