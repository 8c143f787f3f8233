//! A small blocking HTTP client for driving the sandbox in tests.

use reqwest::blocking::{Client, RequestBuilder};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use plotward_sandbox::{Options, Sandbox, Seed, User};

/// A started sandbox with a user `alice` (key `alice-key`) and `bob` (key `bob-key`).
pub(crate) fn sandbox_with(seed: Seed, options: Options) -> Sandbox {
    Sandbox::start(&Options {
        seed,
        users: vec![user("alice"), user("bob")],
        ..options
    })
    .expect("sandbox starts")
}

/// The example account's sandbox.
pub(crate) fn example_sandbox() -> Sandbox {
    let seed = Seed::load_snapshot(&crate::harness::repo("examples/inventory.json"))
        .expect("example snapshot");
    sandbox_with(seed, Options::default())
}

fn user(name: &str) -> User {
    User {
        username: name.to_owned(),
        api_key: format!("{name}-key"),
    }
}

/// How a request authenticates.
#[derive(Clone, Copy)]
pub(crate) enum As<'a> {
    /// No credentials.
    Anonymous,
    /// Basic auth with `NAME-key`.
    User(&'a str),
    /// Basic auth with an explicit key.
    Key(&'a str, &'a str),
}

/// A response: status, body as JSON (or `Null`), and the raw headers.
pub(crate) struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

/// Sends one request to the sandbox.
pub(crate) struct Api {
    base: String,
    client: Client,
}

impl Api {
    pub(crate) fn new(sandbox: &Sandbox) -> Api {
        Api {
            base: sandbox.url().to_owned(),
            client: Client::new(),
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    fn build(&self, method: Method, path: &str, who: As<'_>) -> RequestBuilder {
        let request = self
            .client
            .request(method, self.url(path))
            .header("plotly-client-platform", "tests 1.0.0");
        match who {
            As::Anonymous => request,
            As::User(name) => request.basic_auth(name, Some(format!("{name}-key"))),
            As::Key(name, key) => request.basic_auth(name, Some(key)),
        }
    }

    pub(crate) fn send(request: RequestBuilder) -> Reply {
        let response = request.send().expect("request reaches the sandbox");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON body, got {text:?}"))
        };
        Reply {
            status,
            body,
            headers,
        }
    }

    pub(crate) fn get(&self, path: &str, who: As<'_>) -> Reply {
        Self::send(self.build(Method::GET, path, who))
    }

    pub(crate) fn json(&self, method: Method, path: &str, who: As<'_>, body: &Value) -> Reply {
        Self::send(self.build(method, path, who).json(body))
    }

    pub(crate) fn form(
        &self,
        method: Method,
        path: &str,
        who: As<'_>,
        pairs: &[(&str, &str)],
    ) -> Reply {
        Self::send(self.build(method, path, who).form(pairs))
    }

    pub(crate) fn call(&self, method: Method, path: &str, who: As<'_>) -> Reply {
        Self::send(self.build(method, path, who))
    }

    /// The sandbox's files, as a snapshot (admin surface).
    pub(crate) fn state(&self) -> Value {
        self.get("/_sandbox/state", As::Anonymous).body
    }

    /// The logged API requests, as (method, path, status).
    pub(crate) fn requests(&self) -> Vec<(String, String, u16)> {
        let log = self.get("/_sandbox/requests", As::Anonymous).body;
        log["requests"]
            .as_array()
            .expect("requests list")
            .iter()
            .map(|r| {
                (
                    r["method"].as_str().unwrap().to_owned(),
                    r["path"].as_str().unwrap().to_owned(),
                    u16::try_from(r["status"].as_u64().unwrap()).unwrap(),
                )
            })
            .collect()
    }

    /// Sets the faults (admin surface).
    pub(crate) fn faults(&self, config: &Value) {
        let reply = self.json(Method::PUT, "/_sandbox/faults", As::Anonymous, config);
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }

    /// Looks a path up as alice and returns its fid.
    pub(crate) fn fid(&self, path: &str) -> String {
        let reply = self.get(&format!("/v2/files/lookup?path={path}"), As::User("alice"));
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "lookup {path}: {}",
            reply.body
        );
        reply.body["fid"].as_str().unwrap().to_owned()
    }
}
