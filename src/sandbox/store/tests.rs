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
        .update(Some("alice"), &fid, enable.clone(), now, SystemTime::now())
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
        .update(Some("alice"), &fid, enable, now, SystemTime::now())
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
    s.update(Some("alice"), &fid, disable, now, SystemTime::now())
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
        .list(Some("alice"), "alice", &Scope::All, &[], None)
        .unwrap();
    let again = s
        .list(Some("alice"), "alice", &Scope::All, &[], None)
        .unwrap();
    assert!(Arc::ptr_eq(&before, &again));
    plot(&mut s, "b", Changes::default());
    let after = s
        .list(Some("alice"), "alice", &Scope::All, &[], None)
        .unwrap();
    assert_eq!((before.len(), after.len()), (1, 2));
    let public_only = s
        .list(Some("bob"), "alice", &Scope::All, &[], None)
        .unwrap();
    assert_eq!(public_only.len(), 2, "created public by default");
}
