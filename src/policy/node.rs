//! The policy's YAML as a tree of spanned nodes.
//!
//! The policy is not deserialized straight into typed structs: serde stops at the first
//! problem, and a user fixing a policy wants every problem at once. So the YAML is first read
//! into this loose tree, where every value and every key keeps its line and column, and
//! `validate` walks it and collects all the errors.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::diagnostic::Span;

/// A YAML value with its position.
pub(super) type SNode = Spanned<Node>;

/// Any YAML value.
#[derive(Debug)]
pub(super) enum Node {
    Null,
    Bool,
    Int(i64),
    Float,
    Str(String),
    Seq(Vec<SNode>),
    Map(Vec<(Spanned<String>, SNode)>),
}

impl Node {
    /// A short description of the kind of value, for "expected X, found Y" messages.
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Node::Null => "nothing",
            Node::Bool => "a boolean",
            Node::Int(_) | Node::Float => "a number",
            Node::Str(_) => "a string",
            Node::Seq(_) => "a list",
            Node::Map(_) => "a mapping",
        }
    }
}

/// The span of a spanned value, for diagnostics.
pub(super) fn span_of<T>(value: &Spanned<T>) -> Span {
    let location = value.referenced;
    Span {
        line: location.line(),
        column: location.column(),
        width: location.span().len(),
    }
}

/// Reads YAML into a node tree. Syntax errors carry serde-saphyr's position.
pub(super) fn parse(source: &str) -> Result<SNode, serde_saphyr::Error> {
    serde_saphyr::from_str(source)
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        Node::deserialize(deserializer)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Bool)
    }

    fn visit_i64<E>(self, value: i64) -> Result<Node, E> {
        Ok(Node::Int(value))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Node, E> {
        // Values beyond i64 are never valid in a policy; keep them as a number without a value
        // so they still show up as "a number" in messages rather than failing the parse.
        Ok(i64::try_from(value).map_or(Node::Float, Node::Int))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Float)
    }

    fn visit_str<E>(self, value: &str) -> Result<Node, E> {
        Ok(Node::Str(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Node, E> {
        Ok(Node::Str(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Node::Map(entries))
    }
}
