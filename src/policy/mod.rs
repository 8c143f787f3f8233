//! The policy: which sharing level each path should have.
//!
//! A policy is YAML (see the README for the language). Loading it goes in stages, each testable
//! alone:
//!
//! 1. [`node`]: YAML text to a tree of spanned nodes (syntax errors stop here);
//! 2. [`validate`]: the tree to rules, collecting *every* semantic error with its position;
//! 3. [`matcher`]: the rules' globs compiled into one `GlobSet`; the first rule that matches a
//!    path (and its file type) decides.
//!
//! Only this module knows the YAML crate; every glob is built by `matcher::glob`, so the glob
//! flavour (`*` within a folder, `**` across) is defined once.

mod account;
mod analysis;
pub(crate) mod diagnostic;
mod matcher;
mod node;
mod targets;
mod validate;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::inventory::{FileType, Sharing};
pub(crate) use account::{Account, KeySource, ServerRule};
pub(crate) use analysis::Unprovable;
pub(crate) use diagnostic::{Diagnostic, Diagnostics, Span};
use matcher::Matcher;
pub(crate) use targets::{BadTarget, Targets};

/// What a policy wants for a file: a sharing level, or to leave it alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Target {
    /// Enforce this level.
    Share(Sharing),
    /// Unmanaged: never changed, reported as ignored.
    Ignore,
}

impl Target {
    /// The word used in policies (`public`, `private`, `secret`, `ignore`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Target::Share(level) => level.as_str(),
            Target::Ignore => "ignore",
        }
    }

    /// The target a policy word names, if any: the inverse of [`Target::as_str`], shared by
    /// policies and policy test files.
    pub(crate) fn from_word(word: &str) -> Option<Target> {
        match word {
            "ignore" => Some(Target::Ignore),
            _ => Sharing::ALL
                .into_iter()
                .find(|level| level.as_str() == word)
                .map(Target::Share),
        }
    }
}

/// One glob of a rule's `match`, with where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pattern {
    /// The glob as written.
    pub glob: Arc<str>,
    /// Its position in the policy file.
    pub span: Span,
}

/// One rule of the policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rule {
    /// 1-based position in the `rules` list, as users count ("rule 2").
    pub number: usize,
    /// The globs; the rule matches a path when any of them does.
    pub patterns: Vec<Pattern>,
    /// What the rule wants.
    pub target: Target,
    /// The file types it applies to; `None` means every type except folders.
    pub filetypes: Option<Vec<FileType>>,
    /// Where the rule starts in the policy file.
    pub span: Span,
}

impl Rule {
    /// Whether the rule applies to files of this type.
    pub(crate) fn applies_to(&self, filetype: &FileType) -> bool {
        match &self.filetypes {
            Some(types) => types.contains(filetype),
            // Folders are left out by default: changing a folder's sharing can cascade to its
            // contents upstream, so a policy must name `fold` to touch them.
            None => *filetype != FileType::Folder,
        }
    }
}

/// A limit on how many files one apply may change.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Limit {
    /// At most this many.
    Count(usize),
    /// At most this percentage of the managed files.
    Percent(f64),
}

impl Limit {
    /// The largest allowed number of changes out of `managed` files.
    pub(crate) fn allowed(self, managed: usize) -> usize {
        match self {
            Limit::Count(n) => n,
            // Truncation is intended: 25% of 10 files allows 2 changes, not 3.
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss
            )]
            Limit::Percent(percent) => (percent / 100.0 * managed as f64).floor() as usize,
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Limit::Count(n) => write!(f, "{n}"),
            Limit::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// What making a file public would expose that `never_public` forbids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Exposure {
    /// The file's own path is `never_public`.
    Itself,
    /// A folder: `example`, which `glob` matches, could lie under it.
    Under {
        /// The `never_public` glob (or why the folder could not be analysed).
        glob: String,
        /// A path under the folder that the glob matches.
        example: String,
    },
}

