//! The JSON Schema of the policy file, for editors (`# yaml-language-server: $schema=...`).
//! It mirrors what `policy::validate` accepts; the test suite checks the shipped policies
//! against it with an independent validator.

use serde_json::{Value, json};

use crate::inventory::FileType;

/// The schema, JSON Schema draft 2020-12.
pub(crate) fn policy() -> Value {
    let globs = json!({
        "description": "One glob or a list of globs. `*` stays within a folder, `**` crosses folders; case-sensitive; no leading or trailing `/`.",
        "oneOf": [
            { "$ref": "#/$defs/glob" },
            { "type": "array", "items": { "$ref": "#/$defs/glob" }, "minItems": 1 }
        ]
    });
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "plotward policy",
        "description": "Which sharing level each Chart Studio file should have. Rules are read top to bottom; the first rule whose pattern and file types match decides.",
        "type": "object",
        "additionalProperties": false,
        "required": ["version"],
        "properties": {
            "version": { "description": "The policy language version.", "const": 1 },
            "default": {
                "description": "What files no rule matches get (never applied to folders). Default: ignore.",
                "$ref": "#/$defs/target"
            },
            "rules": {
                "description": "The rules, first match wins.",
                "type": ["array", "null"],
                "items": { "$ref": "#/$defs/rule" }
            },
            "guardrails": { "$ref": "#/$defs/guardrails" },
            "account": { "$ref": "#/$defs/account" }
        },
        "$defs": {
            "account": {
                "description": "Whose account the policy governs, and where its API key is (never the key itself). Without it, --user, --api-url and the environment name the account.",
                "type": "object",
                "additionalProperties": false,
                "required": ["user"],
                "properties": {
                    "user": { "description": "The Chart Studio user.", "type": "string", "pattern": "^[^:/?#%\\\\\\s]+$" },
                    "server": { "description": "The Chart Studio Enterprise server (https; http only on loopback). Default: --api-url / PLOTLY_API_DOMAIN.", "type": "string", "minLength": 1 },
                    "api_key_env": { "description": "The environment variable holding the API key.", "type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" },
                    "api_key_file": { "description": "A file whose only content is the API key.", "type": "string", "minLength": 1 }
                },
                "oneOf": [
                    { "required": ["api_key_env"] },
                    { "required": ["api_key_file"] }
                ]
            },
            "target": {
                "description": "public: anyone; secret: anyone with the share-key link; private: owner and collaborators; ignore: leave the file as it is.",
                "enum": ["public", "private", "secret", "ignore"]
            },
            "glob": { "type": "string", "minLength": 1, "not": { "pattern": "^/|/$" } },
            "globs": globs,
            "filetype": { "enum": FileType::KNOWN },
            "rule": {
                "type": "object",
                "additionalProperties": false,
                "required": ["match", "sharing"],
                "properties": {
                    "match": { "$ref": "#/$defs/globs" },
                    "sharing": { "$ref": "#/$defs/target" },
                    "filetypes": {
                        "description": "The file types the rule applies to. Default: every type except folders (`fold`).",
                        "oneOf": [
                            { "$ref": "#/$defs/filetype" },
                            { "type": "array", "items": { "$ref": "#/$defs/filetype" }, "minItems": 1 }
                        ]
                    }
                }
            },
            "guardrails": {
                "description": "Safety limits: apply refuses a plan that breaks them unless --force.",
                "type": ["object", "null"],
                "additionalProperties": false,
                "properties": {
                    "never_public": {
                        "description": "Paths that must never be public; a rule that would publish one is a validation error.",
                        "$ref": "#/$defs/globs"
                    },
                    "max_changes": {
                        "description": "Most changes one apply may make: a number, or a percentage of the managed files (from 10 managed files).",
                        "oneOf": [
                            { "type": "integer", "minimum": 0 },
                            { "type": "string", "pattern": "^\\s*(100(\\.0+)?|[0-9]{1,2}(\\.[0-9]+)?)\\s*%$" }
                        ]
                    },
                    "max_exposures": {
                        "description": "Most files one apply may expose.",
                        "type": "integer",
                        "minimum": 0
                    }
                }
            }
        }
    })
}
