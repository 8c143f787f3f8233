use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use plotward_sandbox::{FaultConfig, Options, Sandbox, Seed};

use crate::api::{Api, As, example_sandbox, sandbox_with};

fn is_share_key(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|k| k.len() == 22 && k.chars().all(|c| c.is_ascii_alphanumeric()))
}

#[test]
fn current_user_and_the_documented_401_body() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    let me = api.get("/v2/users/current", As::User("alice"));
    assert_eq!(
        (me.status, me.body["username"].as_str()),
        (StatusCode::OK, Some("alice"))
    );
    let bad = api.get("/v2/users/current", As::Key("alice", "wrong"));
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        bad.body,
        json!({"errors": [{"code": "UNKNOWN", "message": "Bad API key", "path": null, "field": null}],
               "detail": "Bad API key"})
    );
    assert_eq!(
        api.get("/v2/users/current", As::Anonymous).status,
        StatusCode::UNAUTHORIZED
    );
    // Behind a proxy the client moves its credentials to `plotly-authorization`, which wins.
    let proxied = Api::send(
        reqwest::blocking::Client::new()
            .get(api.url("/v2/users/current"))
            .basic_auth("proxy", Some("proxy-pass"))
            .header("plotly-authorization", "Basic Ym9iOmJvYi1rZXk="),
    );
    assert_eq!(proxied.body["username"], "bob");
}

#[test]
fn file_objects_have_the_documented_fields() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    let fid = api.fid("finance/cash-flow");
    let file = api.get(&format!("/v2/files/{fid}"), As::User("alice")).body;
    let (owner, id) = fid.split_once(':').unwrap();
    assert_eq!(file["fid"], fid);
    assert_eq!(file["owner"], owner);
    assert_eq!(file["filename"], "cash-flow");
    assert_eq!(file["filetype"], "plot");
    assert!(file["parent"].as_i64().unwrap() >= 0);
    assert_eq!(file["world_readable"], false);
    assert_eq!(file["share_key_enabled"], true);
    assert!(is_share_key(&file["share_key"]), "{}", file["share_key"]);
    assert_eq!(file["deleted"], false);
    let web = format!("{}/~{owner}/{id}/", sandbox.url());
    assert_eq!(file["web_url"], web);
    assert_eq!(
        file["embed_url"],
        format!("{}/~{owner}/{id}.embed", sandbox.url())
    );
    assert_eq!(
        file["api_urls"]["files"],
        format!("{}/v2/files/{fid}", sandbox.url())
    );
    for field in ["creation_time", "date_modified"] {
        assert!(file[field].as_str().unwrap().ends_with('Z'), "{field}");
    }
    let root = api
        .get(
            &format!("/v2/files/{}", api.fid("overview")),
            As::User("alice"),
        )
        .body;
    assert_eq!(root["parent"], -1);
}

#[test]
fn partial_updates_by_put_json_and_patch_form() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    let fid = api.fid("finance/payroll-chart");
    let path = format!("/v2/files/{fid}");
    let secret = api.json(
        Method::PUT,
        &path,
        As::User("alice"),
        &json!({"world_readable": false, "share_key_enabled": true}),
    );
    assert_eq!(secret.status, StatusCode::OK);
    assert!(is_share_key(&secret.body["share_key"]));
    assert_eq!(
        secret.body["filename"], "payroll-chart",
        "partial: other fields kept"
    );
    // The documented recipe: requests.patch(url, {"world_readable": False}) sends a form body.
    let public = api.form(
        Method::PATCH,
        &path,
        As::User("alice"),
        &[("world_readable", "True"), ("share_key_enabled", "False")],
    );
    assert_eq!(public.status, StatusCode::OK, "{}", public.body);
    assert_eq!(public.body["world_readable"], true);
    assert_eq!(public.body["share_key_enabled"], false);
    assert_eq!(
        public.body["share_key"],
        Value::Null,
        "disabling clears the key"
    );
    let renamed = api.json(
        Method::PATCH,
        &path,
        As::User("alice"),
        &json!({"filename": "pc"}),
    );
    assert_eq!(renamed.body["filename"], "pc");
    assert_eq!(renamed.body["world_readable"], true);
    let bad = api.form(
        Method::PATCH,
        &path,
        As::User("alice"),
        &[("world_readable", "maybe")],
    );
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["errors"][0]["field"], "world_readable");
}