/// Safety limits declared in the policy.
#[derive(Debug, Default)]
pub(crate) struct Guardrails {
    /// Paths that must never be public.
    pub never_public: Vec<Pattern>,
    never_public_set: matcher::GlobList,
    /// What lies below a folder, built on first need (only accounts with folders and
    /// `never_public` globs need it).
    folder_check: std::sync::OnceLock<Result<analysis::FolderCheck, analysis::Unprovable>>,
    /// How many changes one apply may make (`max_changes`); enforced from 10 managed files.
    pub max_changes: Option<Limit>,
    /// How many files one apply may expose (`max_exposures`).
    pub max_exposures: Option<usize>,
}

/// `max_changes` applies only when at least this many files are managed, so a small account is
/// not blocked by a percentage of a handful.
pub(crate) const MAX_CHANGES_MIN_MANAGED: usize = 10;

/// Whether a glob (with the policy's flavour) matches any of `paths`.
pub(crate) fn matches_any<'p>(glob: &str, mut paths: impl Iterator<Item = &'p str>) -> bool {
    matcher::glob(glob).is_ok_and(|g| {
        let matcher = g.compile_matcher();
        paths.any(|path| matcher.is_match(path))
    })
}

impl Guardrails {
    /// The indices of the `never_public` globs that match `path`, into `hits`.
    pub(crate) fn never_public_hits(&self, path: &str, hits: &mut Vec<usize>) {
        self.never_public_set.matches_into(path, hits);
    }

    /// What making the file at `path` public would expose that `never_public` forbids: the
    /// file itself, or, for a folder (whose contents follow it upstream), a path that could
    /// lie under it. A folder too large to analyse counts as exposing.
    pub(crate) fn exposed_if_public(&self, path: &str, filetype: &FileType) -> Option<Exposure> {
        if self.is_never_public(path) {
            return Some(Exposure::Itself);
        }
        if *filetype != FileType::Folder || self.never_public.is_empty() {
            return None;
        }
        let check = self.folder_check.get_or_init(|| {
            let nevers: Vec<&str> = self.never_public.iter().map(|p| p.glob.as_ref()).collect();
            analysis::FolderCheck::new(&nevers)
        });
        let found = match check {
            Ok(check) => check.under(path),
            Err(why) => Err(why.clone()),
        };
        match found {
            Ok(found) => found.map(|(index, example)| Exposure::Under {
                glob: self.never_public[index].glob.to_string(),
                example,
            }),
            Err(why) => Some(Exposure::Under {
                glob: why.to_string(),
                example: String::new(),
            }),
        }
    }

    /// Whether a path falls under `never_public`.
    pub(crate) fn is_never_public(&self, path: &str) -> bool {
        self.never_public_set.is_match(path)
    }
}

/// A validated policy, ready to decide paths.
#[derive(Debug)]
pub(crate) struct Policy {
    /// The file name as the user gave it, for messages.
    pub name: String,
    /// What files no rule matches should get.
    pub default: Target,
    /// Where `default` is set, if it is.
    pub default_span: Option<Span>,
    /// The rules, in order; the first match decides.
    pub rules: Vec<Rule>,
    /// What no plan under this policy may do: `never_public`, `max_changes`, `max_exposures`.
    pub guardrails: Guardrails,
    /// SHA-256 of the policy text, in hex: a saved plan records it, and `apply` carries the
    /// plan out only under the very same policy.
    pub digest: String,
    /// What is valid but probably not meant (a `?` beside non-ASCII text), for stderr.
    pub warnings: Vec<Diagnostic>,
    /// Whose account the policy governs (`account:`); `None` uses the flags and environment.
    pub account: Option<Account>,
    matcher: Matcher,
}

/// Which part of the policy decided a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision<'p> {
    /// A rule matched, through this pattern.
    Rule {
        rule: &'p Rule,
        /// The first of its patterns that matched.
        pattern: &'p Pattern,
    },
    /// No rule matched; the policy's `default` applies.
    Default(Target),
    /// A folder that no rule names: folders are never managed by the default.
    Folder,
}

