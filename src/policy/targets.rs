//! `--target GLOB`: the paths a run is limited to, in the policy's glob flavour.

use super::matcher::{self, BadPattern, GlobList};

/// The globs a run is limited to; none means the whole account. Each is checked as a policy
/// pattern is.
#[derive(Debug, Default)]
pub(crate) struct Targets {
    /// The globs as given, sorted and without repeats (so two runs with the same targets in
    /// another order agree).
    patterns: Vec<String>,
    /// Them compiled; `None` for the whole account.
    list: Option<GlobList>,
}

/// A `--target` that is not a valid pattern.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("--target: {bad}")]
pub(crate) struct BadTarget {
    pub bad: BadPattern,
}

impl Targets {
    /// The whole account.
    pub(crate) fn all() -> Targets {
        Targets::default()
    }

    /// The paths matching any of `patterns`; the whole account when there are none.
    pub(crate) fn new(patterns: &[String]) -> Result<Targets, BadTarget> {
        if let Some(blank) = patterns.iter().find(|p| p.trim().is_empty()) {
            // `--target ''` (an unset CI variable, say) would otherwise limit the run to
            // nothing and report a clean account.
            return Err(BadTarget {
                bad: BadPattern::Invalid {
                    text: blank.clone(),
                    why: "a target must name some path".to_owned(),
                },
            });
        }
        let mut patterns = patterns.to_vec();
        patterns.sort();
        patterns.dedup();
        if patterns.is_empty() {
            return Ok(Targets::all());
        }
        let compiled = patterns
            .iter()
            .map(|p| matcher::check_pattern(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|bad| BadTarget { bad })?;
        let list = GlobList::new(compiled).map_err(|err| BadTarget {
            bad: BadPattern::Invalid {
                text: patterns.join(", "),
                why: err.kind().to_string(),
            },
        })?;
        Ok(Targets {
            patterns,
            list: Some(list),
        })
    }

    /// Whether the run covers `path`.
    pub(crate) fn matches(&self, path: &str) -> bool {
        self.list.as_ref().is_none_or(|list| list.is_match(path))
    }

    /// The globs that match none of `paths`: a typo, which would limit the run to nothing and
    /// report a clean account.
    pub(crate) fn unmatched<'p>(&self, paths: impl Iterator<Item = &'p str>) -> Vec<&str> {
        let Some(list) = &self.list else {
            return Vec::new();
        };
        let mut matched = vec![false; self.patterns.len()];
        let mut hits = Vec::new();
        for path in paths {
            list.matches_into(path, &mut hits);
            for &hit in &hits {
                matched[hit] = true;
            }
            if !matched.contains(&false) {
                break;
            }
        }
        self.patterns
            .iter()
            .zip(matched)
            .filter(|(_, matched)| !matched)
            .map(|(pattern, _)| pattern.as_str())
            .collect()
    }

    /// The globs, sorted; empty for the whole account.
    pub(crate) fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

#[cfg(test)]
mod tests {
    use super::Targets;

    #[test]
    fn targets_match_as_policy_patterns_do_and_refuse_what_a_policy_refuses() {
        let targets = Targets::new(&["reports/**".into(), "hr/*".into(), "hr/*".into()]).unwrap();
        assert_eq!(targets.patterns(), ["hr/*", "reports/**"]);
        assert!(targets.matches("reports/q3/revenue"));
        assert!(targets.matches("hr/pay"));
        assert!(!targets.matches("hr/a/pay"), "`*` stays within a folder");
        assert!(!targets.matches("finance/pay"));
        assert!(Targets::all().matches("anything") && Targets::all().patterns().is_empty());
        let paths = ["reports/q3", "finance"];
        assert_eq!(targets.unmatched(paths.into_iter()), ["hr/*"]);
        assert!(Targets::all().unmatched(paths.into_iter()).is_empty());
        assert!(
            Targets::new(&[" ".into()]).is_err(),
            "a blank target names nothing"
        );
        for (bad, message) in [
            ("/reports/**", "starts with `/`"),
            ("reports/", "ends with `/`"),
            ("a[", "invalid glob `a[`"),
        ] {
            let err = Targets::new(&[bad.to_owned()]).unwrap_err().to_string();
            assert!(
                err.starts_with("--target: ") && err.contains(message),
                "{err}"
            );
        }
    }
}
