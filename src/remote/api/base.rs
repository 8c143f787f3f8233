//! The configured API origin, and every URL plotward sends credentials to.
//!
//! Every URL is built here from the API base the user configured; the only server-supplied
//! text that can become a URL is a pagination link, and [`ApiBase::accept_link`] lets it
//! through only when it points at the same origin (scheme, host and port) and the same
//! listing path. So the `Authorization` header can only ever reach the configured origin.

use std::fmt;

use reqwest::Url;

use super::fid::Fid;

/// A validated API base URL (`https://plotly.acme.com`): http or https, a host, no user
/// info, no path, query or fragment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiBase {
    url: Url,
}

/// Why a server-supplied link was refused. Each names the link (with any user info removed),
/// so the user can see what the server tried.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LinkError {
    /// Not a URL at all.
    #[error("the server's `next` link `{0}` is not a URL")]
    Malformed(String),
    /// Another scheme, host or port: credentials would leave the configured origin.
    #[error(
        "the server's `next` link `{link}` points outside the configured API origin {origin}; \
         plotward sent nothing there (credentials only go to the configured origin)"
    )]
    OtherOrigin {
        /// The link, redacted.
        link: String,
        origin: String,
    },
    /// Same origin, but not the listing it continues.
    #[error(
        "the server's `next` link `{link}` is not a page of {expected}; plotward did not follow it"
    )]
    OtherPath {
        /// The link, redacted.
        link: String,
        /// The listing path.
        expected: String,
    },
}

impl ApiBase {
    /// Parses a base URL. The message never repeats user info.
    pub(crate) fn parse(text: &str) -> Result<ApiBase, String> {
        let url = Url::parse(text.trim().trim_end_matches('/')).map_err(|err| err.to_string())?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("unsupported scheme `{}`; use https", url.scheme()));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("it has no host".to_owned());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(
                "it holds a user name or password; give credentials with --user and \
                 --api-key-file (or PLOTLY_USERNAME / PLOTLY_API_KEY), never in the URL"
                    .to_owned(),
            );
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err("give the API root only, e.g. https://plotly.acme.com".to_owned());
        }
        Ok(ApiBase { url })
    }

    /// The scheme, host and port, as `https://plotly.acme.com` (or with `:port`).
    pub(crate) fn origin(&self) -> String {
        self.url.origin().ascii_serialization()
    }

    /// Whether this is plain http (allowed for loopback hosts only, checked by the caller).
    pub(crate) fn is_http(&self) -> bool {
        self.url.scheme() == "http"
    }

    /// The host name or address.
    pub(crate) fn host(&self) -> &str {
        self.url.host_str().unwrap_or_default()
    }

    /// `{base}/v2/{segments...}`, each segment percent-encoded.
    fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.clear().push("v2").extend(segments);
        }
        url
    }

    /// `GET /v2/folders/all?user=U&page=N&page_size=S`: every file of the user, folders too.
    pub(crate) fn list_url(&self, user: &str, page: usize, page_size: usize) -> Url {
        let mut url = self.endpoint(&["folders", "all"]);
        url.query_pairs_mut()
            .append_pair("user", user)
            .append_pair("page", &page.to_string())
            .append_pair("page_size", &page_size.to_string());
        url
    }

    /// `/v2/files/{fid}`, the colon left literal as the official client sends it.
    pub(crate) fn file_url(&self, fid: &Fid) -> Url {
        self.endpoint(&["files", fid.as_str()])
    }

    /// `GET /v2/files/lookup?path=P&user=U` (or `/v2/folders/lookup`): one file by its path,
    /// the path percent-encoded as a query value, never spliced into the URL's path.
    pub(crate) fn lookup_url(&self, kind: super::LookupKind, path: &str, user: &str) -> Url {
        let resource = match kind {
            super::LookupKind::File => "files",
            super::LookupKind::Folder => "folders",
        };
        let mut url = self.endpoint(&[resource, "lookup"]);
        url.query_pairs_mut()
            .append_pair("path", path)
            .append_pair("user", user);
        url
    }

    /// `/v2/users/current`.
    pub(crate) fn current_user_url(&self) -> Url {
        self.endpoint(&["users", "current"])
    }

    /// Accepts a server's `next` link for the listing at `current`, or says why not.
    ///
    /// The link must name the configured host and port. DRF servers behind a TLS-terminating
    /// proxy emit `http://` links, so an `http` link under an `https` base is upgraded to
    /// `https`; nothing is ever downgraded. User info and fragments are refused or dropped,
    /// and the path must stay the listing's own.
    pub(crate) fn accept_link(&self, link: &str, current: &Url) -> Result<Url, LinkError> {
        let shown = redact(link);
        let mut url = self
            .url
            .join(link)
            .map_err(|_| LinkError::Malformed(shown.clone()))?;
        if url.scheme() == "http" && self.url.scheme() == "https" {
            // Keeps an explicit port; an implicit one becomes https's default, as wanted.
            let explicit = url.port();
            if url.set_scheme("https").is_err() || url.set_port(explicit).is_err() {
                return Err(LinkError::Malformed(shown));
            }
        }
        let other_origin = || LinkError::OtherOrigin {
            link: shown.clone(),
            origin: self.origin(),
        };
        if url.origin() != self.url.origin() {
            return Err(other_origin());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(other_origin());
        }
        if url.path() != current.path() {
            return Err(LinkError::OtherPath {
                link: shown,
                expected: current.path().to_owned(),
            });
        }
        url.set_fragment(None);
        Ok(url)
    }
}

impl fmt::Display for ApiBase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.url.as_str().trim_end_matches('/'))
    }
}

/// A URL (or URL-like text) fit to print: everything from the scheme to the last `@`
/// replaced by `***` (a password may hold `/`, `?` or `#`, so the authority's end cannot be
/// trusted), control characters escaped, and at most 300 characters, so a hostile server or
/// a pasted URL cannot put a password or a terminal escape into an error message.
pub(crate) fn redact(text: &str) -> String {
    let without_userinfo = match text.rfind('@') {
        Some(at) => {
            let start = text.find("://").map_or(0, |scheme| scheme + 3);
            if at >= start {
                format!("{}***{}", &text[..start], &text[at..])
            } else {
                text.to_owned()
            }
        }
        None => text.to_owned(),
    };
    shown(&without_userinfo)
}

/// Server text that is not a URL (a file name) as an error shows it: escaped, and cut at 300
/// characters. Unlike [`redact`], nothing before an `@` is taken for credentials.
pub(crate) fn shown(text: &str) -> String {
    let mut shown =
        plotward_visible::escape(&text.chars().take(300).collect::<String>()).into_owned();
    if text.chars().count() > 300 {
        shown.push('…');
    }
    shown
}