#[test]
fn others_get_404_for_private_files_and_never_see_admin_fields() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    let private = format!("/v2/files/{}", api.fid("hr/headcount"));
    let public = format!("/v2/files/{}", api.fid("public/world-map"));
    for who in [As::User("bob"), As::Anonymous] {
        assert_eq!(api.get(&private, who).status, StatusCode::NOT_FOUND);
        let seen = api.get(&public, who);
        assert_eq!(seen.status, StatusCode::OK);
        for hidden in ["share_key", "share_key_enabled", "deleted"] {
            assert!(
                seen.body.get(hidden).is_none(),
                "{hidden} shown to a non-owner"
            );
        }
    }
    let write = api.json(
        Method::PATCH,
        &public,
        As::User("bob"),
        &json!({"world_readable": false}),
    );
    assert_eq!(write.status, StatusCode::FORBIDDEN);
    let write = api.json(
        Method::PATCH,
        &private,
        As::User("bob"),
        &json!({"world_readable": true}),
    );
    assert_eq!(write.status, StatusCode::NOT_FOUND);
    let anonymous = api.json(
        Method::PATCH,
        &public,
        As::Anonymous,
        &json!({"world_readable": true}),
    );
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[test]
fn a_share_key_opens_a_secret_file() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    let path = format!("/v2/files/{}", api.fid("finance/cash-flow"));
    let key = api.get(&path, As::User("alice")).body["share_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(api.get(&path, As::Anonymous).status, StatusCode::NOT_FOUND);
    assert_eq!(
        api.get(&format!("{path}?share_key=nope"), As::Anonymous)
            .status,
        StatusCode::NOT_FOUND
    );
    let opened = api.get(&format!("{path}?share_key={key}"), As::Anonymous);
    assert_eq!(opened.status, StatusCode::OK);
    assert_eq!(opened.body["filename"], "cash-flow");
    let log = api
        .get("/_sandbox/requests", As::Anonymous)
        .body
        .to_string();
    assert!(!log.contains(&key), "the request log holds a share key");
    assert!(log.contains("share_key=(redacted)"));
    // Turning the link off revokes the key.
    api.json(
        Method::PATCH,
        &path,
        As::User("alice"),
        &json!({"share_key_enabled": false}),
    );
    assert_eq!(
        api.get(&format!("{path}?share_key={key}"), As::Anonymous)
            .status,
        StatusCode::NOT_FOUND
    );
}

