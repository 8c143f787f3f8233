//! What a running sandbox has to tell whoever started it, after start has returned.

use std::fmt;
use std::sync::Arc;

use super::SandboxError;

/// Something the server's own tasks have to report: no caller is waiting for a result when a
/// background save fails, so it goes to the [`Events`] sink of its [`Options`](super::Options).
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// Something failed and the server goes on: a state save, a journal write (that request
    /// was answered with a 500) or a journal truncation.
    Warning(String),
    /// The server of a [`Sandbox::start`](super::Sandbox::start) stopped with an error.
    /// [`serve`](super::serve) returns its error instead.
    Stopped(SandboxError),
}

/// Where [`Event`]s go.
///
/// A callback rather than a channel: events come from the server's tasks and its blocking
/// save threads, and a callback needs nothing on the caller's side to drain it while the
/// caller is blocked in [`serve`](super::serve). It is called on those threads, so it should
/// be quick. The library itself never prints: writing to stderr from here would tear the
/// caller's progress bars.
#[derive(Clone)]
pub struct Events(Arc<dyn Fn(Event) + Send + Sync>);

impl Events {
    /// Sends every event to `sink`.
    pub fn new(sink: impl Fn(Event) + Send + Sync + 'static) -> Events {
        Events(Arc::new(sink))
    }

    /// Drops every event.
    pub fn ignore() -> Events {
        Events::new(|_| {})
    }

    pub(crate) fn warn(&self, message: String) {
        (self.0)(Event::Warning(message));
    }

    pub(crate) fn stopped(&self, err: SandboxError) {
        (self.0)(Event::Stopped(err));
    }
}

/// Events are dropped unless the caller asks for them.
impl Default for Events {
    fn default() -> Events {
        Events::ignore()
    }
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Events(..)")
    }
}
