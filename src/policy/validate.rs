//! From the spanned YAML tree to rules, collecting every error on the way.
//!
//! Each `check_*` function reports what is wrong with one part and returns what it could make
//! of it, so one bad rule does not hide the errors of the next.

use super::matcher::Compiled;
use serde_saphyr::Spanned;

use super::diagnostic::{Diagnostic, Span, suggest};
use super::node::{Node, SNode, span_of};
use super::{Limit, Pattern, Rule, Target};
use crate::inventory::FileType;

/// The policy language version this build reads.
pub(super) const POLICY_VERSION: i64 = 1;

const TOP_KEYS: [&str; 5] = ["version", "default", "rules", "guardrails", "account"];
const GUARDRAIL_KEYS: [&str; 3] = ["never_public", "max_changes", "max_exposures"];
const RULE_KEYS: [&str; 3] = ["match", "sharing", "filetypes"];
const TARGETS: [&str; 4] = ["public", "private", "secret", "ignore"];

/// A validated policy before its globs are combined into one set.
pub(super) struct Draft {
    pub default: Target,
    pub default_span: Option<Span>,
    pub rules: Vec<RuleDraft>,
    pub guardrails: GuardrailsDraft,
    /// The `account:` block, when there is one and it is whole.
    pub account: Option<super::Account>,
}

/// Validated guardrails, with the globs of `never_public` compiled.
#[derive(Default)]
pub(super) struct GuardrailsDraft {
    pub never_public: Vec<(Pattern, Compiled)>,
    pub max_changes: Option<(Limit, Span)>,
    pub max_exposures: Option<(usize, Span)>,
}

/// A validated rule with its compiled globs, one per pattern.
pub(super) struct RuleDraft {
    pub rule: Rule,
    pub globs: Vec<Compiled>,
}

/// Validates a parsed policy, returning every problem found, sorted by position.
pub(super) fn validate(
    root: &SNode,
    server_rule: super::account::ServerRule<'_>,
) -> Result<Draft, Vec<Diagnostic>> {
    let mut checker = Checker {
        errors: Vec::new(),
        server_rule,
    };
    let draft = checker.check_document(root);
    if checker.errors.is_empty() {
        Ok(draft)
    } else {
        checker.errors.sort_by_key(|d| d.span);
        Err(checker.errors)
    }
}

struct Checker<'r> {
    errors: Vec<Diagnostic>,
    /// How `account.server` is checked.
    server_rule: super::account::ServerRule<'r>,
}