/// Sets a file's or folder's sharing as alice, checking the write succeeded; returns the
/// folder object as written.
fn share(api: &Api, fid: &str, world_readable: bool, share_key_enabled: bool) -> Value {
    let reply = api.json(
        Method::PATCH,
        &format!("/v2/folders/{fid}"),
        As::User("alice"),
        &json!({"world_readable": world_readable, "share_key_enabled": share_key_enabled}),
    );
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

/// The example account on a sandbox whose folder changes stay on the folder.
fn example_without_cascade() -> Sandbox {
    sandbox_with(
        Seed::load_snapshot(&crate::harness::repo("examples/inventory.json")).unwrap(),
        Options {
            folder_cascade: false,
            ..Options::default()
        },
    )
}

/// The example account with its `public/` folder made public while cascading is off, so the
/// files inside keep their own flags (`public/demo` stays private by its own flag). Cascading
/// stays off.
fn example_with_a_public_folder() -> Sandbox {
    let sandbox = example_without_cascade();
    let api = Api::new(&sandbox);
    share(&api, &api.fid("public"), true, false);
    sandbox
}

/// An anonymous visit to a full URL (a web page is HTML, not JSON): status and body.
fn visit(url: &str) -> (StatusCode, String) {
    let response = reqwest::blocking::get(url).expect("the sandbox answers");
    let status = response.status();
    (status, response.text().expect("a body"))
}

/// alice's own flags `(world_readable, share_key_enabled)` for these paths, read from her
/// `/v2/folders/all` listing (the owner's view).
fn own_flags(api: &Api, paths: &[&str]) -> Vec<(bool, bool)> {
    let all = api.get("/v2/folders/all?page_size=1000", As::User("alice"));
    let results = all.body["children"]["results"].as_array().unwrap();
    paths
        .iter()
        .map(|path| {
            let fid = api.fid(path);
            let file = results.iter().find(|f| f["fid"] == fid.as_str()).unwrap();
            (
                file["world_readable"].as_bool().unwrap(),
                file["share_key_enabled"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_private_file_in_a_public_folder_is_public_until_the_folder_is_private() {
    let sandbox = example_with_a_public_folder();
    let api = Api::new(&sandbox);
    // `public` is public; `public/demo` is private by its own flag.
    let demo = api.fid("public/demo");
    let own = api
        .get(&format!("/v2/files/{demo}"), As::User("alice"))
        .body;
    assert_eq!(own["world_readable"], false, "the owner sees the own flag");
    let web_url = own["web_url"].as_str().unwrap().to_owned();
    assert!(web_url.starts_with(sandbox.url()), "{web_url}");
    let json_url = format!("{}.json", web_url.trim_end_matches('/'));
    for path in [format!("/v2/files/{demo}"), format!("/v2/plots/{demo}")] {
        let seen = api.get(&path, As::Anonymous);
        assert_eq!(seen.status, StatusCode::OK, "{path}");
        assert!(seen.body.get("share_key").is_none());
    }
    let (status, page) = visit(&web_url);
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("demo"), "{page}");
    assert_eq!(visit(&json_url).0, StatusCode::OK);
    let (_, page_path) = web_url.split_at(sandbox.url().len());
    assert_eq!(
        api.call(Method::POST, page_path, As::User("alice")).status,
        StatusCode::NOT_FOUND,
        "web URLs are read-only"
    );
    let children = |who| {
        let folder = api.get(&format!("/v2/folders/{}", api.fid("public")), who);
        folder.body["children"]["count"].as_u64().unwrap()
    };
    assert_eq!(
        children(As::User("bob")),
        children(As::User("alice")),
        "every child is open"
    );

    share(&api, &api.fid("public"), false, false);
    assert_eq!(
        api.get(&format!("/v2/files/{demo}"), As::Anonymous).status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(visit(&web_url).0, StatusCode::NOT_FOUND);
    assert_eq!(visit(&json_url).0, StatusCode::NOT_FOUND);
    // The owner still opens the web URL with the API credentials.
    let mine = Api::send(
        reqwest::blocking::Client::new()
            .get(&json_url)
            .basic_auth("alice", Some("alice-key")),
    );
    assert_eq!(mine.status, StatusCode::OK);
}

#[test]
fn moves_follow_the_folder_one_way_only() {
    let sandbox = example_with_a_public_folder();
    let api = Api::new(&sandbox);
    let move_to = |fid: &str, folder: &str| {
        let parent = api.fid(folder);
        let (_, number) = parent.split_once(':').unwrap();
        let reply = api.json(
            Method::PATCH,
            &format!("/v2/files/{fid}"),
            As::User("alice"),
            &json!({"parent": number.parse::<i64>().unwrap()}),
        );
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body
    };
    let anonymous = |fid: &str| api.get(&format!("/v2/files/{fid}"), As::Anonymous).status;
    // A public item moved into a private folder stays public.
    let map = api.fid("public/world-map");
    let moved = move_to(&map, "hr");
    assert_eq!(moved["world_readable"], true);
    assert_eq!(anonymous(&map), StatusCode::OK);
    // A private item is public while it is in a public folder, and only then.
    let headcount = api.fid("hr/headcount");
    assert_eq!(anonymous(&headcount), StatusCode::NOT_FOUND);
    let moved = move_to(&headcount, "public");
    assert_eq!(moved["world_readable"], false, "a move keeps the own flag");
    assert_eq!(anonymous(&headcount), StatusCode::OK);
    move_to(&headcount, "hr");
    assert_eq!(anonymous(&headcount), StatusCode::NOT_FOUND);
    // Created in a public folder: public while there, even when created private.
    let created = api.json(
        Method::POST,
        "/v2/plots",
        As::User("alice"),
        &json!({"filename": "new", "parent_path": "public", "world_readable": false,
                "figure": {"data": []}}),
    );
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let new = created.body["file"]["fid"].as_str().unwrap().to_owned();
    assert_eq!(anonymous(&new), StatusCode::OK);
}

#[test]
fn a_secret_folders_key_opens_its_private_contents() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    api.faults(&json!({"folder_cascade": false}));
    let hr = api.fid("hr");
    let key = share(&api, &hr, false, true)["share_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let headcount = api.fid("hr/headcount");
    let path = format!("/v2/grids/{headcount}");
    assert_eq!(api.get(&path, As::Anonymous).status, StatusCode::NOT_FOUND);
    assert_eq!(
        api.get(&format!("{path}?share_key=nope"), As::Anonymous)
            .status,
        StatusCode::NOT_FOUND
    );
    let opened = api.get(&format!("{path}?share_key={key}"), As::User("bob"));
    assert_eq!(opened.status, StatusCode::OK);
    for hidden in ["share_key", "share_key_enabled"] {
        assert!(opened.body.get(hidden).is_none(), "{hidden} shown to bob");
    }
    let own = api.get(&path, As::User("alice")).body;
    assert_eq!(
        (
            own["world_readable"].clone(),
            own["share_key_enabled"].clone()
        ),
        (json!(false), json!(false)),
        "cascade off: the grid keeps its own flags"
    );
    // The secret link form the client builds: web_url[:-1] + "?share_key=" + key.
    let web = own["web_url"].as_str().unwrap().trim_end_matches('/');
    assert_eq!(visit(&format!("{web}?share_key={key}")).0, StatusCode::OK);
    assert_eq!(visit(web).0, StatusCode::NOT_FOUND);
    // The folder opens with its key, listing every child; without it, it is a 404.
    let listed = |query: &str| {
        let folder = api.get(&format!("/v2/folders/{hr}{query}"), As::User("bob"));
        (folder.status, folder.body["children"]["count"].clone())
    };
    let everything = api.get(&format!("/v2/folders/{hr}"), As::User("alice"));
    assert_eq!(
        listed(&format!("?share_key={key}")),
        (StatusCode::OK, everything.body["children"]["count"].clone())
    );
    assert_eq!(listed("").0, StatusCode::NOT_FOUND);
    // A file's own key opens that file only, not its neighbours.
    let cash_flow = api.fid("finance/cash-flow");
    let file_key = api
        .get(&format!("/v2/files/{cash_flow}"), As::User("alice"))
        .body["share_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let neighbour = format!(
        "/v2/files/{}?share_key={file_key}",
        api.fid("finance/payroll-chart")
    );
    assert_eq!(
        api.get(&neighbour, As::Anonymous).status,
        StatusCode::NOT_FOUND
    );
}

const FINANCE: [&str; 10] = [
    "finance/budgets",
    "finance/budgets/2025",
    "finance/budgets/2026/capex-plan",
    "finance/budgets/2025/opex",
    "finance/payroll",
    "finance/payroll-chart",
    "finance/cash-flow",
    "finance/board-pack",
    "finance/budgets/2026",
    "finance/budgets/2026/opex",
];

#[test]
fn cascade_on_passes_a_folders_sharing_to_everything_below() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    let finance = api.fid("finance");
    let cash_flow = format!("/v2/files/{}", api.fid("finance/cash-flow"));
    let old_key = api.get(&cash_flow, As::User("alice")).body["share_key"].clone();
    // Mixed below: payroll and capex-plan public, cash-flow and board-pack secret.
    assert!(own_flags(&api, &FINANCE).contains(&(true, false)));

    share(&api, &finance, true, false);
    assert_eq!(
        own_flags(&api, &FINANCE),
        vec![(true, false); FINANCE.len()]
    );
    share(&api, &finance, false, false);
    assert_eq!(
        own_flags(&api, &FINANCE),
        vec![(false, false); FINANCE.len()],
        "public -> private makes children and grandchildren private"
    );
    assert_eq!(
        api.get(&cash_flow, As::Anonymous).status,
        StatusCode::NOT_FOUND
    );
    share(&api, &finance, false, true);
    assert_eq!(
        own_flags(&api, &FINANCE),
        vec![(false, true); FINANCE.len()]
    );
    let secret = api.get(&cash_flow, As::User("alice")).body;
    assert!(is_share_key(&secret["share_key"]), "a new key once secret");
    assert_ne!(
        secret["share_key"], old_key,
        "the old key went with private"
    );
    // A write that leaves the folder's flags as they were (a rename) does not cascade.
    api.json(
        Method::PATCH,
        &cash_flow,
        As::User("alice"),
        &json!({"world_readable": true, "share_key_enabled": false}),
    );
    api.json(
        Method::PATCH,
        &format!("/v2/folders/{finance}"),
        As::User("alice"),
        &json!({"filename": "money", "world_readable": false}),
    );
    let kept = api.get(&cash_flow, As::User("alice")).body;
    assert_eq!(kept["world_readable"], true);
}

#[test]
fn cascade_switches_off_at_start_and_on_and_off_at_run_time() {
    let sandbox = example_without_cascade();
    let api = Api::new(&sandbox);
    let finance = api.fid("finance");
    let before = own_flags(&api, &FINANCE);
    share(&api, &finance, true, false);
    assert_eq!(own_flags(&api, &FINANCE), before, "off from the start");
    assert_eq!(
        api.get("/_sandbox/faults", As::Anonymous).body["folder_cascade"],
        Value::Null
    );

    api.faults(&json!({"folder_cascade": true}));
    share(&api, &finance, false, false);
    assert_eq!(
        own_flags(&api, &FINANCE),
        vec![(false, false); FINANCE.len()]
    );

    // Back to the start setting (off): children keep their own flags.
    api.faults(&json!({}));
    let map = api.fid("public/world-map");
    share(&api, &api.fid("public"), false, false);
    assert_eq!(own_flags(&api, &["public/world-map"]), vec![(true, false)]);
    assert_eq!(
        api.get(&format!("/v2/files/{map}"), As::Anonymous).status,
        StatusCode::OK
    );
}

#[test]
fn the_sandbox_command_takes_no_folder_cascade() {
    let sandbox = crate::harness::sandbox_process([
        std::ffi::OsString::from("--no-folder-cascade"),
        "--user".into(),
        "alice:alice-key".into(),
        "--seed".into(),
        crate::harness::repo("examples/inventory.json").into(),
    ]);
    let url = &sandbox.url;
    let client = reqwest::blocking::Client::new();
    let alice = |request: reqwest::blocking::RequestBuilder| {
        Api::send(request.basic_auth("alice", Some("alice-key")))
    };
    let fid = |path: &str| {
        let found = alice(client.get(format!("{url}/v2/files/lookup?path={path}")));
        found.body["fid"].as_str().unwrap().to_owned()
    };
    let chart = format!("{url}/v2/files/{}", fid("finance/payroll-chart"));
    let folder = alice(
        client
            .patch(format!("{url}/v2/folders/{}", fid("finance")))
            .json(&json!({"world_readable": true})),
    );
    assert_eq!(folder.status, StatusCode::OK, "{}", folder.body);
    assert_eq!(alice(client.get(&chart)).body["world_readable"], false);
    assert_eq!(
        Api::send(client.get(&chart)).status,
        StatusCode::OK,
        "open through its folder all the same"
    );
}

#[test]
fn lookup_finds_paths_relative_to_a_parent_and_for_a_user() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    let found = api.get(
        "/v2/files/lookup?path=reports/q3/revenue",
        As::User("alice"),
    );
    assert_eq!(
        (found.status, found.body["filename"].as_str()),
        (StatusCode::OK, Some("revenue"))
    );
    let q3 = api
        .get("/v2/folders/lookup?path=reports/q3", As::User("alice"))
        .body;
    assert_eq!(q3["filetype"], "fold");
    let relative = api.get(
        &format!(
            "/v2/files/lookup?path=revenue&parent={}",
            q3["fid"].as_str().unwrap().split(':').nth(1).unwrap()
        ),
        As::User("alice"),
    );
    assert_eq!(relative.body["fid"], found.body["fid"]);
    assert_eq!(
        api.get("/v2/files/lookup?path=reports/q9", As::User("alice"))
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get(
            "/v2/folders/lookup?path=reports/q3/revenue",
            As::User("alice")
        )
        .status,
        StatusCode::NOT_FOUND
    );
    let exists = api.get(
        "/v2/files/lookup?path=reports/q3/revenue&exists=true",
        As::User("alice"),
    );
    assert_eq!(exists.body, json!({"exists": true}));
    let missing = api.get("/v2/files/lookup?path=nope&exists=true", As::User("alice"));
    assert_eq!(
        (missing.status, missing.body.clone()),
        (StatusCode::OK, json!({"exists": false}))
    );
    // Another user's public file by `user=`; their private one stays hidden.
    let theirs = api.get(
        "/v2/files/lookup?path=public/world-map&user=alice",
        As::User("bob"),
    );
    assert_eq!(theirs.status, StatusCode::OK);
    let private = api.get(
        "/v2/files/lookup?path=hr/headcount&user=alice",
        As::User("bob"),
    );
    assert_eq!(private.status, StatusCode::NOT_FOUND);
}

#[test]
fn trash_restore_and_permanent_delete() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    let fid = api.fid("scratch/untitled");
    let path = format!("/v2/files/{fid}");
    let early = api.call(
        Method::DELETE,
        &format!("{path}/permanent_delete"),
        As::User("alice"),
    );
    assert_eq!(
        early.status,
        StatusCode::BAD_REQUEST,
        "must be trashed first"
    );
    let trashed = api.call(Method::POST, &format!("{path}/trash"), As::User("alice"));
    assert_eq!(
        (trashed.status, trashed.body["deleted"].clone()),
        (StatusCode::OK, json!(true))
    );
    assert_eq!(
        api.get("/v2/files/lookup?path=scratch/untitled", As::User("alice"))
            .status,
        StatusCode::NOT_FOUND
    );
    let bin = api.get("/v2/folders/trashed", As::User("alice")).body;
    assert!(
        bin["children"]["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["fid"] == fid.as_str())
    );
    let restored = api.call(Method::POST, &format!("{path}/restore"), As::User("alice"));
    assert_eq!(restored.body["deleted"], false);
    assert_eq!(api.fid("scratch/untitled"), fid);
    api.call(Method::POST, &format!("{path}/trash"), As::User("alice"));
    let gone = api.call(
        Method::DELETE,
        &format!("{path}/permanent_delete"),
        As::User("alice"),
    );
    assert_eq!(
        (gone.status, gone.body.clone()),
        (StatusCode::NO_CONTENT, Value::Null)
    );
    assert_eq!(
        api.get(&path, As::User("alice")).status,
        StatusCode::NOT_FOUND
    );
}

#[test]
fn trashing_a_folder_trashes_its_contents() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    let folder = api
        .get("/v2/folders/lookup?path=marketing", As::User("alice"))
        .body;
    let fid = folder["fid"].as_str().unwrap();
    api.call(
        Method::POST,
        &format!("/v2/folders/{fid}/trash"),
        As::User("alice"),
    );
    let deep = "/v2/files/lookup?path=marketing/campaigns/2026-spring/spend";
    assert_eq!(
        api.get(deep, As::User("alice")).status,
        StatusCode::NOT_FOUND
    );
    api.call(
        Method::POST,
        &format!("/v2/folders/{fid}/restore"),
        As::User("alice"),
    );
    assert_eq!(api.get(deep, As::User("alice")).status, StatusCode::OK);
}

#[test]
fn folders_are_created_like_mkdir_p() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    let created = api.json(
        Method::POST,
        "/v2/folders",
        As::User("alice"),
        &json!({"path": "a/b/c"}),
    );
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body["file"]["filename"], "c");
    assert_eq!(created.body["file"]["filetype"], "fold");
    let again = api.json(
        Method::POST,
        "/v2/folders",
        As::User("alice"),
        &json!({"path": "a/b/c"}),
    );
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(
        again.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("already exists")
    );
    let b = api
        .get("/v2/folders/lookup?path=a/b", As::User("alice"))
        .body;
    let parent = b["fid"]
        .as_str()
        .unwrap()
        .split(':')
        .nth(1)
        .unwrap()
        .parse::<i64>()
        .unwrap();
    let sibling = api.json(
        Method::POST,
        "/v2/folders",
        As::User("alice"),
        &json!({"path": "d", "parent": parent}),
    );
    assert_eq!(sibling.status, StatusCode::CREATED);
    let detail = api
        .get(
            &format!("/v2/folders/{}", b["fid"].as_str().unwrap()),
            As::User("alice"),
        )
        .body;
    let names: BTreeSet<&str> = detail["children"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["filename"].as_str().unwrap())
        .collect();
    assert_eq!(names, BTreeSet::from(["c", "d"]));
    assert_eq!(detail["filename"], "b");
    let blocked = api.json(
        Method::POST,
        "/v2/folders",
        As::User("alice"),
        &json!({"path": "overview/x"}),
    );
    assert_eq!(
        blocked.status,
        StatusCode::BAD_REQUEST,
        "a file is in the way"
    );
}

#[test]
fn home_all_shared_and_filters() {
    let sandbox = example_with_a_public_folder();
    let api = Api::new(&sandbox);
    let home = api
        .get("/v2/folders/home?page_size=1000", As::User("alice"))
        .body;
    let top: BTreeSet<&str> = home["children"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["filename"].as_str().unwrap())
        .collect();
    assert!(top.contains("finance") && top.contains("overview") && !top.contains("payroll"));
    let typed = api.get(
        "/v2/folders/all?user=alice&filetype=grid&filetype=dashboard&page_size=1000",
        As::User("alice"),
    );
    let results = typed.body["children"]["results"].as_array().unwrap();
    assert!(
        results
            .iter()
            .all(|f| f["filetype"] == "grid" || f["filetype"] == "dashboard")
    );
    assert_eq!(typed.body["children"]["count"], 26);
    let ordered = api.get(
        "/v2/folders/all?filetype=fold&order_by=-filename&page_size=1000",
        As::User("alice"),
    );
    let names: Vec<&str> = ordered.body["children"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["filename"].as_str().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(names, sorted);
    let bad_order = api.get("/v2/folders/all?order_by=views", As::User("alice"));
    assert_eq!(bad_order.status, StatusCode::BAD_REQUEST);
    // Another user's listing shows only the files public by their own flag or through a
    // folder above them (`public/` is public; `public/demo` is private by its own flag).
    let theirs = api
        .get("/v2/folders/all?user=alice&page_size=1000", As::User("bob"))
        .body;
    let public_folder = api.fid("public");
    let (_, public_number) = public_folder.split_once(':').unwrap();
    let results = theirs["children"]["results"].as_array().unwrap();
    assert!(
        results
            .iter()
            .all(|f| f["world_readable"] == true
                || f["parent"].as_i64() == public_number.parse().ok())
    );
    assert!(results.iter().any(|f| f["fid"] == api.fid("public/demo")));
    assert!(!results.iter().any(|f| f["fid"] == api.fid("hr/headcount")));
    let shared = api.get("/v2/folders/shared", As::User("bob")).body;
    assert_eq!(shared["children"]["count"], 0);
}

#[test]
fn pagination_follows_next_over_several_pages() {
    let sandbox = sandbox_with(Seed::Generate(250), Options::default());
    let api = Api::new(&sandbox);
    let mut url = "/v2/folders/all?user=alice&filetype=plot&filetype=grid&filetype=dashboard&filetype=spectacle_presentation&page_size=100".to_owned();
    let mut seen = BTreeSet::new();
    let mut pages = 0;
    loop {
        let page = api.get(&url, As::User("alice")).body;
        let children = &page["children"];
        assert_eq!(
            children["count"], 250,
            "count is the total, not the page length"
        );
        pages += 1;
        if pages == 1 {
            assert_eq!(children["previous"], Value::Null);
            let last = children["last"].as_str().unwrap();
            assert!(
                last.starts_with(sandbox.url()) && last.contains("page=3"),
                "{last}"
            );
        } else {
            assert!(
                children["previous"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("page={}", pages - 1))
            );
        }
        for file in children["results"].as_array().unwrap() {
            assert!(
                seen.insert(file["fid"].as_str().unwrap().to_owned()),
                "no file twice"
            );
        }
        match children["next"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    assert_eq!((pages, seen.len()), (3, 250));
    let beyond = api.get(
        "/v2/folders/all?page=4&page_size=100&filetype=plot",
        As::User("alice"),
    );
    assert_eq!(beyond.status, StatusCode::NOT_FOUND);
}

#[test]
fn grids_and_plots_as_the_python_client_creates_them() {
    let sandbox = sandbox_with(Seed::Empty, Options::default());
    let api = Api::new(&sandbox);
    api.json(
        Method::POST,
        "/v2/folders",
        As::User("alice"),
        &json!({"path": "lab/runs"}),
    );
    let grid = api.json(
        Method::POST,
        "/v2/grids",
        As::User("alice"),
        &json!({"data": {"cols": {"y": {"data": [3, 1], "order": 1}, "x": {"data": [1, 2], "order": 0}}},
                "world_readable": false, "filename": "run1_grid", "parent_path": "lab/runs"}),
    );
    assert_eq!(grid.status, StatusCode::CREATED, "{}", grid.body);
    let cols = grid.body["file"]["cols"].as_array().unwrap();
    assert_eq!(
        cols.iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["x", "y"]
    );
    assert!(
        cols.iter()
            .all(|c| c["uid"].as_str().is_some_and(|u| !u.is_empty()))
    );
    let plot = api.json(
        Method::POST,
        "/v2/plots",
        As::User("alice"),
        &json!({"figure": {"data": [{"xsrc": "alice:1:abc"}]}, "world_readable": false,
                "share_key_enabled": true, "filename": "run1", "parent_path": "lab/runs"}),
    );
    assert_eq!(plot.status, StatusCode::CREATED);
    let file = &plot.body["file"];
    assert!(is_share_key(&file["share_key"]));
    assert!(file["web_url"].as_str().unwrap().ends_with('/'));
    let fid = file["fid"].as_str().unwrap();
    let updated = api.json(
        Method::PUT,
        &format!("/v2/plots/{fid}"),
        As::User("alice"),
        &json!({"figure": {"data": []}, "world_readable": true}),
    );
    assert_eq!(
        (updated.status, updated.body["world_readable"].clone()),
        (StatusCode::OK, json!(true))
    );
    let content = api
        .get(&format!("/v2/plots/{fid}/content"), As::User("alice"))
        .body;
    assert_eq!(content, json!({"data": []}));
    let taken = api.json(
        Method::POST,
        "/v2/plots",
        As::User("alice"),
        &json!({"figure": {}, "filename": "run1", "parent_path": "lab/runs"}),
    );
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert!(
        taken.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("already exists")
    );
    let grid_fid = grid.body["file"]["fid"].as_str().unwrap();
    assert_eq!(
        api.get(&format!("/v2/plots/{grid_fid}"), As::User("alice"))
            .status,
        StatusCode::NOT_FOUND
    );
    let destroyed = api.call(
        Method::DELETE,
        &format!("/v2/grids/{grid_fid}"),
        As::User("alice"),
    );
    assert_eq!(destroyed.status, StatusCode::NO_CONTENT);
    assert_eq!(
        api.get(&format!("/v2/files/{grid_fid}"), As::User("alice"))
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get("/v2/nothing/here", As::User("alice")).status,
        StatusCode::NOT_FOUND
    );
}

#[test]
fn faults_latency_and_server_errors() {
    let sandbox = sandbox_with(
        Seed::Empty,
        Options {
            faults: FaultConfig {
                latency_ms: 150,
                ..FaultConfig::default()
            },
            ..Options::default()
        },
    );
    let api = Api::new(&sandbox);
    let started = Instant::now();
    api.get("/v2/users/current", As::User("alice"));
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "latency is applied"
    );
    api.faults(&json!({"fail_rate": 1.0}));
    let failed = api.get("/v2/users/current", As::User("alice"));
    assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        failed.body["errors"][0]["message"],
        "Uh oh, an error occurred on the server."
    );
    api.faults(&json!({}));
    assert_eq!(
        api.get("/v2/users/current", As::User("alice")).status,
        StatusCode::OK
    );
    let refused = api.json(
        Method::PUT,
        "/_sandbox/faults",
        As::Anonymous,
        &json!({"fail_rate": 2}),
    );
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
}

#[test]
fn faults_rate_limit_and_daily_quota() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    api.faults(&json!({"rate_limit": 2}));
    let statuses: Vec<StatusCode> = (0..3)
        .map(|_| api.get("/v2/users/current", As::User("alice")).status)
        .collect();
    assert_eq!(statuses[2], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    let throttled = api.get("/v2/users/current", As::User("alice"));
    assert_eq!(throttled.headers["retry-after"], "1");
    api.faults(&json!({"daily_write_limit": 1}));
    let path = format!("/v2/files/{}", api.fid("overview"));
    let first = api.json(
        Method::PATCH,
        &path,
        As::User("alice"),
        &json!({"world_readable": false}),
    );
    assert_eq!(first.status, StatusCode::OK);
    let second = api.json(
        Method::PATCH,
        &path,
        As::User("alice"),
        &json!({"world_readable": true}),
    );
    assert_eq!(second.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        second.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("per 24h period")
    );
    assert!(
        second.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 3600
    );
    assert_eq!(
        api.get(&path, As::User("alice")).status,
        StatusCode::OK,
        "reads go on"
    );
    assert_eq!(
        api.get(&path, As::User("alice")).body["world_readable"],
        false,
        "the refused write did nothing"
    );
}

#[test]
fn faults_flaky_share_keys_read_back_disabled_for_a_while() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    api.faults(&json!({"flaky_share_keys": 1.0, "flaky_share_key_ms": 300}));
    let path = format!("/v2/files/{}", api.fid("hr/headcount"));
    let written = api.json(
        Method::PATCH,
        &path,
        As::User("alice"),
        &json!({"share_key_enabled": true, "world_readable": false}),
    );
    assert_eq!(
        written.body["share_key_enabled"], true,
        "the write response is truthful"
    );
    let key = written.body["share_key"].as_str().unwrap().to_owned();
    let early = api.get(&path, As::User("alice")).body;
    assert_eq!(
        (
            early["share_key_enabled"].clone(),
            early["share_key"].clone()
        ),
        (json!(false), Value::Null)
    );
    assert_eq!(
        api.get(&format!("{path}?share_key={key}"), As::Anonymous)
            .status,
        StatusCode::NOT_FOUND
    );
    std::thread::sleep(Duration::from_millis(400));
    let later = api.get(&path, As::User("alice")).body;
    assert_eq!(later["share_key"], key.as_str());
    assert_eq!(
        api.get(&format!("{path}?share_key={key}"), As::Anonymous)
            .status,
        StatusCode::OK
    );
}

#[test]
fn admin_log_state_and_reset() {
    let sandbox = example_sandbox();
    let api = Api::new(&sandbox);
    let before = api.state();
    assert_eq!(before["format_version"], 1);
    assert_eq!(before["files"].as_array().unwrap().len(), 84);
    let path = format!("/v2/files/{}", api.fid("overview"));
    api.json(
        Method::PATCH,
        &path,
        As::User("alice"),
        &json!({"world_readable": false}),
    );
    assert_ne!(api.state(), before);
    let log = api.requests();
    assert_eq!(
        log.last().unwrap(),
        &("PATCH".to_owned(), path.clone(), 200)
    );
    assert!(
        log.iter().all(|(_, p, _)| !p.starts_with("/_sandbox")),
        "admin calls are not logged"
    );
    let platform =
        api.get("/_sandbox/requests", As::Anonymous).body["requests"][0]["client_platform"].clone();
    assert_eq!(platform, "tests 1.0.0");
    assert_eq!(
        api.call(Method::POST, "/_sandbox/reset", As::Anonymous)
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(api.state(), before);
    assert!(api.requests().is_empty());
    // The keys survive a reset.
    assert_eq!(
        api.get("/v2/users/current", As::User("alice")).status,
        StatusCode::OK
    );
}

#[test]
fn state_file_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let options = || Options {
        state: Some(state.clone()),
        ..Options::default()
    };
    let sandbox = sandbox_with(Seed::Generate(20), options());
    let api = Api::new(&sandbox);
    let created = api.json(
        Method::POST,
        "/v2/folders",
        As::User("alice"),
        &json!({"path": "kept/after/restart"}),
    );
    assert_eq!(created.status, StatusCode::CREATED);
    let before = api.state();
    sandbox.stop();
    assert!(state.exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&state).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the state holds keys: owner only");
    }
    let again = sandbox_with(Seed::Empty, options());
    let api = Api::new(&again);
    assert_eq!(api.state(), before);
    assert_eq!(
        api.get(
            "/v2/folders/lookup?path=kept/after/restart",
            As::User("alice")
        )
        .status,
        StatusCode::OK
    );
}

