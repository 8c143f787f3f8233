use std::time::{Duration, Instant, SystemTime};

use super::*;

fn store() -> Store {
    let mut store = Store::default();
    for name in ["alice", "bob"] {
        store.add_user(User {
            username: name.to_owned(),
            api_key: format!("{name}-key"),
        });
    }
    store
}

fn reader(caller: Option<&str>) -> Reader<'_> {
    Reader {
        caller,
        share_key: None,
        now: Instant::now(),
    }
}

fn plot(store: &mut Store, path: &str, changes: Changes) -> String {
    let (folder, name) = path.rsplit_once('/').unwrap_or(("", path));
    let changes = Changes {
        filename: Some(name.to_owned()),
        parent_path: Some(folder.to_owned()),
        ..changes
    };
    let (owner, id) = store
        .create(Some("alice"), "plot", changes, SystemTime::now())
        .unwrap();
    format!("{owner}:{id}")
}

#[test]
fn ids_count_from_zero_per_user_and_paths_resolve() {
    let mut s = store();
    let fid = plot(&mut s, "a/b/chart", Changes::default());
    // Folders a (0) and b (1) were created on the way.
    assert_eq!(fid, "alice:2");
    assert_eq!(s.path_of("alice", 2).as_deref(), Some("a/b/chart"));
    let (file, view) = s
        .lookup(Some("alice"), None, "a/b/chart", None, Instant::now())
        .unwrap();
    assert_eq!((file.id, view), (2, View::Owner));
    assert!(
        s.lookup(Some("alice"), None, "a/b", Some(0), Instant::now())
            .is_err()
    );
    assert_eq!(
        s.lookup(Some("alice"), None, "b/chart", Some(0), Instant::now())
            .unwrap()
            .0
            .id,
        2
    );
}

#[test]
fn share_keys_appear_on_enable_and_vanish_on_disable() {
    let mut s = store();
    let fid = plot(&mut s, "x", Changes::default());
    let now = Instant::now();
    let enable = Changes {
        share_key_enabled: Some(true),
        world_readable: Some(false),
        ..Changes::default()
    };
    let (_, _, newly) = s
        .update(
            Some("alice"),
            &fid,
            enable.clone(),
            now,
            SystemTime::now(),
            true,
        )
        .unwrap();
    assert!(newly);
    let key = s
        .read(Some("alice"), &fid, None, now)
        .unwrap()
        .0
        .share_key
        .clone()
        .unwrap();
    let (_, _, again) = s
        .update(Some("alice"), &fid, enable, now, SystemTime::now(), true)
        .unwrap();
    assert!(!again, "re-enabling keeps the key");
    assert_eq!(
        s.read(Some("bob"), &fid, Some(&key), now).unwrap().1,
        View::Reader
    );
    s.hide_share_key("alice", 0, now + Duration::from_secs(5));
    assert!(
        s.read(None, &fid, Some(&key), now).is_err(),
        "hidden keys do not open files"
    );
    let disable = Changes {
        share_key_enabled: Some(false),
        ..Changes::default()
    };
    s.update(Some("alice"), &fid, disable, now, SystemTime::now(), true)
        .unwrap();
    assert!(
        s.read(None, &fid, Some(&key), now + Duration::from_secs(10))
            .is_err()
    );
}

#[test]
fn names_are_unique_per_folder_and_moves_check_them() {
    let mut s = store();
    plot(&mut s, "f/one", Changes::default());
    let two = plot(&mut s, "f/two", Changes::default());
    let rename = Changes {
        filename: Some("one".to_owned()),
        ..Changes::default()
    };
    let err = s
        .update(
            Some("alice"),
            &two,
            rename,
            Instant::now(),
            SystemTime::now(),
            true,
        )
        .unwrap_err();
    assert_eq!(err.status.as_u16(), 409);
    let into_itself = Changes {
        parent: Some(0),
        ..Changes::default()
    };
    let err = s
        .update(
            Some("alice"),
            "alice:0",
            into_itself,
            Instant::now(),
            SystemTime::now(),
            true,
        )
        .unwrap_err();
    assert_eq!(err.field, Some("parent"));
}

#[test]
fn restore_refuses_a_taken_name_without_changing_anything() {
    let mut s = store();
    let first = plot(&mut s, "dup", Changes::default());
    s.trash(Some("alice"), &first, Instant::now()).unwrap();
    plot(&mut s, "dup", Changes::default());
    let err = s
        .restore(Some("alice"), &first, Instant::now())
        .unwrap_err();
    assert_eq!(err.status.as_u16(), 409);
    assert!(
        s.read(Some("alice"), &first, None, Instant::now())
            .unwrap()
            .0
            .deleted
    );
}

#[test]
fn listings_are_cached_until_membership_changes() {
    let mut s = store();
    plot(&mut s, "a", Changes::default());
    let before = s
        .list(reader(Some("alice")), "alice", &Scope::All, &[], None)
        .unwrap();
    let again = s
        .list(reader(Some("alice")), "alice", &Scope::All, &[], None)
        .unwrap();
    assert!(Arc::ptr_eq(&before, &again));
    plot(&mut s, "b", Changes::default());
    let after = s
        .list(reader(Some("alice")), "alice", &Scope::All, &[], None)
        .unwrap();
    assert_eq!((before.len(), after.len()), (1, 2));
    let public_only = s
        .list(reader(Some("bob")), "alice", &Scope::All, &[], None)
        .unwrap();
    assert_eq!(public_only.len(), 2, "created public by default");
}

fn folder(store: &mut Store, path: &str) -> i64 {
    store
        .mkdirs(Some("alice"), path, None, SystemTime::now())
        .unwrap()
        .1
}

