//! The policy's optional `account:` block: whose account the policy governs, and where its key
//! is, never the key itself.
//!
//! ```yaml
//! account:
//!   user: finance-team
//!   server: https://plotly.example.com   # optional: else --api-url / PLOTLY_API_DOMAIN
//!   api_key_env: PLOTLY_KEY_FINANCE       # or api_key_file: /run/secrets/finance
//! ```
//!
//! The core keeps names only (the variable's name, the file's path); `config` reads them when
//! the connection is resolved. The server is checked by a rule the caller passes in
//! ([`ServerRule`]), the connection URL's own, so the policy knows nothing of URLs or HTTP.

use std::path::PathBuf;

use super::diagnostic::{Diagnostic, Span, suggest};
use super::node::{Node, SNode, span_of};

/// The keys an `account:` block may hold.
pub(super) const ACCOUNT_KEYS: [&str; 4] = ["user", "server", "api_key_env", "api_key_file"];

/// Keys that would hold the key itself: refused with a pointer to the two that name it.
const INLINE_KEY_KEYS: [&str; 9] = [
    "api_key",
    "apikey",
    "api-key",
    "key",
    "password",
    "token",
    "secret",
    "api_token",
    "plotly_api_key",
];

/// How a server address is checked and normalised (`Err` says why it is refused). The
/// connection's own rule (`remote::credentials::check_url`) in commands; anything in tests.
pub(crate) type ServerRule<'r> = &'r dyn Fn(&str) -> Result<String, String>;

/// Whose account a policy governs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Account {
    /// The Chart Studio user (checked by `inventory::is_username`).
    pub user: String,
    /// The server, normalised by the [`ServerRule`]; `None` falls back to `--api-url` and its
    /// variable or Plotly's `.config`.
    pub server: Option<String>,
    /// Where the key is.
    pub key: KeySource,
    /// Where the block starts, for messages that name it.
    pub span: Span,
}

/// Where an account's key is read from; the key itself is never in a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum KeySource {
    /// An environment variable, by name.
    Env(String),
    /// A file whose only content is the key.
    File(PathBuf),
}

/// Checks an `account:` block, pushing every problem onto `errors`; the account when it is
/// whole.
pub(super) fn check(
    value: &SNode,
    server_rule: ServerRule<'_>,
    errors: &mut Vec<Diagnostic>,
) -> Option<Account> {
    let Node::Map(entries) = &value.value else {
        errors.push(Diagnostic::at(
            span_of(value),
            format!(
                "`account` must be a mapping with `user` and `api_key_env` or `api_key_file`, \
                 found {}",
                value.value.kind()
            ),
        ));
        return None;
    };
    let before = errors.len();
    let mut user = None;
    let mut server = None;
    let mut keys: Vec<(KeySource, Span)> = Vec::new();
    for (key, value) in entries {
        match key.value.as_str() {
            "user" => user = text(value, "user", errors).and_then(|t| check_user(t, value, errors)),
            "server" => {
                server = text(value, "server", errors).and_then(|t| match server_rule(t) {
                    Ok(url) => Some(url),
                    Err(why) => {
                        // The line may hold a password (`https://bob:pw@host`): not shown.
                        errors.push(
                            Diagnostic::at(span_of(value), format!("invalid `server`: {why}"))
                                .concealing_source(),
                        );
                        None
                    }
                });
            }
            "api_key_env" | "api_key_file" => {
                if let Some(source) = key_source(&key.value, value, errors) {
                    keys.push((source, span_of(key)));
                }
            }
            word if INLINE_KEY_KEYS.contains(&word.to_ascii_lowercase().as_str()) => {
                errors.push(
                    Diagnostic::at(
                        span_of(key),
                        format!(
                            "`{word}` would put the API key in the policy, which is shared and \
                             kept in version control; name where the key is instead"
                        ),
                    )
                    .with_label("use `api_key_env: VARIABLE` or `api_key_file: /path/to/key`")
                    .concealing_source(),
                );
            }
            _ => {
                let expected = ACCOUNT_KEYS.map(|k| format!("`{k}`")).join(", ");
                errors.push(
                    Diagnostic::at(
                        span_of(key),
                        format!(
                            "unknown key `{}` in account; expected {expected}",
                            key.value
                        ),
                    )
                    .with_suggestion(suggest(&key.value, &ACCOUNT_KEYS)),
                );
            }
        }
    }
    if user.is_none() && !entries.iter().any(|(key, _)| key.value == "user") {
        errors.push(
            Diagnostic::at(span_of(value), "`account` has no `user`")
                .with_label("add `user: NAME`, the Chart Studio user whose files this governs"),
        );
    }
    // An entry that tried to name the key (an invalid `api_key_env`, an inline `api_key`) has
    // its own error already: "names no key" beside it would send the reader the wrong way.
    let tried_key = entries.iter().any(|(key, _)| {
        let word = key.value.to_ascii_lowercase();
        word == "api_key_env" || word == "api_key_file" || INLINE_KEY_KEYS.contains(&word.as_str())
    });
    let key = match keys.len() {
        1 => keys.pop().map(|(key, _)| key),
        0 if tried_key => None,
        0 => {
            errors.push(
                Diagnostic::at(span_of(value), "`account` names no key")
                    .with_label("add `api_key_env: VARIABLE` or `api_key_file: /path/to/key`"),
            );
            None
        }
        _ => {
            errors.push(Diagnostic::at(
                keys[1].1,
                "`account` names its key twice: give `api_key_env` or `api_key_file`, not both",
            ));
            None
        }
    };
    if errors.len() > before {
        return None;
    }
    Some(Account {
        user: user?,
        server,
        key: key?,
        span: span_of(value),
    })
}

