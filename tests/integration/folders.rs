//! Folder visibility, end to end: a file is judged by what the world sees (its own level or
//! more through a folder above it), folders are restricted for their contents, and apply
//! converges by putting back what a folder change moved.

use plotward_sandbox::Options;
use serde_json::{Value, json};

use crate::api::Api;
use crate::gitops::{live, seeded_with};
use crate::harness::Test;

/// A public folder over a private file the policy wants private, a file the policy wants
/// public that is public only through the folder, and a deeper public file the policy wants
/// private.
const ACCOUNT: &[(&str, &str, &str, &str)] = &[
    ("alice:1", "reports", "fold", "public"),
    ("alice:2", "reports/revenue", "plot", "private"),
    ("alice:3", "reports/chart", "plot", "private"),
    ("alice:4", "reports/q3", "fold", "private"),
    ("alice:5", "reports/q3/deep", "plot", "public"),
    ("alice:6", "elsewhere", "plot", "private"),
];

const POLICY: &str =
    "version: 1\ndefault: private\nrules:\n  - match: \"reports/chart\"\n    sharing: public\n";

fn own_levels(api: &Api) -> Vec<(String, bool, bool)> {
    let state = api.state();
    let mut files: Vec<(String, bool, bool)> = state["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            (
                f["fid"].as_str().unwrap_or_default().to_owned(),
                f["world_readable"].as_bool().unwrap_or_default(),
                f["share_key_enabled"].as_bool().unwrap_or_default(),
            )
        })
        .collect();
    files.sort();
    files
}

/// Sets a file's two flags as its owner would, by hand (the sandbox cascades as configured).
fn set_flags(api: &Api, fid: &str, world_readable: bool, share_key_enabled: bool) {
    let reply = api.json(
        reqwest::Method::PATCH,
        &format!("/v2/files/{fid}"),
        crate::api::As::User("alice"),
        &serde_json::json!({"world_readable": world_readable, "share_key_enabled": share_key_enabled}),
    );
    assert_eq!(reply.status, reqwest::StatusCode::OK, "{}", reply.body);
}

/// `plotward apply --auto-approve` with this policy, to expect more of.
fn apply(sandbox: &plotward_sandbox::Sandbox, policy: &str) -> Test {
    live(sandbox)
        .policy(policy)
        .args(["apply", "--auto-approve"])
}

/// `plotward apply --auto-approve` with this policy, which must succeed.
fn apply_all(sandbox: &plotward_sandbox::Sandbox, policy: &str) -> crate::harness::Run {
    apply(sandbox, policy).status(0)
}

/// `check` is green and a new plan is empty.
fn assert_converged(sandbox: &plotward_sandbox::Sandbox, policy: &str) {
    live(sandbox).policy(policy).args(["check"]).status(0);
    let again = live(sandbox)
        .policy(policy)
        .args(["plan", "--detailed-exitcode"])
        .status(0);
    let last = again.stdout.lines().last().unwrap_or_default();
    assert!(last.starts_with("No changes."), "{}", again.stdout);
}

#[test]
fn check_sees_a_private_file_in_a_public_folder_as_public_and_says_why() {
    let sandbox = seeded_with(ACCOUNT, Options::default());
    live(&sandbox)
        .policy(POLICY)
        .args(["check"])
        .stdout_contains("reports/revenue")
        .stdout_contains("public through folder reports/, the policy wants private")
        // chart is public through the folder, as the policy wants: compliant today.
        .stdout_lacks("reports/chart ")
        .status(2);
    let json = live(&sandbox)
        .policy(POLICY)
        .args(["check", "--format", "json"])
        .status(2);
    let report: Value = serde_json::from_str(&json.stdout).unwrap();
    let revenue = report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["path"] == "reports/revenue")
        .expect("revenue is a violation");
    assert_eq!(revenue["now"], "public");
    assert_eq!(revenue["through"], "reports");
    live(&sandbox)
        .policy(POLICY)
        .args(["check", "--format", "junit"])
        .stdout_contains("public through folder reports/")
        .status(2);
    live(&sandbox)
        .policy(POLICY)
        .args(["check", "--format", "markdown"])
        .stdout_contains("public through folder `reports/` → private")
        .status(2);
}

