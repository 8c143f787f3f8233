//! Policy tests (`plotward test`): example paths with the sharing each must get, and
//! assertions such as "nothing under `finance/**` is ever public". They run offline, so a pull
//! request that edits the policy is checked before any account is touched.
//!
//! ```yaml
//! policy: plotward.yaml          # relative to this file
//! cases:
//!   - path: finance/payroll      # without filetype: must hold for every content type
//!     expect: private
//!   - path: reports/q3/revenue
//!     filetype: plot
//!     expect: secret
//! assertions:
//!   - under: "finance/**"
//!     never: public              # or a list: [public, secret]
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::inventory::{FileType, Sharing};
use crate::policy::{Decision, Diagnostic, Diagnostics, Policy, Span, Target, Unprovable};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDef {
    policy: Spanned<String>,
    #[serde(default)]
    cases: Vec<Spanned<CaseDef>>,
    #[serde(default)]
    assertions: Vec<Spanned<AssertionDef>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseDef {
    path: Spanned<String>,
    #[serde(default)]
    filetype: Option<Spanned<String>>,
    expect: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssertionDef {
    under: Spanned<String>,
    never: Spanned<OneOrMany>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// A parsed test file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TestFile {
    /// The test file's name as given.
    pub name: String,
    /// The policy it tests, resolved against the test file's folder.
    pub policy: PathBuf,
    pub cases: Vec<Case>,
    pub assertions: Vec<Assertion>,
}

/// An example path and what it must get.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Case {
    /// Where the case is written.
    pub span: Span,
    pub path: String,
    /// The types to try: the given one, or every content type.
    pub filetypes: Vec<FileType>,
    /// What it must get.
    pub expect: Target,
}

/// "Nothing under this glob ever gets these levels."
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Assertion {
    /// Where it is written.
    pub span: Span,
    pub under: String,
    /// The forbidden levels.
    pub never: Vec<Sharing>,
}

/// One failed case or assertion, as facts; `render::text::policy_test` words it.
#[derive(Clone, Debug)]
pub(crate) struct Failure<'p> {
    /// Where it is written in the test file.
    pub span: Span,
    /// What went wrong.
    pub broken: Broken<'p>,
}

/// How a case or assertion failed, with the part of the policy that decided instead.
#[derive(Clone, Debug)]
pub(crate) enum Broken<'p> {
    /// A case's path gets another level than expected, as `filetype` (the first type tried
    /// that does).
    Case {
        path: String,
        filetype: FileType,
        expected: Target,
        /// What decided the level it gets instead.
        decision: Decision<'p>,
    },
    /// A path under the assertion's glob gets a level it forbids.
    Assertion {
        under: String,
        level: Sharing,
        /// A shortest such path, and its file type.
        witness: (String, FileType),
        /// What gives the witness that level.
        decision: Decision<'p>,
    },
    /// The assertion could not be decided exactly, so it counts as broken.
    Unprovable(Unprovable),
}

/// The result of running a test file.
#[derive(Clone, Debug, Default)]
pub(crate) struct Outcome<'p> {
    /// Failed cases and assertions, in file order.
    pub failures: Vec<Failure<'p>>,
    /// Cases run.
    pub cases: usize,
    /// Cases that failed.
    pub failed_cases: usize,
    /// Assertions run.
    pub assertions: usize,
    /// Assertions that failed.
    pub failed_assertions: usize,
}

fn span<T>(value: &Spanned<T>) -> Span {
    Span {
        line: value.referenced.line(),
        column: value.referenced.column(),
        width: value.referenced.span().len(),
    }
}

/// What to do about a test file that is not there: a newcomer's first pipeline run meets it.
fn missing_hint(err: &std::io::Error) -> &'static str {
    if err.kind() == std::io::ErrorKind::NotFound {
        " (write one: example paths and the level each must have, as the README's \
         `plotward test` section shows; or name another file)"
    } else {
        ""
    }
}

/// Why a test file cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TestFileError {
    /// Unreadable.
    #[error("cannot read test file {path}: {source}{}", missing_hint(source))]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Invalid; every problem found is listed.
    #[error("{0}")]
    Invalid(Box<Diagnostics>),
}