impl Checker<'_> {
    fn error(&mut self, diagnostic: Diagnostic) {
        self.errors.push(diagnostic);
    }

    fn check_document(&mut self, root: &SNode) -> Draft {
        let mut draft = Draft {
            default: Target::Ignore,
            default_span: None,
            rules: Vec::new(),
            guardrails: GuardrailsDraft::default(),
            account: None,
        };
        let Node::Map(entries) = &root.value else {
            let found = root.value.kind();
            self.error(Diagnostic::at(
                span_of(root),
                format!(
                    "a policy is a mapping with `version`, `default` and `rules`, found {found}"
                ),
            ));
            return draft;
        };
        let mut has_version = false;
        for (key, value) in entries {
            match key.value.as_str() {
                "version" => {
                    has_version = true;
                    self.check_version(value);
                }
                "default" => {
                    draft.default_span = Some(span_of(value));
                    if let Some(target) = self.check_target(value, "default") {
                        draft.default = target;
                    }
                }
                "rules" => draft.rules = self.check_rules(value),
                "guardrails" => draft.guardrails = self.check_guardrails(value),
                "account" => {
                    draft.account =
                        super::account::check(value, self.server_rule, &mut self.errors);
                }
                _ => self.unknown_key(key, &TOP_KEYS, "policy"),
            }
        }
        if !has_version {
            self.error(
                Diagnostic::at(span_of(root), "missing `version`")
                    .with_label(format!("add `version: {POLICY_VERSION}` to the policy")),
            );
        }
        self.check_duplicates(&draft.rules);
        draft
    }

    fn unknown_key(&mut self, key: &Spanned<String>, known: &[&str], what: &str) {
        let expected = known
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let diagnostic = Diagnostic::at(
            span_of(key),
            format!("unknown key `{}` in {what}; expected {expected}", key.value),
        );
        self.error(diagnostic.with_suggestion(suggest(&key.value, known)));
    }

    fn check_version(&mut self, value: &SNode) {
        match &value.value {
            Node::Int(POLICY_VERSION) => {}
            Node::Int(other) => self.error(Diagnostic::at(
                span_of(value),
                format!(
                    "unsupported policy version {other}; this plotward reads version {POLICY_VERSION}"
                ),
            )),
            other => self.error(Diagnostic::at(
                span_of(value),
                format!(
                    "`version` must be the number {POLICY_VERSION}, found {}",
                    other.kind()
                ),
            )),
        }
    }

    /// Checks a sharing word (`sharing:` of a rule, or `default:`).
    fn check_target(&mut self, value: &SNode, key: &str) -> Option<Target> {
        let Node::Str(word) = &value.value else {
            let found = value.value.kind();
            self.error(Diagnostic::at(
                span_of(value),
                format!("`{key}` must be public, private, secret or ignore, found {found}"),
            ));
            return None;
        };
        let target = Target::from_word(word);
        if target.is_none() {
            let diagnostic = Diagnostic::at(
                span_of(value),
                format!(
                    "unknown sharing level `{word}` in `{key}`; expected public, private, secret or ignore"
                ),
            );
            self.error(diagnostic.with_suggestion(suggest(word, &TARGETS)));
        }
        target
    }

    fn check_rules(&mut self, value: &SNode) -> Vec<RuleDraft> {
        match &value.value {
            Node::Null => Vec::new(),
            Node::Seq(items) => items
                .iter()
                .enumerate()
                .filter_map(|(index, item)| self.check_rule(index + 1, item))
                .collect(),
            other => {
                self.error(Diagnostic::at(
                    span_of(value),
                    format!("`rules` must be a list of rules, found {}", other.kind()),
                ));
                Vec::new()
            }
        }
    }

    fn check_rule(&mut self, number: usize, item: &SNode) -> Option<RuleDraft> {
        let span = span_of(item);
        let Node::Map(entries) = &item.value else {
            self.error(Diagnostic::at(
                span,
                format!(
                    "rule {number} must be a mapping with `match` and `sharing`, found {}",
                    item.value.kind()
                ),
            ));
            return None;
        };
        let (mut patterns, mut target, mut filetypes) = (None, None, Ok(None));
        for (key, value) in entries {
            match key.value.as_str() {
                "match" => patterns = Some(self.check_match_key(value, "match")),
                "sharing" => target = Some(self.check_target(value, "sharing")),
                "filetypes" => filetypes = self.check_filetypes(value).map(Some).ok_or(()),
                _ => self.unknown_key(key, &RULE_KEYS, "rule"),
            }
        }
        if patterns.is_none() {
            self.error(Diagnostic::at(
                span,
                format!("rule {number} has no `match`"),
            ));
        }
        if target.is_none() {
            self.error(Diagnostic::at(
                span,
                format!("rule {number} has no `sharing`"),
            ));
        }
        let (patterns, globs) = patterns.flatten()?;
        Some(RuleDraft {
            rule: Rule {
                number,
                patterns,
                target: target.flatten()?,
                filetypes: filetypes.ok()?,
                span,
            },
            globs,
        })
    }

    /// Checks a key that takes one glob or a non-empty list of globs.
    fn check_match_key(
        &mut self,
        value: &SNode,
        key: &str,
    ) -> Option<(Vec<Pattern>, Vec<Compiled>)> {
        let items = self.string_or_list(value, key)?;
        let mut patterns = Vec::with_capacity(items.len());
        let mut globs = Vec::with_capacity(items.len());
        for (text, span) in items {
            if let Some(glob) = self.compile_glob(text, span) {
                patterns.push(Pattern {
                    glob: text.into(),
                    span,
                });
                globs.push(glob);
            }
        }
        (patterns.len() == value_len(value)).then_some((patterns, globs))
    }

    /// Reads a key that takes one string or a list of strings, reporting empty and non-string
    /// entries. Returns the good strings, or `None` when the value as a whole is wrong; the
    /// caller compares the count with [`value_len`] to know whether every entry was good.
    fn string_or_list<'n>(&mut self, value: &'n SNode, key: &str) -> Option<Vec<(&'n str, Span)>> {
        let items: Vec<&SNode> = match &value.value {
            Node::Str(_) => vec![value],
            Node::Seq(items) if items.is_empty() => {
                self.error(Diagnostic::at(
                    span_of(value),
                    format!("`{key}` is an empty list"),
                ));
                return None;
            }
            Node::Seq(items) => items.iter().collect(),
            other => {
                let found = other.kind();
                self.error(Diagnostic::at(
                    span_of(value),
                    format!("`{key}` must be a string or a list of strings, found {found}"),
                ));
                return None;
            }
        };
        let mut strings = Vec::with_capacity(items.len());
        for item in items {
            match &item.value {
                Node::Str(text) if text.is_empty() => self.error(Diagnostic::at(
                    span_of(item),
                    format!("empty string in `{key}`"),
                )),
                Node::Str(text) => strings.push((text.as_str(), span_of(item))),
                other => self.error(Diagnostic::at(
                    span_of(item),
                    format!("`{key}` entries must be strings, found {}", other.kind()),
                )),
            }
        }
        Some(strings)
    }

    fn compile_glob(&mut self, text: &str, span: Span) -> Option<Compiled> {
        super::matcher::check_pattern(text)
            .map_err(|bad| {
                let diagnostic = Diagnostic::at(span, bad.to_string());
                self.error(match bad.hint() {
                    Some(hint) => diagnostic.with_label(hint),
                    None => diagnostic,
                });
            })
            .ok()
    }

    fn check_filetypes(&mut self, value: &SNode) -> Option<Vec<FileType>> {
        let items = self.string_or_list(value, "filetypes")?;
        let mut types = Vec::with_capacity(items.len());
        for (name, span) in items {
            if FileType::KNOWN.contains(&name) {
                types.push(FileType::from_api(name));
            } else {
                let diagnostic = Diagnostic::at(
                    span,
                    format!(
                        "unknown filetype `{name}`; expected one of {}",
                        FileType::KNOWN.join(", ")
                    ),
                );
                self.error(diagnostic.with_suggestion(suggest_filetype(name)));
            }
        }
        (types.len() == value_len(value)).then_some(types)
    }

    fn check_guardrails(&mut self, value: &SNode) -> GuardrailsDraft {
        let mut guardrails = GuardrailsDraft::default();
        let entries = match &value.value {
            Node::Null => return guardrails,
            Node::Map(entries) => entries,
            other => {
                self.error(Diagnostic::at(
                    span_of(value),
                    format!("`guardrails` must be a mapping, found {}", other.kind()),
                ));
                return guardrails;
            }
        };
        for (key, value) in entries {
            match key.value.as_str() {
                "never_public" => {
                    if let Some((patterns, globs)) = self.check_match_key(value, "never_public") {
                        guardrails.never_public = patterns.into_iter().zip(globs).collect();
                    }
                }
                "max_changes" => {
                    guardrails.max_changes = self.check_limit(value).map(|l| (l, span_of(value)));
                }
                "max_exposures" => {
                    guardrails.max_exposures = self
                        .check_count(value, "max_exposures")
                        .map(|n| (n, span_of(value)));
                }
                _ => self.unknown_key(key, &GUARDRAIL_KEYS, "guardrails"),
            }
        }
        guardrails
    }

    /// `max_changes`: a count (`25`) or a percentage of the managed files (`25%`).
    fn check_limit(&mut self, value: &SNode) -> Option<Limit> {
        if let Node::Str(text) = &value.value
            && let Some(number) = text.trim().strip_suffix('%')
        {
            return match number.trim().parse::<f64>() {
                Ok(percent) if (0.0..=100.0).contains(&percent) => Some(Limit::Percent(percent)),
                _ => {
                    self.error(Diagnostic::at(
                        span_of(value),
                        format!("`max_changes` percentage `{text}` must be between 0% and 100%"),
                    ));
                    None
                }
            };
        }
        self.check_count(value, "max_changes").map(Limit::Count)
    }

    fn check_count(&mut self, value: &SNode, key: &str) -> Option<usize> {
        match &value.value {
            Node::Int(n) if *n >= 0 => usize::try_from(*n).ok(),
            other => {
                let hint = if key == "max_changes" {
                    " or a percentage such as `25%`"
                } else {
                    ""
                };
                self.error(Diagnostic::at(
                    span_of(value),
                    format!(
                        "`{key}` must be a whole number{hint}, found {}",
                        describe(other)
                    ),
                ));
                None
            }
        }
    }

    /// A rule with the same globs and file types as an earlier one can never decide a file.
    /// Each rule's scope is computed once and looked up, so a policy of thousands of rules
    /// (an export) validates in linear time.
    fn check_duplicates(&mut self, rules: &[RuleDraft]) {
        let mut first_with: std::collections::HashMap<Scope<'_>, usize> =
            std::collections::HashMap::with_capacity(rules.len());
        for (later_index, later) in rules.iter().enumerate() {
            let earlier_index = *first_with.entry(scope(&later.rule)).or_insert(later_index);
            if earlier_index == later_index {
                continue;
            }
            let (first, rule) = (&rules[earlier_index].rule, &later.rule);
            let message = if first.target == rule.target {
                format!("rule {} duplicates rule {}", rule.number, first.number)
            } else {
                format!(
                    "rule {} can never apply: rule {} above it has the same `match` and file types",
                    rule.number, first.number
                )
            };
            self.error(Diagnostic::at(rule.span, message).with_label(format!(
                "rule {} is at line {}",
                first.number, first.span.line
            )));
        }
    }
}

