use super::*;
use crate::inventory::{FileType, Inventory, RemoteFile, Sharing};
use crate::policy::Policy;
use crate::wire::accounts::{AccountPlanJson, PlansTotalJson};
use crate::wire::plan::{PlanFile, Source};

const SERVER: &str = "http://127.0.0.1:1";

/// `user`'s plan as `plan --out` writes it: one public file restricted.
fn plan_of(user: &str) -> PlanFile {
    let policy = Policy::parse("version: 1\ndefault: private\n", "p.yaml").unwrap();
    let inventory = Inventory::new(vec![RemoteFile {
        fid: format!("{user}:1"),
        path: "x".into(),
        filetype: FileType::Plot,
        flags: Sharing::Public.flags(),
    }]);
    let plan = crate::plan::diff(&policy, &inventory);
    let source = Source::Api {
        api_url: SERVER.into(),
        user: user.into(),
    };
    crate::render::json::plan_file(&plan, &policy, (source, &[]), &[])
}

fn section(user: &str) -> AccountPlanJson {
    AccountPlanJson {
        user: user.into(),
        server: SERVER.into(),
        policy: format!("{user}.yaml"),
        plan: Some(plan_of(user)),
        error: None,
    }
}

/// Two accounts, alice and bob, one restriction each.
fn saved() -> PlansFile {
    PlansFile {
        format_version: PLANS_FORMAT_VERSION,
        accounts: vec![section("alice"), section("bob")],
        total: PlansTotalJson {
            accounts: 2,
            failed: 0,
            restrict: 2,
            expose: 0,
            guardrails: 0,
        },
    }
}

fn edited(edit: impl FnOnce(&mut PlansFile)) -> Result<SavedAccounts, SavedAccountsError> {
    let mut file = saved();
    edit(&mut file);
    SavedAccounts::try_from(file)
}

fn given(users: &[&str]) -> Vec<(String, String, String)> {
    users
        .iter()
        .map(|u| ((*u).to_owned(), SERVER.to_owned(), format!("{u}.yaml")))
        .collect()
}

#[test]
fn a_plan_as_saved_is_accepted_and_matched_to_its_policies_in_their_order() {
    let saved = SavedAccounts::try_from(saved()).unwrap();
    let plans = match_policies(saved, &given(&["bob", "alice"])).unwrap();
    let fids: Vec<&str> = plans.iter().map(|p| p.changes[0].fid.as_str()).collect();
    assert_eq!(fids, ["bob:1", "alice:1"]);
}

#[test]
fn every_kind_of_tampering_is_refused() {
    let swapped = edited(|f| f.accounts[0].user = "bob".into());
    assert!(
        matches!(swapped, Err(SavedAccountsError::OtherAccount { ref user, ref planned, .. }) if user == "bob" && planned == "alice on http://127.0.0.1:1"),
        "{swapped:?}"
    );
    let twice = edited(|f| {
        f.accounts.push(section("alice"));
        f.total.accounts += 1;
        f.total.restrict += 1;
    });
    assert!(
        matches!(twice, Err(SavedAccountsError::Repeated { ref user, .. }) if user == "alice"),
        "{twice:?}"
    );
    let moved = edited(|f| f.accounts[1].server = "http://127.0.0.1:2".into());
    assert!(
        matches!(moved, Err(SavedAccountsError::OtherAccount { ref planned, .. }) if planned == "bob on http://127.0.0.1:1"),
        "{moved:?}"
    );
    let foreign = edited(|f| {
        let alice = f.accounts[0].plan.as_ref().unwrap().changes[0].clone();
        let bob = f.accounts[1].plan.as_mut().unwrap();
        bob.changes.push(alice);
        bob.summary.restrict += 1;
        f.total.restrict += 1;
    });
    assert!(
        matches!(foreign, Err(SavedAccountsError::Section { ref user, error: SavedPlanError::Inconsistent { .. }, .. }) if user == "bob"),
        "{foreign:?}"
    );
    let added = edited(|f| f.accounts.push(section("carol")));
    assert!(
        matches!(added, Err(SavedAccountsError::Miscounted { says, holds }) if says.accounts == 2 && holds.accounts == 3 && holds.restrict == 3),
        "{added:?}"
    );
    let failed = edited(|f| {
        f.accounts[1].plan = None;
        f.accounts[1].error = Some("boom".into());
        f.total.failed = 1;
        f.total.restrict = 1;
    });
    assert!(matches!(failed, Err(SavedAccountsError::Unplanned { .. })));
    let both = edited(|f| f.accounts[1].error = Some("boom".into()));
    assert!(matches!(both, Err(SavedAccountsError::Unplanned { .. })));
    assert_eq!(
        edited(|f| f.accounts.clear()).unwrap_err(),
        SavedAccountsError::Empty
    );
    assert_eq!(
        edited(|f| f.format_version = 1).unwrap_err(),
        SavedAccountsError::Version { found: 1 }
    );
}

#[test]
fn each_account_needs_exactly_one_policy_and_each_policy_a_section() {
    let saved = || SavedAccounts::try_from(saved()).unwrap();
    assert!(matches!(
        match_policies(saved(), &given(&["alice"])),
        Err(SavedAccountsError::NoPolicy { ref user, .. }) if user == "bob"
    ));
    assert!(matches!(
        match_policies(saved(), &given(&["alice", "bob", "carol"])),
        Err(SavedAccountsError::NoSection { ref user, .. }) if user == "carol"
    ));
    // One account's policy given twice finds its section used up the second time.
    assert!(matches!(
        match_policies(saved(), &given(&["alice", "alice"])),
        Err(SavedAccountsError::NoSection { ref user, .. }) if user == "alice"
    ));
}

#[test]
fn show_lets_a_failed_section_through_and_apply_does_not() {
    let mut file = saved();
    file.accounts[1].plan = None;
    file.accounts[1].error = Some("the server refused the key".into());
    file.total.failed = 1;
    file.total.restrict = 1;
    assert_eq!(check_sections(&file), Ok(()));
    assert!(matches!(
        SavedAccounts::try_from(file),
        Err(SavedAccountsError::Unplanned { ref user, .. }) if user == "bob"
    ));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any other user or server written into a section (hostile text included) is refused,
        /// never accepted and never a panic.
        #[test]
        fn a_section_naming_another_account_is_refused(
            index in 0usize..2,
            user in "\\PC{0,12}",
            server in proptest::option::of("\\PC{0,20}"),
        ) {
            let mut file = saved();
            let section = &mut file.accounts[index];
            let original = (section.user.clone(), section.server.clone());
            section.user = user;
            if let Some(server) = server {
                section.server = server;
            }
            let changed = (section.user.clone(), section.server.clone()) != original;
            let result = SavedAccounts::try_from(file);
            prop_assert_eq!(result.is_ok(), !changed, "{:?}", result);
        }
    }
}
