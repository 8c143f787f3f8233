//! Export: a policy that reproduces an account's sharing as it is today, with few rules, so a
//! team can adopt plotward without changing anything.
//!
//! The most common level becomes the `default`. Walking the folder tree from the root, a
//! folder whose files mostly have another level than the one inherited gets a `folder/**`
//! rule; files that differ from their folder's level get exact rules, grouped per folder and
//! level. Exceptions sit above the rules they refine (first match wins), so the exported
//! policy plans zero changes against the account it came from.

use std::collections::BTreeMap;

use crate::inventory::{FileType, Inventory, Sharing};

/// An exported policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Exported {
    /// The default level.
    pub default: Sharing,
    /// The rules, in policy order.
    pub rules: Vec<ExportedRule>,
}

/// One exported rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ExportedRule {
    /// Globs, already escaped.
    pub patterns: Vec<String>,
    pub sharing: Sharing,
    /// The one file type it is for, when files of other types share its path.
    pub filetype: Option<FileType>,
    /// Folder depth, for ordering (deeper first).
    depth: usize,
    /// Exact file rules come before folder rules.
    is_folder: bool,
}

/// Level counts of a subtree: private, secret, public.
type Counts = [usize; 3];

#[derive(Default)]
struct Folder {
    files: Vec<(String, FileType, Sharing)>,
    /// Its subfolders' paths, as a set: a wide folder must not cost its width squared.
    children: std::collections::BTreeSet<String>,
    counts: Counts,
}

fn index(level: Sharing) -> usize {
    match level {
        Sharing::Private => 0,
        Sharing::Secret => 1,
        Sharing::Public => 2,
    }
}

/// The level most files have; ties go to `prefer` when it is among them, else to the least
/// exposed, so an export never widens a tie.
fn majority(counts: Counts, prefer: Sharing) -> Sharing {
    let best = counts.iter().copied().max().unwrap_or(0);
    if counts[index(prefer)] == best {
        return prefer;
    }
    Sharing::ALL
        .into_iter()
        .find(|level| counts[index(*level)] == best)
        .unwrap_or(Sharing::Private)
}

/// Why an account's sharing cannot be exported as a policy plotward would read back.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExportError {
    /// Paths holding several files of one type with different sharing: no policy can tell
    /// them apart, and an export must not lie.
    #[error(
        "cannot export: {} path(s) hold several files of one type with different sharing, \
         which no policy can tell apart: {}. Rename one of each, then export again",
        .0.len(),
        name_some(.0)
    )]
    Conflicts(Vec<(String, FileType)>),
    /// The policy would be over the size plotward reads.
    #[error(
        "cannot export: the policy would be {bytes} bytes, over the {} MiB plotward reads; the \
         account's sharing is too scattered for one policy file (group files with the same \
         sharing into folders, or write the policy by hand)",
        limit >> 20
    )]
    TooLarge {
        /// The exported policy's size.
        bytes: usize,
        /// The policy size limit.
        limit: u64,
    },
    /// The exported policy does not validate: a plotward bug, reported as such.
    #[error(
        "cannot export: the exported policy does not validate ({}); this is a plotward bug, \
         please report it",
        plotward_visible::escape(&.0.to_string())
    )]
    Unreadable(crate::policy::PolicyError),
}

/// The first five conflicting paths (escaped), and `...` when there are more.
fn name_some(conflicts: &[(String, FileType)]) -> String {
    let shown: Vec<String> = conflicts
        .iter()
        .take(5)
        .map(|(path, filetype)| format!("{} ({filetype})", plotward_visible::escape(path)))
        .collect();
    let more = if conflicts.len() > 5 { ", ..." } else { "" };
    format!("{}{more}", shown.join(", "))
}

/// Derives a policy from an inventory. Each file is exported at its effective level (what the
/// world sees, through the folders above it), so a plan of the export changes nothing.
/// Folders themselves are not managed, as in any policy that does not name `fold`. Refused, with the paths named, when files of one path and one
/// type differ in sharing: no policy can tell them apart, and an export must not lie.
pub(crate) fn export(inventory: &Inventory) -> Result<Exported, ExportError> {
    let levels = crate::plan::effective_levels(inventory.files());
    let conflicts = conflicts(inventory, &levels);
    if !conflicts.is_empty() {
        return Err(ExportError::Conflicts(conflicts));
    }
    let folders = tree(inventory, &levels);
    let root = folders.get("").map_or([0; 3], |f| f.counts);
    let default = majority(root, Sharing::Private);
    let mut rules = Vec::new();
    walk(&folders, "", default, &mut rules);
    rules.sort_by(|a, b| {
        (a.is_folder, std::cmp::Reverse(a.depth), &a.patterns).cmp(&(
            b.is_folder,
            std::cmp::Reverse(b.depth),
            &b.patterns,
        ))
    });
    Ok(Exported { default, rules })
}