impl Decision<'_> {
    /// What the decision wants for the file.
    pub(crate) fn target(&self) -> Target {
        match self {
            Decision::Rule { rule, .. } => rule.target,
            Decision::Default(target) => *target,
            Decision::Folder => Target::Ignore,
        }
    }
}

/// Why a policy could not be loaded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PolicyError {
    /// The file could not be read.
    #[error("cannot read policy {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The policy has errors; every one found is listed.
    #[error("{0}")]
    Invalid(Box<Diagnostics>),
}

impl Policy {
    /// Reads and validates a policy file; an `account.server` is taken as written (a command
    /// that connects checks it with [`Policy::load_with`]).
    pub(crate) fn load(path: &Path) -> Result<Policy, PolicyError> {
        Policy::load_with(path, &|server: &str| Ok(server.to_owned()))
    }

    /// Reads and validates a policy file, checking `account.server` with `server_rule`.
    pub(crate) fn load_with(
        path: &Path,
        server_rule: ServerRule<'_>,
    ) -> Result<Policy, PolicyError> {
        let source =
            crate::limits::read_text(path, crate::limits::MAX_POLICY_BYTES).map_err(|source| {
                PolicyError::Read {
                    path: path.to_owned(),
                    source,
                }
            })?;
        Policy::parse_with(&source, &path.display().to_string(), server_rule)
    }

    /// Validates policy text; `name` only labels diagnostics.
    pub(crate) fn parse(source: &str, name: &str) -> Result<Policy, PolicyError> {
        Policy::parse_with(source, name, &|server: &str| Ok(server.to_owned()))
    }

    /// Validates policy text, checking `account.server` with `server_rule`.
    pub(crate) fn parse_with(
        source: &str,
        name: &str,
        server_rule: ServerRule<'_>,
    ) -> Result<Policy, PolicyError> {
        let invalid = |items: Vec<Diagnostic>| {
            PolicyError::Invalid(Box::new(Diagnostics::new(name, source, items)))
        };
        let root = node::parse(source).map_err(|err| invalid(vec![syntax_diagnostic(&err)]))?;
        let mut draft = validate::validate(&root, server_rule).map_err(invalid)?;
        let matcher = Matcher::new(&mut draft.rules).map_err(|err| {
            invalid(vec![Diagnostic::unplaced(format!(
                "cannot compile the policy's globs together: {err}"
            ))])
        })?;
        let guardrails = build_guardrails(draft.guardrails).map_err(|err| {
            invalid(vec![Diagnostic::unplaced(format!(
                "cannot compile `never_public`: {err}"
            ))])
        })?;
        let policy = Policy {
            name: name.to_owned(),
            default: draft.default,
            default_span: draft.default_span,
            rules: draft.rules.into_iter().map(|rule| rule.rule).collect(),
            guardrails,
            digest: digest(source),
            warnings: Vec::new(),
            account: draft.account,
            matcher,
        };
        let mut policy = policy;
        policy.warnings = byte_wise_warnings(&policy);
        let mut breaches = analysis::never_public_breaches(&policy);
        if breaches.is_empty() {
            Ok(policy)
        } else {
            breaches.sort_by_key(|d| d.span);
            Err(invalid(breaches))
        }
    }

    /// Paths matching `glob` that this policy would give `level`, with what decides them;
    /// found by trying representative paths of the glob and of every rule. Sound for what it
    /// reports; it cannot prove the absence of every possible path.
    pub(crate) fn witnesses(
        &self,
        glob: &str,
        level: Sharing,
    ) -> Result<Vec<analysis::Witness>, analysis::Unprovable> {
        analysis::witnesses(self, glob, level)
    }

