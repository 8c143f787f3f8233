//! `show`: a saved plan, rendered as `plan` rendered it. No credentials, no network.

use super::Io;
use super::apply::{PlanDocument, read_plan_document};
use crate::apply::Refusal;
use crate::config::ShowConfig;
use crate::error::{Error, Exit};
use crate::render::{self, PlanView, ShowOptions};
use crate::wire::accounts::PlansFile;

/// `show PLANFILE`: reads the plan bounded, checks it as `apply` would (a plan that says two
/// things is refused, exit 1) and renders it through the same view as a fresh plan; a plan
/// over several accounts as `plan` showed it, every section and the total.
pub(crate) fn show(config: &ShowConfig, io: &mut Io<'_>) -> Result<Exit, Error> {
    let path = &config.plan_file;
    let options = ShowOptions {
        full: config.full,
        saved_as: Some(path.display().to_string()),
        artifact_url: config.artifact_url.clone(),
    };
    let file = match read_plan_document(path)? {
        PlanDocument::One(file) => *file,
        PlanDocument::Several(file) => return show_accounts(file, options, config, io),
    };
    let view = PlanView::new(file, options).map_err(|error| Refusal::Invalid {
        plan: path.clone(),
        error,
    })?;
    render::plan(&view, config.format, io.out_painter, io.out)?;
    Ok(Exit::Success)
}

/// A plan over several accounts: its sections checked (each plan as a single-account plan is,
/// first of all, so nothing of a broken file is printed), then shown as `plan` showed them.
fn show_accounts(
    file: PlansFile,
    options: ShowOptions,
    config: &ShowConfig,
    io: &mut Io<'_>,
) -> Result<Exit, Error> {
    let path = &config.plan_file;
    let refused = |error| Refusal::Accounts {
        plan: path.clone(),
        error,
    };
    crate::apply::accounts::check_sections(&file).map_err(refused)?;
    for section in &file.accounts {
        if let Some(plan) = &section.plan {
            // The check `show_plans` makes again, here with the words of a refusal.
            PlanView::new(plan.clone(), options.clone()).map_err(|error| {
                refused(crate::apply::SavedAccountsError::Section {
                    user: section.user.clone(),
                    server: section.server.clone(),
                    error,
                })
            })?;
        }
    }
    let sections = crate::render::accounts::plans_sections(file);
    super::accounts::show_plans(sections, (config.format, options), io.out_painter, io.out)?;
    Ok(Exit::Success)
}