/// Paths (with a type) that hold files of that type at more than one level.
fn conflicts(inventory: &Inventory, levels: &[Sharing]) -> Vec<(String, FileType)> {
    let mut seen_levels: BTreeMap<(&str, &FileType), Sharing> = BTreeMap::new();
    let mut conflicts = std::collections::BTreeSet::new();
    for (file, &level) in inventory
        .files()
        .iter()
        .zip(levels)
        .filter(|(f, _)| f.filetype != FileType::Folder)
    {
        let seen = *seen_levels
            .entry((file.path.as_str(), &file.filetype))
            .or_insert(level);
        if seen != level {
            conflicts.insert((file.path.clone(), file.filetype.clone()));
        }
    }
    conflicts.into_iter().collect()
}

/// Folders by path (`""` the root), with their files and the level counts of their subtree.
fn tree(inventory: &Inventory, levels: &[Sharing]) -> BTreeMap<String, Folder> {
    let mut folders: BTreeMap<String, Folder> = BTreeMap::new();
    folders.entry(String::new()).or_default();
    for (file, &level) in inventory
        .files()
        .iter()
        .zip(levels)
        .filter(|(f, _)| f.filetype != FileType::Folder)
    {
        let (parent, name) = file.path.rsplit_once('/').unwrap_or(("", &file.path));
        folders.entry(parent.to_owned()).or_default().files.push((
            name.to_owned(),
            file.filetype.clone(),
            level,
        ));
        // Count the file in every ancestor, creating the chain of folders on the way.
        let mut current = parent.to_owned();
        loop {
            folders.entry(current.clone()).or_default().counts[index(level)] += 1;
            if current.is_empty() {
                break;
            }
            let up = current
                .rsplit_once('/')
                .map_or(String::new(), |(up, _)| up.to_owned());
            let child = std::mem::replace(&mut current, up);
            folders
                .entry(current.clone())
                .or_default()
                .children
                .insert(child);
        }
    }
    folders
}

fn walk(
    folders: &BTreeMap<String, Folder>,
    path: &str,
    inherited: Sharing,
    rules: &mut Vec<ExportedRule>,
) {
    let Some(folder) = folders.get(path) else {
        return;
    };
    let depth = if path.is_empty() {
        0
    } else {
        path.matches('/').count() + 1
    };
    let mut level = inherited;
    if !path.is_empty() {
        let wanted = majority(folder.counts, inherited);
        if wanted != inherited {
            rules.push(ExportedRule {
                patterns: vec![format!("{}/**", escape(path))],
                sharing: wanted,
                filetype: None,
                depth,
                is_folder: true,
            });
            level = wanted;
        }
    }
    // A name that several files (of different types) share gets rules per type, so each
    // file keeps its own level.
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    for (name, _, _) in &folder.files {
        *names.entry(name.as_str()).or_default() += 1;
    }
    let mut exceptions: BTreeMap<(Sharing, Option<FileType>), Vec<String>> = BTreeMap::new();
    for (name, filetype, sharing) in &folder.files {
        if *sharing != level {
            let full = if path.is_empty() {
                escape(name)
            } else {
                format!("{}/{}", escape(path), escape(name))
            };
            let only = (names[name.as_str()] > 1).then(|| filetype.clone());
            exceptions.entry((*sharing, only)).or_default().push(full);
        }
    }
    for ((sharing, filetype), mut patterns) in exceptions {
        // Sorted, then one of each: a name shared by files of one type appears once.
        patterns.sort();
        patterns.dedup();
        rules.push(ExportedRule {
            patterns,
            sharing,
            filetype,
            depth,
            is_folder: false,
        });
    }
    for child in &folder.children {
        walk(folders, child, level, rules);
    }
}

