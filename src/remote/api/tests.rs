//! The API as data: URLs, links, fids, pages and inventories, including property tests that
//! throw arbitrary server text at them.

use std::time::Duration;

use proptest::prelude::*;
use reqwest::Url;
use serde_json::json;

use super::base::LinkError;
use super::paging::MAX_COUNT;
use super::*;

fn listed(fid: &str, name: &str, filetype: &str, parent: i64) -> ListedFile {
    ListedFile {
        fid: fid.into(),
        filename: Some(name.into()),
        filetype: Some(filetype.to_owned().into()),
        parent: Some(parent),
        world_readable: Some(false),
        share_key_enabled: Some(false),
        deleted: Some(false),
    }
}

fn base(url: &str) -> ApiBase {
    ApiBase::parse(url).unwrap()
}

fn fid(text: &str) -> Fid {
    Fid::parse(text, "alice").unwrap()
}

#[test]
fn urls_and_bodies() {
    let api = base("https://plotly.example.com");
    assert_eq!(
        api.list_url("al.ice", 3, 500).as_str(),
        "https://plotly.example.com/v2/folders/all?user=al.ice&page=3&page_size=500"
    );
    assert_eq!(
        base("http://h:8").file_url(&fid("alice:1")).as_str(),
        "http://h:8/v2/files/alice:1"
    );
    assert_eq!(
        api.current_user_url().as_str(),
        "https://plotly.example.com/v2/users/current"
    );
    assert_eq!(
        sharing_body(Sharing::Secret),
        json!({"world_readable": false, "share_key_enabled": true})
    );
    assert_eq!(
        sharing_body(Sharing::Public),
        json!({"world_readable": true, "share_key_enabled": false})
    );
}

#[test]
fn the_user_is_encoded_as_a_query_value_never_as_url_structure() {
    let url = base("https://h").list_url("a&page=9#x", 1, 500);
    assert_eq!(url.path(), "/v2/folders/all");
    assert_eq!(url.query_pairs().count(), 3);
    assert_eq!(url.fragment(), None);
}

#[test]
fn a_lookup_path_is_a_query_value_on_the_configured_origin() {
    let url = base("https://h:8").lookup_url(LookupKind::File, "a/b c?d#e&user=bob", "alice");
    assert_eq!(url.origin().ascii_serialization(), "https://h:8");
    assert_eq!(url.path(), "/v2/files/lookup");
    assert_eq!(url.fragment(), None);
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(
        pairs,
        [
            ("path".to_owned(), "a/b c?d#e&user=bob".to_owned()),
            ("user".to_owned(), "alice".to_owned())
        ]
    );
    assert_eq!(
        base("https://h")
            .lookup_url(LookupKind::Folder, "reports", "alice")
            .as_str(),
        "https://h/v2/folders/lookup?path=reports&user=alice"
    );
}

#[test]
fn only_the_managed_users_well_formed_fids_become_urls() {
    assert_eq!(Fid::check("alice:0", "alice"), FidCheck::Own(0));
    assert_eq!(Fid::check("alice:42", "alice"), FidCheck::Own(42));
    assert_eq!(fid("alice:42").as_str(), "alice:42");
    assert_eq!(Fid::check("bob:7", "alice"), FidCheck::Foreign);
    for bad in [
        "alice:1/../../users/current",
        "alice:../1",
        "alice",
        "alice:",
        ":3",
        "alice:-1",
        "alice:+1",
        "alice: 1",
        "alice:1:2",
        "alice:99999999999999999999",
        "al/ice:1",
        "al%2fice:1",
        "alice:1?x=1",
        "alice:1#x",
        "alice:１",
        "alice:01",
        "alice:00",
    ] {
        assert_eq!(Fid::check(bad, "alice"), FidCheck::Malformed, "{bad}");
        assert!(Fid::parse(bad, "alice").is_err(), "{bad}");
    }
}