#[test]
fn the_plan_restricts_the_folder_for_its_contents_and_warns_what_it_may_disturb() {
    let sandbox = seeded_with(ACCOUNT, Options::default());
    let run = live(&sandbox).policy(POLICY).args(["plan"]).status(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let line = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{}", run.stdout))
    };
    let folder = line("reports          fold");
    assert!(
        lines[folder].contains("public  -> private")
            && lines[folder].contains("required by reports/q3/deep (private, default)"),
        "{}",
        lines[folder]
    );
    let chart = line("+ reports/chart");
    assert!(
        lines[chart].contains("private -> public")
            && lines[chart].contains("public now through folder reports/"),
        "{}",
        lines[chart]
    );
    // The warning comes with the plan, before its summary line.
    let warning =
        line("Restricting folder reports/ to private may reset the sharing of the 4 files");
    assert!(warning < line("Plan: 2 to restrict, 1 to expose"));
    let json = live(&sandbox)
        .policy(POLICY)
        .args(["plan", "--format", "json"])
        .status(0);
    let plan: crate::plan::PlanJson = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        plan.folders,
        [crate::plan::FolderChangeJson {
            fid: "alice:1".into(),
            path: "reports".into(),
            from: "public".into(),
            to: "private".into(),
            files_below: 4,
            secret_below: 0,
        }]
    );
    // The manifest diff shows the changes as the world sees them: the folder, and the chart
    // that is public through it now. Revenue, whose own flags do not change, is not a change
    // (a saved plan does not hold it); the folder note says what lies below.
    live(&sandbox)
        .policy(POLICY)
        .args(["plan", "--format", "diff"])
        .stdout_contains("-reports  fold  public\n+reports  fold  private\n")
        .stdout_contains("-reports/chart  plot  public\n+reports/chart  plot  public\n")
        .stdout_lacks("reports/revenue")
        .status(0);
    let raw: Value = serde_json::from_str(&json.stdout).unwrap();
    let folder_change = raw["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["fid"] == "alice:1")
        .unwrap();
    assert_eq!(folder_change["required_by"]["path"], "reports/q3/deep");
    assert_eq!(folder_change["required_by"]["wants"], "private");
    // The saved plan says what the world sees now, so `show` can print it.
    let chart = raw["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == "reports/chart")
        .unwrap();
    assert_eq!(
        chart["through"],
        json!({"folder": "reports", "level": "public"})
    );
}

#[test]
fn apply_restricts_the_folder_first_and_converges() {
    for cascade in [true, false] {
        let sandbox = seeded_with(ACCOUNT, cascading(cascade));
        let api = Api::new(&sandbox);
        // Reported first: revenue is public through reports/.
        live(&sandbox)
            .policy(POLICY)
            .args(["check"])
            .stdout_contains("public through folder reports/")
            .status(2);
        let run = apply_all(&sandbox, POLICY);
        assert!(
            run.stdout
                .ends_with("Apply complete: 2 restricted, 1 exposed, 0 failed.\n"),
            "cascade {cascade}: {}",
            run.stdout
        );
        let patches: Vec<String> = api
            .requests()
            .into_iter()
            .filter(|(method, _, _)| method == "PATCH")
            .map(|(_, path, _)| path)
            .collect();
        assert_eq!(
            patches,
            [
                "/v2/files/alice:1",
                "/v2/files/alice:5",
                "/v2/files/alice:3"
            ],
            "the folder first, then the file restriction, then the exposure (cascade {cascade})"
        );
        assert_converged(&sandbox, POLICY);
        assert_eq!(
            own_levels(&api),
            [
                ("alice:1".to_owned(), false, false),
                ("alice:2".to_owned(), false, false),
                ("alice:3".to_owned(), true, false),
                ("alice:4".to_owned(), false, false),
                ("alice:5".to_owned(), false, false),
                ("alice:6".to_owned(), false, false),
            ],
            "cascade {cascade}"
        );
    }
}

#[test]
fn export_writes_what_the_world_sees_so_it_plans_no_change() {
    let sandbox = seeded_with(ACCOUNT, Options::default());
    // revenue is private on its own but public through reports/: exported as public.
    let export = live(&sandbox)
        .args(["export"])
        .stdout_contains("public")
        .stdout_lacks("default: private\nrules: []")
        .status(0);
    assert_converged(&sandbox, &export.stdout);
}

/// A public folder that the policy must restrict for one file, above files that keep, gain or
/// ignore their own levels.
const TEAM: &[(&str, &str, &str, &str)] = &[
    ("alice:1", "team", "fold", "public"),
    ("alice:2", "team/open", "plot", "public"),
    ("alice:3", "team/closed", "plot", "private"),
    ("alice:4", "team/shared", "plot", "secret"),
    ("alice:5", "team/sub", "fold", "private"),
    ("alice:6", "team/sub/deep", "plot", "private"),
    ("alice:7", "team/via", "plot", "private"),
];

const TEAM_POLICY: &str = "version: 1\ndefault: private\nrules:\n  \
    - match: [\"team/open\", \"team/via\", \"team/sub/deep\"]\n    sharing: public\n  \
    - match: \"team/shared\"\n    sharing: ignore\n";

fn cascading(on: bool) -> Options {
    Options {
        folder_cascade: on,
        ..Options::default()
    }
}

#[test]
fn apply_converges_whether_or_not_the_server_cascades_folder_changes() {
    for cascade in [true, false] {
        let sandbox = seeded_with(TEAM, cascading(cascade));
        let api = Api::new(&sandbox);
        live(&sandbox)
            .policy(TEAM_POLICY)
            .args(["plan"])
            .stdout_contains(
                "Restricting folder team/ to private may reset the sharing of the 6 files below it",
            )
            .stdout_contains("1 secret link below it may get a new key")
            .status(0);
        // A cascading server reset team/open (public, which the policy wants) and team/shared
        // (ignored, secret). team/open is put back; team/shared, which the policy does not
        // manage, is never raised again: it stays as the server left it. Without a cascade
        // nothing needs it.
        let put_back = "Put back 1 file below changed folders that a folder change had reset.";
        let run = if cascade {
            apply(&sandbox, TEAM_POLICY).stdout_contains(put_back)
        } else {
            apply(&sandbox, TEAM_POLICY).stdout_lacks(put_back)
        }
        .status(0);
        assert!(
            run.stdout
                .ends_with("Apply complete: 1 restricted, 2 exposed, 0 failed.\n"),
            "cascade {cascade}: {}",
            run.stdout
        );
        assert_eq!(
            own_levels(&api),
            [
                ("alice:1".to_owned(), false, false),
                ("alice:2".to_owned(), true, false),
                ("alice:3".to_owned(), false, false),
                ("alice:4".to_owned(), false, !cascade),
                ("alice:5".to_owned(), false, false),
                ("alice:6".to_owned(), true, false),
                ("alice:7".to_owned(), true, false),
            ],
            "cascade {cascade}"
        );
        assert_converged(&sandbox, TEAM_POLICY);
    }
}

#[test]
fn a_folder_the_policy_exposes_leaves_what_is_below_it_where_the_plan_says() {
    // The rule makes the folder secret. A cascading server then sets everything below to
    // secret: gallery/a, ignored and public, becomes secret, and stays so (an ignored file is
    // never raised again); gallery/b was secret already. Nothing is put back.
    let account: &[(&str, &str, &str, &str)] = &[
        ("alice:1", "gallery", "fold", "private"),
        ("alice:2", "gallery/a", "plot", "public"),
        ("alice:3", "gallery/b", "plot", "secret"),
    ];
    let policy = "version: 1\ndefault: ignore\nrules:\n  - match: \"gallery\"\n    filetypes: [fold]\n    sharing: secret\n";
    for cascade in [true, false] {
        let sandbox = seeded_with(account, cascading(cascade));
        let api = Api::new(&sandbox);
        let run = apply(&sandbox, policy).stdout_lacks("Put back").status(0);
        assert!(
            run.stdout
                .ends_with("Apply complete: 0 restricted, 1 exposed, 0 failed.\n"),
            "{}",
            run.stdout
        );
        assert_eq!(
            own_levels(&api),
            [
                ("alice:1".to_owned(), false, true),
                ("alice:2".to_owned(), !cascade, cascade),
                ("alice:3".to_owned(), false, true),
            ]
        );
    }
}

#[test]
fn many_files_below_a_changed_folder_are_read_back_with_one_listing() {
    // 250 files below one public folder: half the policy wants public (their own flags are
    // public), half private. The folder is restricted; a cascading server resets the public
    // half, which apply finds from one listing, not 250 reads.
    let mut owned: Vec<(String, String, &str, &str)> =
        vec![("alice:1".into(), "big".into(), "fold", "public")];
    for n in 0..250 {
        let (name, level) = if n % 2 == 0 {
            (format!("big/pub-{n}"), "public")
        } else {
            (format!("big/priv-{n}"), "private")
        };
        owned.push((format!("alice:{}", n + 2), name, "plot", level));
    }
    let account: Vec<(&str, &str, &str, &str)> = owned
        .iter()
        .map(|(fid, path, t, l)| (fid.as_str(), path.as_str(), *t, *l))
        .collect();
    let policy =
        "version: 1\ndefault: private\nrules:\n  - match: \"big/pub-*\"\n    sharing: public\n";
    let sandbox = seeded_with(&account, cascading(true));
    let api = Api::new(&sandbox);
    apply(&sandbox, policy)
        .stdout_contains("Put back 125 files below changed folders that a folder change had reset.")
        .status(0);
    let requests = api.requests();
    let single_reads = requests
        .iter()
        .filter(|(method, path, _)| method == "GET" && path.starts_with("/v2/files/"))
        .count();
    assert_eq!(single_reads, 0, "read back by listing, not file by file");
    let listings = requests
        .iter()
        .filter(|(method, path, _)| method == "GET" && path == "/v2/folders/all")
        .count();
    assert_eq!(
        listings, 3,
        "the plan's listing, one just before the folder changed (no file is raised above \
         what it read there) and one after"
    );
    assert_converged(&sandbox, policy);
}

#[test]
fn files_the_policy_ignores_are_never_raised_again_below_a_restricted_folder() {
    // Restricting pub/ for pub/x resets everything below on a cascading server. None of it
    // is managed, so none of it is raised back: it stays as the server left it (private),
    // never more exposed than before. Without a cascade, nothing below changes at all.
    let account: &[(&str, &str, &str, &str)] = &[
        ("alice:1", "pub", "fold", "public"),
        ("alice:2", "pub/x", "plot", "private"),
        ("alice:3", "pub/sub", "fold", "public"),
        ("alice:4", "pub/sub/f", "plot", "private"),
        ("alice:5", "pub/sub/s", "plot", "secret"),
        ("alice:6", "pub/sub/deep", "fold", "private"),
        ("alice:7", "pub/sub/deep/g", "plot", "private"),
    ];
    let policy =
        "version: 1\ndefault: ignore\nrules:\n  - match: \"pub/x\"\n    sharing: private\n";
    for cascade in [true, false] {
        let sandbox = seeded_with(account, cascading(cascade));
        let api = Api::new(&sandbox);
        let before = own_levels(&api);
        apply_all(&sandbox, policy);
        let expected: Vec<(String, bool, bool)> = before
            .into_iter()
            .map(|(fid, public, secret)| {
                if fid == "alice:1" || cascade {
                    (fid, false, false)
                } else {
                    (fid, public, secret)
                }
            })
            .collect();
        assert_eq!(own_levels(&api), expected, "cascade {cascade}");
        assert_converged(&sandbox, policy);
    }
}

#[test]
fn a_level_an_earlier_cascade_left_is_never_raised_back_by_a_later_apply() {
    // Policy A makes folder s public; a cascading server makes everything below public too.
    // Put-backs repair that within the run, whatever --max-writes says (they are not counted):
    // s/g, s/w and the folder s/a, whose own put-back takes s/a/h with it.
    // Then someone makes s public again by hand, the server cascades, and policy B makes s
    // private: the files below, which nobody ever asked to be public, must not be raised back
    // to the public level the cascade left on them.
    let account: &[(&str, &str, &str, &str)] = &[
        ("alice:1", "s", "fold", "private"),
        ("alice:2", "s/g", "plot", "private"),
        ("alice:3", "s/a", "fold", "private"),
        ("alice:4", "s/a/h", "plot", "private"),
        ("alice:5", "s/w", "plot", "private"),
    ];
    let a = "version: 1\ndefault: ignore\nrules:\n  - match: \"s\"\n    filetypes: [fold]\n    \
             sharing: public\n  - match: \"s/w\"\n    sharing: public\n";
    let b = "version: 1\ndefault: ignore\nrules:\n  - match: \"s\"\n    filetypes: [fold]\n    \
             sharing: private\n";
    let sandbox = seeded_with(account, cascading(true));
    let api = Api::new(&sandbox);
    apply(&sandbox, a)
        .args(["--max-writes", "1"])
        .stdout_contains("Put back 3 files below changed folders that a folder change had reset.")
        .status(0);
    set_flags(&api, "alice:1", false, false);
    set_flags(&api, "alice:1", true, false);
    apply_all(&sandbox, b);
    let anonymous = |fid: &str| {
        api.get(&format!("/v2/files/{fid}"), crate::api::As::Anonymous)
            .status
    };
    for fid in ["alice:2", "alice:3", "alice:4", "alice:5"] {
        assert_eq!(
            anonymous(fid),
            reqwest::StatusCode::NOT_FOUND,
            "{fid} is not public"
        );
    }
    assert_converged(&sandbox, b);
}

#[test]
fn put_back_compares_levels_and_leaves_an_ignored_public_file_s_share_key_alone() {
    // r/k is ignored, public and also has a share key on. Without a cascade nothing below r/
    // moved, so nothing is written, and the key stays.
    let account: &[(&str, &str, &str, &str)] = &[
        ("alice:1", "r", "fold", "public"),
        ("alice:2", "r/x", "plot", "private"),
        ("alice:3", "r/k", "plot", "public"),
    ];
    let policy = "version: 1\ndefault: ignore\nrules:\n  - match: \"r/x\"\n    sharing: private\n";
    let sandbox = seeded_with(account, cascading(false));
    let api = Api::new(&sandbox);
    set_flags(&api, "alice:3", true, true);
    apply(&sandbox, policy).stdout_lacks("Put back").status(0);
    let patched: Vec<String> = api
        .requests()
        .into_iter()
        .filter(|(method, _, _)| method == "PATCH")
        .map(|(_, path, _)| path)
        .collect();
    assert_eq!(patched, ["/v2/files/alice:3", "/v2/files/alice:1"]);
    assert_eq!(own_levels(&api)[2], ("alice:3".to_owned(), true, true));
}

#[test]
fn a_file_that_owes_its_level_to_an_unmanaged_folder_below_a_changed_one_gets_it_itself() {
    // F/ is restricted for F/y. F/G/x is public only through F/G/, which no rule manages; a
    // cascading server lowers F/G/ with F/, and apply never raises it again. So the plan
    // makes F/G/x public on its own, and both kinds of server converge.
    let account: &[(&str, &str, &str, &str)] = &[
        ("alice:1", "F", "fold", "public"),
        ("alice:2", "F/G", "fold", "public"),
        ("alice:3", "F/G/x", "plot", "private"),
        ("alice:4", "F/y", "plot", "public"),
    ];
    let policy = "version: 1\ndefault: ignore\nrules:\n  - match: \"F/y\"\n    sharing: private\n  \
                  - match: \"F/G/x\"\n    sharing: public\n";
    for cascade in [true, false] {
        let sandbox = seeded_with(account, cascading(cascade));
        let plan = live(&sandbox).policy(policy).args(["plan"]).status(0);
        assert!(
            plan.stdout
                .lines()
                .any(|l| l.contains("F/G/x") && l.contains("private -> public")),
            "{}",
            plan.stdout
        );
        apply_all(&sandbox, policy);
        assert_converged(&sandbox, policy);
    }
}
