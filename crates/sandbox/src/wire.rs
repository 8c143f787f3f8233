//! The sandbox's own JSON shapes: file objects, pages, error bodies, request bodies.
//!
//! Written from `chart-studio-api.md`, independently of the client's types in `remote`, so a
//! wrong field name on one side cannot hide behind a shared struct.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};

use super::store::StoredFile;

mod write;

/// An API error with Chart Studio's body shape:
/// `{"errors":[{"code":..,"message":..,"path":null,"field":..}],"detail":..}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    /// Machine-readable code.
    pub code: &'static str,
    pub message: String,
    /// The request field at fault, if any.
    pub field: Option<&'static str>,
    /// `Retry-After` seconds, for 429s.
    pub retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// 400 for a bad value of one field.
    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            field: Some(field),
            ..ApiError::new(StatusCode::BAD_REQUEST, "invalid", message)
        }
    }

    /// 400 for a request that cannot be carried out.
    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid", message)
    }

    /// 401 for a wrong username or key.
    pub(crate) fn bad_key() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "UNKNOWN", "Bad API key")
    }

    /// 401 for a write without credentials.
    pub(crate) fn unauthenticated() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "not_authenticated",
            "Authentication credentials were not provided.",
        )
    }

    /// 403 for a file the caller can read but not change.
    pub(crate) fn forbidden() -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "permission_denied",
            "You do not have permission to perform this action.",
        )
    }

    /// 404: missing, or not readable by the caller (Chart Studio never says which).
    pub(crate) fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "Not found.")
    }

    /// 404 for a page past the last, as DRF answers.
    pub(crate) fn invalid_page() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "Invalid page.")
    }

    /// 409 for a file name already taken in its folder.
    pub(crate) fn conflict(name: &str) -> ApiError {
        ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("Sorry, a file named '{name}' already exists in this folder."),
        )
    }

    /// 500 with the server's well-known message.
    pub(crate) fn server_error() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNKNOWN",
            "Uh oh, an error occurred on the server.",
        )
    }

    /// 429 for the per-second throttle.
    pub(crate) fn throttled(retry_after: u64) -> ApiError {
        ApiError {
            retry_after: Some(retry_after),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "throttled",
                format!("Request was throttled. Expected available in {retry_after} seconds."),
            )
        }
    }

    /// 429 for the daily write quota, with the message the real server sends.
    pub(crate) fn daily_limit(limit: u64, retry_after: u64) -> ApiError {
        ApiError {
            retry_after: Some(retry_after),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "throttled",
                format!(
                    "Hi there, you've reached the threshold of {limit} combined image exports \
                     and chart saves per 24h period. If you need to raise your daily limit, \
                     please contact support."
                ),
            )
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "errors": [{
                "code": self.code,
                "message": self.message,
                "path": null,
                "field": self.field,
            }],
            "detail": self.message,
        });
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert("retry-after", seconds.to_string().parse().expect("digits"));
        }
        response
    }
}

/// What the response builder needs to know about the request: absolute URLs are built from
/// the `Host` the client used, as the real server does.
#[derive(Clone, Debug)]
pub(crate) struct Urls {
    /// `http://host:port` as the client reached the server.
    pub api_base: String,
    /// Web UI base for `web_url` and `embed_url` (`--web-domain`).
    pub web_base: String,
}

/// A file object as the API returns it. Owner-only fields are left out for other readers.
#[derive(Serialize)]
#[allow(clippy::struct_excessive_bools)] // the wire format has these flags
pub(crate) struct FileObject<'a> {
    fid: Text<'a>,
    filename: &'a str,
    filetype: &'a str,
    owner: &'a str,
    parent: i64,
    parented: bool,
    world_readable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    share_key_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    share_key: Option<ShareKey<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deleted: Option<bool>,
    web_url: Text<'a>,
    embed_url: Text<'a>,
    api_urls: ApiUrls<'a>,
    files_url: Text<'a>,
    creation_time: &'a str,
    date_modified: &'a str,
    image_urls: Map<String, Value>,
    img_url: &'static str,
    preview: &'static str,
    references: [(); 0],
    referencers: [(); 0],
    collaborators: Collaborators,
    comments: Option<()>,
    views: u64,
    title: &'static str,
    is_theme: bool,
    is_template: bool,
    metadata: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cols: Option<Vec<Value>>,
}

