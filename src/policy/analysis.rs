//! What a policy can do to paths it has never seen: used to refuse a policy that would make a
//! `never_public` path public, and by `plotward test` assertions.
//!
//! The analysis is exact. Every glob involved (the globs asked about and every rule pattern,
//! each as globset itself compiles it, plus a pattern of valid paths) becomes one pattern of a
//! single multi-pattern DFA that reports *all* the patterns matching a whole input. Each
//! input ends in some reachable state, and that state's end-of-input match set is exactly the
//! set of patterns the input matches; so a breadth-first search over the reachable states
//! meets every combination of matches any path can produce, each with a shortest path that
//! produces it. Deciding each combination for every file type, as the policy's `Decider`
//! does, finds every rule (or the default) that gives a matching path the level asked about,
//! with a witness path, or proves there is none.
//!
//! The DFA's size is capped; a policy too large to analyse exactly is an error, never a guess.

use std::collections::{HashMap, HashSet, VecDeque};

use regex_automata::dfa::{Automaton, StartKind, dense};
use regex_automata::nfa::thompson;
use regex_automata::util::{primitives::StateID, start, syntax};
use regex_automata::{Anchored, MatchKind};

use super::matcher::glob;
use super::{Diagnostic, Policy, Span, Target};
use crate::inventory::{FileType, Sharing};

/// Why what a policy does to unseen paths could not be decided exactly. Each is a refusal,
/// never a guess: a guardrail that cannot be proven is treated as broken.
#[derive(Clone, Debug, thiserror::Error)]
pub(crate) enum Unprovable {
    /// A glob the policy's matcher accepted but the analysis could not translate (a validated
    /// policy never has one).
    #[error("invalid glob `{glob}`: {kind}")]
    Glob {
        glob: String,
        kind: globset::ErrorKind,
    },
    /// The automaton would outgrow its size budget.
    #[error("the policy is too large to check exactly{}: {source}", at_once.map(|n| format!(" ({n} patterns at once)")).unwrap_or_default())]
    TooLarge {
        /// How many patterns one automaton was asked to hold, when that is the cause worth
        /// naming.
        at_once: Option<usize>,
        source: Box<dense::BuildError>,
    },
    /// The automaton has no anchored start state.
    #[error("cannot start the {automaton} automaton: {source}")]
    Start {
        automaton: &'static str,
        source: regex_automata::dfa::StartError,
    },
    /// The automaton hit a quit byte (it is built without any; kept as a refusal).
    #[error("the never_public automaton gave up")]
    GaveUp,
    /// globset produced a regex of a shape the folder analysis does not expect.
    #[error("unexpected glob regex `{0}`")]
    UnexpectedRegex(String),
}

impl Unprovable {
    fn too_large(source: Box<dense::BuildError>) -> Unprovable {
        Unprovable::TooLarge {
            at_once: None,
            source,
        }
    }
}

/// The budget of the first attempt, one automaton for the whole policy: enough for any policy
/// of ordinary size, small enough to give up fast on a large one.
const WHOLE_LIMIT: usize = 2 * 1024 * 1024;

/// The largest automaton built for one part of a decomposed analysis, in bytes (and as much
/// again for determinizing).
const PART_LIMIT: usize = 64 * 1024 * 1024;

/// Valid paths: non-empty `/`-separated names of valid UTF-8, no leading or trailing `/`.
const VALID_PATH: &str = r"(?u)^[^/]+(?:/[^/]+)*$";

/// A path the policy would give a level, and what decides it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Witness {
    /// A shortest such path (preferring `x`, then other letters).
    pub path: String,
    /// The file type it has.
    pub filetype: FileType,
    /// The deciding rule's number, or `None` for the default.
    pub rule: Option<usize>,
    /// Where the deciding rule (or `default`) is written.
    pub span: Option<Span>,
}

impl Witness {
    /// `rule 3` or `the default`.
    pub(crate) fn decided_by(&self) -> String {
        self.rule
            .map_or_else(|| "the default".to_owned(), |n| format!("rule {n}"))
    }
}

