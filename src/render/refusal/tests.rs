use std::path::PathBuf;

use pretty_assertions::assert_eq;

use super::*;
use crate::apply::Change;
use crate::apply::saved::Inconsistency;
use crate::inventory::{FileType, Flags, Sharing};
use crate::plan::Breach;
use crate::policy::Limit;

fn plan(path: &str) -> PathBuf {
    PathBuf::from(path)
}

fn drift(fid: &str, path: &str, what: Drifted) -> Drift {
    Drift {
        fid: fid.into(),
        path: path.into(),
        what,
    }
}

#[test]
fn a_stale_plan_lists_each_difference_by_path_with_the_dead_rules_in_their_place() {
    // As `stale_changes` gives them: sorted by path, then fid.
    let files = vec![
        drift(
            "a:4",
            "(a",
            Drifted::Moved {
                to: "(b\u{1b}".into(),
            },
        ),
        drift(
            "a:5",
            "(the plan's dead_rules)",
            Drifted::Reflagged {
                now: Flags {
                    world_readable: false,
                    share_key_enabled: true,
                },
                saw: Sharing::Public,
            },
        ),
        drift("a:\u{7}8", "gone\u{202e}", Drifted::Gone),
        drift(
            "a:1",
            "pub/a",
            Drifted::Retargeted {
                from: Sharing::Private,
                to: Sharing::Secret,
                wanted: Sharing::Public,
            },
        ),
        drift(
            "a:7",
            "pub/w",
            Drifted::Unneeded {
                from: Sharing::Public,
                to: Sharing::Private,
            },
        ),
        drift("a:2", "x", Drifted::Edited),
        drift(
            "a:3",
            "y\u{1b}[31m",
            Drifted::Unplanned {
                from: Sharing::Public,
                to: Sharing::Private,
            },
        ),
        drift("a:6", "z", Drifted::Gone),
    ];
    let refusal = Refusal::Stale {
        plan: plan("the\u{1b}path"),
        staleness: Staleness {
            files,
            dead_rules_differ: true,
        },
    };
    assert_eq!(
        refusal.to_string(),
        "the plan the\\epath is stale: 9 difference(s) from the account and its policy now; \
         nothing was applied. Run plotward plan again.
  (a (a:4) moved to (b\\e
  (the plan's dead_rules) (-) differ from those of the policy now
  (the plan's dead_rules) (a:5) is now secret (world_readable=false, share_key_enabled=true), the plan saw public
  gone\\u{202e} (a:\\u{7}8) no longer exists
  pub/a (a:1) is planned private -> secret, but the policy now wants public
  pub/w (a:7) is planned public -> private, but the policy no longer changes it
  x (a:2) is planned differently from what the policy says now (its type, rule or levels were edited or have changed)
  y\\e[31m (a:3) now needs a change the plan does not include (public -> private)
  z (a:6) no longer exists"
    );
}

#[test]
fn dead_rules_alone_make_a_plan_stale() {
    let refusal = Refusal::Stale {
        plan: plan("p"),
        staleness: Staleness {
            files: Vec::new(),
            dead_rules_differ: true,
        },
    };
    assert_eq!(
        refusal.to_string(),
        "the plan p is stale: 1 difference(s) from the account and its policy now; nothing was \
         applied. Run plotward plan again.
  (the plan's dead_rules) (-) differ from those of the policy now"
    );
}

#[test]
fn an_unreadable_plan_says_why() {
    let refusal = Refusal::Unreadable {
        plan: plan("/tmp/nonutf.json"),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not UTF-8 text"),
    };
    assert_eq!(
        refusal.to_string(),
        "cannot read the plan /tmp/nonutf.json: it is not UTF-8 text"
    );
    let refusal = Refusal::NotAPlan {
        plan: plan("bad\u{1b}.json"),
        source: serde_json::from_str::<crate::wire::plan::PlanFile>("{\"format_version\": 1,")
            .unwrap_err(),
    };
    assert_eq!(
        refusal.to_string(),
        "bad\\e.json is not a plotward plan: EOF while parsing a value at line 1 column 21"
    );
}

#[test]
fn an_invalid_plan_is_named_before_what_is_wrong() {
    let invalid = |error| Refusal::Invalid {
        plan: plan("v\u{1b}.json"),
        error,
    };
    let cases = [
        (
            SavedPlanError::Version { found: 7 },
            "v\\e.json has format_version 7; this plotward applies versions 1 (a whole account) \
             and 2 (targeted)",
        ),
        (
            SavedPlanError::Inconsistent {
                fid: "a:1".into(),
                why: Inconsistency::Observed,
            },
            "v\\e.json is inconsistent: an action does not match its levels or observed flags \
             (a:1); make it again with plotward plan --out",
        ),
        (
            SavedPlanError::Inconsistent {
                fid: "bob:\u{1b}1".into(),
                why: Inconsistency::Foreign,
            },
            "v\\e.json is inconsistent: a change is to a file of another user (bob:\\e1); make \
             it again with plotward plan --out",
        ),
        (
            SavedPlanError::Repeated {
                fid: "a:\u{1b}9".into(),
            },
            "v\\e.json changes a:\\e9 more than once; make it again with plotward plan --out",
        ),
        (
            SavedPlanError::Miscounted {
                says: (5, 5),
                holds: (5, 1),
            },
            "v\\e.json is inconsistent: its summary says 5 to restrict and 5 to expose, but it \
             holds 5 restrictions and 1 exposures; make it again with plotward plan --out",
        ),
    ];
    for (error, expected) in cases {
        assert_eq!(invalid(error).to_string(), expected);
    }
}

#[test]
fn a_plan_for_another_policy_or_account_is_refused_by_name() {
    let digest = "5c3dc2380190ab".to_owned();
    let other = Refusal::OtherPolicy {
        plan: plan("pp\u{1b}"),
        planned: "abc\u{1b}def0123456789".into(),
        policy: "p\u{1b}.yaml".into(),
        digest: digest.clone(),
    };
    assert_eq!(
        other.to_string(),
        "the plan pp\\e was made from a policy with SHA-256 abc\\edef01234…, but p\\e.yaml has \
         5c3dc2380190…; a plan is applied only under the policy it was made from. Pass that \
         policy with -p, or make the plan again with plotward plan --out"
    );
    let short = Refusal::OtherPolicy {
        plan: plan("pp"),
        planned: "ab".into(),
        policy: "p.yaml".into(),
        digest,
    };
    assert!(
        short.to_string().contains("SHA-256 ab…, but p.yaml"),
        "{short}"
    );
    assert_eq!(
        Refusal::NoDigest { plan: plan("pp") }.to_string(),
        "the plan pp records no policy digest, so plotward cannot tell which policy it follows; \
         make it again with plotward plan --out"
    );
    let account = Refusal::OtherAccount {
        plan: plan("pa"),
        planned_url: "http://e\u{1b}vil".into(),
        planned_user: "b\u{1b}ob".into(),
        api_url: "http://127.0.0.1:1".into(),
        user: "alice".into(),
    };
    assert_eq!(
        account.to_string(),
        "the plan pa was made for b\\eob at http://e\\evil, not alice at http://127.0.0.1:1; \
         refusing to apply it"
    );
    let snapshot = Refusal::FromSnapshot {
        plan: plan("pa"),
        snapshot: "snap\u{1b}.json".into(),
    };
    assert_eq!(
        snapshot.to_string(),
        "the plan pa was made from the snapshot snap\\e.json, not from the account; make it with \
         plotward plan --out against the account"
    );
}

#[test]
fn never_public_lists_every_change_it_refuses() {
    let change = |fid: &str, path: &str, filetype| Change {
        filetype,
        ..Change::plot(fid, path, Sharing::Private, Sharing::Public)
    };
    let refusal = Refusal::NeverPublic {
        policy: "n\u{1b}p.yaml".into(),
        changes: vec![
            change("a:1", "finance/p\u{1b}", FileType::Plot),
            change("a:2", "finance", FileType::Folder),
        ],
    };
    assert_eq!(
        refusal.to_string(),
        "refusing to apply: 2 change(s) would make public what guardrails.never_public of \
         n\\ep.yaml forbids; no flag overrides never_public:
  finance/p\\e (a:1)
  finance (a:2)"
    );
}

#[test]
fn broken_guardrails_say_whether_force_helps() {
    let exposures = Breach::MaxExposures {
        exposes: 3,
        limit: 1,
    };
    let absolute = Refusal::Guardrails {
        policy: "g\u{1b}.yaml".into(),
        breaches: vec![
            Breach::ExposesNeverPublic {
                fid: "a:\u{1b}1".into(),
                path: "finance/\u{1b}x".into(),
            },
            exposures.clone(),
        ],
        absolute: true,
    };
    assert_eq!(
        absolute.to_string(),
        "refusing to apply: the plan breaks the guardrails of g\\e.yaml:
  never_public: finance/\\ex (a:\\e1) would become public, but guardrails.never_public forbids it
  max_exposures: 3 exposures exceed guardrails.max_exposures: 1
No flag overrides never_public: change the rules so these files are not made public."
    );
    let forcible = Refusal::Guardrails {
        policy: "g2.yaml".into(),
        breaches: vec![
            Breach::MaxChanges {
                changes: 39,
                managed: 66,
                limit: Limit::Percent(10.0),
            },
            exposures,
        ],
        absolute: false,
    };
    assert_eq!(
        forcible.to_string(),
        "refusing to apply: the plan breaks the guardrails of g2.yaml:
  max_changes: 39 changes exceed guardrails.max_changes: 10% of 66 managed files allows 6
  max_exposures: 3 exposures exceed guardrails.max_exposures: 1
Review the plan; change `guardrails` in the policy, or pass --force to apply it anyway."
    );
}

#[test]
fn cancellations_say_how_to_go_on() {
    assert_eq!(
        Cancelled::NoTerminal.to_string(),
        "apply needs a confirmation, but stdin is not a terminal; pass --auto-approve, or apply \
         a plan saved with `plotward plan --out FILE`"
    );
    assert_eq!(
        Cancelled::Declined.to_string(),
        "apply cancelled; nothing was changed"
    );
}