/// Where `api_key_env` or `api_key_file` says the key is.
fn key_source(key: &str, value: &SNode, errors: &mut Vec<Diagnostic>) -> Option<KeySource> {
    let text = text(value, key, errors)?;
    if key == "api_key_file" {
        return Some(KeySource::File(PathBuf::from(text)));
    }
    if is_variable_name(text) {
        return Some(KeySource::Env(text.to_owned()));
    }
    // What is written may be the key itself, pasted where its name belongs: not shown.
    errors.push(
        Diagnostic::at(
            span_of(value),
            "`api_key_env` must name an environment variable in upper case (`A`-`Z`, digits \
             and `_`, not starting with a digit, at most 128 characters), such as \
             PLOTLY_KEY_FINANCE; the key itself never goes in a policy, and a value that may \
             be one is not shown",
        )
        .concealing_source(),
    );
    None
}

/// A string value, or an error saying it must be one.
fn text<'n>(value: &'n SNode, key: &str, errors: &mut Vec<Diagnostic>) -> Option<&'n str> {
    match &value.value {
        Node::Str(text) if !text.trim().is_empty() => Some(text.as_str()),
        other => {
            errors.push(Diagnostic::at(
                span_of(value),
                format!("`{key}` must be a non-empty string, found {}", other.kind()),
            ));
            None
        }
    }
}

/// The user, by the one rule for user names.
fn check_user(name: &str, value: &SNode, errors: &mut Vec<Diagnostic>) -> Option<String> {
    if crate::inventory::is_username(name) {
        return Some(name.to_owned());
    }
    errors.push(Diagnostic::at(
        span_of(value),
        "invalid `user`: Chart Studio usernames hold no `:`, `/`, `?`, `#`, `%`, `\\`, spaces \
         or control characters",
    ));
    None
}