/// The file types whose decisions can differ: the common ones, folders, every type a rule
/// names, and one type no rule names.
fn filetypes(policy: &Policy) -> Vec<FileType> {
    let mut types: Vec<FileType> = FileType::COMMON
        .into_iter()
        .chain([FileType::Folder])
        .collect();
    for rule in &policy.rules {
        for filetype in rule.filetypes.iter().flatten() {
            if !types.contains(filetype) {
                types.push(filetype.clone());
            }
        }
    }
    let unnamed = [
        "external_image",
        "html_text",
        "jupyter_notebook",
        "plotward_other",
    ]
    .into_iter()
    .map(FileType::from_api)
    .find(|t| !types.contains(t));
    types.extend(unnamed);
    types
}

/// One DFA over a valid-path pattern (pattern 0), some globs (patterns `1..=globs.len()`) and
/// the patterns of some rules (the rest), reporting every pattern a whole input matches.
struct PolicyAutomaton {
    dfa: dense::DFA<Vec<u32>>,
    /// The globs' indices in the caller's list.
    globs: Vec<usize>,
    /// For each rule pattern, its rule's index in the policy.
    owners: Vec<usize>,
}

impl PolicyAutomaton {
    /// Builds the automaton for `globs` (by index into `texts`) and the `rules` (by index),
    /// within `limit` bytes.
    fn build(
        policy: &Policy,
        texts: &[&str],
        globs: &[usize],
        rules: &[usize],
        limit: usize,
    ) -> Result<PolicyAutomaton, Unprovable> {
        let mut patterns = vec![VALID_PATH.to_owned()];
        let mut owners = Vec::new();
        for &glob in globs {
            patterns.push(regex_of(texts[glob])?);
        }
        for &rule in rules {
            for pattern in &policy.rules[rule].patterns {
                patterns.push(regex_of(&pattern.glob)?);
                owners.push(rule);
            }
        }
        let dfa = build_dfa(&patterns, limit).map_err(|err| Unprovable::TooLarge {
            at_once: Some(patterns.len()),
            source: err,
        })?;
        Ok(PolicyAutomaton {
            dfa,
            globs: globs.to_vec(),
            owners,
        })
    }

    /// Every distinct set of patterns some valid path matches, with a shortest such path.
    fn match_sets(&self) -> Result<Vec<(Vec<usize>, String)>, Unprovable> {
        let dfa = &self.dfa;
        let start = dfa
            .start_state(&start::Config::new().anchored(Anchored::Yes))
            .map_err(|source| Unprovable::Start {
                automaton: "policy",
                source,
            })?;
        let mut sets: HashMap<Vec<usize>, String> = HashMap::new();
        breadth_first(dfa, start, |state, parent| {
            let end = dfa.next_eoi_state(state);
            if dfa.is_match_state(end) {
                let mut set: Vec<usize> = (0..dfa.match_len(end))
                    .map(|i| dfa.match_pattern(end, i).as_usize())
                    .collect();
                set.sort_unstable();
                // Pattern 0 is "a valid path": only real paths count.
                if set.first() == Some(&0) && !sets.contains_key(&set) {
                    sets.insert(set, path_from(state, start, parent));
                }
            }
            None::<()>
        });
        let mut sets: Vec<(Vec<usize>, String)> = sets.into_iter().collect();
        sets.sort_by(|a, b| (a.1.len(), &a.1).cmp(&(b.1.len(), &b.1)));
        Ok(sets)
    }

