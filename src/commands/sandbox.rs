//! `sandbox` and `demo`.

use std::io::{self, Write};

use plotward_sandbox::{Events, Options, Sandbox, Seed};

use super::Io;
use crate::error::{Error, Exit};
use crate::render;

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
            let seeded = !matches!(options.seed, Seed::Empty);
            printed = render::sandbox::banner(started, options.state.as_deref(), seeded, io.out);
        },
    ))?;
    printed?;
    render::sandbox::stopped(io.err)?;
    Ok(Exit::Success)
}

/// The running sandbox's events on stderr, as `warning: ...` and `sandbox stopped: ...`.
/// Written directly: the server's threads outlive any borrow of [`Io`].
fn to_stderr() -> Events {
    Events::new(|event| {
        if let Some(line) = render::sandbox::event(&event) {
            let _ = writeln!(io::stderr(), "{line}");
        }
    })
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
pub(crate) fn demo(keep_running: bool, verbose: bool, io: &mut Io<'_>) -> Result<Exit, Error> {
    use crate::policy::Policy;
    use crate::remote::{Connection, RetryPolicy, TlsVerify};

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
        verbose,
    };
    render::sandbox::demo_intro(sandbox.url(), io.out)?;
    // The one way a command gets a client: the demo is checked like any other run.
    let (runtime, client) = super::connect(&remote, false, io)?;
    let exit = runtime.block_on(demo_steps(&client, &policy, &remote, io))?;
    if keep_running {
        let shutdown = {
            let _inside = runtime.enter();
            shutdown_signal().map_err(Error::Signals)?
        };
        render::sandbox::demo_running(sandbox.url(), &user, io.out)?;
        runtime.block_on(shutdown);
    } else {
        render::sandbox::demo_stopped(io.out)?;
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

    render::sandbox::demo_step("plan -p policies/example.yaml", true, io.out)?;
    let inventory = list_account(client, remote, io).await?;
    let super::plan::Shown { plan, breaches, .. } = show_plan(
        policy,
        (&inventory, &crate::policy::Targets::all()),
        api_source(client),
        (Format::Text, crate::render::ShowOptions::default()),
        io,
    )?;
    let watches = crate::apply::watches(&plan, &policy.guardrails);
    let changes = crate::apply::changes(&plan);
    // The guardrails hold here as in `apply`, whatever policy the demo is built with.
    crate::apply::check_guardrails(policy, &breaches, false)?;
    crate::apply::refuse_never_public(&changes, policy)?;
    render::sandbox::demo_step(
        "apply -p policies/example.yaml --auto-approve",
        false,
        io.out,
    )?;
    let options = crate::apply::Options {
        parallelism: remote.parallelism,
        ..crate::apply::Options::default()
    };
    let report = super::apply::carry_out(client, changes, &watches, options, None, io).await?;
    render::sandbox::demo_step("plan -p policies/example.yaml", false, io.out)?;
    let inventory = list_account(client, remote, io).await?;
    show_plan(
        policy,
        (&inventory, &crate::policy::Targets::all()),
        api_source(client),
        (Format::Text, crate::render::ShowOptions::default()),
        io,
    )?;
    Ok(super::apply::exit_for(&report))
}
