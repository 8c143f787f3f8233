//! The plan: the pure diff between a policy and an inventory.
//!
//! [`diff`] decides every file with the policy and compares the wanted level with the observed
//! one. It does no I/O, so everything about what plotward *would* do is testable from a policy
//! string and a list of files.

use std::sync::Arc;

use crate::inventory::{Coverage, FileType, Flags, Inventory, RemoteFile, Sharing};
use crate::policy::{
    Decision, Exposure, Guardrails, Limit, MAX_CHANGES_MIN_MANAGED, Policy, Target, Targets,
};

/// The plan for a whole inventory. It borrows the inventory's files rather than copying them,
/// so planning a large account allocates little beyond the decisions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Plan<'a> {
    /// One entry per file of the inventory, in its order (path, then fid).
    pub entries: Vec<Entry<'a>>,
    /// Rules that decided no file.
    pub dead_rules: Vec<RuleRef>,
    /// Patterns of live rules that match no file, and `never_public` globs that match no file:
    /// each protects nothing today (often a typo).
    pub dead_patterns: Vec<DeadPattern>,
    /// What the listing behind the inventory could not vouch for.
    pub coverage: Coverage,
    /// The folders the plan changes, with what lies below them.
    pub folder_changes: Vec<FolderChange>,
}

/// A folder the plan changes. A folder's sharing reaches its contents, and a server may
/// reset the flags of everything below it; apply re-reads and restores them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FolderChange {
    pub fid: String,
    pub path: String,
    pub from: Sharing,
    pub to: Sharing,
    /// Files and folders below it, at any depth.
    pub files_below: usize,
    /// Of those, the ones with a secret link, which may get a new key when restored.
    pub secret_below: usize,
}

/// What the plan says about one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry<'a> {
    /// The file as observed.
    pub file: &'a RemoteFile,
    /// Which part of the policy decided it.
    pub decided_by: DecidedBy,
    /// What happens to it.
    pub action: Action,
    /// The level the world should see once the plan is applied; `None` when unmanaged.
    pub wanted: Option<Sharing>,
    /// The level the world sees now: the file's own, or more through a folder above it.
    pub effective: Sharing,
    /// The folder that makes the file more exposed than its own flags, when one does.
    pub through: Option<&'a RemoteFile>,
    /// Whether a folder above it changes in this plan: a server that cascades folder changes
    /// may reset its own flags, so apply re-reads it afterwards.
    pub under_change: bool,
    /// Whether the run covers it (`--target`; always, without one). A file outside the
    /// targets is judged with the rest (folders above and below still count) but neither
    /// changed, counted nor reported.
    pub targeted: bool,
}

impl Entry<'_> {
    /// The level the file's own flags say now.
    pub(crate) fn current(&self) -> Sharing {
        self.file.sharing()
    }

    /// Whether the world sees it at a level other than the policy wants (unmanaged files
    /// never are).
    pub(crate) fn is_noncompliant(&self) -> bool {
        self.wanted.is_some_and(|wanted| wanted != self.effective)
            && !matches!(self.decided_by, DecidedBy::Contents(_))
    }

    /// The flags observed when planning, which apply checks again before writing.
    pub(crate) fn observed(&self) -> Flags {
        self.file.flags
    }
}

/// A reference to a rule that outlives the policy, for plans and reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RuleRef {
    /// 1-based rule number.
    pub number: usize,
    /// Line of the rule in the policy file.
    pub line: u64,
    /// The rule's patterns.
    pub patterns: Vec<Arc<str>>,
}

/// A pattern that matches no file of the inventory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DeadPattern {
    /// The rule it belongs to (1-based), or `None` for a `guardrails.never_public` glob.
    pub rule: Option<usize>,
    pub pattern: Arc<str>,
    /// Its line in the policy file.
    pub line: u64,
}

/// Which part of the policy decided a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DecidedBy {
    /// A rule, through one of its patterns.
    Rule {
        /// 1-based rule number.
        number: usize,
        /// The pattern that matched.
        pattern: Arc<str>,
        /// Line of the rule in the policy file.
        line: u64,
    },
    /// The policy's `default`.
    Default,
    /// A folder that no rule names; folders are never managed by the default.
    Folder,
    /// A folder restricted because a file below it wants less exposure than the folder has:
    /// a folder's sharing reaches everything in it. Boxed: rare, and every entry holds a
    /// `DecidedBy`.
    Contents(Box<Requirement>),
}

/// The file below a folder that requires the folder's restriction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Requirement {
    pub path: String,
    pub fid: String,
    /// The level it wants.
    pub wants: Sharing,
    /// What decided that level.
    pub by: DecidedBy,
}