proptest! {
    /// The fast classification agrees with the rule written out plainly: owner a username,
    /// number canonical decimal within `i64`.
    #[test]
    fn fid_check_agrees_with_the_plain_rule(
        owner in "[a-c:/% ]{0,3}|alice",
        number in "[0-9]{0,21}|-1|\\+1| 1|1:2",
    ) {
        let text = format!("{owner}:{number}");
        let plain = {
            let canonical = !number.is_empty()
                && number.bytes().all(|b| b.is_ascii_digit())
                && (number == "0" || !number.starts_with('0'));
            match number.parse::<i64>() {
                Ok(idlocal) if canonical && is_username(&owner) && owner == "alice" => {
                    FidCheck::Own(idlocal)
                }
                Ok(_) if canonical && is_username(&owner) => FidCheck::Foreign,
                _ => FidCheck::Malformed,
            }
        };
        prop_assert_eq!(Fid::check(&text, "alice"), plain);
    }
}

#[test]
fn links_stay_on_the_configured_origin() {
    let api = base("https://plotly.acme.com");
    let first = api.list_url("alice", 1, 500);
    let page2 = "https://plotly.acme.com/v2/folders/all?user=alice&page=2&page_size=500";
    assert_eq!(api.accept_link(page2, &first).unwrap().as_str(), page2);
    // A TLS-terminating proxy's http link is upgraded, never followed as http.
    let upgraded = api
        .accept_link(
            "http://plotly.acme.com/v2/folders/all?user=alice&page=2",
            &first,
        )
        .unwrap();
    assert_eq!(upgraded.scheme(), "https");
    assert_eq!(upgraded.port_or_known_default(), Some(443));
    // Relative links resolve against the base.
    assert!(api.accept_link("/v2/folders/all?page=2", &first).is_ok());
    for other in [
        "https://evil.example/v2/folders/all?page=2",
        "https://plotly.acme.com:8443/v2/folders/all?page=2",
        "http://plotly.acme.com:8443/v2/folders/all?page=2",
        "https://plotly.acme.com.evil.example/v2/folders/all",
        "https://user:pw@plotly.acme.com/v2/folders/all?page=2",
        "//evil.example/v2/folders/all",
        "ftp://plotly.acme.com/v2/folders/all",
    ] {
        let err = api.accept_link(other, &first).unwrap_err();
        assert!(
            matches!(err, LinkError::OtherOrigin { .. }),
            "{other}: {err:?}"
        );
        assert!(!err.to_string().contains(":pw@"), "{err}");
    }
    assert!(matches!(
        api.accept_link("https://plotly.acme.com/v2/users/current", &first),
        Err(LinkError::OtherPath { .. })
    ));
    // Never downgraded: an https link under an http (loopback) base is another origin.
    let local = base("http://127.0.0.1:9889");
    let first = local.list_url("alice", 1, 500);
    assert!(
        local
            .accept_link("https://127.0.0.1:9889/v2/folders/all?page=2", &first)
            .is_err()
    );
    assert!(
        local
            .accept_link("http://127.0.0.2:9889/v2/folders/all?page=2", &first)
            .is_err()
    );
}

#[test]
fn printed_urls_hide_user_info_and_control_characters() {
    assert_eq!(redact("https://u:p@h/x"), "https://***@h/x");
    // Over-redacting an `@` in a path is the price of never showing a password.
    assert_eq!(redact("https://h/x@y"), "https://***@y");
    for pasted in [
        "https://bob:hunter/2@plotly.acme.com",
        "https://bob:hun?ter2@plotly.acme.com",
        "https://bob:hun#ter2@plotly.acme.com",
        "bob:hunter2@plotly.acme.com",
    ] {
        assert!(
            !redact(pasted).contains("hunter2") && !redact(pasted).contains("hun"),
            "{pasted}"
        );
    }
    assert_eq!(redact("h\u{1b}]0;x\u{7}"), "h\\e]0;x\\u{7}");
    assert_eq!(redact("a\u{202e}b"), "a\\u{202e}b");
    assert!(redact(&"x".repeat(1000)).chars().count() <= 301);
}

