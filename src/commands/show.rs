//! `show`: a saved plan, rendered as `plan` rendered it. No credentials, no network.

use super::Io;
use super::apply::read_plan_file;
use crate::apply::Refusal;
use crate::config::ShowConfig;
use crate::error::{Error, Exit};
use crate::render::{self, PlanView, ShowOptions};

/// `show PLANFILE`: reads the plan bounded, checks it as `apply` would (a plan that says two
/// things is refused, exit 1) and renders it through the same view as a fresh plan.
pub(crate) fn show(config: &ShowConfig, io: &mut Io<'_>) -> Result<Exit, Error> {
    let path = &config.plan_file;
    let file = read_plan_file(path)?;
    let options = ShowOptions {
        full: config.full,
        saved_as: Some(path.display().to_string()),
        artifact_url: config.artifact_url.clone(),
    };
    let view = PlanView::new(file, options).map_err(|error| Refusal::Invalid {
        plan: path.clone(),
        error,
    })?;
    render::plan(&view, config.format, io.out_painter, io.out)?;
    Ok(Exit::Success)
}
