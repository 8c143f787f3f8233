//! The official Python client, `chart-studio` 1.1.0 from PyPI, against the sandbox.
//!
//! The test installs the client into a virtualenv under the target directory the first time
//! (with `plotly<6`: the client calls `plotly.version.stable_semver()`, which plotly 6 removed),
//! and reuses it afterwards.

use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::StatusCode;
use serde_json::{Value, json};

use plotward_sandbox::Sandbox;

use crate::api::{Api, As, example_sandbox};
use crate::harness::repo;

/// The official client, and `jsonschema` with `PyYAML` to check `plotward schema` independently.
const REQUIREMENTS: [&str; 4] = [
    "chart-studio==1.1.0",
    "plotly<6",
    "jsonschema==4.23.0",
    "PyYAML==6.0.2",
];

/// The virtualenv's python, installing the client once per target directory; `None` when
/// `PLOTWARD_SKIP_PYPI` is set (the test, reported as skipped, returns).
fn python() -> Option<PathBuf> {
    crate::python::venv_python("chart-studio-venv", &REQUIREMENTS)
}

/// Runs one step of `tests/python/chart_studio_interop.py` as `alice` and parses its JSON.
pub(crate) fn client(python: &Path, sandbox: &Sandbox, plotly_dir: &Path, step: &str) -> Value {
    let alice = &sandbox.users()[0];
    let output = Command::new(python)
        .arg(repo("tests/python/chart_studio_interop.py"))
        .env_clear()
        .env("HOME", plotly_dir)
        .env("PLOTLY_DIR", plotly_dir)
        .env("SANDBOX_URL", sandbox.url())
        .env("PLOTLY_USERNAME", &alice.username)
        .env("PLOTLY_API_KEY", &alice.api_key)
        .env("STEP", step)
        .output()
        .expect("run the chart-studio script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "chart-studio script ({step}) failed:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| panic!("JSON from the script: {stdout}"))
}

#[test]
fn chart_studio_creates_public_private_and_secret_plots() {
    let Some(python) = python() else { return };
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    let dir = tempfile::tempdir().unwrap();
    let out = client(&python, &sandbox, dir.path(), "create");

    let public_fid = api.fid("interop/public/deep/chart");
    let (owner, id) = public_fid.split_once(':').unwrap();
    assert_eq!(out["public"], format!("{}/~{owner}/{id}/", sandbox.url()));
    assert_eq!(
        out["replot"], out["public"],
        "re-plotting updates the same file"
    );

    let secret_fid = api.fid("interop/secret/deep/chart");
    let secret = api
        .get(&format!("/v2/files/{secret_fid}"), As::User("alice"))
        .body;
    let key = secret["share_key"].as_str().expect("a share key");
    let (_, secret_number) = secret_fid.split_once(':').unwrap();
    assert_eq!(
        out["secret"],
        format!("{}/~{owner}/{secret_number}?share_key={key}", sandbox.url()),
        "the secret URL carries the share key"
    );
    assert_eq!(secret["world_readable"], false);

    let private_fid = api.fid("interop/private/deep/renamed-chart");
    assert_eq!(out["lookup"]["fid"], private_fid.as_str());
    assert_eq!(out["lookup"]["world_readable"], false);
    assert_eq!(out["update"]["filename"], "renamed-chart");

    let default_fid = api.fid("interop/after-config/chart");
    let default = api
        .get(&format!("/v2/files/{default_fid}"), As::User("alice"))
        .body;
    assert_eq!(
        default["world_readable"], false,
        "set_config_file(sharing='private') applies"
    );
    assert_eq!(default["share_key_enabled"], false);

    // What others see: public opens, private is 404, secret opens only with the key.
    let get = |fid: &str, query: &str| {
        api.get(&format!("/v2/files/{fid}{query}"), As::Anonymous)
            .status
    };
    assert_eq!(get(&public_fid, ""), StatusCode::OK);
    assert_eq!(get(&private_fid, ""), StatusCode::NOT_FOUND);
    assert_eq!(get(&secret_fid, ""), StatusCode::NOT_FOUND);
    assert_eq!(
        get(&secret_fid, &format!("?share_key={key}")),
        StatusCode::OK
    );

    // The grids extracted from the figures were uploaded next to the plots.
    api.fid("interop/public/deep/chart_grid");
    let log = api.get("/_sandbox/requests", As::Anonymous).body;
    let requests = log["requests"].as_array().unwrap();
    let seen = |method: &str, prefix: &str| {
        requests
            .iter()
            .any(|r| r["method"] == method && r["path"].as_str().unwrap().starts_with(prefix))
    };
    for (method, prefix) in [
        ("POST", "/v2/folders"),
        ("GET", "/v2/files/lookup"),
        ("POST", "/v2/grids"),
        ("DELETE", "/v2/grids/"),
        ("POST", "/v2/plots"),
        ("PUT", "/v2/plots/"),
        ("PUT", "/v2/files/"),
    ] {
        assert!(seen(method, prefix), "the client sent {method} {prefix}...");
    }
    assert!(requests.iter().all(|r| r["status"].as_u64().unwrap() < 500));
    let platform = requests[0]["client_platform"].as_str().unwrap();
    assert!(platform.starts_with("python "), "{platform}");
}

