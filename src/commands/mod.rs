//! The commands: each reads its inputs, calls the pure core and writes its output.

mod accounts;
mod accounts_files;
mod apply;
mod apply_accounts;
mod check;
mod export;
mod outfile;
mod plan;
mod policy;
mod sandbox;
mod show;
mod status;
mod watch;

use std::io::Write;

pub(crate) use outfile::write_atomically;
use std::path::Path;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

pub(crate) use apply::apply;
pub(crate) use check::check;
pub(crate) use export::export;
pub(crate) use plan::{plan, snapshot};
pub(crate) use policy::{schema, test};
pub(crate) use sandbox::{demo, sandbox};
pub(crate) use show::show;
pub(crate) use status::status;
pub(crate) use watch::watch;

use crate::error::{Error, Exit};
use crate::inventory::FileType;
use crate::policy::{Decision, Policy};
use crate::render::Painter;

/// Output streams and their painters.
pub(crate) struct Io<'a> {
    /// Standard output.
    pub out: &'a mut dyn Write,
    /// Painter for `out`.
    pub out_painter: Painter,
    /// Standard error, for warnings.
    pub err: &'a mut dyn Write,
    /// Painter for `err`.
    pub err_painter: Painter,
    /// Whether stderr is a terminal, for progress bars.
    pub progress: bool,
    /// Whether stdin is a terminal, so questions can be asked.
    pub stdin_is_terminal: bool,
}

impl Io<'_> {
    /// A progress bar on stderr, or a hidden one when stderr is not a terminal. Its total
    /// starts unknown (a listing learns it from the first page) and the count is drawn by
    /// [`render::text::progress_count`](crate::render::text::progress_count), which never
    /// shows a total of 0.
    pub(crate) fn progress_bar(&self, what: &str) -> ProgressBar {
        if !self.progress {
            return ProgressBar::hidden();
        }
        styled_bar(what, ProgressDrawTarget::stderr())
    }
}

/// A progress bar with an unknown total drawing to `target`, its count worded by
/// `render::text::progress_count`.
fn styled_bar(what: &str, target: ProgressDrawTarget) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, target);
    let count = |state: &ProgressState, out: &mut dyn std::fmt::Write| {
        let _ = out.write_str(&crate::render::text::progress_count(
            state.pos(),
            state.len(),
        ));
    };
    let style = ProgressStyle::with_template("{msg} {count} ({elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("count", count);
    bar.set_style(style);
    bar.set_message(what.to_owned());
    bar
}

/// The runtime and API client for a remote (read-only for commands that must never write),
/// warning on stderr when certificate checks are off, once the credentials check
/// (`GET /v2/users/current`) passed: nothing else is sent to a server that refuses the key or
/// names another user. The command runs on the same runtime, so the client's pooled
/// connection is reused rather than left on a runtime that is gone.
fn connect(
    remote: &crate::config::Remote,
    read_only: bool,
    io: &mut Io<'_>,
) -> Result<(tokio::runtime::Runtime, crate::remote::Client), Error> {
    if remote.connection.tls == crate::remote::TlsVerify::Off {
        crate::render::text::tls_off_warning(io.err_painter, io.err)?;
    }
    let client = if read_only {
        crate::remote::Client::read_only(&remote.connection, remote.retry)?
    } else {
        crate::remote::Client::new(&remote.connection, remote.retry)?
    }
    .with_max_response_bytes(remote.max_response_bytes);
    let client = if remote.verbose {
        trace(client, io)?
    } else {
        client
    };
    let runtime = runtime()?;
    runtime.block_on(client.check_credentials())?;
    Ok((runtime, client))
}

/// `-v`: says where requests go (directly or through which proxy) and traces each attempt on
/// stderr. Progress bars are hidden, so they cannot garble the trace.
fn trace(client: crate::remote::Client, io: &mut Io<'_>) -> Result<crate::remote::Client, Error> {
    use crate::remote::trace;
    io.progress = false;
    writeln!(io.err, "{}", connection_line(&client.api_url()))?;
    // Attempts run on the runtime's workers: each line goes to stderr in one write.
    Ok(client.with_trace(trace::Sink::new(|exchange| {
        let line = format!("{}\n", crate::render::trace::exchange(exchange));
        let _ = std::io::stderr().write_all(line.as_bytes());
    })))
}

/// `-v`'s line saying where requests to `origin` go: directly or through which proxy.
fn connection_line(origin: &str) -> String {
    // Only https goes through a proxy: the client sends plain http (loopback) direct.
    let proxy = origin
        .starts_with("https:")
        .then(|| crate::remote::trace::proxy_for("https", &|name| std::env::var(name).ok()))
        .flatten();
    crate::render::trace::connection(origin, proxy.as_ref())
}

