//! All the rules' globs in one `GlobSet`, so a path is matched against every pattern in one
//! pass instead of one regex per rule.

#[cfg(test)]
use globset::GlobMatcher;
use globset::{Candidate, Glob, GlobBuilder, GlobSet, GlobSetBuilder};

use super::validate::RuleDraft;

/// Compiles one policy glob: `*` stays within a folder (`literal_separator`), `**` crosses
/// folders, `\\` escapes on every platform. Every glob of a policy is built here, so the
/// flavour is defined once.
pub(super) fn glob(text: &str) -> Result<Glob, globset::Error> {
    GlobBuilder::new(text)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
}

/// A single-glob matcher with the policy's flavour, or the reason it is invalid; the
/// analysis's brute-force tests compare against it.
#[cfg(test)]
pub(super) fn glob_matcher(text: &str) -> Result<GlobMatcher, globset::Error> {
    glob(text).map(|g| g.compile_matcher())
}

/// A compiled policy glob: a plain path (no glob syntax), matched by equality and kept as
/// text, or a glob. An exported policy names up to a hundred thousand exact paths; as
/// compiled globs they would take about two kilobytes each.
#[derive(Clone, Debug)]
pub(super) enum Compiled {
    /// A pattern without `*`, `?`, `[`, `]`, `{`, `}` or `\\`: it matches exactly itself.
    Literal(Box<str>),
    /// Any other pattern.
    Glob(Glob),
}

/// Why a pattern is not one a policy (or `--target`) accepts.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BadPattern {
    /// Longer than [`crate::limits::MAX_GLOB_CHARS`].
    #[error(
        "pattern is longer than {} characters; split it, or match a folder with `**`",
        crate::limits::MAX_GLOB_CHARS
    )]
    TooLong,
    /// `/reports/**`: paths have no leading slash.
    #[error("pattern `{0}` starts with `/`, but paths have no leading slash")]
    LeadingSlash(String),
    /// `reports/`: no file has that path.
    #[error("pattern `{0}` ends with `/` and can never match a file")]
    TrailingSlash(String),
    /// Not a glob globset accepts.
    #[error("invalid glob `{text}`: {why}")]
    Invalid { text: String, why: String },
}

impl BadPattern {
    /// How to fix it, when there is one way.
    pub(crate) fn hint(&self) -> Option<String> {
        match self {
            BadPattern::LeadingSlash(text) => Some(format!("write `{}`", &text[1..])),
            BadPattern::TrailingSlash(text) => {
                Some(format!("write `{text}**` for everything under it"))
            }
            BadPattern::TooLong | BadPattern::Invalid { .. } => None,
        }
    }
}

/// Checks and compiles one pattern as a policy's `match` does: bounded, no leading or
/// trailing `/`, a valid glob.
pub(crate) fn check_pattern(text: &str) -> Result<Compiled, BadPattern> {
    if text.chars().count() > crate::limits::MAX_GLOB_CHARS {
        return Err(BadPattern::TooLong);
    }
    if text.starts_with('/') {
        return Err(BadPattern::LeadingSlash(text.to_owned()));
    }
    if text.ends_with('/') {
        return Err(BadPattern::TrailingSlash(text.to_owned()));
    }
    compile(text).map_err(|err| BadPattern::Invalid {
        text: text.to_owned(),
        why: err.kind().to_string(),
    })
}

/// Compiles one policy pattern: a plain path stays text; anything else becomes a [`glob`].
pub(super) fn compile(text: &str) -> Result<Compiled, globset::Error> {
    if text.contains(['*', '?', '[', ']', '{', '}', '\\']) {
        glob(text).map(Compiled::Glob)
    } else {
        Ok(Compiled::Literal(text.into()))
    }
}

/// Patterns matched together: plain paths in a hash map, globs in a `GlobSet` for speed, and
/// the same globs one by one for paths the set's shortcuts get wrong (see
/// [`needs_full_match`]), compiled from their text only when first needed.
#[derive(Debug, Default)]
pub(super) struct GlobList {
    /// Plain paths, with the indices of the patterns that are exactly that path.
    literals: std::collections::HashMap<Box<str>, Vec<usize>>,
    set: GlobSet,
    /// For each glob of the set, its index among all the patterns.
    indices: Vec<usize>,
    /// For each glob of the set, its text.
    texts: Vec<Box<str>>,
    each: std::sync::OnceLock<Vec<Option<globset::GlobMatcher>>>,
}