    /// A decider, which reuses its buffers across many paths.
    pub(crate) fn decider(&self) -> Decider<'_> {
        Decider {
            policy: self,
            hits: Vec::new(),
        }
    }

    /// Decides one path; for many paths use [`Policy::decider`].
    pub(crate) fn decide(&self, path: &str, filetype: &FileType) -> Decision<'_> {
        self.decider().decide(path, filetype)
    }
}

/// Decides paths against a policy, reusing a scratch buffer.
#[derive(Debug)]
pub(crate) struct Decider<'p> {
    policy: &'p Policy,
    hits: Vec<usize>,
}

impl<'p> Decider<'p> {
    /// Which part of the policy decides this file: the first rule, in policy order, whose
    /// patterns match the path and whose file types include the file's type.
    pub(crate) fn decide(&mut self, path: &str, filetype: &FileType) -> Decision<'p> {
        let policy = self.policy;
        let found = policy.matcher.first_match(path, &mut self.hits, |rule| {
            policy.rules[rule].applies_to(filetype)
        });
        match found {
            Some((rule, pattern)) => {
                let rule = &policy.rules[rule];
                Decision::Rule {
                    rule,
                    pattern: &rule.patterns[pattern],
                }
            }
            None if *filetype == FileType::Folder => Decision::Folder,
            None => Decision::Default(policy.default),
        }
    }
}

fn build_guardrails(draft: validate::GuardrailsDraft) -> Result<Guardrails, globset::Error> {
    let (never_public, globs): (Vec<Pattern>, Vec<matcher::Compiled>) =
        draft.never_public.into_iter().unzip();
    Ok(Guardrails {
        never_public,
        never_public_set: matcher::GlobList::new(globs)?,
        folder_check: std::sync::OnceLock::new(),
        max_changes: draft.max_changes.map(|(limit, _)| limit),
        max_exposures: draft.max_exposures.map(|(count, _)| count),
    })
}

/// Turns a YAML syntax error into a diagnostic at its position.
fn syntax_diagnostic(err: &serde_saphyr::Error) -> Diagnostic {
    // serde-saphyr's plain text is "error: line L column C: message"; the position is shown
    // by our renderer, so keep only the message.
    let text = err.without_snippet().to_string();
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    let message = match text.split_once(": ") {
        Some((position, rest)) if position.starts_with("line ") => rest,
        _ => text,
    };
    // Some parser messages repeat the position at the end ("... at line 4, column 4").
    let message = match message.rfind(" at line ") {
        Some(at) if message[at..].contains(", column ") => &message[..at],
        _ => message,
    };
    Diagnostic {
        message: format!("invalid YAML: {message}"),
        span: err.location().map(|location| Span {
            line: location.line(),
            column: location.column(),
            width: 0,
        }),
        label: None,
        conceal_source: false,
    }
}

#[cfg(test)]
mod tests;

/// The SHA-256 of a policy's text, in lowercase hex.
fn digest(source: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(source.as_bytes()).iter().fold(
        String::with_capacity(64),
        |mut hex, byte| {
            use std::fmt::Write as _;
            let _ = write!(hex, "{byte:02x}");
            hex
        },
    )
}

/// Warnings for globs whose `?` or `[...]` sit in a glob with non-ASCII text: both match one
/// byte, not one character, so `caf?` does not match `café` (whose `é` is two bytes).
fn byte_wise_warnings(policy: &Policy) -> Vec<Diagnostic> {
    policy
        .rules
        .iter()
        .flat_map(|rule| rule.patterns.iter())
        .chain(policy.guardrails.never_public.iter())
        .filter(|pattern| !pattern.glob.is_ascii() && pattern.glob.contains(['?', '[']))
        .map(|pattern| Diagnostic {
            message: format!(
                "`{}` uses `?` or `[...]` beside non-ASCII text; they match one byte, not one \
                 character (`é` is two bytes). Write such characters literally, or use `*`",
                pattern.glob
            ),
            span: Some(pattern.span),
            label: None,
            conceal_source: false,
        })
        .collect()
}