#[test]
fn generated_accounts_are_deterministic_and_mixed() {
    let a = sandbox_with(Seed::Generate(1000), Options::default());
    let b = sandbox_with(Seed::Generate(1000), Options::default());
    let (state_a, state_b) = (Api::new(&a).state(), Api::new(&b).state());
    assert_eq!(state_a, state_b);
    let files = state_a["files"].as_array().unwrap();
    let types: BTreeSet<&str> = files
        .iter()
        .map(|f| f["filetype"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        BTreeSet::from([
            "dashboard",
            "fold",
            "grid",
            "plot",
            "spectacle_presentation"
        ])
    );
    let content = files.iter().filter(|f| f["filetype"] != "fold").count();
    assert_eq!(content, 1000);
    let depth = files
        .iter()
        .map(|f| f["path"].as_str().unwrap().matches('/').count())
        .max();
    assert_eq!(depth, Some(3));
    let levels: BTreeSet<(bool, bool)> = files
        .iter()
        .filter(|f| f["filetype"] != "fold")
        .map(|f| {
            (
                f["world_readable"].as_bool().unwrap(),
                f["share_key_enabled"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(levels.len(), 3, "public, private and secret");
}

#[test]
fn the_sandbox_command_serves_until_sigterm_and_saves_its_state() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let mut sandbox = crate::harness::sandbox_process([
        std::ffi::OsString::from("--generate"),
        "30".into(),
        "--user".into(),
        "carol:carol-key".into(),
        "--state".into(),
        state.as_os_str().to_owned(),
    ]);
    let (child, url, lines) = (&mut sandbox.guard.0, &sandbox.url, &mut sandbox.lines);
    let banner: Vec<String> = lines.by_ref().take(3).map(Result::unwrap).collect();
    assert_eq!(banner[0], "  files: 30, folders: 3");
    assert!(
        banner
            .iter()
            .any(|l| l == "  user: carol  api key: carol-key"),
        "{banner:?}"
    );
    let me = reqwest::blocking::Client::new()
        .get(format!("{url}/v2/users/current"))
        .basic_auth("carol", Some("carol-key"))
        .send()
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "a clean shutdown on SIGTERM");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(saved["sandbox_state_version"], 1);
    assert_eq!(
        saved["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["filetype"] != "fold")
            .count(),
        30
    );
}

#[test]
fn the_sandbox_command_refuses_non_loopback_addresses_and_bad_users() {
    crate::harness::Test::new()
        .args(["sandbox", "--addr", "0.0.0.0:9889"])
        .stderr("error: the sandbox only listens on loopback addresses, not 0.0.0.0:9889\n")
        .status(1);
    crate::harness::Test::new()
        .args(["sandbox", "--user", "nokey"])
        .stderr("error: --user takes NAME:APIKEY, got `nokey`\n")
        .status(1);
    crate::harness::Test::new()
        .args(["sandbox", "--fail-rate", "3"])
        .stderr("error: fail_rate must be between 0 and 1, got 3\n")
        .status(1);
}

/// Lists `owner`'s files as `caller` with `key`: the status and the fids listed.
fn list_as(sandbox: &Sandbox, owner: &str, caller: &str, key: &str) -> (StatusCode, Vec<String>) {
    let response = reqwest::blocking::Client::new()
        .get(format!(
            "{}/v2/folders/all?user={owner}&page=1&page_size=500",
            sandbox.url()
        ))
        .basic_auth(caller, Some(key))
        .send()
        .expect("listing");
    let status = response.status();
    let body: Value = response.json().unwrap_or(Value::Null);
    let fids = body["children"]["results"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| item["fid"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    (status, fids)
}

#[test]
fn an_organization_has_numbered_users_with_derived_keys_each_seeing_their_own_files() {
    use plotward_sandbox::{derived_key, generated_username};
    let sandbox = Sandbox::start(&Options {
        seed: Seed::GenerateUsers {
            users: 3,
            files: 60,
        },
        key_secret: Some("org-secret".into()),
        ..Options::default()
    })
    .expect("sandbox starts");
    let names: Vec<&str> = sandbox
        .users()
        .iter()
        .map(|u| u.username.as_str())
        .collect();
    assert_eq!(names, ["user0001", "user0002", "user0003"]);
    assert_eq!(generated_username(12_345), "user12345");
    for user in sandbox.users() {
        assert_eq!(user.api_key, derived_key("org-secret", &user.username));
        assert_eq!(user.api_key.len(), 20);
    }
    // Deterministic, and different for each user and secret.
    assert_eq!(derived_key("s", "user0001"), derived_key("s", "user0001"));
    assert_ne!(derived_key("s", "user0001"), derived_key("s", "user0002"));
    assert_ne!(derived_key("s", "user0001"), derived_key("t", "user0001"));
    assert_ne!(derived_key("ab", "c"), derived_key("a", "bc"));
    for n in 1..=3 {
        let user = generated_username(n);
        let key = derived_key("org-secret", &user);
        let (status, fids) = list_as(&sandbox, &user, &user, &key);
        assert_eq!(status, StatusCode::OK);
        // 60 files in two project folders, each under its own department and year.
        assert_eq!(fids.len(), 66, "{user}");
        assert!(fids.iter().all(|f| f.starts_with(&format!("{user}:"))));
        // Another user's key, or a key of another secret, does not open this account.
        let other = derived_key("org-secret", &generated_username(n % 3 + 1));
        for wrong in [other.as_str(), &derived_key("other", &user), ""] {
            let (status, _) = list_as(&sandbox, &user, &user, wrong);
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{user} with {wrong}");
        }
    }
    // Listing one user's files with another's key shows none of the first's private files.
    let (status, fids) = list_as(
        &sandbox,
        "user0001",
        "user0002",
        &derived_key("org-secret", "user0002"),
    );
    assert_eq!(status, StatusCode::OK);
    assert!(fids.len() < 66);
    // The admin surface holds every user's files.
    assert_eq!(
        Api::new(&sandbox).state()["files"]
            .as_array()
            .unwrap()
            .len(),
        3 * 66
    );
}