/// What the plan does with one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Unmanaged (`ignore`, or a folder no rule names): left as it is.
    Ignore,
    /// Managed and already at the wanted level.
    Keep,
    /// Managed and to be changed to this level.
    Change(Sharing),
}

impl Action {
    /// What gets a file to `goal` (`None`: unmanaged) when, left alone, the world would see it
    /// at `otherwise`.
    fn toward(goal: Option<Sharing>, otherwise: Sharing) -> Action {
        match goal {
            None => Action::Ignore,
            Some(goal) if goal == otherwise => Action::Keep,
            Some(goal) => Action::Change(goal),
        }
    }
}

/// Whether a change lowers or raises exposure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Direction {
    /// Lowers exposure (public -> secret -> private). Applied first.
    Restrict,
    /// Raises exposure. Applied after every restriction.
    Expose,
}

impl Direction {
    /// The direction of a change from one level to another, which must differ.
    pub(crate) fn of(from: Sharing, to: Sharing) -> Direction {
        if to < from {
            Direction::Restrict
        } else {
            Direction::Expose
        }
    }
}

/// One planned change, borrowed from a plan entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Change<'a> {
    /// The entry this change belongs to.
    pub entry: &'a Entry<'a>,
    pub from: Sharing,
    pub to: Sharing,
}

/// The counts of a plan, as printed in its summary line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Summary {
    /// Changes that lower exposure.
    pub restrict: usize,
    /// Changes that raise exposure.
    pub expose: usize,
    /// Managed files already at their level.
    pub unchanged: usize,
    pub ignored: usize,
}

impl Summary {
    /// Whether the plan changes anything.
    pub(crate) fn has_changes(&self) -> bool {
        self.restrict + self.expose > 0
    }
}

impl Plan<'_> {
    /// The changes of the targeted files, in plan order (path, then fid).
    pub(crate) fn changes(&self) -> impl Iterator<Item = Change<'_>> {
        self.targeted().filter_map(|entry| match entry.action {
            Action::Change(to) => Some(Change {
                entry,
                from: entry.current(),
                to,
            }),
            Action::Ignore | Action::Keep => None,
        })
    }

    /// The entries the run covers (all of them without `--target`).
    pub(crate) fn targeted(&self) -> impl Iterator<Item = &Entry<'_>> {
        self.entries.iter().filter(|entry| entry.targeted)
    }

    /// Counts the targeted entries by outcome.
    pub(crate) fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for entry in self.targeted() {
            match entry.action {
                Action::Ignore => summary.ignored += 1,
                Action::Keep => summary.unchanged += 1,
                Action::Change(to) => match Direction::of(entry.current(), to) {
                    Direction::Restrict => summary.restrict += 1,
                    Direction::Expose => summary.expose += 1,
                },
            }
        }
        summary
    }
}

/// What `--strict` refuses in a plan: every rule that decided no file, every pattern that
/// matches none, and a policy that manages no file at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StrictFailures<'p> {
    pub dead_rules: &'p [RuleRef],
    pub dead_patterns: &'p [DeadPattern],
    /// Every file is ignored or unmatched.
    pub manages_nothing: bool,
}

impl Plan<'_> {
    /// What `--strict` refuses in this plan, or `None` when it passes.
    pub(crate) fn strict_failures(&self) -> Option<StrictFailures<'_>> {
        let summary = self.summary();
        let manages_nothing = summary.unchanged + summary.restrict + summary.expose == 0;
        let failures = StrictFailures {
            dead_rules: &self.dead_rules,
            dead_patterns: &self.dead_patterns,
            manages_nothing,
        };
        (!self.dead_rules.is_empty() || !self.dead_patterns.is_empty() || manages_nothing)
            .then_some(failures)
    }
}

/// A guardrail the plan breaks. `apply` refuses such a plan unless forced.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Breach {
    /// The plan would make a `never_public` file public.
    ExposesNeverPublic { fid: String, path: String },
    /// The plan would make public a folder that can hold `never_public` paths.
    ExposesFolderOverNeverPublic {
        /// File id of the folder.
        fid: String,
        path: String,
        /// The `never_public` glob (or why the folder could not be checked).
        glob: String,
        /// A path under the folder that the glob matches.
        example: String,
    },
    /// More changes than `max_changes` allows.
    MaxChanges {
        /// Changes planned.
        changes: usize,
        /// Managed files.
        managed: usize,
        /// The limit as written.
        limit: Limit,
    },
    /// More exposures than `max_exposures` allows.
    MaxExposures {
        /// Exposures planned.
        exposes: usize,
        /// `max_exposures`.
        limit: usize,
    },
}