impl TestFile {
    /// Reads and validates a test file.
    pub(crate) fn load(path: &Path) -> Result<TestFile, TestFileError> {
        let source =
            crate::limits::read_text(path, crate::limits::MAX_POLICY_BYTES).map_err(|source| {
                TestFileError::Read {
                    path: path.to_owned(),
                    source,
                }
            })?;
        let base = path.parent().unwrap_or(Path::new(""));
        TestFile::parse(&source, &path.display().to_string(), base)
    }

    /// Validates test-file text; `base` is the folder the policy path is relative to.
    pub(crate) fn parse(source: &str, name: &str, base: &Path) -> Result<TestFile, TestFileError> {
        let invalid = |items: Vec<Diagnostic>| {
            TestFileError::Invalid(Box::new(Diagnostics::new(name, source, items)))
        };
        let def: FileDef = serde_saphyr::from_str(source).map_err(|err| {
            let text = err.without_snippet().to_string();
            invalid(vec![Diagnostic {
                message: text.strip_prefix("error: ").unwrap_or(&text).to_owned(),
                span: err.location().map(|l| Span {
                    line: l.line(),
                    column: l.column(),
                    width: 0,
                }),
                label: None,
                conceal_source: false,
            }])
        })?;
        let mut errors = Vec::new();
        let cases = def
            .cases
            .iter()
            .filter_map(|case| check_case(case, &mut errors))
            .collect();
        let assertions = def
            .assertions
            .iter()
            .filter_map(|assertion| check_assertion(assertion, &mut errors))
            .collect();
        if !errors.is_empty() {
            return Err(invalid(errors));
        }
        Ok(TestFile {
            name: name.to_owned(),
            policy: base.join(&def.policy.value),
            cases,
            assertions,
        })
    }
}

fn check_case(case: &Spanned<CaseDef>, errors: &mut Vec<Diagnostic>) -> Option<Case> {
    let def = &case.value;
    let expect = Target::from_word(&def.expect.value);
    if expect.is_none() {
        errors.push(Diagnostic::at(
            span(&def.expect),
            format!(
                "unknown sharing level `{}`; expected public, private, secret or ignore",
                def.expect.value
            ),
        ));
    }
    let filetypes = match &def.filetype {
        None => Some(FileType::COMMON.to_vec()),
        Some(name) if FileType::KNOWN.contains(&name.value.as_str()) => {
            Some(vec![FileType::from_api(&name.value)])
        }
        Some(name) => {
            errors.push(Diagnostic::at(
                span(name),
                format!(
                    "unknown filetype `{}`; expected one of {}",
                    name.value,
                    FileType::KNOWN.join(", ")
                ),
            ));
            None
        }
    };
    Some(Case {
        span: span(case),
        path: def.path.value.clone(),
        filetypes: filetypes?,
        expect: expect?,
    })
}

fn check_assertion(
    assertion: &Spanned<AssertionDef>,
    errors: &mut Vec<Diagnostic>,
) -> Option<Assertion> {
    let def = &assertion.value;
    let words = match &def.never.value {
        OneOrMany::One(word) => vec![word.clone()],
        OneOrMany::Many(words) => words.clone(),
    };
    let mut never = Vec::new();
    for word in &words {
        match Sharing::ALL
            .into_iter()
            .find(|level| level.as_str() == word)
        {
            Some(level) => never.push(level),
            None => errors.push(Diagnostic::at(
                span(&def.never),
                format!(
                    "unknown sharing level `{word}` in `never`; expected public, private or secret"
                ),
            )),
        }
    }
    (never.len() == words.len() && !never.is_empty()).then(|| Assertion {
        span: span(assertion),
        under: def.under.value.clone(),
        never,
    })
}

/// Runs every case and assertion against the policy.
pub(crate) fn run<'p>(file: &TestFile, policy: &'p Policy) -> Outcome<'p> {
    let mut outcome = Outcome {
        cases: file.cases.len(),
        assertions: file.assertions.len(),
        ..Outcome::default()
    };
    let mut decider = policy.decider();
    for case in &file.cases {
        let wrong = case.filetypes.iter().find_map(|filetype| {
            let decision = decider.decide(&case.path, filetype);
            (decision.target() != case.expect).then_some((filetype, decision))
        });
        if let Some((filetype, decision)) = wrong {
            outcome.failed_cases += 1;
            outcome.failures.push(Failure {
                span: case.span,
                broken: Broken::Case {
                    path: case.path.clone(),
                    filetype: filetype.clone(),
                    expected: case.expect,
                    decision,
                },
            });
        }
    }
    for assertion in &file.assertions {
        if let Some(broken) = break_assertion(policy, assertion) {
            outcome.failed_assertions += 1;
            outcome.failures.push(Failure {
                span: assertion.span,
                broken,
            });
        }
    }
    outcome.failures.sort_by_key(|f| f.span);
    outcome
}

