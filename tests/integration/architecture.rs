//! ARCHITECTURE.md's module table names every source file of the workspace, and nothing that
//! is gone: a newcomer finds each file's room there, and the table cannot silently rot.

use std::collections::BTreeSet;
use std::path::Path;

use crate::harness::repo;

/// The first column of the "## Modules" table: backquoted paths, relative to `src/` for
/// plotward's own files, or starting with `crates/` for the workspace's other members.
fn listed_modules(architecture: &str) -> BTreeSet<String> {
    let table = architecture
        .split("\n## Modules\n")
        .nth(1)
        .expect("ARCHITECTURE.md has a \"## Modules\" section");
    let table = table.split("\n## ").next().unwrap_or(table);
    table
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|line| line.split_once('`').map(|(name, _)| name.to_owned()))
        .collect()
}

/// Every `.rs` file under `dir`, relative to `strip`, except unit-test modules (`tests.rs`),
/// which belong to the module beside them.
fn source_files(dir: &Path, strip: &Path, found: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).expect("read a source folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            source_files(&path, strip, found);
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "tests.rs")
        {
            let relative = path.strip_prefix(strip).expect("under the root");
            found.insert(relative.to_string_lossy().replace('\\', "/"));
        }
    }
}

#[test]
fn the_module_table_lists_every_source_file_and_nothing_else() {
    let architecture =
        std::fs::read_to_string(repo("ARCHITECTURE.md")).expect("read ARCHITECTURE.md");
    let listed = listed_modules(&architecture);
    let mut present = BTreeSet::new();
    source_files(&repo("src"), &repo("src"), &mut present);
    let crates = repo("crates");
    if crates.is_dir() {
        source_files(&crates, &repo(""), &mut present);
    }
    let missing: Vec<_> = present.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&present).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "ARCHITECTURE.md's module table is out of step with the tree:\n  \
         not in the table: {missing:?}\n  in the table but gone: {stale:?}"
    );
}

/// The top-level module a source file belongs to (`plan/folders.rs` → `plan`), or `None` for
/// the crate root and test-only files.
fn top_module(relative: &str) -> Option<String> {
    if matches!(relative, "main.rs" | "lib.rs") || relative.ends_with("tests.rs") {
        return None;
    }
    let first = relative.split('/').next()?;
    Some(first.trim_end_matches(".rs").to_owned())
}

/// `crate::NAME` references in the non-test code of a file (comments and `#[cfg(test)] mod
/// tests` left out), other than to `own`.
fn references(text: &str, own: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    let mut found = BTreeSet::new();
    for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for (at, _) in line.match_indices("crate::") {
            let name: String = line[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() && name != own {
                found.insert(name);
            }
        }
    }
    found
}

/// A cycle in `edges`, if there is one, as the modules along it.
fn find_cycle(edges: &std::collections::BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &std::collections::BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if !done.insert(node.to_owned()) {
            return None;
        }
        path.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| visit(node, edges, &mut Vec::new(), &mut done))
}

/// Which top-level modules each module's non-test code reaches through `crate::`.
fn module_edges() -> std::collections::BTreeMap<String, BTreeSet<String>> {
    let mut files = BTreeSet::new();
    source_files(&repo("src"), &repo("src"), &mut files);
    let mut edges = std::collections::BTreeMap::<String, BTreeSet<String>>::new();
    for relative in &files {
        let Some(own) = top_module(relative) else {
            continue;
        };
        let text = std::fs::read_to_string(repo("src").join(relative)).expect("read a source");
        edges
            .entry(own.clone())
            .or_default()
            .extend(references(&text, &own));
    }
    edges
}

/// The layers, bottom up, as what each module may use: the core (`inventory`, `policy`,
/// `plan`, `check`, `export`, `policytest`, `snapshot`, `schema`) knows nothing of `render`,
/// `remote`, `apply`, `cli`, `config` or `commands`; `wire` knows only the domain's leaf types;
/// `remote` only inventories; `render` and `error` sit above the core and `apply`; `cli`,
/// `config` and `commands` on top. ARCHITECTURE.md states the same rule.
const MAY_USE: &[(&str, &[&str])] = &[
    ("limits", &[]),
    ("inventory", &["limits"]),
    ("policy", &["inventory", "limits"]),
    ("plan", &["inventory", "limits", "policy"]),
    ("check", &["inventory", "limits", "plan", "policy"]),
    ("export", &["inventory", "limits", "plan", "policy"]),
    ("policytest", &["inventory", "limits", "plan", "policy"]),
    (
        "status",
        &["check", "inventory", "limits", "plan", "policy"],
    ),
    ("schema", &["inventory", "limits"]),
    ("wire", &["inventory"]),
    ("snapshot", &["inventory", "limits", "wire"]),
    ("remote", &["inventory", "limits"]),
    (
        "apply",
        &["inventory", "limits", "plan", "policy", "remote", "wire"],
    ),
    // `watch`'s decisions sit beside apply (its changes and tallies), below render.
    ("watch", &["apply", "inventory", "limits", "plan", "policy"]),
    // The metrics edge: the one module that knows axum and prometheus-client, fed plain
    // values.
    ("metrics", &[]),
    (
        "error",
        &[
            "apply",
            "export",
            "inventory",
            "limits",
            "plan",
            "policy",
            "policytest",
            "remote",
            "snapshot",
            "watch",
            "wire",
        ],
    ),
    (
        "render",
        &[
            "apply",
            "check",
            "error",
            "export",
            "inventory",
            "limits",
            "plan",
            "policy",
            "policytest",
            "remote",
            "snapshot",
            "status",
            "watch",
            "wire",
        ],
    ),
    ("cli", &[]),
    (
        "config",
        &[
            "cli",
            "error",
            "inventory",
            "limits",
            "policy",
            "remote",
            "render",
            "watch",
        ],
    ),
];

#[test]
fn each_layer_uses_only_the_layers_below_it() {
    let edges = module_edges();
    let mut broken = Vec::new();
    for (module, uses) in &edges {
        if module == "commands" {
            continue; // the top: commands may use every other module
        }
        let Some((_, allowed)) = MAY_USE.iter().find(|(name, _)| name == module) else {
            broken.push(format!(
                "{module} is a new top-level module: give it a layer in MAY_USE"
            ));
            continue;
        };
        for used in uses.iter().filter(|used| !allowed.contains(&used.as_str())) {
            broken.push(format!("{module} uses {used}"));
        }
    }
    assert!(broken.is_empty(), "layering broken: {broken:?}");
}

/// axum serves the sandbox (its own crate) and, in the CLI, only `watch`'s metrics: one edge
/// module, so no other module grows an HTTP server.
#[test]
fn only_the_metrics_module_knows_axum_and_prometheus_client() {
    let mut files = BTreeSet::new();
    source_files(&repo("src"), &repo("src"), &mut files);
    let users: Vec<&String> = files
        .iter()
        .filter(|relative| {
            let text = std::fs::read_to_string(repo("src").join(relative.as_str()))
                .expect("read a source");
            text.contains("axum::") || text.contains("prometheus_client::")
        })
        .collect();
    assert_eq!(
        users,
        ["metrics.rs"],
        "modules naming axum or prometheus_client"
    );
}

#[test]
fn the_module_graph_has_no_cycle() {
    let edges = module_edges();
    assert!(
        edges
            .get("render")
            .is_some_and(|uses| uses.contains("plan")),
        "the scan sees references (render uses plan): {edges:?}"
    );
    assert_eq!(
        find_cycle(&edges),
        None,
        "modules that import each other: {edges:?}"
    );
}