/// A string written straight into the response while serializing: a page of 500 file objects
/// builds no URL strings.
#[derive(Clone, Copy)]
enum Text<'a> {
    Fid {
        owner: &'a str,
        id: i64,
    },
    Web {
        base: &'a str,
        owner: &'a str,
        id: i64,
        suffix: &'static str,
    },
    Api {
        base: &'a str,
        resource: &'static str,
        owner: &'a str,
        id: i64,
    },
}

impl std::fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Text::Fid { owner, id } => write!(f, "{owner}:{id}"),
            Text::Web {
                base,
                owner,
                id,
                suffix,
            } => write!(f, "{base}/~{owner}/{id}{suffix}"),
            Text::Api {
                base,
                resource,
                owner,
                id,
            } => write!(f, "{base}/v2/{resource}/{owner}:{id}"),
        }
    }
}

impl Serialize for Text<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// `api_urls`: `{"files": ..., "<resource>": ...}`.
struct ApiUrls<'a> {
    files: Text<'a>,
    resource: &'static str,
    typed: Text<'a>,
}

impl Serialize for ApiUrls<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("files", &self.files)?;
        map.serialize_entry(self.resource, &self.typed)?;
        map.end()
    }
}

/// The owner's view of `share_key`: the key, or `null` when the link is off.
#[derive(Serialize)]
struct ShareKey<'a>(Option<&'a str>);

#[derive(Serialize)]
struct Collaborators {
    count: u64,
    results: [(); 0],
}

/// How much of a file a reader may see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum View {
    /// The owner: every field, the share key included.
    Owner,
    /// Anyone else who may read the file: no admin fields.
    Reader,
}

impl<'a> FileObject<'a> {
    /// The JSON object for a stored file. `share_key_visible` is false while an enabled share
    /// key is still "propagating" (the eventual-consistency fault).
    pub(crate) fn new(
        file: &'a StoredFile,
        view: View,
        urls: &'a Urls,
        share_key_visible: bool,
    ) -> Self {
        let (owner_name, id) = (file.owner.as_str(), file.id);
        let kind = api_resource(&file.filetype);
        let api = |resource| Text::Api {
            base: &urls.api_base,
            resource,
            owner: owner_name,
            id,
        };
        let web = |suffix| Text::Web {
            base: &urls.web_base,
            owner: owner_name,
            id,
            suffix,
        };
        let enabled = file.share_key_enabled && share_key_visible;
        let owner = view == View::Owner;
        FileObject {
            filename: &file.filename,
            filetype: &file.filetype,
            owner: &file.owner,
            parent: file.parent,
            // Upstream says `true` for root items too (a captured `/v2/folders/home`).
            parented: true,
            world_readable: file.world_readable,
            share_key_enabled: owner.then_some(enabled),
            share_key: owner.then(|| ShareKey(file.share_key.as_deref().filter(|_| enabled))),
            deleted: owner.then_some(file.deleted),
            web_url: web("/"),
            embed_url: web(".embed"),
            api_urls: ApiUrls {
                files: api("files"),
                resource: kind,
                typed: api(kind),
            },
            files_url: api("files"),
            creation_time: &file.creation_time,
            date_modified: &file.date_modified,
            image_urls: Map::new(),
            img_url: "",
            preview: "",
            references: [],
            referencers: [],
            collaborators: Collaborators {
                count: 0,
                results: [],
            },
            comments: None,
            views: 0,
            title: "",
            is_theme: false,
            is_template: false,
            metadata: Map::new(),
            cols: (file.filetype == "grid").then(|| file.cols.clone()),
            fid: Text::Fid {
                owner: owner_name,
                id,
            },
        }
    }
}

/// What a web URL asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WebForm {
    /// `/~user/N/` (`web_url`), `/~user/N` (the secret link `web_url[:-1]?share_key=K`) and
    /// `/~user/N.embed`: a small HTML page.
    Page,
    /// `/~user/N.json`: the figure (or grid data) as JSON.
    Json,
}