impl GlobList {
    /// Compiles the patterns; fails only if the glob set is too large.
    pub(super) fn new(patterns: Vec<Compiled>) -> Result<GlobList, globset::Error> {
        let mut builder = GlobSetBuilder::new();
        let mut list = GlobList::default();
        for (index, pattern) in patterns.into_iter().enumerate() {
            match pattern {
                Compiled::Literal(text) => list.literals.entry(text).or_default().push(index),
                Compiled::Glob(glob) => {
                    list.texts.push(glob.glob().into());
                    list.indices.push(index);
                    builder.add(glob);
                }
            }
        }
        list.set = builder.build()?;
        Ok(list)
    }

    /// The indices of the patterns that match `path`, into `hits` (in no promised order).
    pub(super) fn matches_into(&self, path: &str, hits: &mut Vec<usize>) {
        if needs_full_match(path) {
            // The texts compiled before, so they compile again (`None` would match nothing).
            let each = self.each.get_or_init(|| {
                self.texts
                    .iter()
                    .map(|text| glob(text).ok().map(|g| g.compile_matcher()))
                    .collect()
            });
            hits.clear();
            hits.extend(
                (0..each.len())
                    .filter(|&glob| each[glob].as_ref().is_some_and(|m| m.is_match(path))),
            );
        } else {
            self.set.matches_candidate_into(&Candidate::new(path), hits);
        }
        for hit in hits.iter_mut() {
            *hit = self.indices[*hit];
        }
        if let Some(exact) = self.literals.get(path) {
            hits.extend_from_slice(exact);
        }
    }

    /// Whether any pattern matches `path`.
    pub(super) fn is_match(&self, path: &str) -> bool {
        if self.literals.contains_key(path) {
            return true;
        }
        if needs_full_match(path) {
            let mut hits = Vec::new();
            self.matches_into(path, &mut hits);
            return !hits.is_empty();
        }
        self.set.is_match(path)
    }
}

/// The compiled patterns of every rule.
#[derive(Debug)]
pub(super) struct Matcher {
    globs: GlobList,
    /// For each glob in the list: (rule index, pattern index within the rule).
    owners: Vec<(usize, usize)>,
}

/// Whether a path's last name is `.` or `..`. `GlobSet` takes the file name from the path,
/// which has none then, so its file-name shortcuts miss (`**/..` would not match `x/..`);
/// such paths are matched glob by glob, with each glob's full regex.
pub(super) fn needs_full_match(path: &str) -> bool {
    matches!(path.rsplit('/').next(), Some("." | ".."))
}

impl Matcher {
    /// Compiles the globs of all rules, taking them from the drafts (no copies); fails only
    /// if the combined set is too large.
    pub(super) fn new(rules: &mut [RuleDraft]) -> Result<Matcher, globset::Error> {
        let mut globs = Vec::new();
        let mut owners = Vec::new();
        for (rule_index, rule) in rules.iter_mut().enumerate() {
            for (pattern_index, glob) in std::mem::take(&mut rule.globs).into_iter().enumerate() {
                globs.push(glob);
                owners.push((rule_index, pattern_index));
            }
        }
        Ok(Matcher {
            globs: GlobList::new(globs)?,
            owners,
        })
    }

    /// The first rule (by index) whose patterns match `path` and which `accepts` the file,
    /// with the index of its first matching pattern. `hits` is scratch space.
    pub(super) fn first_match(
        &self,
        path: &str,
        hits: &mut Vec<usize>,
        accepts: impl Fn(usize) -> bool,
    ) -> Option<(usize, usize)> {
        self.globs.matches_into(path, hits);
        // GlobSet reports matches in no promised order; the owners' order is the policy's, so
        // the smallest (rule, pattern) pair among the accepted hits is the first match.
        hits.iter()
            .map(|&glob| self.owners[glob])
            .filter(|&(rule, _)| accepts(rule))
            .min()
    }
}
