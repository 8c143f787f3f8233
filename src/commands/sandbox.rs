//! `sandbox` and `demo`.

use std::io::{self, Write};

use plotward_sandbox::{Event, Events, Options, Sandbox, Seed, Started, User};

use super::Io;
use crate::error::{Error, Exit};

/// `sandbox`: serves until Ctrl-C or SIGTERM, after printing where and as whom to connect.
pub(crate) fn sandbox(options: &Options, io: &mut Io<'_>) -> Result<Exit, Error> {
    let runtime = super::runtime()?;
    // Listen for the signals before the banner says the server is up: a SIGTERM sent as
    // soon as the URL is printed must stop it cleanly, not kill it.
    let shutdown = {
        let _inside = runtime.enter();
        shutdown_signal().map_err(Error::Signals)?
    };
    let mut printed = Ok(());
    runtime.block_on(plotward_sandbox::serve(
        Options {
            events: to_stderr(),
            ..options.clone()
        },
        shutdown,
        |started| {
            printed = print_sandbox_banner(started, options, io.out);
        },
    ))?;
    printed?;
    writeln!(io.err, "sandbox stopped")?;
    Ok(Exit::Success)
}

/// The running sandbox's events on stderr, as `warning: ...` and `sandbox stopped: ...`.
/// Written directly: the server's threads outlive any borrow of [`Io`].
fn to_stderr() -> Events {
    Events::new(|event| {
        let line = match event {
            Event::Warning(message) => format!("warning: {message}"),
            Event::Stopped(err) => format!("sandbox stopped: {err}"),
            _ => return,
        };
        let _ = writeln!(io::stderr(), "{line}");
    })
}

fn print_sandbox_banner(
    started: &Started,
    options: &Options,
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
        if started.resumed && !matches!(options.seed, Seed::Empty) {
            // The seed did not load: say so, rather than let the counts above surprise.
            writeln!(
                out,
                "  started from the existing state file, not from --seed/--generate (which \
                 /_sandbox/reset goes back to); use another --state file to start from the seed"
            )?;
        }
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

/// A future that completes on Ctrl-C or SIGTERM. The handlers are installed now, when this is
/// called (inside a runtime), not when the future is first polled.
fn shutdown_signal() -> io::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = term.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

/// The example account and policy, built in so the demo runs from any directory.
const EXAMPLE_INVENTORY: &str = include_str!("../../examples/inventory.json");
const EXAMPLE_POLICY: &str = include_str!("../../policies/example.yaml");

/// `demo`: plan, apply and plan again against a sandbox seeded with the example account.
pub(crate) fn demo(keep_running: bool, io: &mut Io<'_>) -> Result<Exit, Error> {
    use crate::policy::Policy;
    use crate::remote::{Client, Connection, RetryPolicy, TlsVerify};

    let seed = Seed::parse_snapshot(
        EXAMPLE_INVENTORY,
        std::path::Path::new("examples/inventory.json"),
    )?;
    let policy = Policy::parse(EXAMPLE_POLICY, "policies/example.yaml")?;
    let sandbox = Sandbox::start(&Options {
        seed,
        events: to_stderr(),
        ..Options::default()
    })?;
    let user = sandbox.users()[0].clone();
    let connection = Connection {
        api_url: sandbox.url().to_owned(),
        username: user.username.clone(),
        api_key: crate::remote::ApiKey::new(user.api_key.clone()),
        tls: TlsVerify::System,
        sources: crate::remote::Sources::builtin("the demo sandbox"),
    };
    let remote = crate::config::Remote {
        connection,
        retry: RetryPolicy::default(),
        parallelism: 8,
        max_response_bytes: crate::remote::DEFAULT_MAX_RESPONSE_BYTES,
        accept_count_mismatch: false,
    };
    let client = Client::new(&remote.connection, remote.retry)?;
    writeln!(
        io.out,
        "plotward demo: a sandbox Chart Studio at {}, seeded with examples/inventory.json\n",
        sandbox.url()
    )?;
    let runtime = super::runtime()?;
    let exit = runtime.block_on(demo_steps(&client, &policy, &remote, io))?;
    if keep_running {
        let shutdown = {
            let _inside = runtime.enter();
            shutdown_signal().map_err(Error::Signals)?
        };
        print_exports(sandbox.url(), &user, io.out)?;
        writeln!(io.out, "The sandbox keeps running. Press Ctrl-C to stop.")?;
        io.out.flush()?;
        runtime.block_on(shutdown);
    } else {
        writeln!(
            io.out,
            "\nThe sandbox stopped with the demo. To explore by hand, start one and point plotward at it:\n  \
             plotward sandbox --seed examples/inventory.json --user alice:demo-key"
        )?;
        print_exports(
            "http://127.0.0.1:9889",
            &User {
                username: "alice".into(),
                api_key: "demo-key".into(),
            },
            io.out,
        )?;
    }
    sandbox.stop();
    Ok(exit)
}

async fn demo_steps(
    client: &crate::remote::Client,
    policy: &crate::policy::Policy,
    remote: &crate::config::Remote,
    io: &mut Io<'_>,
) -> Result<Exit, Error> {
    use super::plan::{api_source, list_account, show_plan};
    use crate::render::Format;

    writeln!(io.out, "$ plotward plan -p policies/example.yaml")?;
    let inventory = list_account(client, remote, io).await?;
    let (plan, _) = show_plan(policy, &inventory, api_source(client), Format::Text, io)?;
    let watches = crate::apply::watches(&plan, &policy.guardrails);
    writeln!(
        io.out,
        "\n$ plotward apply -p policies/example.yaml --auto-approve"
    )?;
    let options = crate::apply::Options {
        parallelism: remote.parallelism,
        ..crate::apply::Options::default()
    };
    let changes = crate::apply::changes(&plan);
    let report = super::apply::carry_out(client, changes, &watches, options, None, io).await?;
    writeln!(io.out, "\n$ plotward plan -p policies/example.yaml")?;
    let inventory = list_account(client, remote, io).await?;
    show_plan(policy, &inventory, api_source(client), Format::Text, io)?;
    Ok(super::apply::exit_for(&report))
}

fn print_exports(url: &str, user: &User, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "  export PLOTLY_API_DOMAIN={url} PLOTLY_USERNAME={} PLOTLY_API_KEY={}\n  \
         plotward plan -p policies/example.yaml",
        user.username, user.api_key
    )
}