#[test]
fn pages_parse_and_ignore_unknown_fields() {
    let page: ListPage = serde_json::from_str(
        r#"{"fid":"a:-1","children":{"count":3,"next":"http://h/v2/folders/all?page=2",
            "previous":null,"results":[{"fid":"a:1","filename":"x","filetype":"plot",
            "parent":-1,"world_readable":true,"share_key_enabled":false,
            "share_key":"KkpqfcY2FA5kJhU5QwnUs5","views":3}]}}"#,
    )
    .unwrap();
    assert_eq!(page.children.count, 3);
    assert_eq!(page.children.results[0].fid, "a:1");
    let last: ListPage =
        serde_json::from_str(r#"{"children":{"count":0,"next":null,"results":[]}}"#).unwrap();
    assert!(last.children.next.is_none() && last.children.results.is_empty());
    // No count: the page cannot be proven complete, so it does not parse.
    assert!(
        serde_json::from_str::<ListPage>(r#"{"children":{"next":null,"results":[]}}"#).is_err()
    );
}

#[test]
fn the_listing_parser_reads_pages_as_serde_json_does() {
    let text = r#"{"children":{"count":2,"next":null,"results":[
        {"fid":"a:1","filename":"caf\u00e9 \"q\"","filetype":"plot","parent":-1,
         "world_readable":true,"share_key_enabled":false,"api_urls":{"x":[1,{"y":null}]}},
        {"fid":"a:2","deleted":true}]}}"#;
    let page = parse_page(text.as_bytes()).unwrap();
    let reference: ListPage = serde_json::from_str(text).unwrap();
    assert_eq!(format!("{page:?}"), format!("{reference:?}"));
    assert_eq!(
        page.children.results[0].filename.as_deref(),
        Some("café \"q\"")
    );
    // Not UTF-8, a duplicate field, a missing count, trailing text: refused, and the message
    // escapes whatever it quotes.
    for bad in [
        &b"{\"children\":{\"count\":0,\"next\":\"\xff\",\"results\":[]}}"[..],
        br#"{"children":{"count":0,"count":1,"next":null,"results":[]}}"#,
        br#"{"children":{"next":null,"results":[]}}"#,
        br#"{"children":{"count":0,"next":null,"results":[]}} x"#,
    ] {
        let message = parse_page(bad).unwrap_err();
        assert!(!message.chars().any(char::is_control), "{message}");
    }
}

