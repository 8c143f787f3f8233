//! `status PATH...`: the live sharing of given files by lookup, judged as `check` and `plan`
//! judge them, against the sandbox and against servers that lie.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{Api, example_sandbox};
use crate::gitops::{live, seeded_with};
use crate::harness::{Test, repo};
use crate::hostile::{Reply, Server, file};

/// Mirror of `status --format json`, denying unknown fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusJson {
    format_version: u32,
    policy: String,
    source: Value,
    judged_from: String,
    compliant: bool,
    files: Vec<StatusFileJson>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusFileJson {
    path: String,
    found: bool,
    fid: Option<String>,
    filetype: Option<String>,
    sharing: Option<String>,
    effective: Option<String>,
    through: Option<String>,
    wanted: Option<String>,
    rule: Option<Value>,
    compliant: Option<bool>,
    plan: Option<String>,
    to: Option<String>,
    restricts_folder: Option<String>,
    message: String,
}

fn example_policy() -> String {
    std::fs::read_to_string(repo("policies/example.yaml")).unwrap()
}

/// Every path of alice's account, from the sandbox's own dump.
fn paths_of(api: &Api) -> Vec<String> {
    api.state()["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["fid"].as_str().unwrap().starts_with("alice:"))
        .map(|f| f["path"].as_str().unwrap().to_owned())
        .collect()
}

/// For every file of the account, alone: `status` exits as `check` judges it (0 or 2), its
/// verdict is check's and its action on the file's own flags is plan's.
fn status_agrees_with_check_and_plan(sandbox: &plotward_sandbox::Sandbox, policy: &str) {
    // Both accounts hold violations, so check exits 2.
    let check = live(sandbox)
        .policy(policy)
        .args(["check", "--format", "json"])
        .status(2)
        .stdout;
    let check: Value = serde_json::from_str(&check).unwrap();
    let violating: BTreeSet<String> = check["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["path"].as_str().unwrap().to_owned())
        .collect();
    let plan = live(sandbox)
        .policy(policy)
        .args(["plan", "--format", "json"])
        .status(0)
        .stdout;
    let plan: Value = serde_json::from_str(&plan).unwrap();
    let changes: BTreeMap<String, (String, String)> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["path"].as_str().unwrap().to_owned(),
                (
                    c["action"].as_str().unwrap().to_owned(),
                    c["to"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect();
    let paths = paths_of(&Api::new(sandbox));
    assert!(paths.len() > 3, "{paths:?}");
    for path in &paths {
        let bad = violating.contains(path);
        let run = live(sandbox)
            .policy(policy)
            .args(["status", "--format", "json", path])
            .status(if bad { 2 } else { 0 });
        let status: StatusJson = serde_json::from_str(&run.stdout).unwrap();
        let [shown] = status.files.as_slice() else {
            panic!("{path}: {status:?}")
        };
        assert_eq!(shown.compliant, Some(!bad), "{path}: {shown:?}");
        let planned = changes.get(path).cloned();
        let action = match (shown.plan.as_deref(), shown.to.clone()) {
            (Some("restrict" | "expose"), Some(to)) => Some((shown.plan.clone().unwrap(), to)),
            _ => None,
        };
        assert_eq!(action, planned, "{path}: status {shown:?}");
    }
}

#[test]
fn for_every_file_of_the_example_account_status_says_what_check_and_plan_say() {
    let sandbox = example_sandbox();
    status_agrees_with_check_and_plan(&sandbox, &example_policy());
}

/// Folders in every state: a public folder over files that want less, a private file that owes
/// its level to a public folder (which another file gets restricted), deep nesting, secrets.
const FOLDERS: &[(&str, &str, &str, &str)] = &[
    ("alice:1", "open", "fold", "public"),
    ("alice:2", "open/wants-public", "plot", "private"),
    ("alice:3", "open/private-notes", "plot", "private"),
    ("alice:4", "shut", "fold", "private"),
    ("alice:5", "shut/leak", "plot", "public"),
    ("alice:6", "deep", "fold", "secret"),
    ("alice:7", "deep/er", "fold", "public"),
    ("alice:8", "deep/er/est", "plot", "private"),
    ("alice:9", "fine", "fold", "public"),
    ("alice:10", "fine/chart", "plot", "private"),
    ("alice:11", "top", "plot", "secret"),
];

const FOLDER_POLICY: &str = "version: 1\ndefault: private\nrules:\n  - match: \"open/private-*\"\n    sharing: private\n  - match: [\"open/**\", \"fine/**\"]\n    sharing: public\n  - match: [open, fine]\n    filetypes: [fold]\n    sharing: public\n  - match: top\n    sharing: secret\n";

#[test]
fn with_folders_in_every_state_status_says_what_check_and_plan_say() {
    let sandbox = seeded_with(FOLDERS, plotward_sandbox::Options::default());
    status_agrees_with_check_and_plan(&sandbox, FOLDER_POLICY);
}

#[test]
fn a_file_is_judged_from_lookups_of_it_and_its_folders_without_listing() {
    let sandbox = seeded_with(FOLDERS, plotward_sandbox::Options::default());
    let api = Api::new(&sandbox);
    let run = live(&sandbox)
        .policy(FOLDER_POLICY)
        .args(["status", "deep/er/est", "top"])
        .stdout_contains("deep/er/est (plot, alice:8)")
        .stdout_contains("public through folder deep/er/ (its own flags: private)")
        .stdout_contains("policy   private: default")
        .stdout_contains("restricts folder deep/er/")
        .stdout_contains("top (plot, alice:11)\n  sharing  secret\n")
        .stdout_contains("Status: 1 compliant, 1 not compliant.")
        .stdout_lacks("Read from a listing")
        .status(2);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let requests = api.requests();
    assert!(
        requests.iter().all(|(method, _, _)| method == "GET"),
        "{requests:?}"
    );
    let paths: Vec<&str> = requests.iter().map(|(_, p, _)| p.as_str()).collect();
    let json = live(&sandbox)
        .policy(FOLDER_POLICY)
        .args(["status", "--format", "json", "deep/er/est"])
        .status(2);
    let status: StatusJson = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(status.judged_from, "lookup");
    let est = &status.files[0];
    assert_eq!(
        (
            est.path.as_str(),
            est.fid.as_deref(),
            est.filetype.as_deref(),
            est.sharing.as_deref(),
            est.effective.as_deref(),
            est.through.as_deref(),
            est.wanted.as_deref(),
            est.restricts_folder.as_deref(),
        ),
        (
            "deep/er/est",
            Some("alice:8"),
            Some("plot"),
            Some("private"),
            Some("public"),
            Some("deep/er"),
            Some("private"),
            Some("deep/er"),
        )
    );
    assert_eq!(est.rule, Some(json!({"type": "default"})), "{est:?}");
    assert!(
        est.message
            .starts_with("not compliant: public through folder deep/er/")
    );
    assert!(!paths.contains(&"/v2/folders/all"), "{paths:?}");
    assert_eq!(
        paths.iter().filter(|p| p.ends_with("/lookup")).count(),
        4,
        "deep/er/est and top, then the folders deep/er and deep once each: {paths:?}"
    );
}

#[test]
fn a_folder_is_judged_from_the_whole_account_and_says_so() {
    let sandbox = seeded_with(FOLDERS, plotward_sandbox::Options::default());
    let run = live(&sandbox)
        .policy(FOLDER_POLICY)
        .args(["status", "--format", "json", "open"])
        .status(0);
    let status: StatusJson = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(status.format_version, 1);
    assert_eq!(status.judged_from, "listing");
    assert_eq!(status.source["type"], "api");
    assert_eq!(status.policy, "plotward.yaml");
    let open = &status.files[0];
    assert_eq!(
        (
            open.filetype.as_deref(),
            open.plan.as_deref(),
            open.to.as_deref()
        ),
        (Some("fold"), Some("restrict"), Some("private")),
        "restricted for open/private-notes: {open:?}"
    );
    assert!(status.compliant, "check reports no drift for it either");
    live(&sandbox)
        .policy(FOLDER_POLICY)
        .args(["status", "open"])
        .stdout_contains("Read from a listing of the whole account")
        .status(0);
}

#[test]
fn a_missing_path_is_its_own_line_and_exits_1_after_every_path() {
    let sandbox = example_sandbox();
    let run = live(&sandbox)
        .policy(&example_policy())
        .args(["status", "nope/not-here", "finance/payroll"])
        .stdout_contains("nope/not-here: not found (no file at this path)\n")
        .stdout_contains("finance/payroll (grid, alice:5)")
        .stdout_contains("not compliant: public, the policy wants private")
        .stdout_contains("Status: 0 compliant, 1 not compliant, 1 not found.")
        .status(1);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let json = live(&sandbox)
        .policy(&example_policy())
        .args(["status", "--format", "json", "nope/not-here"])
        .status(1);
    let status: StatusJson = serde_json::from_str(&json.stdout).unwrap();
    assert!(!status.compliant);
    assert!(!status.files[0].found && status.files[0].fid.is_none());
    assert_eq!(status.files[0].message, "not found");
}

#[test]
fn a_snapshot_is_read_offline_and_bad_paths_are_usage_errors() {
    let offline = || {
        Test::new()
            .policy(&example_policy())
            .copy("examples/inventory.json")
            .args(["status", "--snapshot", "examples/inventory.json"])
    };
    offline()
        .args(["hr/headcount"])
        .stdout_contains("hr/headcount (grid, alice:14)\n  sharing  private\n")
        .stdout_contains("  verdict  compliant\n")
        .stdout_contains("  plan     keeps its own flags (private)\n")
        .status(0);
    offline()
        .args(["--format", "json", "hr/headcount"])
        .stdout_contains("\"judged_from\": \"snapshot\"")
        .status(0);
    Test::new()
        .policy(&example_policy())
        .args(["status", "--snapshot", "x.json", "/abs"])
        .stderr_contains("empty folder name")
        .status(1);
}

/// A hostile server for `status reports/chart`: the credentials check as alice, the folder
/// `reports` as alice:1 at the root, and `answer` for the file lookup.
fn lookup_server(answer: impl Fn() -> Reply + Send + Sync + 'static) -> Server {
    Server::api("127.0.0.1", move |request| {
        match (request.path(), request.query("path").as_deref()) {
            ("/v2/folders/lookup", Some("reports")) => {
                Reply::Json(200, file("alice:1", "reports", "fold", -1, false))
            }
            ("/v2/files/lookup", Some("reports/chart")) => answer(),
            _ => Reply::Json(404, json!({"errors": [{"message": "Not found."}]})),
        }
    })
}

fn status_against(server: &Server) -> Test {
    Test::new()
        .env("PLOTLY_API_DOMAIN", &server.url())
        .env("PLOTLY_USERNAME", "alice")
        .env("PLOTLY_API_KEY", "alice-key")
        .policy("version: 1\ndefault: private\n")
        .args(["status", "reports/chart", "--backoff-ms", "1"])
}

#[test]
fn a_lookup_answer_that_lies_is_refused_naming_the_lie() {
    let cases: [(Value, &str); 4] = [
        (
            file("bob:2", "chart", "plot", 1, true),
            "names `bob:2`, a file of another user, not alice",
        ),
        (
            file("alice:2", "other", "plot", 1, true),
            "names the file `other`, not `chart`",
        ),
        (
            file("alice:2", "chart", "plot", 7, true),
            "puts `reports/chart` (alice:2) in folder 7, but the folder `reports` is alice:1",
        ),
        (
            file("alice:2", "chart", "weird\u{1b}[31m", 1, true),
            "unknown file type `weird\\e[31m`",
        ),
    ];
    for (answer, message) in cases {
        let server = lookup_server(move || Reply::Json(200, answer.clone()));
        let run = status_against(&server)
            .stderr_contains(message)
            .stderr_lacks("\u{1b}")
            .status(1);
        assert!(run.stdout.is_empty(), "{}", run.stdout);
        assert!(
            server.requests().iter().all(|r| r.method == "GET"),
            "status only reads"
        );
    }
    // The lie that checks out is believed: the same answer, told straight.
    let honest = lookup_server(|| Reply::Json(200, file("alice:2", "chart", "plot", 1, true)));
    status_against(&honest)
        .stdout_contains("not compliant: public, the policy wants private (default)")
        .status(2);
}

#[test]
fn one_fid_at_two_paths_is_refused() {
    let server = Server::api("127.0.0.1", |request| {
        let path = request.query("path").unwrap_or_default();
        let name = path.rsplit('/').next().unwrap_or_default().to_owned();
        Reply::Json(200, file("alice:3", &name, "plot", -1, false))
    });
    Test::new()
        .env("PLOTLY_API_DOMAIN", &server.url())
        .env("PLOTLY_USERNAME", "alice")
        .env("PLOTLY_API_KEY", "alice-key")
        .policy("version: 1\ndefault: private\n")
        .args(["status", "one", "two"])
        .stderr_contains("the server gives alice:3 for both `one` and `two`")
        .status(1);
}

#[test]
fn a_huge_lookup_answer_is_refused_while_it_streams() {
    let server = lookup_server(|| Reply::Huge { bytes: 1 << 30 });
    status_against(&server)
        .stderr_contains(
            "the answer for `reports/chart` is larger than 4096 KiB, too large for one file",
        )
        .stderr_lacks("--max-response-mib")
        .status(1);
}

#[test]
fn a_lookup_redirected_to_another_host_gets_no_request_let_alone_the_key() {
    let other = Server::start("127.0.0.2", |_| {
        Reply::Json(200, file("alice:2", "chart", "plot", 1, true))
    });
    let location = format!("{}/v2/files/lookup?path=reports/chart", other.url());
    let shown = location.clone();
    let server = lookup_server(move || Reply::Redirect(302, location.clone()));
    status_against(&server)
        .stderr_contains("follows no redirects")
        .stderr_contains(&shown)
        .status(1);
    assert!(other.requests().is_empty(), "{:?}", other.requests());
}
