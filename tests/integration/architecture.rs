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