    /// For each match set, each glob in it and each file type: the deciding rule (by
    /// `Decider`'s rules, among this automaton's), reported when `reported(rule)` and it gives
    /// `wanted`. Adds to `found` one witness per (glob, deciding rule).
    fn collect(
        &self,
        policy: &Policy,
        wanted: Target,
        reported: impl Fn(Option<usize>) -> bool,
        found: &mut Vec<(usize, Witness)>,
    ) -> Result<(), Unprovable> {
        let types = filetypes(policy);
        let first_rule = 1 + self.globs.len();
        for (set, path) in self.match_sets()? {
            let rules: Vec<usize> = set
                .iter()
                .filter(|p| **p >= first_rule)
                .map(|p| self.owners[p - first_rule])
                .collect();
            for position in set.iter().filter(|p| (1..first_rule).contains(*p)) {
                let glob = self.globs[position - 1];
                for filetype in &types {
                    let decider = rules
                        .iter()
                        .copied()
                        .filter(|r| policy.rules[*r].applies_to(filetype))
                        .min();
                    let (target, rule, span) = match decider {
                        Some(r) => {
                            let r = &policy.rules[r];
                            (r.target, Some(r.number), Some(r.span))
                        }
                        None if *filetype == FileType::Folder => continue,
                        None => (policy.default, None, policy.default_span),
                    };
                    let index = decider;
                    let known = found.iter().any(|(g, w)| *g == glob && w.rule == rule);
                    if target == wanted && reported(index) && !known {
                        found.push((
                            glob,
                            Witness {
                                path: path.clone(),
                                filetype: filetype.clone(),
                                rule,
                                span,
                            },
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// The rules with a pattern that meets `glob` on some valid path, in policy order: one
/// automaton of the glob and every rule when it fits [`WHOLE_LIMIT`], else rule by rule.
fn relevant_rules(policy: &Policy, globs: &[&str], glob: usize) -> Result<Vec<usize>, Unprovable> {
    let all: Vec<usize> = (0..policy.rules.len()).collect();
    if let Ok(one) = PolicyAutomaton::build(policy, globs, &[glob], &all, WHOLE_LIMIT) {
        let mut relevant = std::collections::BTreeSet::new();
        for (set, _) in one.match_sets()? {
            if set.contains(&1) {
                relevant.extend(set.iter().filter(|p| **p >= 2).map(|p| one.owners[p - 2]));
            }
        }
        return Ok(relevant.into_iter().collect());
    }
    let mut relevant = Vec::new();
    for rule in all {
        let pair = PolicyAutomaton::build(policy, globs, &[glob], &[rule], PART_LIMIT)?;
        // A match set holding the valid path, the glob and a rule pattern: they meet.
        if pair.match_sets()?.iter().any(|(set, _)| set.len() >= 3) {
            relevant.push(rule);
        }
    }
    Ok(relevant)
}

/// The first of `nevers` (by position) that matches some path below a folder matched by
/// `folder_glob`, with a shortest such path: one automaton for all of them.
fn under_folder(folder_glob: &str, nevers: &[&str]) -> Result<Option<(usize, String)>, Unprovable> {
    let folder = regex_of(folder_glob)?;
    let Some(folder) = folder.strip_suffix('$') else {
        return Err(Unprovable::UnexpectedRegex(folder));
    };
    let mut patterns = vec![VALID_PATH.to_owned(), format!("{folder}/.+$")];
    for never in nevers {
        patterns.push(regex_of(never)?);
    }
    let automaton = PolicyAutomaton {
        dfa: build_dfa(&patterns, PART_LIMIT).map_err(Unprovable::too_large)?,
        globs: Vec::new(),
        owners: Vec::new(),
    };
    // Shortest paths first, so each glob keeps the shortest path it meets.
    let mut found: Vec<Option<String>> = vec![None; nevers.len()];
    for (set, path) in automaton.match_sets()? {
        if set.contains(&1) {
            for never in set.iter().filter(|p| **p >= 2) {
                found[never - 2].get_or_insert_with(|| path.clone());
            }
        }
    }
    Ok(found
        .into_iter()
        .enumerate()
        .find_map(|(index, path)| path.map(|path| (index, path))))
}

/// What lies below concrete folders, for `check` and `plan` over a whole account: per
/// `never_public` glob, one small automaton (the glob and valid paths), built once per run;
/// each folder's path is walked through them, and what can be reached from the state a walk
/// ends in is searched once per state, not once per folder. One automaton per glob, because
/// globs such as `**/a/**` and `**/b/**` multiply each other's states when combined.
pub(super) struct FolderCheck {
    globs: Vec<GlobCheck>,
}

/// One `never_public` glob's automaton, and the answers already found per state.
struct GlobCheck {
    dfa: dense::DFA<Vec<u32>>,
    /// For each state reached after `folder/`: the shortest rest of a valid path the glob
    /// matches, if any.
    below: std::sync::Mutex<HashMap<StateID, Option<String>>>,
}

impl std::fmt::Debug for FolderCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FolderCheck").finish_non_exhaustive()
    }
}

impl FolderCheck {
    /// The automata for these `never_public` globs.
    pub(super) fn new(nevers: &[&str]) -> Result<FolderCheck, Unprovable> {
        let globs = nevers
            .iter()
            .map(|never| {
                let patterns = vec![VALID_PATH.to_owned(), regex_of(never)?];
                Ok(GlobCheck {
                    dfa: build_dfa(&patterns, PART_LIMIT).map_err(Unprovable::too_large)?,
                    below: std::sync::Mutex::new(HashMap::new()),
                })
            })
            .collect::<Result<_, Unprovable>>()?;
        Ok(FolderCheck { globs })
    }

    /// The first `never_public` glob (by position) that matches some path below the folder
    /// at `path`, with such a path: a public folder makes its contents public upstream, so
    /// this is what making it public would expose.
    pub(super) fn under(&self, path: &str) -> Result<Option<(usize, String)>, Unprovable> {
        for (index, glob) in self.globs.iter().enumerate() {
            if let Some(rest) = glob.under(path)? {
                return Ok(Some((index, format!("{path}/{rest}"))));
            }
        }
        Ok(None)
    }
}

impl GlobCheck {
    /// The shortest rest of a valid path below `path` that the glob matches.
    fn under(&self, path: &str) -> Result<Option<String>, Unprovable> {
        let dfa = &self.dfa;
        let mut state = dfa
            .start_state(&start::Config::new().anchored(Anchored::Yes))
            .map_err(|source| Unprovable::Start {
                automaton: "never_public",
                source,
            })?;
        for byte in path.bytes().chain(std::iter::once(b'/')) {
            state = dfa.next_state(state, byte);
            if dfa.is_dead_state(state) {
                return Ok(None);
            }
            if dfa.is_quit_state(state) {
                return Err(Unprovable::GaveUp);
            }
        }
        let mut below = self
            .below
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(below
            .entry(state)
            .or_insert_with(|| self.search_from(state))
            .clone())
    }

    /// Breadth-first from `from`: the shortest rest of a valid path the glob matches.
    fn search_from(&self, from: StateID) -> Option<String> {
        let dfa = &self.dfa;
        breadth_first(dfa, from, |state, parent| {
            let end = dfa.next_eoi_state(state);
            // Both patterns: a valid path (0) that the glob (1) matches.
            (dfa.is_match_state(end) && dfa.match_len(end) == 2)
                .then(|| path_from(state, from, parent))
        })
    }
}

/// Visits the states reachable from `from`, nearest first (bytes in [`byte_order`], so the
/// first path to each state is the shortest and plainest), with the BFS parents so far, until
/// `visit` returns something.
fn breadth_first<T>(
    dfa: &dense::DFA<Vec<u32>>,
    from: StateID,
    mut visit: impl FnMut(StateID, &HashMap<StateID, (StateID, u8)>) -> Option<T>,
) -> Option<T> {
    let mut parent: HashMap<StateID, (StateID, u8)> = HashMap::new();
    let mut seen = HashSet::from([from]);
    let mut queue = VecDeque::from([from]);
    while let Some(state) = queue.pop_front() {
        if let Some(found) = visit(state, &parent) {
            return Some(found);
        }
        for byte in byte_order() {
            let next = dfa.next_state(state, byte);
            if dfa.is_dead_state(next) || dfa.is_quit_state(next) || !seen.insert(next) {
                continue;
            }
            parent.insert(next, (state, byte));
            queue.push_back(next);
        }
    }
    None
}

/// The input that leads from `from` to `state`, by the BFS parents.
fn path_from(
    mut state: StateID,
    from: StateID,
    parent: &HashMap<StateID, (StateID, u8)>,
) -> String {
    let mut bytes = Vec::new();
    while state != from {
        let Some(&(previous, byte)) = parent.get(&state) else {
            break;
        };
        bytes.push(byte);
        state = previous;
    }
    bytes.reverse();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Breaches through folders: a rule that can make a folder public, when some folder path it
/// matches can hold a `never_public` path. Rule order is not considered for this check, so
/// it may refuse a policy an earlier rule would have made safe; it never misses one.
fn folder_breaches(policy: &Policy) -> Result<Vec<Diagnostic>, Unprovable> {
    let nevers: Vec<&str> = policy
        .guardrails
        .never_public
        .iter()
        .map(|p| p.glob.as_ref())
        .collect();
    let mut found = Vec::new();
    for rule in &policy.rules {
        if rule.target != Target::Share(Sharing::Public) || !rule.applies_to(&FileType::Folder) {
            continue;
        }
        for pattern in &rule.patterns {
            if let Some((index, path)) = under_folder(&pattern.glob, &nevers)? {
                let never = &policy.guardrails.never_public[index];
                found.push(Diagnostic {
                    message: format!(
                        "rule {} would make a folder matching `{}` public, and a public folder \
                         makes its contents public: `{path}` would be exposed, but \
                         guardrails.never_public lists `{}`",
                        rule.number, pattern.glob, never.glob
                    ),
                    span: Some(rule.span),
                    label: Some(format!("`{}` is at line {}", never.glob, never.span.line)),
                    conceal_source: false,
                });
            }
        }
    }
    Ok(found)
}

/// A DFA over `patterns` as globset compiles globs (bytes, `.` matching newlines), anchored,
/// reporting every pattern that matches, within `limit` bytes.
fn build_dfa(
    patterns: &[String],
    limit: usize,
) -> Result<dense::DFA<Vec<u32>>, Box<dense::BuildError>> {
    dense::Builder::new()
        .syntax(syntax::Config::new().utf8(false).dot_matches_new_line(true))
        .thompson(thompson::Config::new().utf8(false))
        .configure(
            dense::Config::new()
                .match_kind(MatchKind::All)
                .start_kind(StartKind::Anchored)
                .dfa_size_limit(Some(limit))
                .determinize_size_limit(Some(limit)),
        )
        .build_many(patterns)
        .map_err(Box::new)
}

/// The regex globset compiles a policy glob to.
fn regex_of(text: &str) -> Result<String, Unprovable> {
    glob(text)
        .map(|g| g.regex().to_owned())
        .map_err(|err| Unprovable::Glob {
            glob: text.to_owned(),
            kind: err.kind().clone(),
        })
}

/// Bytes in the order witnesses prefer them: `x` first (as in `finance/x`), then letters,
/// digits and the separator, then everything else.
fn byte_order() -> impl Iterator<Item = u8> {
    let preferred: Vec<u8> = std::iter::once(b'x')
        .chain((b'a'..=b'z').filter(|b| *b != b'x'))
        .chain(b'0'..=b'9')
        .chain([b'/', b'-', b'_', b'.'])
        .collect();
    let rest: Vec<u8> = (0..=u8::MAX).filter(|b| !preferred.contains(b)).collect();
    preferred.into_iter().chain(rest)
}

/// Paths matching each of `globs` that the policy gives `level`: for each glob (by index),
/// one witness per deciding rule (or default). Exact: an empty answer proves no such path
/// exists. One automaton for everything when it fits [`WHOLE_LIMIT`]; otherwise the
/// decomposed analysis of [`decomposed`].
pub(super) fn witnesses_of(
    policy: &Policy,
    globs: &[&str],
    level: Sharing,
) -> Result<Vec<(usize, Witness)>, Unprovable> {
    witnesses_within(policy, globs, level, WHOLE_LIMIT)
}

/// [`witnesses_of`] with the budget of the one-automaton attempt given (0 forces the
/// decomposed analysis, for tests).
fn witnesses_within(
    policy: &Policy,
    globs: &[&str],
    level: Sharing,
    whole_limit: usize,
) -> Result<Vec<(usize, Witness)>, Unprovable> {
    let all_globs: Vec<usize> = (0..globs.len()).collect();
    let all_rules: Vec<usize> = (0..policy.rules.len()).collect();
    let mut found = Vec::new();
    let whole = (whole_limit > 0)
        .then(|| PolicyAutomaton::build(policy, globs, &all_globs, &all_rules, whole_limit).ok())
        .flatten();
    if let Some(whole) = whole {
        whole.collect(policy, Target::Share(level), |_| true, &mut found)?;
    } else {
        for glob in all_globs {
            decomposed(policy, globs, glob, level, &mut found)?;
        }
    }
    found.sort_by_key(|(glob, witness)| (*glob, witness.rule.unwrap_or(usize::MAX)));
    Ok(found)
}

/// The analysis of one glob, part by part, when one automaton for everything is too large.
///
/// Only rules with a pattern that meets the glob can decide a path under it, so the others
/// are left out (each tested with a three-pattern automaton). A rule giving `level` decides
/// some path under the glob exactly when it is the first applicable match there among the
/// relevant rules up to it; later rules cannot change that. So each such rule gets its own
/// automaton, of the relevant rules up to it. The default needs all relevant rules at once.
fn decomposed(
    policy: &Policy,
    globs: &[&str],
    glob: usize,
    level: Sharing,
    found: &mut Vec<(usize, Witness)>,
) -> Result<(), Unprovable> {
    let wanted = Target::Share(level);
    let relevant = relevant_rules(policy, globs, glob)?;
    for (position, &rule) in relevant.iter().enumerate() {
        if policy.rules[rule].target != wanted {
            continue;
        }
        let part =
            PolicyAutomaton::build(policy, globs, &[glob], &relevant[..=position], PART_LIMIT)?;
        part.collect(policy, wanted, |decider| decider == Some(rule), found)?;
    }
    if policy.default == wanted {
        let part = PolicyAutomaton::build(policy, globs, &[glob], &relevant, PART_LIMIT)?;
        part.collect(policy, wanted, |decider| decider.is_none(), found)?;
    }
    Ok(())
}

/// Paths matching `glob` that the policy gives `level`, one per deciding rule (or default).
pub(super) fn witnesses(
    policy: &Policy,
    glob: &str,
    level: Sharing,
) -> Result<Vec<Witness>, Unprovable> {
    Ok(witnesses_of(policy, &[glob], level)?
        .into_iter()
        .map(|(_, witness)| witness)
        .collect())
}

/// Every rule (or default) that would make a `never_public` path public, as diagnostics at
/// that rule; a policy too large to analyse is one diagnostic saying so.
pub(super) fn never_public_breaches(policy: &Policy) -> Vec<Diagnostic> {
    let globs: Vec<&str> = policy
        .guardrails
        .never_public
        .iter()
        .map(|p| p.glob.as_ref())
        .collect();
    if globs.is_empty() {
        return Vec::new();
    }
    let found = match witnesses_of(policy, &globs, Sharing::Public) {
        Ok(found) => found,
        Err(message) => {
            return vec![Diagnostic::unplaced(format!(
                "{message}; plotward cannot prove that guardrails.never_public holds, so the \
                 policy is refused"
            ))];
        }
    };
    let through_folders = match folder_breaches(policy) {
        Ok(found) => found,
        Err(message) => {
            return vec![Diagnostic::unplaced(message.to_string())];
        }
    };
    found
        .into_iter()
        .map(|(index, witness)| {
            let pattern = &policy.guardrails.never_public[index];
            Diagnostic {
                message: format!(
                    "{} would make `{}` ({}) public, but guardrails.never_public lists `{}`",
                    witness.decided_by(),
                    witness.path,
                    witness.filetype,
                    pattern.glob
                ),
                span: witness.span,
                label: Some(format!(
                    "`{}` is at line {}",
                    pattern.glob, pattern.span.line
                )),
                conceal_source: false,
            }
        })
        .chain(through_folders)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(source: &str) -> Result<Policy, String> {
        Policy::parse(source, "p.yaml").map_err(|err| err.to_string())
    }

    #[test]
    fn a_rule_that_exposes_a_never_public_path_is_refused_at_its_line() {
        let err = policy(
            "version: 1\nrules:\n  - match: \"finance/reports/*\"\n    sharing: public\n  - match: \"hr/**\"\n    sharing: private\nguardrails:\n  never_public: [\"finance/**\", \"hr/**\"]\n",
        )
        .unwrap_err();
        assert_eq!(
            err,
            "p.yaml:3:5: rule 1 would make `finance/reports/x` (plot) public, but guardrails.never_public lists `finance/**`"
        );
    }

    #[test]
    fn precedence_is_respected_and_the_default_is_checked() {
        // `**` is public, but an earlier rule keeps finance private: no breach.
        assert!(policy("version: 1\nrules:\n  - match: \"finance/**\"\n    sharing: private\n  - match: \"**\"\n    sharing: public\nguardrails:\n  never_public: \"finance/**\"\n").is_ok());
        let err = policy("version: 1\ndefault: public\nguardrails:\n  never_public: \"hr/**\"\n")
            .unwrap_err();
        assert!(
            err.starts_with("p.yaml:2:10: the default would make `hr/x` (plot) public"),
            "{err}"
        );
        // Filetypes narrow a rule: public only for dashboards still breaks the guardrail.
        let err = policy("version: 1\nrules:\n  - match: \"**\"\n    sharing: public\n    filetypes: [dashboard]\nguardrails:\n  never_public: \"hr/**\"\n").unwrap_err();
        assert!(
            err.contains("rule 1 would make `hr/x` (dashboard) public"),
            "{err}"
        );
    }

    #[test]
    fn limits_are_validated() {
        let ok =
            policy("version: 1\nguardrails:\n  max_changes: 25%\n  max_exposures: 10\n").unwrap();
        assert_eq!(
            ok.guardrails.max_changes,
            Some(super::super::Limit::Percent(25.0))
        );
        assert_eq!(ok.guardrails.max_exposures, Some(10));
        let err = policy("version: 1\nguardrails:\n  max_changes: lots\n  max_exposures: -1\n  never_publik: []\n").unwrap_err();
        assert_eq!(
            err,
            "p.yaml:3:16: `max_changes` must be a whole number or a percentage such as `25%`, found `lots`\n\
             p.yaml:4:18: `max_exposures` must be a whole number, found -1\n\
             p.yaml:5:3: unknown key `never_publik` in guardrails; expected `never_public`, `max_changes`, `max_exposures`"
        );
        assert!(policy("version: 1\nguardrails:\n  max_changes: 120%\n").is_err());
    }

    #[test]
    fn overlaps_sampling_missed_are_found_with_a_witness() {
        for (rule, guarded, witness) in [
            ("x*y/z", "*q*/z", "xqy/z"),
            ("a/**/b", "**/m/n/**", "a/m/n/b"),
            ("[0-9][0-9]/*", "1?/k", "10/k"),
            ("x/[!/]*", "x/**", "x/x"),
        ] {
            let err = policy(&format!(
                "version: 1\nrules:\n  - match: \"{rule}\"\n    sharing: public\nguardrails:\n  never_public: [\"{guarded}\"]\n"
            ))
            .unwrap_err();
            assert!(
                err.contains(&format!("rule 1 would make `{witness}` (plot) public")),
                "{rule} vs {guarded}: {err}"
            );
        }
        // Disjoint, however alike they look: no breach.
        assert!(policy("version: 1\nrules:\n  - match: \"a*/b\"\n    sharing: public\nguardrails:\n  never_public: [\"b*/b\"]\n").is_ok());
        assert!(policy("version: 1\nrules:\n  - match: \"*\"\n    sharing: public\nguardrails:\n  never_public: [\"*/*\"]\n").is_ok());
    }

    #[test]
    fn witnesses_name_the_deciding_rule() {
        let p = policy("version: 1\nrules:\n  - match: \"reports/q1/*\"\n    sharing: public\n  - match: \"reports/**\"\n    sharing: secret\n").unwrap();
        let found = p.witnesses("reports/**", Sharing::Public).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].path.as_str(), found[0].rule),
            ("reports/q1/x", Some(1))
        );
        assert!(
            p.witnesses("finance/**", Sharing::Public)
                .unwrap()
                .is_empty()
        );
    }

    mod brute_force {
        use std::fmt::Write as _;

        use proptest::prelude::*;

        use super::super::super::matcher::glob_matcher;
        use super::super::*;
        use super::policy;

        fn segment() -> impl Strategy<Value = &'static str> {
            prop::sample::select(vec![
                "a", "b", "*", "?", "[ab]", "[!a]", "a*", "*b", "{a,b}", "**", "aa",
            ])
        }

        fn glob_text() -> impl Strategy<Value = String> {
            prop::collection::vec(segment(), 1..=3).prop_map(|segments| segments.join("/"))
        }

        fn target() -> impl Strategy<Value = &'static str> {
            prop::sample::select(vec!["public", "private", "secret", "ignore"])
        }

        fn filetypes() -> impl Strategy<Value = &'static str> {
            prop::sample::select(vec![
                "",
                "\n    filetypes: [plot]",
                "\n    filetypes: [fold, grid]",
            ])
        }

        /// Every path of one to three names from {a, b, aa, ab, ba, bb}.
        fn universe() -> Vec<String> {
            let names = ["a", "b", "aa", "ab", "ba", "bb"];
            let mut paths: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
            for _ in 0..2 {
                let longer: Vec<String> = paths
                    .iter()
                    .filter(|p| {
                        p.matches('/').count() == paths[paths.len() - 1].matches('/').count()
                    })
                    .flat_map(|p| names.iter().map(move |n| format!("{p}/{n}")))
                    .collect();
                paths.extend(longer);
            }
            paths
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Every witness is real, and every breach brute force finds on small paths is
            /// found, with its deciding rule.
            #[test]
            fn the_analysis_agrees_with_brute_force(
                rules in prop::collection::vec((glob_text(), target(), filetypes()), 1..=3),
                default in target(),
                guarded in glob_text(),
            ) {
                let mut yaml = format!("version: 1\ndefault: {default}\nrules:\n");
                for (glob, target, types) in &rules {
                    let _ = writeln!(yaml, "  - match: \"{glob}\"\n    sharing: {target}{types}");
                }
                // Shadowed or duplicate rules are refused by validation; nothing to compare.
                let Ok(policy) = policy(&yaml) else {
                    return Ok(());
                };
                let found = witnesses(&policy, &guarded, Sharing::Public).unwrap();
                // The decomposed analysis, used for large policies, finds the same deciders.
                let parts = witnesses_within(&policy, &[guarded.as_str()], Sharing::Public, 0).unwrap();
                let deciders = |w: &[Witness]| w.iter().map(|w| w.rule).collect::<std::collections::BTreeSet<_>>();
                let part_witnesses: Vec<Witness> = parts.into_iter().map(|(_, w)| w).collect();
                prop_assert_eq!(deciders(&found), deciders(&part_witnesses));
                let guard = glob_matcher(&guarded).unwrap();
                let mut decider = policy.decider();
                for witness in &found {
                    prop_assert!(guard.is_match(&witness.path), "{witness:?}");
                    let decision = decider.decide(&witness.path, &witness.filetype);
                    prop_assert_eq!(decision.target(), Target::Share(Sharing::Public));
                    let rule = match decision {
                        super::super::super::Decision::Rule { rule, .. } => Some(rule.number),
                        _ => None,
                    };
                    prop_assert_eq!(rule, witness.rule);
                }
                let types = filetypes_of(&policy);
                for path in universe() {
                    if !guard.is_match(&path) {
                        continue;
                    }
                    for filetype in &types {
                        let decision = decider.decide(&path, filetype);
                        if decision.target() != Target::Share(Sharing::Public) {
                            continue;
                        }
                        let rule = match decision {
                            super::super::super::Decision::Rule { rule, .. } => Some(rule.number),
                            _ => None,
                        };
                        prop_assert!(
                            found.iter().any(|w| w.rule == rule),
                            "{path} ({filetype}) is made public by {rule:?}, not found in {found:?}\n{yaml}"
                        );
                    }
                }
            }
        }

        fn filetypes_of(policy: &Policy) -> Vec<FileType> {
            super::super::filetypes(policy)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(128))]

            /// One automaton with a cache per state answers as an automaton built per folder
            /// does, whatever order the folders come in; and a path it gives is below the
            /// folder and matches the glob it names.
            #[test]
            fn the_cached_folder_check_agrees_with_one_automaton_per_folder(
                nevers in prop::collection::vec(glob_text(), 1..=3),
                folders in prop::collection::vec(0usize..42, 1..=8),
            ) {
                let nevers: Vec<&str> = nevers.iter().map(String::as_str).collect();
                let check = FolderCheck::new(&nevers).unwrap();
                let universe = universe();
                for index in folders {
                    let folder = &universe[index % universe.len()];
                    let cached = check.under(folder).unwrap();
                    let fresh = under_folder(&globset::escape(folder), &nevers).unwrap();
                    prop_assert_eq!(cached.as_ref().map(|f| f.0), fresh.as_ref().map(|f| f.0), "{}", folder);
                    if let Some((never, path)) = cached {
                        let below = path.strip_prefix(&format!("{folder}/"));
                        prop_assert!(below.is_some_and(|rest| !rest.is_empty()), "{}", path);
                        prop_assert!(glob_matcher(nevers[never]).unwrap().is_match(&path), "{}", path);
                    }
                }
            }
        }
    }
}
