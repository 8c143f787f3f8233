//! End-to-end tests: the real `plotward` binary, run in a temporary directory with a cleared
//! environment. One test binary, one module per area.

// A test binary has no public API: the modules' `pub` helpers are for each other.

/// The `Test` builder and helpers shared by every module.
mod harness;

/// The virtualenv helper, shared with `benches/scale.rs`.
#[path = "../support/python.rs"]
mod python;

/// ARCHITECTURE.md's module table against the source tree.
mod architecture;

/// `validate` and policy diagnostics as users see them.
mod validate;

/// `explain`.
mod explain;

/// `plan` against snapshots: text, JSON, saved plans, exit codes.
mod plan;

/// Arguments, usage errors, help and exit codes.
mod cli;

/// A blocking HTTP client for the in-process sandbox.
mod api;

/// The sandbox server over real HTTP: every endpoint, pagination, auth, sharing, faults.
mod sandbox;

/// The sandbox crate: plotward's and its readings of the snapshot format agree, both ways;
/// its warnings reach the caller's sink.
mod sandbox_crate;

/// The sandbox's fidelity fixes and defences: validation, limits, admin guard, durability.
mod sandbox_safety;

/// The official Python client (`chart-studio` 1.1.0 from PyPI) against the sandbox.
mod interop;

/// `plan`, `apply`, `snapshot` and `demo` against the live (sandbox) API.
mod live;

/// HTTPS with a custom CA bundle, through a TLS proxy in front of the sandbox.
mod tls;

/// check, Markdown/diff/JUnit reports, guardrails, export, policy tests, schema, pipelines.
mod gitops;

/// A scripted hostile HTTP server on loopback, for attacks the sandbox is too polite to make.
mod hostile;

/// Every attack of a lying or broken server, on the real binary: what each server saw.
mod untrusted;

/// `show`: saved plans printed as `plan` printed them, without credentials.
mod show;

/// `--target`: targeted plans, applies and checks, and how they say so.
mod target;

/// `check --format html`: the exposure report, self-contained, in headless Chromium.
mod html_report;

/// Folder visibility: files judged by what the world sees through their folders.
mod folders;

/// Setup and the credentials check: no default API URL, `users/current` first, every message.
mod setup;

/// Just enough of the GitHub and GitLab runners to run the example pipelines' shell steps.
mod ci_runner;

/// The shipped workflows, action and pipelines: linted, and every shell step run on the sandbox.
mod pipelines;

/// The README's `cargo install --locked --git ...`, run into a temporary root.
mod install;

/// `status PATH...`: lookups, agreement with check and plan, lying lookup answers.
mod status;

/// `-v`: the request trace, retries, proxies, and no secret in it.
mod verbose;

/// Several accounts in one run: policies naming their account, combined reports, isolation.
mod accounts;

// `plotward watch` as a process: restrictions, metrics, signals, failures.
mod watch;

// examples/kubernetes: manifests validated, command lines parsed, policies validated.
/// `apply` over several accounts, saved multi-account plans, and `show` of them.
mod accounts_apply;
mod kubernetes;