fn set_sharing(store: &mut Store, id: i64, flags: (bool, bool), cascade: bool) {
    let changes = Changes {
        world_readable: Some(flags.0),
        share_key_enabled: Some(flags.1),
        ..Changes::default()
    };
    let fid = format!("alice:{id}");
    store
        .update(
            Some("alice"),
            &fid,
            changes,
            Instant::now(),
            SystemTime::now(),
            cascade,
        )
        .unwrap();
}

fn flags(store: &Store, id: i64) -> (bool, bool) {
    let file = store.get("alice", id).unwrap();
    (file.world_readable, file.share_key_enabled)
}

fn private() -> Changes {
    Changes {
        world_readable: Some(false),
        ..Changes::default()
    }
}

#[test]
fn a_public_folder_opens_what_is_below_it_and_a_folder_key_too() {
    let mut s = store();
    let top = folder(&mut s, "top");
    let deep = plot(&mut s, "top/mid/deep", private());
    let now = Instant::now();
    assert!(s.read(None, &deep, None, now).is_err());
    set_sharing(&mut s, top, (true, false), false);
    assert_eq!(s.read(None, &deep, None, now).unwrap().1, View::Reader);
    assert_eq!(flags(&s, 2), (false, false), "no cascade: own flags kept");
    set_sharing(&mut s, top, (false, true), false);
    assert!(s.read(None, &deep, None, now).is_err());
    let key = s.get("alice", top).unwrap().share_key.clone().unwrap();
    assert!(s.read(Some("bob"), &deep, Some(&key), now).is_ok());
    assert!(s.read(Some("bob"), &deep, Some("wrong"), now).is_err());
    // Trashed files stay closed whatever their folder says.
    s.trash(Some("alice"), &deep, now).unwrap();
    assert!(s.read(None, &deep, Some(&key), now).is_err());
}

#[test]
fn cascade_gives_every_descendant_the_folder_flags_keeping_keys() {
    let mut s = store();
    let top = folder(&mut s, "top");
    let secret = plot(
        &mut s,
        "top/a/secret",
        Changes {
            share_key_enabled: Some(true),
            ..private()
        },
    );
    let public = plot(&mut s, "top/public", Changes::default());
    let key = s
        .read(Some("alice"), &secret, None, Instant::now())
        .unwrap()
        .0
        .share_key
        .clone();
    set_sharing(&mut s, top, (false, true), true);
    let ids: Vec<i64> = [&secret, &public]
        .iter()
        .map(|fid| parse_fid(fid).unwrap().1)
        .collect();
    for id in ids.iter().copied().chain([top + 1]) {
        assert_eq!(flags(&s, id), (false, true), "alice:{id}");
        assert!(s.get("alice", id).unwrap().share_key.is_some());
    }
    assert_eq!(s.get("alice", ids[0]).unwrap().share_key, key, "kept");
    set_sharing(&mut s, top, (false, false), true);
    assert!(ids.iter().all(|&id| flags(&s, id) == (false, false)));
    assert!(
        ids.iter()
            .all(|&id| s.get("alice", id).unwrap().share_key.is_none())
    );
}

#[test]
fn a_chain_of_100_000_folders_cascades_and_lists_in_one_pass() {
    // Quadratic work here (a walk to the root per file) would take billions of steps.
    let mut s = store();
    let account = s.account_mut("alice").unwrap();
    let mut parent = ROOT;
    for _ in 0..100_000 {
        parent = insert_file(account, "alice", "fold", parent, "f", SystemTime::now()).unwrap();
    }
    set_sharing(&mut s, 0, (true, false), true);
    assert_eq!(flags(&s, parent), (true, false));
    let seen = s
        .list(reader(Some("bob")), "alice", &Scope::All, &[], None)
        .unwrap();
    assert_eq!(seen.len(), 100_000);
    set_sharing(&mut s, 0, (false, false), false);
    let seen = s
        .list(reader(None), "alice", &Scope::All, &[], None)
        .unwrap();
    assert_eq!(
        seen.len(),
        99_999,
        "all but the top, public by their own flags"
    );
}

#[test]
fn a_parent_loop_from_a_hand_edited_state_reads_as_closed() {
    let wall = SystemTime::now();
    let a = StoredFile::new("alice", 0, 1, "a", "fold", wall);
    let b = StoredFile::new("alice", 1, 0, "b", "fold", wall);
    let s = Store::from_parts(Vec::new(), vec![a, b]);
    assert!(s.read(None, "alice:0", None, Instant::now()).is_err());
    let seen = s
        .list(reader(None), "alice", &Scope::All, &[], None)
        .unwrap();
    assert!(seen.is_empty());
}

/// What `plotward status` relies on: a lookup finds the owner's file whatever its sharing,
/// others only what is open to them, and nobody a trashed file (404 in every case).
#[test]
fn lookup_hides_trashed_files_and_others_private_ones() {
    let mut s = store();
    let now = Instant::now();
    let private = Changes {
        world_readable: Some(false),
        ..Changes::default()
    };
    let fid = plot(&mut s, "reports/chart", private);
    let found = |s: &Store, caller: Option<&str>| {
        s.lookup(caller, Some("alice"), "reports/chart", None, now)
            .map(|(file, view)| (file.id, view))
            .map_err(|err| err.status.as_u16())
    };
    let id: i64 = fid.split_once(':').unwrap().1.parse().unwrap();
    assert_eq!(found(&s, Some("alice")), Ok((id, View::Owner)));
    assert_eq!(found(&s, Some("bob")), Err(404), "private: not for bob");
    assert_eq!(found(&s, None), Err(404), "nor for anyone");
    s.trash(Some("alice"), &fid, now).unwrap();
    assert_eq!(found(&s, Some("alice")), Err(404), "trashed: not found");
}