/// `--strict`: whether the plan fails it (a dead rule, or a policy that manages no file),
/// saying why on stderr.
/// Refuses `--target` globs that match no file of the account: a typo would limit the run to
/// nothing and report the account clean.
fn refuse_unmatched_targets(
    targets: &crate::policy::Targets,
    inventory: &crate::inventory::Inventory,
) -> Result<(), Error> {
    let unmatched = targets.unmatched(inventory.files().iter().map(|f| f.path.as_str()));
    if unmatched.is_empty() {
        return Ok(());
    }
    let globs = unmatched.into_iter().map(str::to_owned).collect();
    Err(crate::error::UsageError::TargetMatchesNothing(globs).into())
}

fn fails_strict(plan: &crate::plan::Plan<'_>, io: &mut Io<'_>) -> Result<bool, Error> {
    let Some(failures) = plan.strict_failures() else {
        return Ok(false);
    };
    crate::render::text::strict_refusal(&failures, io.err_painter, io.err)?;
    Ok(true)
}

/// Hands the first SIGINT or SIGTERM to `first` by name (`None` for Ctrl-C where there are no
/// signals); a second exits at once (130). The handlers are installed by this call, so a
/// signal that comes before the future is first polled is not missed. `apply` halts its
/// clients with it, `watch` its cycles.
pub(super) fn on_stop_signals(
    first: impl FnOnce(Option<&'static str>) + Send + 'static,
) -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        Ok(async move {
            let name = tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            };
            first(Some(name));
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            std::process::exit(130);
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                first(None);
            }
        })
    }
}

/// A runtime for the network commands: two workers suit this I/O-bound work.
fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(Error::Runtime)
}

/// Reads and validates a policy, its `account.server` checked as the connection URL is.
fn load_policy(path: &Path) -> Result<Policy, Error> {
    let server_rule = |url: &str| {
        crate::remote::credentials::check_url(url).map_err(|err| match err {
            crate::remote::credentials::CredentialsError::Url { message, .. } => message,
            other => other.to_string(),
        })
    };
    Ok(Policy::load_with(path, &server_rule)?)
}

/// The one policy of a command that reads one account (`snapshot`, `export`), whose
/// `account:` names it; `None` without `-p`.
fn one_account_policy(
    command: &'static str,
    policies: &[std::path::PathBuf],
) -> Result<Option<Policy>, Error> {
    match policies {
        [] => Ok(None),
        [one] => load_policy(one).map(Some),
        more => Err(crate::error::UsageError::SeveralPolicies {
            command,
            count: more.len(),
        }
        .into()),
    }
}

/// `validate`: `policy.yaml: valid, 4 rules`.
pub(crate) fn validate(policy: &Path, io: &mut Io<'_>) -> Result<Exit, Error> {
    let policy = load_policy(policy)?;
    crate::render::diagnostic::warnings(&policy, io.err_painter, io.err)?;
    crate::render::text::valid(&policy, io.out_painter, io.out)?;
    Ok(Exit::Success)
}

/// `explain`: which rule decides each path, for each file type where they differ.
pub(crate) fn explain(
    policy: &Path,
    filetypes: &[FileType],
    paths: &[String],
    io: &mut Io<'_>,
) -> Result<Exit, Error> {
    let policy = load_policy(policy)?;
    crate::render::diagnostic::warnings(&policy, io.err_painter, io.err)?;
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
        crate::render::text::explain(&policy, path, &groups, io.out_painter, io.out)?;
    }
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use indicatif::{ProgressDrawTarget, TermLike};

    /// A terminal that keeps the last line drawn.
    #[derive(Clone, Debug, Default)]
    struct Screen(Arc<Mutex<String>>);

    impl Screen {
        fn line(&self) -> String {
            self.0.lock().unwrap().clone()
        }
    }

    impl TermLike for Screen {
        fn width(&self) -> u16 {
            100
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.write_str(s)
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            // The padding that clears the rest of the line is not the text.
            if !s.trim().is_empty() {
                *self.0.lock().unwrap() = s.to_owned();
            }
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What the bar shows after `steps`, drawn once (abandoning draws the state as it is,
    /// whatever the refresh rate, so no timing is involved).
    fn drawn(steps: impl FnOnce(&indicatif::ProgressBar)) -> String {
        let screen = Screen::default();
        let bar = super::styled_bar(
            "listing pages",
            ProgressDrawTarget::term_like(Box::new(screen.clone())),
        );
        steps(&bar);
        bar.abandon();
        screen.line()
    }

    /// The bar as the listing drives it: no total until the first page says how many there
    /// are, then `1/N`; never `0/0` or `1/0`.
    #[test]
    fn the_listing_bar_shows_no_total_until_it_knows_one() {
        let before = drawn(|_| {});
        assert!(before.starts_with("listing pages ... ("), "{before:?}");
        let first_page = drawn(|bar| {
            bar.set_length(4);
            bar.set_position(1);
        });
        assert!(first_page.contains("] 1/4 ("), "{first_page:?}");
        for line in [&before, &first_page] {
            assert!(!line.contains("0/0") && !line.contains("/0 "), "{line:?}");
        }
    }
}