/// The fid and form of `/~USER/N/`, `/~USER/N`, `/~USER/N.json` or `/~USER/N.embed`; `None`
/// for anything else (a plain decimal `N`, as in fids: `/~alice/07/` is not `alice:7`).
pub(crate) fn web_target(user: &str, page: &str, slash: bool) -> Option<(String, WebForm)> {
    let owner = user.strip_prefix('~').filter(|o| !o.is_empty())?;
    let (number, form) = match page.split_once('.') {
        None => (page, WebForm::Page),
        Some((number, "json")) if !slash => (number, WebForm::Json),
        Some((number, "embed")) if !slash => (number, WebForm::Page),
        Some(_) => return None,
    };
    let decimal = !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
        && (number == "0" || !number.starts_with('0'));
    decimal.then(|| (format!("{owner}:{number}"), form))
}

/// The small HTML page the sandbox serves at a file's `web_url`: enough to show the link opens
/// and which file it is. Names come from API clients, so they are escaped.
pub(crate) fn web_page(file: &StoredFile) -> String {
    let name = escape_html(&file.filename);
    let owner = escape_html(&file.owner);
    format!(
        "<!doctype html>\n<meta charset=\"utf-8\">\n<title>{name} - plotward sandbox</title>\n\
         <p>{filetype} {owner}:{id}: {name}</p>\n",
        filetype = escape_html(&file.filetype),
        id = file.id,
    )
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The plural resource name under `/v2/` for a file type.
fn api_resource(filetype: &str) -> &'static str {
    match filetype {
        "fold" => "folders",
        "grid" => "grids",
        "dashboard" => "dashboards",
        "spectacle_presentation" => "spectacle-presentations",
        "external_image" => "external-images",
        _ => "plots",
    }
}

/// `/v2/folders/home` and `/v2/folders/all`: the root, which has no file object of its own,
/// and a page of its children.
#[derive(Serialize)]
pub(crate) struct Listing<'a> {
    pub fid: String,
    pub filename: &'a str,
    pub filetype: &'static str,
    pub owner: &'a str,
    pub children: Page<'a>,
}

/// `/v2/folders/FID`: the folder's own object, and a page of its children.
#[derive(Serialize)]
pub(crate) struct FolderListing<'a> {
    #[serde(flatten)]
    pub folder: FileObject<'a>,
    pub children: Page<'a>,
}

/// A DRF page-number page: `{count, next, previous, first, last, results}`.
#[derive(Serialize)]
pub(crate) struct Page<'a> {
    count: usize,
    next: Option<String>,
    previous: Option<String>,
    first: String,
    last: String,
    results: Vec<FileObject<'a>>,
}

impl<'a> Page<'a> {
    /// A page of `results`, page `number` (1-based) of `pages`, with absolute links that
    /// repeat the request's query with `page` replaced, keys sorted as DRF does.
    pub(crate) fn new(
        path_url: &str,
        query: &[(String, String)],
        count: usize,
        number: usize,
        pages: usize,
        results: Vec<FileObject<'a>>,
    ) -> Page<'a> {
        let link = |page: usize| page_link(path_url, query, page);
        Page {
            count,
            next: (number < pages).then(|| link(number + 1)),
            previous: (number > 1).then(|| link(number - 1)),
            first: link(1),
            last: link(pages),
            results,
        }
    }
}

fn page_link(path_url: &str, query: &[(String, String)], page: usize) -> String {
    let mut pairs: Vec<(&str, String)> = query
        .iter()
        .filter(|(key, _)| key != "page")
        .map(|(key, value)| (key.as_str(), value.clone()))
        .collect();
    pairs.push(("page", page.to_string()));
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let encoded = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    format!("{path_url}?{encoded}")
}

/// A request body as a JSON object: JSON bodies as they are, form bodies as strings (the
/// documented `requests.patch(url, {"world_readable": False})` recipe sends `False`).
pub(crate) fn parse_body(
    content_type: Option<&str>,
    bytes: &[u8],
) -> Result<Map<String, Value>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let is_form = content_type.is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
            .map_err(|err| ApiError::bad_request(format!("Malformed form body: {err}")))?;
        return Ok(pairs
            .into_iter()
            .map(|(key, value)| (key, Value::String(value)))
            .collect());
    }
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request("Expected a JSON object.")),
        Err(err) => Err(ApiError::bad_request(format!("JSON parse error - {err}"))),
    }
}