/// A value for "found ..." messages: numbers and strings are shown, others named.
fn describe(node: &Node) -> String {
    match node {
        Node::Int(n) => format!("{n}"),
        Node::Str(s) => format!("`{s}`"),
        other => other.kind().to_owned(),
    }
}

/// How many entries a string-or-list value has, to tell whether all of them were valid.
fn value_len(value: &SNode) -> usize {
    match &value.value {
        Node::Seq(items) => items.len(),
        _ => 1,
    }
}

/// What a rule matches: its globs as a set and its file types as a set (`None`: the default
/// types). Two rules with the same scope match exactly the same files.
type Scope<'r> = (Vec<&'r str>, Option<Vec<&'r FileType>>);

fn scope(rule: &Rule) -> Scope<'_> {
    let mut globs: Vec<&str> = rule.patterns.iter().map(|p| &*p.glob).collect();
    globs.sort_unstable();
    globs.dedup();
    let types = rule.filetypes.as_ref().map(|types| {
        let mut types: Vec<&FileType> = types.iter().collect();
        types.sort_unstable();
        types.dedup();
        types
    });
    (globs, types)
}

/// Suggests a known filetype: by spelling, or by suffix (`presentation` for
/// `spectacle_presentation`, `image` for `external_image`).
fn suggest_filetype(name: &str) -> Option<&'static str> {
    suggest(name, &FileType::KNOWN).or_else(|| {
        FileType::KNOWN
            .into_iter()
            .find(|known| known.ends_with(&format!("_{name}")))
    })
}