/// A path that breaks the assertion (the first forbidden level that has one), or why none
/// could be sought.
fn break_assertion<'p>(policy: &'p Policy, assertion: &Assertion) -> Option<Broken<'p>> {
    for &level in &assertion.never {
        let found = match policy.witnesses(&assertion.under, level) {
            Ok(found) => found,
            Err(unprovable) => return Some(Broken::Unprovable(unprovable)),
        };
        if let Some(witness) = found.into_iter().next() {
            let decision = policy.decide(&witness.path, &witness.filetype);
            return Some(Broken::Assertion {
                under: assertion.under.clone(),
                level,
                witness: (witness.path, witness.filetype),
                decision,
            });
        }
    }
    None
}

impl Outcome<'_> {
    /// Whether everything passed.
    pub(crate) fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = "version: 1\ndefault: private\nrules:\n  - match: \"reports/**\"\n    sharing: secret\n    filetypes: [plot]\n  - match: \"**\"\n    sharing: public\n";

    /// The outcome's counts, and each failure as `line:column: message`.
    fn run_text<'p>(test: &str, policy: &'p Policy) -> (Outcome<'p>, Vec<String>) {
        let file = TestFile::parse(test, "t.yaml", Path::new("")).unwrap_or_else(|e| panic!("{e}"));
        let outcome = run(&file, policy);
        let lines = outcome
            .failures
            .iter()
            .map(|f| {
                let message = crate::render::text::policy_test_failure(policy, &f.broken);
                format!("{}:{}: {message}", f.span.line, f.span.column)
            })
            .collect();
        (outcome, lines)
    }

    #[test]
    fn cases_report_the_rule_that_decided_instead() {
        let policy = Policy::parse(POLICY, "p.yaml").unwrap();
        let (outcome, lines) = run_text(
            "policy: p.yaml\ncases:\n  - path: reports/q3/revenue\n    filetype: plot\n    expect: secret\n  - path: reports/q3/data\n    expect: secret\n  - path: misc\n    expect: public\n",
            &policy,
        );
        assert_eq!(
            lines,
            [
                "6:5: case failed: reports/q3/data (grid) gets public, expected secret; decided by rule 2 \"**\" (p.yaml:7)"
            ]
        );
        assert_eq!(
            crate::render::text::policy_test_summary(&outcome, "t.yaml"),
            "t.yaml: 2 of 3 cases and 0 of 0 assertions passed"
        );
    }

    #[test]
    fn assertions_find_a_path_that_breaks_them() {
        let policy = Policy::parse(POLICY, "p.yaml").unwrap();
        let (outcome, lines) = run_text(
            "policy: p.yaml\nassertions:\n  - under: \"reports/**\"\n    never: public\n  - under: \"reports/**\"\n    never: [private]\n",
            &policy,
        );
        assert_eq!(
            lines,
            [
                "3:5: assertion failed: nothing under \"reports/**\" may be public, but reports/x (grid) is; decided by rule 2 \"**\" (p.yaml:7)"
            ]
        );
        assert_eq!(outcome.failed_assertions, 1);
    }

    #[test]
    fn bad_test_files_are_located() {
        let err = TestFile::parse(
            "policy: p.yaml\ncases:\n  - path: x\n    expect: publik\n    filetype: plots\n",
            "t.yaml",
            Path::new(""),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.yaml:4:13: unknown sharing level `publik`; expected public, private, secret or ignore\n\
             t.yaml:5:15: unknown filetype `plots`; expected one of plot, grid, dashboard, spectacle_presentation, fold, external_image, html_text, jupyter_notebook"
        );
        let err = TestFile::parse(
            "policy: p.yaml\ncases:\n  - path: x\n    expected: public\n",
            "t.yaml",
            Path::new(""),
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("t.yaml:4:"), "{err}");
    }
}