#[test]
fn error_messages_follow_chart_studio() {
    assert_eq!(
        error_message(
            r#"{"errors":[{"code":"UNKNOWN","message":"Bad API key","path":null,"field":null}],"detail":"Bad API key"}"#
        ),
        "Bad API key"
    );
    assert_eq!(
        error_message(r#"{"errors":[{"message":"a"},{"message":"b"}]}"#),
        "a\nb"
    );
    assert_eq!(error_message(r#"{"errors":[]}"#), r#"{"errors":[]}"#);
    assert_eq!(error_message(""), "No Content");
    assert_eq!(
        error_message("<html>bad gateway</html>"),
        "<html>bad gateway</html>"
    );
    assert_eq!(
        error_message("{\"errors\":[{\"message\":\"x\\u001b[2Jy\"}]}"),
        "x\\e[2Jy"
    );
}

#[test]
fn daily_quota_is_told_from_a_throttle() {
    let daily = "Hi there, you've reached the threshold of 100 combined image exports and chart saves per 24h period.";
    assert!(is_daily_quota(daily, None));
    assert!(!is_daily_quota(
        "Request was throttled. Expected available in 1 seconds.",
        Some(Duration::from_secs(1))
    ));
    assert!(is_daily_quota(
        "Too many requests",
        Some(Duration::from_hours(1))
    ));
    assert_eq!(retry_after(Some(" 7 ")), Some(Duration::from_secs(7)));
    assert_eq!(retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")), None);
}

#[test]
fn inventory_paths_come_from_the_folder_tree() {
    let files = vec![
        listed("a:3", "q3", "fold", 1),
        listed("a:1", "reports", "fold", -1),
        listed("a:4", "revenue", "plot", 3),
        listed("a:5", "top", "dashboard", -1),
        listed("a:6", "orphan", "plot", 99),
        ListedFile {
            deleted: Some(true),
            ..listed("a:7", "binned", "plot", -1)
        },
        listed("a:4", "revenue", "plot", 3),
    ];
    let built = build_inventory(files.clone(), "a").unwrap();
    let paths: Vec<(&str, &str)> = built
        .inventory
        .files()
        .iter()
        .map(|f| (f.fid.as_str(), f.path.as_str()))
        .collect();
    assert_eq!(
        paths,
        [
            ("a:1", "reports"),
            ("a:3", "reports/q3"),
            ("a:4", "reports/q3/revenue"),
            ("a:5", "top")
        ]
    );
    assert_eq!(
        built.unplaced,
        [Unplaced {
            fid: "a:6".into(),
            reason: "its folder 99 is not in the listing".into()
        }]
    );
    assert!(built.foreign.is_empty());
}

#[test]
fn distinct_counts_each_fid_once_whoever_owns_it() {
    let files = [
        listed("a:2", "x", "plot", -1),
        listed("a:1", "y", "plot", -1),
        listed("a:2", "x", "plot", -1),
        listed("bob:2", "z", "plot", -1),
        listed("bob:2", "z", "plot", -1),
        listed("a:01", "w", "plot", -1),
        listed("a:0", "v", "plot", -1),
    ];
    // a:2, a:1, bob:2, a:01 (malformed, counted by its text), a:0.
    assert_eq!(distinct(&files, "a"), 5);
    assert_eq!(distinct(&[], "a"), 0);
}

proptest! {
    /// The set of numbers agrees with a hash set, for numbers inside and far outside its
    /// bitmap, negative ones included.
    #[test]
    fn numbers_agree_with_a_hash_set(
        listing in 0..300usize,
        numbers in proptest::collection::vec(prop_oneof![0..700i64, any::<i64>()], 0..300),
    ) {
        let mut ours = Numbers::for_listing(listing);
        let mut reference = HashSet::new();
        for number in numbers {
            prop_assert_eq!(ours.insert(number), reference.insert(number));
            prop_assert_eq!(ours.len(), reference.len());
        }
    }
}

#[test]
fn other_users_files_are_skipped_and_counted_not_fatal() {
    let files = vec![
        listed("a:1", "mine", "plot", -1),
        ListedFile {
            share_key_enabled: None,
            parent: None,
            ..listed("bob:7", "theirs", "plot", -1)
        },
        listed("carol:2", "also", "plot", -1),
        listed("bob:7", "theirs", "plot", -1),
    ];
    let built = build_inventory(files.clone(), "a").unwrap();
    assert_eq!(built.inventory.len(), 1);
    assert_eq!(built.foreign, ["bob:7", "carol:2"]);
}

#[test]
fn a_missing_field_of_an_own_file_is_an_error_naming_it_not_a_guess() {
    let mut file = listed("a:1", "x", "plot", -1);
    file.share_key_enabled = None;
    let err = build_inventory(vec![file], "a").unwrap_err();
    assert!(
        err.contains("a:1") && err.contains("share_key_enabled"),
        "{err}"
    );
    let mut file = listed("a:2", "x", "plot", -1);
    file.parent = None;
    let err = build_inventory(vec![file], "a").unwrap_err();
    assert!(err.contains("a:2") && err.contains("`parent`"), "{err}");
    let file = listed("a:3", "x/y", "plot", -1);
    let err = build_inventory(vec![file], "a").unwrap_err();
    assert!(err.contains("a:3"), "{err}");
    // A name is not a URL: nothing before an `@` is hidden as if it were a password.
    let file = listed("a:4", "team/a @org/admins", "plot", -1);
    let err = build_inventory(vec![file], "a").unwrap_err();
    assert!(err.contains("`team/a @org/admins`"), "{err}");
}

#[test]
fn a_malformed_fid_fails_the_whole_listing() {
    let files = vec![
        listed("a:1", "fine", "plot", -1),
        listed("a:1/../../users/current", "x", "plot", -1),
    ];
    let err = build_inventory(files.clone(), "a").unwrap_err();
    assert!(err.contains("a:1/../../users/current"), "{err}");
}

#[test]
fn folder_loops_do_not_hang() {
    let files = vec![
        listed("a:1", "x", "fold", 2),
        listed("a:2", "y", "fold", 1),
        listed("a:3", "z", "plot", 1),
    ];
    let built = build_inventory(files.clone(), "a").unwrap();
    assert!(built.inventory.files().is_empty());
    assert_eq!(built.unplaced.len(), 3);
}

#[test]
fn counts_above_the_ceiling_and_endless_walks_are_refused() {
    assert!(check_count(MAX_COUNT).is_ok());
    assert!(matches!(
        check_count(1_000_000_000_000),
        Err(PagingError::CountTooLarge { .. })
    ));
    assert_eq!(numbered_pages(1000, 500), Some(2..=2));
    assert_eq!(numbered_pages(1001, 500), Some(2..=3));
    assert_eq!(numbered_pages(500, 500), None);
    assert_eq!(numbered_pages(10, 0), None);
    let api = base("http://127.0.0.1:1");
    let first = api.list_url("a", 1, 500);
    let mut walk = Walk::new(first.clone(), 1000, 500);
    assert!(matches!(walk.step(&first), Err(PagingError::Repeated(_))));
    for page in 2..=page_budget(1000, 500) {
        walk.step(&api.list_url("a", page, 500)).unwrap();
    }
    assert!(matches!(
        walk.step(&api.list_url("a", 99, 500)),
        Err(PagingError::TooManyPages { budget: 4, .. })
    ));
}

#[test]
fn a_walk_stops_at_a_page_that_adds_nothing() {
    let api = base("http://127.0.0.1:1");
    let first = api.list_url("a", 1, 500);
    let mut walk = Walk::new(first.clone(), 300, 100);
    walk.add_fids(&first, ["a:1", "a:2"].into_iter()).unwrap();
    let second = api.list_url("a", 2, 500);
    walk.step(&second).unwrap();
    walk.add_fids(&second, ["a:2", "a:3"].into_iter()).unwrap();
    let third = api.list_url("a", 3, 500);
    walk.step(&third).unwrap();
    assert!(matches!(
        walk.add_fids(&third, ["a:1", "a:3"].into_iter()),
        Err(PagingError::NoProgress(_))
    ));
    let fourth = api.list_url("a", 4, 500);
    walk.step(&fourth).unwrap();
    assert!(
        walk.add_fids(&fourth, std::iter::empty()).is_err(),
        "an empty page adds nothing"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever bytes a server sends as a page, the listing parser answers as serde_json
    /// does on the same text (and refuses text that is not UTF-8), without panicking.
    #[test]
    fn pages_parse_as_serde_json_parses_them(bytes in proptest::collection::vec(any::<u8>(), 0..200), item in "\\PC{0,60}") {
        let page = format!(r#"{{"children":{{"count":1,"next":null,"results":[{{"fid":{item:?},"filename":{item:?}}}]}}}}"#);
        for body in [bytes.as_slice(), page.as_bytes()] {
            let ours = parse_page(body).map(|p| format!("{p:?}"));
            let reference = serde_json::from_slice::<ListPage>(body).map(|p| format!("{p:?}"));
            prop_assert_eq!(ours.is_ok(), reference.is_ok());
            if let (Ok(ours), Ok(reference)) = (ours, reference) {
                prop_assert_eq!(ours, reference);
            }
        }
    }

    /// No link text, however hostile, yields a URL off the configured origin or panics.
    #[test]
    fn no_link_leaves_the_origin(link in "\\PC{0,80}", host_link in "(https?://)?(127\\.0\\.0\\.[12]|plotly\\.acme\\.com|x)(:[0-9]{1,5})?(/v2/folders/all)?(\\?page=[0-9])?") {
        for api in [base("https://plotly.acme.com"), base("http://127.0.0.1:9889")] {
            let first = api.list_url("alice", 1, 500);
            for text in [&link, &host_link] {
                if let Ok(url) = api.accept_link(text, &first) {
                    prop_assert_eq!(url.origin(), Url::parse(&api.to_string()).unwrap().origin());
                    prop_assert_eq!(url.path(), "/v2/folders/all");
                    prop_assert!(url.username().is_empty() && url.password().is_none());
                }
            }
        }
    }

    /// Whatever the fid, a file URL either is refused or stays one path segment under
    /// `/v2/files/` on the configured origin.
    #[test]
    fn fids_never_escape_their_path_segment(text in "\\PC{0,40}") {
        let api = base("https://plotly.acme.com");
        if let Ok(fid) = Fid::parse(&text, "alice") {
            let url = api.file_url(&fid);
            prop_assert_eq!(url.host_str(), Some("plotly.acme.com"));
            prop_assert_eq!(url.path_segments().unwrap().count(), 3);
            prop_assert!(url.path().starts_with("/v2/files/alice:"));
            prop_assert!(url.query().is_none() && url.fragment().is_none());
        }
    }

    /// A walk ends: whatever links a server sends, it is refused after the budget.
    #[test]
    fn walks_always_end(count in 0usize..5000, per_page in 0usize..600, links in proptest::collection::vec(1usize..50, 0..200)) {
        let api = base("http://127.0.0.1:1");
        let first = api.list_url("a", 1, 500);
        let mut walk = Walk::new(first, count, per_page);
        let mut accepted = 1;
        for page in links {
            if walk.step(&api.list_url("a", page, 500)).is_ok() {
                accepted += 1;
            }
        }
        prop_assert!(accepted <= page_budget(count, per_page));
        prop_assert_eq!(accepted, walk.pages());
    }

    /// Listed items never panic the inventory builder; every own fid it keeps is well formed
    /// and every path it makes is a valid path.
    #[test]
    fn inventories_from_arbitrary_items_are_sound(items in proptest::collection::vec(
        ("(a|b|a/x|)(:)?(-?[0-9]{0,3})", "[a-z/]{0,4}", prop_oneof!["fold", "plot"], -2i64..6, any::<bool>()), 0..40)) {
        let files: Vec<ListedFile> = items
            .iter()
            .map(|(fid, name, filetype, parent, public)| ListedFile {
                fid: fid.clone(),
                filename: Some(name.clone()),
                filetype: Some((*filetype).clone().into()),
                parent: Some(*parent),
                world_readable: Some(*public),
                share_key_enabled: Some(false),
                deleted: None,
            })
            .collect();
        if let Ok(built) = build_inventory(files.clone(), "a") {
            for file in built.inventory.files() {
                prop_assert!(matches!(Fid::check(&file.fid, "a"), FidCheck::Own(_)));
                prop_assert!(crate::inventory::check_path(&file.path).is_ok());
            }
        }
    }
}

#[test]
fn deep_nesting_cannot_grow_paths_without_bound() {
    // Ten folders of 1,000-byte names: the sixth passes 4,096 bytes.
    let name = |n: usize| format!("{n}{}", "n".repeat(999));
    let mut files: Vec<ListedFile> = (1..=10)
        .map(|n| {
            listed(
                &format!("a:{n}"),
                &name(n),
                "fold",
                i64::try_from(n).unwrap() - 1,
            )
        })
        .collect();
    files[0].parent = Some(-1);
    files.push(listed("a:11", "leaf", "plot", 10));
    let err = build_inventory(files.clone(), "a").unwrap_err();
    assert!(
        err.contains("a:5 under a path longer than 4096 bytes"),
        "{err}"
    );
}

#[test]
fn the_current_user_answer_is_checked_before_it_is_believed() {
    assert_eq!(
        current_username(br#"{"username": "al.ice_-1", "email": "a@example.com"}"#),
        Ok("al.ice_-1".to_owned())
    );
    for (body, why) in [
        (
            &b"<html>login</html>"[..],
            "not JSON (it starts `<html>login</html>`)",
        ),
        (br#"["alice"]"#, "has no `username`"),
        (br#"{"user": "alice"}"#, "has no `username`"),
        (br#"{"username": 7}"#, "not a string"),
        (br#"{"username": ""}"#, "cannot be a Chart Studio username"),
        (
            br#"{"username": "bob:1"}"#,
            "cannot be a Chart Studio username",
        ),
        (br#"{"username": "x\u001b[2J"}"#, "`x\\e[2J` cannot be"),
    ] {
        let err = current_username(body).unwrap_err();
        assert!(err.contains(why), "{why:?} not in {err}");
        assert!(!err.contains('\u{1b}'), "{err}");
    }
    let long = format!(
        r#"{{"username": "{}"}}"#,
        "a".repeat(MAX_USERNAME_BYTES + 1)
    );
    assert!(
        current_username(long.as_bytes())
            .unwrap_err()
            .contains("longer than 256 bytes")
    );
}

/// A page shaped like the API's (and the sandbox's): every documented field, nested objects
/// and arrays, escapes, a trashed file, a file of another user.
fn realistic_page() -> String {
    r#"{"fid":"alice:-1","filename":"","children":{"count":3,"next":"http://h/v2/folders/all?user=alice&page=2&page_size=3","previous":null,"results":[
 {"fid":"alice:1","filename":"caf\u00e9 \"q\" \\ \/","filetype":"plot","owner":"alice","parent":-1,"parented":false,"world_readable":true,"share_key_enabled":false,"share_key":null,"web_url":"http://h/~alice/1/","embed_url":"http://h/~alice/1.embed","api_urls":{"files":"http://h/v2/files/alice:1","plots":"http://h/v2/plots/alice:1"},"files_url":"","creation_time":"2026-01-01T00:00:00.000Z","date_modified":"2026-01-02T00:00:00.000Z","image_urls":{},"img_url":"","preview":"","references":[],"referencers":[],"collaborators":{"count":0,"next":null,"previous":null,"results":[]},"comments":null,"views":12,"title":"t\ud83d\ude00","is_theme":false,"is_template":false,"metadata":{"a":[1,-2.5e3,0.0,1E+2,{"b":[true,false,null,"\u0000"]}]}},
 {"fid":"alice:2","deleted":true,"filename":null,"parent":null},
 {"fid":"bob:7","filename":"x","filetype":"fold","parent":0,"world_readable":false}
]}}"#
    .to_owned()
}

#[test]
fn the_scan_reads_a_realistic_page_as_serde_json_does() {
    let text = realistic_page();
    let scanned = scan::scan_page(&text).expect("the fast path reads an ordinary page");
    let reference: ListPage = serde_json::from_str(&text).unwrap();
    assert_eq!(format!("{scanned:?}"), format!("{reference:?}"));
    assert_eq!(
        scanned.children.results[0].filename.as_deref(),
        Some("café \"q\" \\ /")
    );
}

#[test]
fn the_scan_leaves_what_it_is_unsure_of_to_serde_json() {
    // Accepted by serde_json, but not by the scan: an escaped key, a struct written as an
    // array, `-0`, deep nesting in an unread value (serde_json does not count the depth of
    // what it ignores). parse_page still reads them as serde_json does.
    let deep = format!(
        r#"{{"children":{{"count":0,"next":null,"results":[],"x":{}1{}}}}}"#,
        "[".repeat(130),
        "]".repeat(130)
    );
    for text in [
        r#"{"children":{"c\u006funt":1,"next":null,"results":[{"fid":"a:1"}]}}"#,
        r#"{"children":[1,null,[["a:1"]]]}"#,
        r#"{"children":{"count":1,"next":null,"results":[{"fid":"a:1","parent":-0}]}}"#,
        &deep,
    ] {
        assert!(scan::scan_page(text).is_none(), "{text}");
        let reference = serde_json::from_str::<ListPage>(text).map(|p| format!("{p:?}"));
        let ours = parse_page(text.as_bytes()).map(|p| format!("{p:?}"));
        assert_eq!(ours.is_ok(), reference.is_ok(), "{text}");
        if let (Ok(ours), Ok(reference)) = (ours, reference) {
            assert_eq!(ours, reference);
        }
    }
    // Refused by serde_json, and so by the scan: a repeated wanted field (even after a
    // null), a lone surrogate in a wanted string, a bad escape or raw control character in
    // an unread one, a trailing comma, a number with a leading zero, a fractional count.
    for text in [
        r#"{"children":{"count":1,"next":null,"results":[{"fid":"a:1","parent":null,"parent":2}]}}"#,
        r#"{"children":{"count":1,"next":null,"results":[{"fid":"a:\ud800"}]}}"#,
        r#"{"children":{"count":1,"next":null,"results":[{"fid":"a:1","x":"\q"}]}}"#,
        "{\"children\":{\"count\":1,\"next\":null,\"results\":[{\"fid\":\"a:1\",\"x\":\"\t\"}]}}",
        r#"{"children":{"count":1,"next":null,"results":[{"fid":"a:1",}]}}"#,
        r#"{"children":{"count":1,"next":null,"results":[{"fid":"a:1","x":01}]}}"#,
        r#"{"children":{"count":1.0,"next":null,"results":[]}}"#,
    ] {
        assert!(scan::scan_page(text).is_none(), "{text}");
        assert!(serde_json::from_str::<ListPage>(text).is_err(), "{text}");
        assert!(parse_page(text.as_bytes()).is_err(), "{text}");
    }
}

/// A byte a mutation may insert or put in place of another: JSON's structure, escapes,
/// digits, letters of the literals, a control character, a high byte.
fn mutation_byte() -> impl Strategy<Value = u8> {
    prop::sample::select(b"{}[]:,\"\\/-+.0123456789eEtrufalsn ubx\t\n\x00\x1f\xc3\xa9".to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Whatever a page becomes under a few edits (bytes deleted, inserted, replaced, the
    /// text cut short), the scan either leaves it to serde_json or reads exactly what
    /// serde_json reads; and parse_page answers as serde_json does.
    #[test]
    fn the_scan_never_accepts_what_serde_json_would_not(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 0..4u8, mutation_byte()), 1..4),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let mut bytes = realistic_page().into_bytes();
        for (at, kind, byte) in edits {
            let at = at.index(bytes.len());
            match kind {
                0 => { bytes.remove(at); }
                1 => bytes.insert(at, byte),
                _ => bytes[at] = byte,
            }
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        // Today's reading (before the scan): UTF-8 checked in bulk, then serde_json.
        let reference = std::str::from_utf8(&bytes)
            .map_err(|err| err.to_string())
            .and_then(|text| serde_json::from_str::<ListPage>(text).map_err(|err| err.to_string()))
            .map(|p| format!("{p:?}"));
        if let Ok(text) = std::str::from_utf8(&bytes)
            && let Some(scanned) = scan::scan_page(text)
        {
            prop_assert_eq!(Ok(format!("{scanned:?}")), reference.clone());
        }
        let ours = parse_page(&bytes).map(|p| format!("{p:?}"));
        prop_assert_eq!(ours.is_ok(), reference.is_ok());
        if let (Ok(ours), Ok(reference)) = (ours, reference) {
            prop_assert_eq!(ours, reference);
        }
    }

    /// The word-at-a-time search finds the first quote, backslash or control byte, as a
    /// byte-by-byte search does, from any start.
    #[test]
    fn the_string_search_finds_what_a_byte_loop_finds(
        bytes in proptest::collection::vec(prop::sample::select(b"a\"\\\x00\x1f\x20\x21\x5b\x5d\x7f\x80\xff".to_vec()), 0..40),
        from in 0..45usize,
    ) {
        let naive = bytes
            .get(from..)
            .and_then(|rest| rest.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20))
            .map(|offset| from + offset);
        prop_assert_eq!(scan::find_special(&bytes, from), naive);
    }

    /// The quote search of plain pages finds the first quote, as a byte loop does; and a page
    /// is plain exactly when it holds no backslash and no control byte.
    #[test]
    fn the_quote_search_and_the_plain_test_agree_with_byte_loops(
        bytes in proptest::collection::vec(prop::sample::select(b"a\"\\\x00\x09\x1f\x20\x7f\x80\xff".to_vec()), 0..200),
        from in 0..205usize,
    ) {
        let naive = bytes
            .get(from..)
            .and_then(|rest| rest.iter().position(|&b| b == b'"'))
            .map(|offset| from + offset);
        prop_assert_eq!(scan::find_quote(&bytes, from), naive);
        let plain = !bytes.iter().any(|&b| b == b'\\' || b < 0x20);
        prop_assert_eq!(scan::is_plain(&bytes), plain);
    }

    /// Arbitrary text: the scan never accepts what serde_json refuses, nor reads it otherwise.
    #[test]
    fn the_scan_agrees_with_serde_json_on_arbitrary_text(
        text in "[{}\\[\\]:,\"\\\\a-z0-9. -]{0,120}",
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let framed = format!(r#"{{"children":{{"count":1,"next":null,"results":[{text}]}}}}"#);
        let lossy = String::from_utf8_lossy(&bytes).into_owned();
        for candidate in [text.as_str(), framed.as_str(), lossy.as_str()] {
            if let Some(scanned) = scan::scan_page(candidate) {
                let reference = serde_json::from_str::<ListPage>(candidate).map(|p| format!("{p:?}"));
                prop_assert_eq!(Ok(format!("{scanned:?}")), reference.map_err(|e| e.to_string()));
            }
        }
    }
}
