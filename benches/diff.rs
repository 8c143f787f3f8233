//! `plan::diff` throughput: 1,000,000 paths against 1,000 rules, a realistic mix of folder
//! (`dept/**`), single-level (`dept/2024/*`), cross-folder (`*/2025/project-1*`) and file
//! globs. Run with `cargo bench --bench diff`; the figure to read is the throughput in paths
//! (elements) per second.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use plotward::internals::{self, File, Inventory, Policy};

const PATHS: usize = 1_000_000;
const RULES: usize = 1_000;
const DEPARTMENTS: usize = 40;

/// A deterministic account: 40 departments, 5 years, 100 projects, files in projects.
fn files() -> Vec<File> {
    let types = ["plot", "grid", "dashboard", "spectacle_presentation"];
    (0..PATHS)
        .map(|n| {
            let dept = n % DEPARTMENTS;
            let year = 2021 + (n / DEPARTMENTS) % 5;
            let project = (n / 200) % 100;
            File {
                fid: format!("alice:{n}"),
                path: format!("dept-{dept:02}/{year}/project-{project:03}/chart-{n:07}"),
                filetype: types[n % 4],
                world_readable: n % 5 < 2,
                share_key_enabled: n % 5 == 4,
            }
        })
        .collect()
}

/// 1,000 rules: per department a `**` rule, per department and year a `*` rule and a
/// cross-department project rule, and file-name rules to fill up.
fn policy() -> Policy {
    let levels = ["private", "secret", "public", "ignore"];
    let mut rules = Vec::with_capacity(RULES);
    for dept in 0..DEPARTMENTS {
        for year in 2021..2026 {
            rules.push(format!(
                "  - match: \"dept-{dept:02}/{year}/project-0{}*/*\"\n    sharing: {}\n",
                dept % 10,
                levels[dept % 4]
            ));
        }
    }
    for year in 2021..2026 {
        for project in 0..40 {
            rules.push(format!(
                "  - match: \"*/{year}/project-{project:03}/**\"\n    sharing: {}\n",
                levels[project % 3]
            ));
        }
    }
    for dept in 0..DEPARTMENTS {
        rules.push(format!(
            "  - match: \"dept-{dept:02}/**\"\n    sharing: {}\n    filetypes: [plot, dashboard]\n",
            levels[dept % 3]
        ));
    }
    let mut n = 0;
    while rules.len() < RULES {
        rules.push(format!(
            "  - match: \"**/chart-{n:04}???\"\n    sharing: {}\n",
            levels[n % 4]
        ));
        n += 1;
    }
    let text = format!("version: 1\ndefault: private\nrules:\n{}", rules.concat());
    Policy::parse(&text, "bench.yaml").unwrap_or_else(|err| panic!("{err}"))
}

fn diff(c: &mut Criterion) {
    let files = files();
    let inventory = Inventory::new(files.clone());
    let policy = policy();
    assert_eq!(policy.rules(), RULES);
    let mut group = c.benchmark_group("plan::diff");
    group.sample_size(10);
    group.throughput(Throughput::Elements(PATHS as u64));
    group.bench_function("1M paths x 1000 rules", |b| {
        b.iter(|| internals::diff(&policy, &inventory));
    });
    // The same files with every folder their paths name (some public), as a live listing holds:
    // the cost of judging files by the folders above them.
    let with_folders = with_folders(files);
    group.bench_function("1M paths x 1000 rules, with folders", |b| {
        b.iter(|| internals::diff(&policy, &with_folders));
    });
    group.finish();
}

/// The files and every folder their paths name; one folder in seven is public.
fn with_folders(mut files: Vec<File>) -> Inventory {
    let mut folders = std::collections::BTreeSet::new();
    for file in &files {
        let mut path = file.path.as_str();
        while let Some((folder, _)) = path.rsplit_once('/') {
            if !folders.insert(folder.to_owned()) {
                break;
            }
            path = folder;
        }
    }
    let folders: Vec<File> = folders
        .into_iter()
        .enumerate()
        .map(|(n, path)| File {
            fid: format!("alice:{}", PATHS + n),
            path,
            filetype: "fold",
            world_readable: n % 7 == 0,
            share_key_enabled: false,
        })
        .collect();
    files.extend(folders);
    Inventory::new(files)
}

criterion_group!(benches, diff);
criterion_main!(benches);