/// A boolean field: JSON booleans, or the strings DRF's `BooleanField` accepts.
pub(crate) fn bool_field(
    body: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<bool>, ApiError> {
    let Some(value) = body.get(field) else {
        return Ok(None);
    };
    let parsed = match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.as_str() {
            "true" | "True" | "TRUE" | "1" | "on" => Some(true),
            "false" | "False" | "FALSE" | "0" | "off" => Some(false),
            _ => None,
        },
        Value::Number(n) => match n.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        _ => None,
    };
    parsed
        .map(Some)
        .ok_or_else(|| ApiError::invalid(field, "Must be a valid boolean."))
}

/// An integer field, from a JSON number or a numeric string.
pub(crate) fn int_field(
    body: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<i64>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| ApiError::invalid(field, "A valid integer is required.")),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| ApiError::invalid(field, "A valid integer is required.")),
        Some(_) => Err(ApiError::invalid(field, "A valid integer is required.")),
    }
}

/// A string field.
pub(crate) fn string_field(
    body: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::invalid(field, "Not a valid string.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_accept_python_booleans() {
        let body = parse_body(
            Some("application/x-www-form-urlencoded"),
            b"world_readable=False&share_key_enabled=True",
        )
        .unwrap();
        assert_eq!(bool_field(&body, "world_readable"), Ok(Some(false)));
        assert_eq!(bool_field(&body, "share_key_enabled"), Ok(Some(true)));
        assert_eq!(bool_field(&body, "missing"), Ok(None));
    }

    #[test]
    fn bad_values_name_their_field() {
        let body = parse_body(Some("application/json"), br#"{"world_readable": "maybe"}"#).unwrap();
        let err = bool_field(&body, "world_readable").unwrap_err();
        assert_eq!(
            (err.status, err.field),
            (StatusCode::BAD_REQUEST, Some("world_readable"))
        );
        assert!(parse_body(None, b"[1]").is_err());
        assert!(parse_body(None, b"  ").unwrap().is_empty());
    }

    #[test]
    fn web_urls_name_a_file_by_plain_number() {
        assert_eq!(
            web_target("~alice", "7", true),
            Some(("alice:7".to_owned(), WebForm::Page))
        );
        assert_eq!(
            web_target("~alice", "7.json", false),
            Some(("alice:7".to_owned(), WebForm::Json))
        );
        assert_eq!(
            web_target("~alice", "0.embed", false),
            Some(("alice:0".to_owned(), WebForm::Page))
        );
        for (user, page, slash) in [
            ("alice", "7", true),
            ("~", "7", true),
            ("~alice", "07", true),
            ("~alice", "+7", true),
            ("~alice", "-1", true),
            ("~alice", "", true),
            ("~alice", "7.json", true),
            ("~alice", "7.png", false),
        ] {
            assert_eq!(web_target(user, page, slash), None, "{user}/{page}");
        }
    }

    #[test]
    fn web_pages_escape_names() {
        let file = StoredFile::new(
            "alice",
            3,
            -1,
            "<script>x</script>",
            "plot",
            std::time::SystemTime::now(),
        );
        let page = web_page(&file);
        assert!(page.contains("&lt;script&gt;x&lt;/script&gt;"), "{page}");
        assert!(!page.contains("<script>"));
    }

    #[test]
    fn page_links_replace_the_page_and_sort_keys() {
        let query = vec![
            ("user".to_owned(), "alice".to_owned()),
            ("filetype".to_owned(), "plot".to_owned()),
            ("page_size".to_owned(), "2".to_owned()),
            ("filetype".to_owned(), "grid".to_owned()),
            ("page".to_owned(), "1".to_owned()),
        ];
        assert_eq!(
            page_link("http://127.0.0.1:8080/v2/folders/all", &query, 2),
            "http://127.0.0.1:8080/v2/folders/all?filetype=plot&filetype=grid&page=2&page_size=2&user=alice"
        );
    }
}