#[test]
fn plotward_applies_a_policy_the_python_client_then_sees() {
    let Some(python) = python() else { return };
    let sandbox = crate::api::sandbox_with(
        plotward_sandbox::Seed::Empty,
        plotward_sandbox::Options::default(),
    );
    let api = Api::new(&sandbox);
    let dir = tempfile::tempdir().unwrap();
    client(&python, &sandbox, dir.path(), "create");
    let policy = "
        version: 1
        rules:
          - match: \"interop/public/**\"
            sharing: private
          - match: \"interop/private/**\"
            sharing: secret
          - match: [\"interop/secret/**\", \"interop/after-config/**\"]
            sharing: public
        ";
    let run = crate::harness::Test::new()
        .policy(policy)
        .env("PLOTLY_API_DOMAIN", sandbox.url())
        .env("PLOTLY_USERNAME", "alice")
        .env("PLOTLY_API_KEY", "alice-key")
        .args(["apply", "--auto-approve"])
        .status(0);
    // Each folder holds a plot and its grid.
    assert!(
        run.stdout
            .ends_with("Apply complete: 2 restricted, 6 exposed, 0 failed.\n"),
        "{}",
        run.stdout
    );

    let seen = client(&python, &sandbox, dir.path(), "observe");
    let now_private = &seen["interop/public/deep/chart"];
    assert_eq!(
        (
            now_private["world_readable"].clone(),
            now_private["share_key_enabled"].clone()
        ),
        (json!(false), json!(false))
    );
    let now_secret = &seen["interop/private/deep/renamed-chart"];
    assert_eq!(
        (
            now_secret["world_readable"].clone(),
            now_secret["share_key_enabled"].clone()
        ),
        (json!(false), json!(true))
    );
    let key = now_secret["share_key"]
        .as_str()
        .expect("the client sees the new share key");
    let now_public = &seen["interop/secret/deep/chart"];
    assert_eq!(now_public["world_readable"], true);

    let status = |fid: &Value, query: &str| {
        api.get(
            &format!("/v2/files/{}{query}", fid.as_str().unwrap()),
            As::User("bob"),
        )
        .status
    };
    assert_eq!(
        status(&now_private["fid"], ""),
        StatusCode::NOT_FOUND,
        "private: 404 to others"
    );
    assert_eq!(status(&now_secret["fid"], ""), StatusCode::NOT_FOUND);
    assert_eq!(
        status(&now_secret["fid"], &format!("?share_key={key}")),
        StatusCode::OK,
        "the secret URL opens"
    );
    assert_eq!(status(&now_public["fid"], ""), StatusCode::OK);
    assert_eq!(
        status(&seen["interop/after-config/chart"]["fid"], ""),
        StatusCode::OK
    );
}

#[test]
fn a_web_url_opens_anonymously_while_its_folder_is_public() {
    let Some(python) = python() else { return };
    // Cascade off: the chart stays private by its own flag throughout, so the 200 comes from
    // the folder alone (effective visibility), not from a copied flag.
    let sandbox = crate::api::sandbox_with(
        plotward_sandbox::Seed::Empty,
        plotward_sandbox::Options {
            folder_cascade: false,
            ..plotward_sandbox::Options::default()
        },
    );
    let api = Api::new(&sandbox);
    let dir = tempfile::tempdir().unwrap();
    let out = client(&python, &sandbox, dir.path(), "web");

    let chart = api.fid("interop-web/chart");
    let (owner, id) = chart.split_once(':').unwrap();
    assert_eq!(out["url"], format!("{}/~{owner}/{id}/", sandbox.url()));
    assert_eq!(out["folder"], api.fid("interop-web").as_str());
    // [web_url, its .json form], anonymously, after each step.
    assert_eq!(out["private_folder"], json!([404, 404]));
    assert_eq!(
        out["public_folder"],
        json!([200, 200]),
        "public folder: open"
    );
    assert_eq!(
        out["private_again"],
        json!([404, 404]),
        "private again: closed"
    );
    let own = api
        .get(&format!("/v2/files/{chart}"), As::User("alice"))
        .body;
    assert_eq!(
        own["world_readable"], false,
        "the chart's own flag never changed"
    );
}

#[test]
fn the_json_schema_accepts_the_shipped_policies_and_rejects_mistakes() {
    let Some(python) = python() else { return };
    let run = crate::harness::Test::new()
        .write(
            "bad.yaml",
            "version: 2\ndefault: privat\nrules:\n  - match: []\n    sharing: public\n    filetype: plot\nguardrails:\n  max_changes: lots\n",
        )
        .args(["schema"])
        .status(0);
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("schema.json");
    std::fs::write(&schema, &run.stdout).unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, run.read("bad.yaml")).unwrap();
    let mut policies: Vec<std::path::PathBuf> = std::fs::read_dir(repo("policies"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.to_string_lossy().ends_with(".test.yaml"))
        .collect();
    policies.sort();
    assert!(policies.len() >= 3);
    let output = Command::new(&python)
        .arg(repo("tests/python/validate_schema.py"))
        .arg(&schema)
        .args(&policies)
        .arg(&bad)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    for policy in &policies {
        assert_eq!(
            result[policy.to_str().unwrap()],
            json!([]),
            "{} breaks the schema",
            policy.display()
        );
    }
    let errors = result[bad.to_str().unwrap()].as_array().unwrap();
    assert!(errors.len() >= 4, "every mistake is caught: {errors:?}");
}

/// Offline, a test needing the Python Package Index fails with a message that says how to skip
/// it: pip against an index nothing listens on (port 9 of 127.0.0.1), in a throwaway
/// virtualenv.
#[test]
fn without_pypi_the_failure_says_how_to_skip_the_tests_that_need_it() {
    let dir = tempfile::tempdir().unwrap();
    let failure = crate::python::make_venv(
        &dir.path().join("offline-venv"),
        &["requests==2.32.3"],
        &[
            ("PIP_INDEX_URL", "http://127.0.0.1:9/simple"),
            ("PIP_CONFIG_FILE", "/dev/null"),
            ("PIP_NO_CACHE_DIR", "1"),
            ("PIP_RETRIES", "0"),
            ("PIP_TIMEOUT", "2"),
        ],
    )
    .expect_err("no index, no install");
    assert!(failure.contains("pip needs PyPI"), "{failure}");
    assert!(failure.contains("set PLOTWARD_SKIP_PYPI=1"), "{failure}");
    assert!(failure.contains("skipped, by name"), "{failure}");
}

/// With `PLOTWARD_SKIP_PYPI` set, a test needing the package index says it is skipped, by name,
/// and passes (the real binary of this test suite, filtered to one interop test).
#[test]
fn with_the_skip_variable_a_pypi_test_reports_itself_skipped_by_name() {
    let name = "interop::a_web_url_opens_anonymously_while_its_folder_is_public";
    let output = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--test-threads=1"])
        .env("PLOTWARD_SKIP_PYPI", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("skipped: {name} (PLOTWARD_SKIP_PYPI is set)")),
        "{stderr}"
    );
}

/// CI runs everything: `.ci/run` never sets (or mentions) the skip variable.
#[test]
fn ci_never_skips_the_pypi_tests() {
    let ci = std::fs::read_to_string(repo(".ci/run")).unwrap();
    assert!(ci.contains("cargo test"), "not the CI script");
    assert!(!ci.contains(crate::python::SKIP_VAR));
}