impl Breach {
    /// The guardrail's setting name (`never_public`, `max_changes`, `max_exposures`).
    pub(crate) fn setting(&self) -> &'static str {
        match self {
            Breach::ExposesNeverPublic { .. } | Breach::ExposesFolderOverNeverPublic { .. } => {
                "never_public"
            }
            Breach::MaxChanges { .. } => "max_changes",
            Breach::MaxExposures { .. } => "max_exposures",
        }
    }
}

/// The guardrails a plan breaks.
pub(crate) fn breaches(plan: &Plan<'_>, guardrails: &Guardrails) -> Vec<Breach> {
    let mut found: Vec<Breach> = plan
        .changes()
        .filter(|c| c.to == Sharing::Public)
        .filter_map(|c| {
            let file = c.entry.file;
            let (fid, path) = (file.fid.clone(), file.path.clone());
            Some(
                match guardrails.exposed_if_public(&file.path, &file.filetype)? {
                    Exposure::Itself => Breach::ExposesNeverPublic { fid, path },
                    Exposure::Under { glob, example } => Breach::ExposesFolderOverNeverPublic {
                        fid,
                        path,
                        glob,
                        example,
                    },
                },
            )
        })
        .collect();
    let summary = plan.summary();
    let changes = summary.restrict + summary.expose;
    let managed = changes + summary.unchanged;
    if let Some(limit) = guardrails.max_changes
        && managed >= MAX_CHANGES_MIN_MANAGED
        && changes > limit.allowed(managed)
    {
        found.push(Breach::MaxChanges {
            changes,
            managed,
            limit,
        });
    }
    if let Some(limit) = guardrails.max_exposures
        && summary.expose > limit
    {
        found.push(Breach::MaxExposures {
            exposes: summary.expose,
            limit,
        });
    }
    found
}

/// Plans every file of the inventory against the policy.
pub(crate) fn diff<'i>(policy: &Policy, inventory: &'i Inventory) -> Plan<'i> {
    diff_targeted(policy, inventory, &Targets::all())
}

/// Plans every file of the inventory against the policy, and limits what the plan changes to
/// the `targets`: every file is still judged (a folder outside the targets still exposes
/// what lies below it; dead rules are the whole policy's), but only targeted files change,
/// count and show, with the folders the plan restricts that expose a targeted file more
/// than the policy wants: restricting them is the only way to fix what the world sees.
pub(crate) fn diff_targeted<'i>(
    policy: &Policy,
    inventory: &'i Inventory,
    targets: &Targets,
) -> Plan<'i> {
    let mut decider = policy.decider();
    // Which pattern of each rule decided some file, by position: no allocation per file.
    let mut deciding: Vec<Vec<bool>> = policy
        .rules
        .iter()
        .map(|rule| vec![false; rule.patterns.len()])
        .collect();
    let mut guarding = vec![false; policy.guardrails.never_public.len()];
    let mut hits = Vec::new();
    // Which files a `never_public` glob guards: a targeted one seen as public through a
    // folder brings that folder into the targets.
    let mut guarded = Vec::with_capacity(inventory.files().len());
    // Each entry starts as its own decision: the level the policy wants for the file alone.
    // `judge_by_folders` then adjusts for the folders above and below.
    let mut entries: Vec<Entry<'_>> = inventory
        .files()
        .iter()
        .map(|file| {
            let decision = decider.decide(&file.path, &file.filetype);
            if let Decision::Rule { rule, pattern } = decision
                && let Some(at) = rule.patterns.iter().position(|p| std::ptr::eq(p, pattern))
            {
                deciding[rule.number - 1][at] = true;
            }
            if !guarding.is_empty() {
                policy.guardrails.never_public_hits(&file.path, &mut hits);
                for &hit in &hits {
                    guarding[hit] = true;
                }
            }
            guarded.push(!guarding.is_empty() && !hits.is_empty());
            Entry {
                file,
                decided_by: decided_by(&decision),
                action: Action::Ignore,
                wanted: match decision.target() {
                    Target::Ignore => None,
                    Target::Share(level) => Some(level),
                },
                effective: file.sharing(),
                through: None,
                under_change: false,
                targeted: targets.matches(&file.path),
            }
        })
        .collect();
    let folder_changes = judge_by_folders(inventory.files(), &mut entries, &guarded);
    drop(guarded);
    // A rule is live when one of its patterns decided a file.
    let used: Vec<bool> = deciding.iter().map(|flags| flags.contains(&true)).collect();
    // A pattern of a live rule that never decided may still match files another pattern of
    // its rule decided first: only one that matches no file of a type the rule applies to is
    // dead. Rare, so those files are scanned only for such a pattern.
    let mut dead_patterns: Vec<DeadPattern> = policy
        .rules
        .iter()
        .filter(|rule| used[rule.number - 1])
        .flat_map(|rule| {
            rule.patterns
                .iter()
                .zip(&deciding[rule.number - 1])
                .filter(|(_, decided)| !**decided)
                .map(move |(p, _)| (rule, p))
        })
        .filter(|(rule, p)| {
            let paths = inventory
                .files()
                .iter()
                .filter(|f| rule.applies_to(&f.filetype))
                .map(|f| f.path.as_str());
            !crate::policy::matches_any(&p.glob, paths)
        })
        .map(|(rule, p)| DeadPattern {
            rule: Some(rule.number),
            pattern: p.glob.clone(),
            line: p.span.line,
        })
        .collect();
    dead_patterns.extend(
        policy
            .guardrails
            .never_public
            .iter()
            .zip(guarding)
            .filter(|(_, guarding)| !guarding)
            .map(|(p, _)| DeadPattern {
                rule: None,
                pattern: p.glob.clone(),
                line: p.span.line,
            }),
    );
    let dead_rules = policy
        .rules
        .iter()
        .zip(used)
        .filter(|(_, used)| !used)
        .map(|(rule, _)| RuleRef {
            number: rule.number,
            line: rule.span.line,
            patterns: rule.patterns.iter().map(|p| p.glob.clone()).collect(),
        })
        .collect();
    Plan {
        entries,
        dead_rules,
        dead_patterns,
        coverage: inventory.coverage(),
        folder_changes,
    }
}

