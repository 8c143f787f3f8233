//! `examples/kubernetes/`: every manifest passes `kubernetes-validate` (`PyPI`, strict, against
//! a fixed Kubernetes version), every plotward command line in them parses with the real
//! binary's arguments, the policies they mount validate (one from the environment, one naming
//! its account), and the Pods keep the non-root, read-only settings.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::harness::repo;

/// Pinned, with the Kubernetes version it validates against.
const REQUIREMENTS: [&str; 1] = ["kubernetes-validate==1.34.1"];
const KUBERNETES: &str = "1.34.0";

fn python() -> Option<PathBuf> {
    crate::python::venv_python("kubernetes-venv", &REQUIREMENTS)
}

/// The manifests, sorted.
fn manifests() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(repo("examples/kubernetes"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    found.sort();
    assert!(found.len() >= 5, "{found:?}");
    found
}

/// `kubernetes-validate --strict -k KUBERNETES FILES`: exit code and output.
fn validate(python: &std::path::Path, files: &[PathBuf]) -> (Option<i32>, String) {
    let output = Command::new(python)
        .args(["-m", "kubernetes_validate", "--strict", "-k", KUBERNETES])
        .args(files)
        .env_clear()
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.code(), text)
}

#[test]
fn every_manifest_passes_kubernetes_validate_and_a_broken_one_does_not() {
    let Some(python) = python() else { return };
    let files = manifests();
    let (code, text) = validate(&python, &files);
    assert_eq!(code, Some(0), "{text}");
    let passed = text.matches(" passed for resource ").count();
    // The Deployment's file holds its Service too.
    assert_eq!(passed, files.len() + 1, "{text}");
    // The validator is strict: a misspelt field fails, so the pass above means something.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yaml");
    let deployment = std::fs::read_to_string(repo("examples/kubernetes/deployment-watch.yaml"))
        .unwrap()
        .replacen("runAsNonRoot: true", "runAsNonRooot: true", 1);
    std::fs::write(&broken, deployment).unwrap();
    let (code, text) = validate(&python, &[broken]);
    assert_ne!(code, Some(0), "{text}");
}

/// Every document of the manifests, as JSON (through `PyYAML`).
fn documents(python: &std::path::Path) -> Vec<Value> {
    let output = Command::new(python)
        .arg(repo("tests/python/k8s_manifests.py"))
        .args(manifests())
        .env_clear()
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let all: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    all.into_iter().map(|d| d["document"].clone()).collect()
}

/// The Pod spec of a `Deployment` or `CronJob`.
fn pod_spec(document: &Value) -> Option<&Value> {
    match document["kind"].as_str()? {
        "Deployment" => Some(&document["spec"]["template"]["spec"]),
        "CronJob" => Some(&document["spec"]["jobTemplate"]["spec"]["template"]["spec"]),
        _ => None,
    }
}

/// Runs the binary with `args` and `--help` appended: clap accepts every flag and value
/// before the help, or exits 1.
fn parses(args: &[String]) -> bool {
    let home = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_plotward"))
        .args(args)
        .arg("--help")
        .env_clear()
        .env("HOME", home.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    status.success()
}

#[test]
fn the_manifests_run_plotward_command_lines_that_parse_as_non_root_read_only_pods() {
    let Some(python) = python() else { return };
    let documents = documents(&python);
    let mut commands = Vec::new();
    for document in &documents {
        let Some(spec) = pod_spec(document) else {
            continue;
        };
        let pod = &spec["securityContext"];
        assert_eq!(pod["runAsNonRoot"], true, "{document}");
        assert_eq!(pod["seccompProfile"]["type"], "RuntimeDefault");
        assert_eq!(spec["automountServiceAccountToken"], false);
        // A Secret mounted as files is readable by the non-root user only through its group:
        // the Pod's fsGroup, and a mode with the group's read bit (0440, 288 in decimal).
        for volume in spec["volumes"].as_array().into_iter().flatten() {
            // Scratch space that fills the node's disk unbounded gets the Pod evicted: every
            // emptyDir is capped.
            if volume.get("emptyDir").is_some() {
                assert!(volume["emptyDir"]["sizeLimit"].is_string(), "{volume}");
            }
            if let Some(mode) = volume["secret"]["defaultMode"].as_u64() {
                assert_eq!(pod["fsGroup"], pod["runAsUser"], "{document}");
                assert_eq!(mode & 0o040, 0o040, "{volume}");
            }
        }
        for container in spec["containers"].as_array().unwrap() {
            let security = &container["securityContext"];
            assert_eq!(security["allowPrivilegeEscalation"], false, "{container}");
            assert_eq!(security["readOnlyRootFilesystem"], true, "{container}");
            assert_eq!(security["capabilities"]["drop"], serde_json::json!(["ALL"]));
            assert!(container["resources"]["limits"]["memory"].is_string());
            let args: Vec<String> = container["args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect();
            assert!(parses(&args), "plotward {args:?} does not parse");
            if args[0] == "watch" {
                for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
                    assert_eq!(container[probe]["httpGet"]["path"], "/healthz", "{probe}");
                }
                assert!(args.iter().any(|a| a == "--auto-restrict"), "{args:?}");
                // The audit trail goes where Kubernetes keeps and rotates logs (stdout), not to
                // a file on the Pod's disk that only grows.
                let audit = args.iter().position(|a| a == "--audit-log");
                assert_eq!(
                    audit.and_then(|i| args.get(i + 1)).map(String::as_str),
                    Some("-"),
                    "{args:?}"
                );
            }
            commands.push(args[0].clone());
        }
    }
    commands.sort();
    assert_eq!(commands, ["check", "watch"]);
    // The misspelt flag the check above would catch.
    assert!(!parses(&["watch".into(), "--auto-restrictt".into()]));
}

#[test]
fn the_mounted_policies_validate() {
    let Some(python) = python() else { return };
    let documents = documents(&python);
    let config_map = documents
        .iter()
        .find(|d| d["kind"] == "ConfigMap")
        .expect("a ConfigMap of policies");
    let dir = tempfile::tempdir().unwrap();
    let mut validated = Vec::new();
    for (name, text) in config_map["data"].as_object().unwrap() {
        let text = text.as_str().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_plotward"))
            .args(["validate", "-p"])
            .arg(&path)
            .env_clear()
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        validated.push(name.clone());
    }
    validated.sort();
    assert_eq!(validated, ["finance.yaml", "team.yaml"]);
}