/// Whether `name` is an upper-case environment variable name (`[A-Z_][A-Z0-9_]*`, at most 128
/// characters), so a key (mixed case, as keys are) pasted where its name belongs is refused.
pub(crate) fn is_variable_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{Account, KeySource};
    use crate::policy::Policy;

    fn parse(block: &str) -> Result<Option<Account>, String> {
        let source = format!("version: 1\ndefault: private\naccount:\n{block}");
        Policy::parse(&source, "p.yaml")
            .map(|policy| policy.account)
            .map_err(|err| words(&err))
    }

    /// Every diagnostic's position, message and label, one per line.
    fn words(err: &crate::policy::PolicyError) -> String {
        let crate::policy::PolicyError::Invalid(diagnostics) = err else {
            return err.to_string();
        };
        diagnostics
            .items
            .iter()
            .map(|d| {
                let at = d.span.map(|s| format!("{}:{}", s.line, s.column));
                format!(
                    "{}: {} | {}",
                    at.unwrap_or_default(),
                    d.message,
                    d.label.clone().unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn a_whole_block_names_user_server_and_where_the_key_is() {
        let account = parse(
            "  user: finance\n  server: https://plotly.example.com\n  api_key_env: KEY_FIN\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(account.user, "finance");
        assert_eq!(
            account.server.as_deref(),
            Some("https://plotly.example.com")
        );
        assert_eq!(account.key, KeySource::Env("KEY_FIN".into()));
        let file = parse("  user: ops\n  api_key_file: /run/secrets/ops\n")
            .unwrap()
            .unwrap();
        assert_eq!(file.key, KeySource::File("/run/secrets/ops".into()));
        assert_eq!(file.server, None);
    }

    #[test]
    fn a_policy_without_account_has_none() {
        let policy = Policy::parse("version: 1\ndefault: private\n", "p.yaml").unwrap();
        assert_eq!(policy.account, None);
    }

    #[test]
    fn an_inline_key_is_refused_with_the_two_ways_to_name_it() {
        let err = parse("  user: finance\n  api_key: s3cr3t\n").unwrap_err();
        assert!(
            err.contains("`api_key` would put the API key in the policy"),
            "{err}"
        );
        assert!(err.contains("api_key_env"), "{err}");
        // The message never repeats the value, and its source line is not shown.
        assert!(!err.contains("s3cr3t"), "{err}");
    }

    /// Diagnostics about a value that may be a secret carry the flag that keeps their source
    /// line out of the rendering, and their words never hold the value.
    #[test]
    fn lines_that_may_hold_a_secret_are_concealed() {
        let rule = |_: &str| Err("it holds a user name or password".to_owned());
        for (block, secret) in [
            (
                "  user: a\n  server: https://bob:Hunter2pw@plotly.example.com\n  api_key_env: K\n",
                "Hunter2pw",
            ),
            (
                "  user: a\n  api_key: Zq8sLx2VbN4mK7pR1tYw\n",
                "Zq8sLx2VbN4mK7pR1tYw",
            ),
            (
                "  user: a\n  api_key_env: Zq8sLx2VbN4mK7pR1tYw\n",
                "Zq8sLx2VbN4mK7pR1tYw",
            ),
        ] {
            let source = format!("version: 1\ndefault: private\naccount:\n{block}");
            let Err(crate::policy::PolicyError::Invalid(diagnostics)) =
                Policy::parse_with(&source, "p.yaml", &rule)
            else {
                panic!("{block} was accepted");
            };
            let about_it: Vec<_> = (diagnostics.items.iter())
                .filter(|d| d.span.is_some_and(|span| span.line == 5))
                .collect();
            assert!(!about_it.is_empty(), "{block}");
            assert!(about_it.iter().all(|d| d.conceal_source), "{block}");
            let err = words(&crate::policy::PolicyError::Invalid(diagnostics));
            assert!(!err.contains(secret), "{err}");
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let err = parse("  usr: finance\n  api_key_env: 1BAD\n  api_key_file: /k\n").unwrap_err();
        assert!(err.contains("unknown key `usr`"), "{err}");
        assert!(err.contains("did you mean `user`"), "{err}");
        assert!(err.contains("must name an environment variable"), "{err}");
        assert!(err.contains("`account` has no `user`"), "{err}");
    }

    #[test]
    fn two_key_sources_or_none_are_refused() {
        let both = parse("  user: a\n  api_key_env: K\n  api_key_file: /k\n").unwrap_err();
        assert!(both.contains("names its key twice"), "{both}");
        let none = parse("  user: a\n").unwrap_err();
        assert!(none.contains("names no key"), "{none}");
        // A key named wrongly has its own error, and only that one.
        for block in [
            "  user: a\n  api_key_env: lower_case\n",
            "  user: a\n  api_key_env: Zq8sLx2VbN4mK7pR1tYw\n",
            "  user: a\n  api_key: Zq8sLx2VbN4mK7pR1tYw\n",
        ] {
            let err = parse(block).unwrap_err();
            assert!(!err.contains("names no key"), "{block}: {err}");
            assert!(err.contains("api_key"), "{block}: {err}");
        }
    }

    #[test]
    fn a_bad_user_or_a_non_mapping_is_refused() {
        let user = parse("  user: \"a/b\"\n  api_key_env: K\n").unwrap_err();
        assert!(user.contains("invalid `user`"), "{user}");
        let source = "version: 1\ndefault: private\naccount: finance\n";
        let err = words(&Policy::parse(source, "p.yaml").unwrap_err());
        assert!(err.contains("`account` must be a mapping"), "{err}");
    }

    #[test]
    fn the_server_rule_decides_the_server() {
        let source = "version: 1\naccount:\n  user: a\n  server: ftp://x\n  api_key_env: K\n";
        let rule = |url: &str| {
            if url.starts_with("https://") {
                Ok(url.to_owned())
            } else {
                Err("use https".to_owned())
            }
        };
        let err = words(&Policy::parse_with(source, "p.yaml", &rule).unwrap_err());
        assert!(err.contains("4:11: invalid `server`: use https"), "{err}");
    }

    proptest! {
        /// Whatever the block holds, parsing never panics, and an accepted account has a valid
        /// user and exactly the key source written.
        #[test]
        fn any_block_is_refused_or_whole(
            user in "[a-zA-Z0-9:/ _-]{0,12}",
            var in "[A-Z0-9_]{0,8}",
            key in prop_oneof!["api_key_env", "api_key_file", "api_key", "usr"],
        ) {
            let block = format!("  user: \"{user}\"\n  {key}: \"{var}\"\n");
            if let Ok(Some(account)) = parse(&block) {
                prop_assert!(crate::inventory::is_username(&account.user));
                prop_assert_eq!(&account.user, &user);
                match account.key {
                    KeySource::Env(name) => {
                        prop_assert_eq!(key, "api_key_env");
                        prop_assert!(super::is_variable_name(&name));
                    }
                    KeySource::File(path) => {
                        prop_assert_eq!(key, "api_key_file");
                        prop_assert_eq!(path.to_str(), Some(var.as_str()));
                    }
                }
            }
        }
    }
}
