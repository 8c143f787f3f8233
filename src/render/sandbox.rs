//! What `plotward sandbox` and `demo` say: the banner (where and as whom to connect), the
//! server's events, and the demo's narration. Scripts read the banner's first line for the
//! URL, so its shape is a contract (tests read it).

use std::io::{self, Write};
use std::path::Path;

use plotward_sandbox::{Event, Started, User};

use plotward_visible::escape;

/// The most users the banner lists with their keys; more are summed up in one line.
const SHOWN_USERS: usize = 5;

/// The banner once the sandbox listens. `state` is the `--state` file, `seeded` whether a
/// `--seed`/`--generate` was given (a resumed state file takes precedence over it).
pub(crate) fn banner(
    started: &Started,
    state: Option<&Path>,
    seeded: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    let url = &started.url;
    writeln!(out, "plotward sandbox: Chart Studio v2 API at {url}")?;
    writeln!(
        out,
        "  files: {}, folders: {}",
        started.files, started.folders
    )?;
    if let Some(state) = state {
        writeln!(
            out,
            "  state: {}",
            plotward_visible::escape(&state.display().to_string())
        )?;
        if started.resumed && seeded {
            // The seed did not load: say so, rather than let the counts above surprise.
            writeln!(
                out,
                "  started from the existing state file, not from --seed/--generate (which \
                 /_sandbox/reset goes back to); use another --state file to start from the seed"
            )?;
        }
    }
    if started.users.len() > SHOWN_USERS {
        // An organization: its keys are the scheme's (or in the state file), not a screenful.
        let first = &started.users[0];
        writeln!(
            out,
            "  users: {} ({} to {}), each with its own key; the first is shown",
            started.users.len(),
            escape(&first.username),
            escape(&started.users[started.users.len() - 1].username),
        )?;
    }
    let shown = if started.users.len() > SHOWN_USERS {
        1
    } else {
        SHOWN_USERS
    };
    for user in started.users.iter().take(shown) {
        // Seeded users are named by the seed's fids: shown inertly.
        writeln!(
            out,
            "  user: {}  api key: {}",
            escape(&user.username),
            escape(&user.api_key)
        )?;
    }
    if let Some(user) = started.users.first() {
        writeln!(out, "Point clients at it:")?;
        writeln!(
            out,
            "  export PLOTLY_API_DOMAIN={url} PLOTLY_USERNAME={} PLOTLY_API_KEY={}",
            escape(&user.username),
            escape(&user.api_key)
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

/// A running sandbox's event as one stderr line, if it is one worth a line.
pub(crate) fn event(event: &Event) -> Option<String> {
    match event {
        Event::Warning(message) => Some(format!("warning: {}", escape(message))),
        Event::Stopped(err) => Some(format!("sandbox stopped: {}", escape(&err.to_string()))),
        _ => None,
    }
}

/// The last line of `plotward sandbox`, after a signal stopped it.
pub(crate) fn stopped(out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "sandbox stopped")
}

/// The demo's first line.
pub(crate) fn demo_intro(url: &str, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "plotward demo: a sandbox Chart Studio at {url}, seeded with examples/inventory.json\n"
    )
}

/// One step of the demo, shown as the command a person would type; steps after the first
/// are set apart by a blank line.
pub(crate) fn demo_step(command: &str, first: bool, out: &mut dyn Write) -> io::Result<()> {
    let gap = if first { "" } else { "\n" };
    writeln!(out, "{gap}$ plotward {command}")
}

/// The end of a demo that keeps its sandbox running: how to point plotward at it.
pub(crate) fn demo_running(url: &str, user: &User, out: &mut dyn Write) -> io::Result<()> {
    exports(url, user, out)?;
    writeln!(out, "The sandbox keeps running. Press Ctrl-C to stop.")?;
    out.flush()
}

/// The end of a demo whose sandbox stopped with it: how to start one by hand.
pub(crate) fn demo_stopped(out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "\nThe sandbox stopped with the demo. To explore by hand, start one and point plotward at it:\n  \
         plotward sandbox --seed examples/inventory.json --user alice:demo-key"
    )?;
    exports(
        "http://127.0.0.1:9889",
        &User {
            username: "alice".into(),
            api_key: "demo-key".into(),
        },
        out,
    )
}

fn exports(url: &str, user: &User, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "  export PLOTLY_API_DOMAIN={url} PLOTLY_USERNAME={} PLOTLY_API_KEY={}\n  \
         plotward plan -p policies/example.yaml",
        escape(&user.username),
        escape(&user.api_key)
    )
}
