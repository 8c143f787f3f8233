//! `test` and `schema`: offline tools for the policy file itself.

use std::path::Path;

use super::Io;
use crate::error::{Error, Exit};
use crate::policy::Policy;
use crate::policytest::{self, TestFile};
use crate::render;

/// `test`: runs the cases and assertions and reports them in `format`; exit 1 on any failure.
pub(crate) fn test(
    file: &Path,
    format: render::TestFormat,
    io: &mut Io<'_>,
) -> Result<Exit, Error> {
    let tests = TestFile::load(file)?;
    let policy = Policy::load(&tests.policy)?;
    let outcome = policytest::run(&tests, &policy);
    let view = render::PolicyTestView {
        tests: &tests,
        policy: &policy,
        outcome: &outcome,
    };
    render::policy_test(&view, format, io.out_painter, io.out)?;
    Ok(if outcome.passed() {
        Exit::Success
    } else {
        Exit::Failure
    })
}

/// `schema`: the policy's JSON Schema.
pub(crate) fn schema(io: &mut Io<'_>) -> Result<Exit, Error> {
    render::json::write(&crate::schema::policy(), io.out)?;
    Ok(Exit::Success)
}