/// Each file's effective level: the most exposed of its own and the folders' above it.
pub(crate) fn effective_levels(files: &[RemoteFile]) -> Vec<Sharing> {
    let tree = folders::Tree::build(files);
    tree.above(|i| files[i].sharing())
        .into_iter()
        .zip(files)
        .map(|(above, file)| above.map_or(file.sharing(), |(level, _)| level.max(file.sharing())))
        .collect()
}

/// Judges every entry by effective levels (own flags and the folders above): a folder more
/// exposed than a file below it wants is restricted to that file's level, and a file is left
/// alone when the folders above already give it its level. On entry, `wanted` holds what the
/// policy wants for each file alone; on return, what the plan makes the world see.
fn judge_by_folders<'i>(
    files: &'i [RemoteFile],
    entries: &mut [Entry<'i>],
    guarded: &[bool],
) -> Vec<FolderChange> {
    if !files.iter().any(|f| f.filetype == FileType::Folder) {
        // Nothing above any file: each is judged by its own flags alone.
        for entry in entries.iter_mut() {
            entry.action = Action::toward(entry.wanted, entry.current());
        }
        return Vec::new();
    }
    let tree = folders::Tree::build(files);
    let below = tree.below(|i| entries[i].wanted);
    // The level each file is to have: a folder no more exposed than anything below it wants.
    let goals: Vec<Option<Sharing>> = entries
        .iter()
        .zip(&below)
        .map(|(entry, below)| match below {
            Some((cap, _))
                if entry.file.filetype == FileType::Folder
                    && *cap < entry.wanted.unwrap_or(entry.current()) =>
            {
                Some(*cap)
            }
            _ => entry.wanted,
        })
        .collect();
    // The rare folders restricted for their contents: what requires it, with a copy of what
    // decided that file.
    let required: Vec<(usize, Box<Requirement>)> = (0..entries.len())
        .filter_map(|i| match (goals[i], below[i]) {
            (Some(goal), Some((_, by))) if Some(goal) != entries[i].wanted => Some((
                i,
                Box::new(Requirement {
                    path: files[by].path.clone(),
                    fid: files[by].fid.clone(),
                    wants: goal,
                    by: entries[by].decided_by.clone(),
                }),
            )),
            _ => None,
        })
        .collect();
    drop(below);
    for (i, requirement) in required {
        entries[i].decided_by = DecidedBy::Contents(requirement);
    }
    let now = tree.above(|i| files[i].sharing());
    // Below a folder the plan changes, a cascading server sets every folder to the new level
    // (lowering some even when the change exposes), and apply never raises a folder the policy
    // does not manage again: judge files below by that, so a file that owes its level to such
    // a folder gets it on its own.
    let restricted = tree.restricted_above(|i| goals[i].filter(|goal| *goal != files[i].sharing()));
    let after = tree.above(|i| match goals[i] {
        Some(goal) => goal,
        None => restricted[i].map_or(files[i].sharing(), |cap| cap.min(files[i].sharing())),
    });
    drop(restricted);
    for (i, entry) in entries.iter_mut().enumerate() {
        let own = entry.current();
        let above_now = now[i].filter(|(level, _)| *level > own);
        let effective_after = after[i].map_or(own, |(level, _)| level.max(own));
        entry.action = Action::toward(goals[i], effective_after);
        entry.wanted = goals[i];
        entry.effective = above_now.map_or(own, |(level, _)| level);
        entry.through = above_now.map(|(_, folder)| &files[folder]);
    }
    drop((now, after, goals));
    target_exposing_folders(&tree, entries, guarded);
    mark_folder_changes(&tree, entries)
}