/// Escapes the glob metacharacters of a literal name.
fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::RemoteFile;
    use crate::policy::Policy;

    fn file(path: &str, level: Sharing) -> RemoteFile {
        RemoteFile {
            fid: format!(
                "a:{}",
                path.len() * 1000 + path.chars().map(|c| c as usize).sum::<usize>()
            ),
            path: path.into(),
            filetype: FileType::Plot,
            flags: level.flags(),
        }
    }

    fn round_trip(files: Vec<RemoteFile>) -> (Exported, String) {
        let inventory = Inventory::new(files);
        let exported = export(&inventory).unwrap();
        let yaml = crate::render::yaml::exported_policy(&exported, "a test");
        let policy =
            Policy::parse(&yaml, "exported.yaml").unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        let plan = crate::plan::diff(&policy, &inventory);
        assert!(
            !plan.summary().has_changes(),
            "exported policy changes something:\n{yaml}"
        );
        (exported, yaml)
    }

    #[test]
    fn folders_that_agree_become_one_rule_with_exceptions_above() {
        use Sharing::{Private, Public, Secret};
        let (exported, yaml) = round_trip(vec![
            file("top", Private),
            file("reports/a", Secret),
            file("reports/b", Secret),
            file("reports/q1/c", Secret),
            file("reports/q1/open", Public),
            file("finance/x", Private),
            file("finance/y", Private),
        ]);
        assert_eq!(exported.default, Private);
        assert_eq!(
            yaml,
            "# Exported by plotward from a test.\n\
             # It reproduces today's sharing: `plotward plan` with it changes nothing.\n\
             version: 1\ndefault: private\nrules:\n  \
             - match: \"reports/q1/open\"\n    sharing: public\n  \
             - match: \"reports/**\"\n    sharing: secret\n"
        );
    }

    #[test]
    fn names_with_glob_characters_are_escaped() {
        use Sharing::{Private, Public};
        let (_, yaml) = round_trip(vec![
            file("a/*star*", Public),
            file("a/[x]", Public),
            file("a/plain", Private),
            file("a/b{c}", Private),
            file("a/back\\slash", Private),
            file("a/quote\"d", Private),
            file("données/ventes", Public),
        ]);
        assert!(yaml.contains("\"a/\\\\*star\\\\*\""), "{yaml}");
    }

    #[test]
    fn names_with_invisible_or_control_characters_round_trip_as_escapes() {
        use Sharing::{Private, Public};
        let names = [
            "del\u{7f}x",
            "nel\u{85}x",
            "rlo\u{202e}x",
            "zw\u{200b}x",
            "ls\u{2028}x",
            "esc\u{1b}[2Jx",
            "nl\nx",
            "tag\u{e0041}x",
        ];
        // The odd names are the exceptions, so the export must write them as patterns.
        let mut files: Vec<RemoteFile> = names.iter().map(|n| file(n, Private)).collect();
        files.extend((0..20).map(|n| file(&format!("plain{n}"), Public)));
        let (_, yaml) = round_trip(files);
        assert!(
            !yaml
                .chars()
                .any(|c| c != '\n' && plotward_visible::needs_escape(c)),
            "{yaml:?}"
        );
        assert!(
            yaml.contains("\\u007F") && yaml.contains("\\u0085") && yaml.contains("\\U000E0041"),
            "{yaml}"
        );
    }

    #[test]
    fn files_sharing_a_path_keep_their_own_levels_through_filetypes() {
        let typed = |path: &str, filetype: FileType, level: Sharing| RemoteFile {
            filetype,
            ..file(path, level)
        };
        let (exported, yaml) = round_trip(vec![
            typed("report", FileType::Plot, Sharing::Public),
            typed("report", FileType::Grid, Sharing::Private),
            typed("other", FileType::Plot, Sharing::Private),
        ]);
        assert_eq!(exported.rules.len(), 1, "{yaml}");
        assert!(
            yaml.contains(
                "  - match: \"report\"\n    sharing: public\n    filetypes: [\"plot\"]\n"
            ),
            "{yaml}"
        );
    }

    #[test]
    fn files_no_policy_can_tell_apart_are_refused_by_name() {
        let twin = |fid: &str, level: Sharing| RemoteFile {
            fid: fid.into(),
            ..file("report", level)
        };
        let inventory = Inventory::new(vec![
            twin("a:1", Sharing::Public),
            twin("a:2", Sharing::Private),
        ]);
        let err = export(&inventory).unwrap_err().to_string();
        assert!(
            err.contains("1 path(s)") && err.contains("report (plot)"),
            "{err}"
        );
    }

    #[test]
    fn an_empty_account_exports_a_valid_empty_policy() {
        let (exported, yaml) = round_trip(Vec::new());
        assert!(exported.rules.is_empty());
        assert!(yaml.ends_with("default: private\nrules: []\n"));
    }
}
