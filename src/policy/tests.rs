use super::*;
use crate::inventory::{FileType, Sharing};

fn policy(source: &str) -> Policy {
    match Policy::parse(source, "p.yaml") {
        Ok(policy) => policy,
        Err(err) => panic!("policy should be valid:\n{err}"),
    }
}

/// The plain `file:line:col: message` lines of an invalid policy.
#[track_caller]
fn errors(source: &str) -> String {
    match Policy::parse(source, "p.yaml") {
        Ok(_) => panic!("policy should be invalid:\n{source}"),
        Err(PolicyError::Invalid(diagnostics)) => diagnostics.to_string(),
        Err(other) => panic!("unexpected error {other}"),
    }
}

/// What the policy wants for a plot at `path`, and which rule said so (0 for the default).
fn decide(policy: &Policy, path: &str, filetype: &FileType) -> (&'static str, usize) {
    let decision = policy.decide(path, filetype);
    let rule = match decision {
        Decision::Rule { rule, .. } => rule.number,
        Decision::Default(_) | Decision::Folder => 0,
    };
    (decision.target().as_str(), rule)
}

const LAYERED: &str = "\
version: 1
default: private
rules:
  - match: \"finance/*\"
    sharing: secret
  - match: \"finance/**\"
    sharing: public
  - match: [\"reports/**\", \"dash-*\"]
    sharing: public
    filetypes: [plot, dashboard]
  - match: \"reports/**\"
    sharing: ignore
";

#[test]
fn first_matching_rule_wins() {
    let p = policy(LAYERED);
    assert_eq!(
        decide(&p, "finance/payroll", &FileType::Grid),
        ("secret", 1)
    );
    assert_eq!(
        decide(&p, "finance/2026/payroll", &FileType::Grid),
        ("public", 2)
    );
}

#[test]
fn plain_paths_match_only_themselves_and_keep_rule_order_with_globs() {
    // Plain paths are matched by equality beside the glob set; order between the two kinds
    // is still the policy's.
    let p = policy(
        "version: 1\ndefault: private\nrules:\n  - match: \"a/*\"\n    sharing: secret\n  \
         - match: [\"a/b\", \"c/d\", \"x/..\"]\n    sharing: public\n  \
         - match: \"c/**\"\n    sharing: ignore\n",
    );
    assert_eq!(decide(&p, "a/b", &FileType::Plot), ("secret", 1));
    assert_eq!(decide(&p, "c/d", &FileType::Plot), ("public", 2));
    assert_eq!(decide(&p, "c/d/e", &FileType::Plot), ("ignore", 3));
    assert_eq!(decide(&p, "c/dd", &FileType::Plot), ("ignore", 3));
    assert_eq!(decide(&p, "x/..", &FileType::Plot), ("public", 2));
    assert_eq!(decide(&p, "C/D", &FileType::Plot), ("private", 0));
}

#[test]
fn single_star_stays_in_one_folder_and_double_star_crosses() {
    let p = policy("version: 1\nrules:\n  - match: \"a/*\"\n    sharing: public\n");
    assert_eq!(decide(&p, "a/b", &FileType::Plot), ("public", 1));
    assert_eq!(decide(&p, "a/b/c", &FileType::Plot), ("ignore", 0));
    assert_eq!(decide(&p, "a", &FileType::Plot), ("ignore", 0));
    let p = policy("version: 1\nrules:\n  - match: \"a/**\"\n    sharing: public\n");
    assert_eq!(decide(&p, "a/b/c/d", &FileType::Plot), ("public", 1));
    assert_eq!(decide(&p, "ab/c", &FileType::Plot), ("ignore", 0));
}

#[test]
fn root_files_match_single_star_only() {
    let p = policy("version: 1\nrules:\n  - match: \"*\"\n    sharing: secret\n");
    assert_eq!(decide(&p, "overview", &FileType::Dashboard), ("secret", 1));
    assert_eq!(
        decide(&p, "reports/overview", &FileType::Dashboard),
        ("ignore", 0)
    );
}

#[test]
fn filetypes_restrict_a_rule_and_later_rules_catch_the_rest() {
    let p = policy(LAYERED);
    assert_eq!(
        decide(&p, "reports/q3/revenue", &FileType::Plot),
        ("public", 3)
    );
    assert_eq!(
        decide(&p, "reports/q3/data", &FileType::Grid),
        ("ignore", 4)
    );
    assert_eq!(decide(&p, "dash-ops", &FileType::Dashboard), ("public", 3));
    assert_eq!(decide(&p, "dash-ops", &FileType::Grid), ("private", 0));
}

#[test]
fn folders_are_managed_only_by_rules_that_name_them() {
    let p = policy(LAYERED);
    assert_eq!(p.decide("finance", &FileType::Folder), Decision::Folder);
    assert_eq!(p.decide("finance/q", &FileType::Folder), Decision::Folder);
    let p =
        policy("version: 1\nrules:\n  - match: \"*\"\n    sharing: private\n    filetypes: fold\n");
    assert_eq!(decide(&p, "finance", &FileType::Folder), ("private", 1));
    assert_eq!(decide(&p, "finance", &FileType::Plot), ("ignore", 0));
}

#[test]
fn matching_is_case_sensitive_and_unicode_aware() {
    let p = policy(
        "version: 1\nrules:\n  - match: \"données/*\"\n    sharing: public\n  - match: \"研究/**\"\n    sharing: secret\n",
    );
    assert_eq!(decide(&p, "données/ventes", &FileType::Plot), ("public", 1));
    assert_eq!(decide(&p, "Données/ventes", &FileType::Plot), ("ignore", 0));
    assert_eq!(decide(&p, "研究/実験/結果", &FileType::Plot), ("secret", 2));
}

#[test]
fn other_filetypes_follow_rules_without_filetypes() {
    let p = policy("version: 1\ndefault: public\n");
    let image = FileType::Other("external_image".into());
    assert_eq!(decide(&p, "logo", &image), ("public", 0));
    assert_eq!(p.default, Target::Share(Sharing::Public));
}

#[test]
fn the_first_matching_pattern_of_a_rule_is_reported() {
    let p = policy(
        "version: 1\nrules:\n  - match: [\"x/*\", \"x/**\", \"*/y\"]\n    sharing: public\n",
    );
    let Decision::Rule { pattern, .. } = p.decide("x/y", &FileType::Plot) else {
        panic!("should match");
    };
    assert_eq!(&*pattern.glob, "x/*");
    assert_eq!((pattern.span.line, pattern.span.column), (3, 13));
}

#[test]
fn default_is_ignore_when_omitted_and_rules_may_be_absent() {
    let p = policy("version: 1\n");
    assert_eq!(p.default, Target::Ignore);
    assert!(p.rules.is_empty());
}

#[test]
fn three_different_mistakes_are_all_reported_with_positions() {
    let source = "\
version: 1
default: privat
rules:
  - match: \"finance/[\"
    sharing: private
  - match: \"reports/**\"
    sharing: secret
    filetype: [plot]
";
    assert_eq!(
        errors(source),
        "\
p.yaml:2:10: unknown sharing level `privat` in `default`; expected public, private, secret or ignore
p.yaml:4:12: invalid glob `finance/[`: unclosed character class; missing ']'
p.yaml:8:5: unknown key `filetype` in rule; expected `match`, `sharing`, `filetypes`"
    );
}

#[test]
fn suggestions_and_carets_come_with_the_diagnostic() {
    let Err(PolicyError::Invalid(diagnostics)) = Policy::parse("version: 1\nrulez: []\n", "p.yaml")
    else {
        panic!("should be invalid");
    };
    let item = &diagnostics.items[0];
    assert_eq!(item.label.as_deref(), Some("did you mean `rules`?"));
    assert_eq!(
        item.span,
        Some(Span {
            line: 2,
            column: 1,
            width: 5
        })
    );
}

#[test]
fn structural_errors_are_reported() {
    assert_eq!(errors("default: public\n"), "p.yaml:1:1: missing `version`");
    assert_eq!(
        errors("version: 2\n"),
        "p.yaml:1:10: unsupported policy version 2; this plotward reads version 1"
    );
    assert_eq!(
        errors("version: \"1\"\n"),
        "p.yaml:1:10: `version` must be the number 1, found a string"
    );
    assert_eq!(
        errors("- a\n"),
        "p.yaml:1:1: a policy is a mapping with `version`, `default` and `rules`, found a list"
    );
    assert_eq!(
        errors("version: 1\nrules:\n  - sharing: public\n  - match: x\n"),
        "p.yaml:3:5: rule 1 has no `match`\np.yaml:4:5: rule 2 has no `sharing`"
    );
    assert_eq!(
        errors("version: 1\nrules: public\n"),
        "p.yaml:2:8: `rules` must be a list of rules, found a string"
    );
}

#[test]
fn empty_matches_and_filetypes_are_errors() {
    assert_eq!(
        errors(
            "version: 1\nrules:\n  - match: []\n    sharing: public\n  - match: \"\"\n    sharing: public\n"
        ),
        "p.yaml:3:12: `match` is an empty list\np.yaml:5:12: empty string in `match`"
    );
    assert_eq!(
        errors(
            "version: 1\nrules:\n  - match: a\n    sharing: public\n    filetypes: [plot, presentation, 3]\n"
        ),
        "p.yaml:5:23: unknown filetype `presentation`; expected one of plot, grid, dashboard, spectacle_presentation, fold, external_image, html_text, jupyter_notebook\n\
         p.yaml:5:37: `filetypes` entries must be strings, found a number"
    );
}

#[test]
fn filetype_suggestions_cover_suffixes() {
    let Err(PolicyError::Invalid(d)) = Policy::parse(
        "version: 1\nrules:\n  - match: a\n    sharing: public\n    filetypes: [presentation, folder]\n",
        "p.yaml",
    ) else {
        panic!("should be invalid");
    };
    let labels: Vec<_> = d
        .items
        .iter()
        .map(|i| i.label.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        labels,
        [
            "did you mean `spectacle_presentation`?",
            "did you mean `fold`?"
        ]
    );
}

#[test]
fn slashes_at_the_ends_of_patterns_are_explained() {
    assert_eq!(
        errors("version: 1\nrules:\n  - match: [\"/finance/**\", \"hr/\"]\n    sharing: private\n"),
        "p.yaml:3:13: pattern `/finance/**` starts with `/`, but paths have no leading slash\n\
         p.yaml:3:28: pattern `hr/` ends with `/` and can never match a file"
    );
}

#[test]
fn duplicate_and_shadowed_rules_are_errors() {
    let source = "\
version: 1
rules:
  - match: [\"a/**\", \"b/**\"]
    sharing: public
  - match: [\"b/**\", \"a/**\"]
    sharing: public
  - match: \"a/**\"
    sharing: private
  - match: [\"a/**\", \"b/**\"]
    sharing: private
    filetypes: [grid]
  - match: \"a/**\"
    sharing: secret
";
    // Rule 4 differs from rule 1 by its file types, so it is legitimate.
    assert_eq!(
        errors(source),
        "p.yaml:5:5: rule 2 duplicates rule 1\n\
         p.yaml:12:5: rule 5 can never apply: rule 3 above it has the same `match` and file types"
    );
}

#[test]
fn yaml_syntax_errors_point_at_their_position() {
    assert_eq!(
        errors("version: 1\nrules:\n  - match: x\n   sharing: y\n"),
        "p.yaml:4:4: invalid YAML: while parsing a block collection, did not find expected '-' indicator"
    );
    assert!(
        errors("version: 1\nversion: 1\n")
            .starts_with("p.yaml:2:1: invalid YAML: duplicate mapping key")
    );
}

#[test]
fn a_class_holding_a_slash_never_crashes_the_never_public_analysis() {
    for (rule, guarded) in [
        ("x/[!/]*", "x/**"),
        ("[!/]", "[!/]"),
        ("a/[/]b", "**"),
        ("[", "**"),
        ("x/[!", "x/**"),
    ] {
        let yaml = format!(
            "version: 1\nrules:\n  - match: \"{rule}\"\n    sharing: public\nguardrails:\n  never_public: [\"{guarded}\"]\n"
        );
        // Valid or a diagnostic: either is an answer; a panic is not.
        let _ = Policy::parse(&yaml, "p.yaml");
    }
}

#[test]
fn names_of_dot_and_dot_dot_match_like_any_other_name() {
    let policy = Policy::parse(
        "version: 1\nrules:\n  - match: \"**/..\"\n    sharing: public\n  - match: \"**/.\"\n    sharing: secret\nguardrails:\n  never_public: [\"**/.\"]\n",
        "p.yaml",
    );
    // `**/.` is never_public while `**/.` rules are only secret: valid, and the decider agrees
    // with the analysis about `x/..`, which globset's own shortcuts would miss.
    let policy = policy.unwrap();
    let mut decider = policy.decider();
    assert_eq!(
        decider.decide("x/..", &FileType::Plot).target(),
        Target::Share(Sharing::Public)
    );
    assert_eq!(
        decider.decide("x/y/.", &FileType::Plot).target(),
        Target::Share(Sharing::Secret)
    );
    assert!(policy.guardrails.is_never_public("x/."));
    assert!(!policy.guardrails.is_never_public("x/.."));
    assert_eq!(
        policy.witnesses("**/..", Sharing::Public).unwrap()[0].path,
        ".."
    );
}

mod fuzz {
    use proptest::prelude::*;

    use super::super::Policy;

    /// Fragments of policy YAML, valid and not, to build policies near the grammar.
    fn fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("version: 1\n".to_owned()),
            Just("default: public\n".to_owned()),
            Just("rules:\n".to_owned()),
            "  - match: \"[a-z*?/{},\\[\\]!\\\\]{0,12}\"\n    sharing: (public|private|secret|ignore|nope)\n",
            "    filetypes: \\[(plot|fold|grid|x)\\]\n",
            "guardrails:\n  never_public: \\[\"[a-z*?/\\[\\]!]{0,8}\"\\]\n",
            "  max_changes: [0-9%a-z-]{0,5}\n",
            "\\PC{0,30}\n",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// No text makes the parser panic: it is a policy or a list of diagnostics.
        #[test]
        fn any_text_parses_or_is_diagnosed(text in "\\PC{0,300}") {
            let _ = Policy::parse(&text, "p.yaml");
        }

        /// Near-valid policies, with odd globs, never panic either; when one parses, every
        /// glob it holds compiled.
        #[test]
        fn near_valid_policies_never_panic(parts in prop::collection::vec(fragment(), 0..10)) {
            let text: String = parts.concat();
            if let Ok(policy) = Policy::parse(&text, "p.yaml") {
                let mut decider = policy.decider();
                for path in ["a", "a/b", "x/..", "é/ü"] {
                    let _ = decider.decide(path, &crate::inventory::FileType::Plot);
                }
            }
        }
    }
}
