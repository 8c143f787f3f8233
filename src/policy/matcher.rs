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
pub(super) fn glob_matcher(text: &str) -> Result<GlobMatcher, String> {
    glob(text)
        .map(|g| g.compile_matcher())
        .map_err(|err| format!("invalid glob `{text}`: {}", err.kind()))
}

/// Globs matched together: a `GlobSet` for speed, and the same globs one by one for paths the
/// set's shortcuts get wrong (see [`needs_full_match`]), compiled only when first needed.
///
/// Only the globs' text is kept beside the set (a compiled `Glob` is about a kilobyte; an
/// exported policy can hold 100,000 of them).
#[derive(Debug)]
pub(super) struct GlobList {
    set: GlobSet,
    texts: Vec<Box<str>>,
    each: std::sync::OnceLock<Vec<Option<globset::GlobMatcher>>>,
}

impl Default for GlobList {
    fn default() -> GlobList {
        GlobList {
            set: GlobSet::empty(),
            texts: Vec::new(),
            each: std::sync::OnceLock::new(),
        }
    }
}

impl GlobList {
    /// Compiles the globs into one set; fails only if the set is too large.
    pub(super) fn new(globs: Vec<Glob>) -> Result<GlobList, globset::Error> {
        let mut builder = GlobSetBuilder::new();
        let mut texts = Vec::with_capacity(globs.len());
        for glob in globs {
            texts.push(glob.glob().into());
            builder.add(glob);
        }
        Ok(GlobList {
            set: builder.build()?,
            texts,
            each: std::sync::OnceLock::new(),
        })
    }

    /// The indices of the globs that match `path`, into `hits` (in no promised order).
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
            hits.extend((0..each.len()).filter(|&glob| each[glob].as_ref().is_some_and(|m| m.is_match(path))));
        } else {
            self.set.matches_candidate_into(&Candidate::new(path), hits);
        }
    }

    /// Whether any glob matches `path`.
    pub(super) fn is_match(&self, path: &str) -> bool {
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
    pub(super) fn new(rules: &mut [RuleDraft]) -> Result<Matcher, String> {
        let mut globs = Vec::new();
        let mut owners = Vec::new();
        for (rule_index, rule) in rules.iter_mut().enumerate() {
            for (pattern_index, glob) in std::mem::take(&mut rule.globs).into_iter().enumerate() {
                globs.push(glob);
                owners.push((rule_index, pattern_index));
            }
        }
        let globs = GlobList::new(globs)
            .map_err(|err| format!("cannot compile the policy's globs together: {err}"))?;
        Ok(Matcher { globs, owners })
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