/// Brings into the targets the folders the plan restricts that expose a targeted file more
/// than the policy (or `never_public`) allows, and the changes below them. Changing the file
/// alone cannot fix what the world sees through a folder, so without the folders a targeted
/// plan would show such a file as unchanged, and apply leave it exposed, while a targeted
/// check reports it (`--target 'finance/**'` does not match the folder `finance`). And a
/// folder restricted changes what the world sees of everything below it: the writes the
/// whole plan makes there (a file that wants public and was public only through the folder)
/// come too, so a targeted apply leaves nothing below less compliant than it found it.
fn target_exposing_folders(tree: &folders::Tree, entries: &mut [Entry<'_>], guarded: &[bool]) {
    if entries.iter().all(|entry| entry.targeted) {
        return;
    }
    let mut exposing = Vec::new();
    for (file, (entry, &guarded)) in entries.iter().zip(guarded).enumerate() {
        // The most the world may see of it: what the policy wants, and never public where
        // `never_public` guards it.
        let most = match (entry.wanted, guarded) {
            (Some(wanted), true) => Some(wanted.min(Sharing::Secret)),
            (Some(wanted), false) => Some(wanted),
            (None, true) => Some(Sharing::Secret),
            (None, false) => None,
        };
        if let Some(most) = most.filter(|most| entry.targeted && entry.effective > *most) {
            exposing.extend(tree.folders_above(file).map(|folder| (folder, most)));
        }
    }
    let mut pulled = vec![false; entries.len()];
    for (folder, most) in exposing {
        let entry = &mut entries[folder];
        if matches!(entry.action, Action::Change(to) if to < entry.current())
            && entry.current() > most
        {
            entry.targeted = true;
            pulled[folder] = true;
        }
    }
    if !pulled.contains(&true) {
        return;
    }
    for (entry, under) in entries.iter_mut().zip(tree.under_any(&pulled)) {
        if under && matches!(entry.action, Action::Change(_)) {
            entry.targeted = true;
        }
    }
}

/// Marks the entries below a folder that changes, and says what lies below each such folder.
fn mark_folder_changes(tree: &folders::Tree, entries: &mut [Entry<'_>]) -> Vec<FolderChange> {
    let changing: Vec<bool> = entries
        .iter()
        .map(|e| {
            e.targeted
                && e.file.filetype == FileType::Folder
                && matches!(e.action, Action::Change(_))
        })
        .collect();
    if !changing.contains(&true) {
        return Vec::new();
    }
    for (entry, under) in entries.iter_mut().zip(tree.under_any(&changing)) {
        entry.under_change = under;
    }
    let files_below = tree.count_below(|_| true);
    let secret_below = tree.count_below(|i| entries[i].current() == Sharing::Secret);
    entries
        .iter()
        .enumerate()
        .filter(|(i, _)| changing[*i])
        .filter_map(|(i, entry)| match entry.action {
            Action::Change(to) => Some(FolderChange {
                fid: entry.file.fid.clone(),
                path: entry.file.path.clone(),
                from: entry.current(),
                to,
                files_below: files_below[i],
                secret_below: secret_below[i],
            }),
            Action::Ignore | Action::Keep => None,
        })
        .collect()
}

fn decided_by(decision: &Decision<'_>) -> DecidedBy {
    match decision {
        Decision::Rule { rule, pattern } => DecidedBy::Rule {
            number: rule.number,
            pattern: pattern.glob.clone(),
            line: rule.span.line,
        },
        Decision::Default(_) => DecidedBy::Default,
        Decision::Folder => DecidedBy::Folder,
    }
}

mod folders;

#[cfg(test)]
pub(crate) mod tests;
