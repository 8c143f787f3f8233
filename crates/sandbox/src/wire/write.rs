//! Listings written straight into bytes: the same JSON `serde_json` writes for the derived
//! `Serialize` impls in `wire` (tested byte for byte), without its per-token machinery.
//!
//! A listing page is 500 file objects of some 30 fields; through `serde_json` the sandbox
//! spent more CPU rendering an organization's pages than plotward spent reading them, on the
//! same cores a benchmark shares between the two. The derived impls stay the definition of the
//! shapes (and serve every other response); this module only writes them faster: a listing
//! costs 0.41 of the instructions it did through `serde_json` (callgrind, 20 accounts of
//! 1,000 files listed twice: 699 M to 289 M), each field's `,"name":` one copy made when
//! compiled, each string's escape test one pass with no early exit.

use serde_json::{Map, Value};

use super::{ApiUrls, Collaborators, FileObject, FolderListing, Listing, Page, ShareKey, Text};

/// Room to reserve per file object: a generated file's object is about 790 bytes.
const OBJECT_BYTES: usize = 832;

impl Listing<'_> {
    /// This listing as JSON.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + OBJECT_BYTES * self.children.results.len());
        Object::open(&mut out)
            .field(key!("fid"), self.fid.as_str())
            .field(key!("filename"), self.filename)
            .field(key!("filetype"), self.filetype)
            .field(key!("owner"), self.owner)
            .field(key!("children"), &self.children)
            .close();
        out
    }
}

impl FolderListing<'_> {
    /// This listing as JSON: the folder's own fields, then its children.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + OBJECT_BYTES * (1 + self.children.results.len()));
        let object = Object::open(&mut out);
        self.folder
            .fields(object)
            .field(key!("children"), &self.children)
            .close();
        out
    }
}

/// The text before a field's value, `,"name":`, made when compiled: one copy a field.
macro_rules! key {
    ($name:literal) => {
        Key(concat!(",\"", $name, "\":"))
    };
}
use key;

/// What [`key!`] makes; a field takes nothing else, so no name can go unquoted.
struct Key(&'static str);

/// A value written as JSON.
trait Json {
    fn write(self, out: &mut Vec<u8>);
}

/// An object being written: `open`, a `field` at a time, `close`.
struct Object<'o> {
    out: &'o mut Vec<u8>,
    empty: bool,
}

impl<'o> Object<'o> {
    fn open(out: &'o mut Vec<u8>) -> Self {
        out.push(b'{');
        Object { out, empty: true }
    }

    /// A field: `key` is [`key!`]'s `,"name":`, its comma left off for the first field.
    fn field(mut self, Key(key): Key, value: impl Json) -> Self {
        let start = usize::from(self.empty);
        self.out.extend_from_slice(&key.as_bytes()[start..]);
        self.empty = false;
        value.write(self.out);
        self
    }

    /// A field whose name is known only at run time (`api_urls`' typed resource); a static
    /// name of the wire format, which needs no escape.
    fn field_named(mut self, name: &str, value: impl Json) -> Self {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        self.out.push(b'"');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"\":");
        value.write(self.out);
        self
    }

    /// A field written only when there is a value (`skip_serializing_if = "Option::is_none"`).
    fn field_if(self, key: Key, value: Option<impl Json>) -> Self {
        match value {
            Some(value) => self.field(key, value),
            None => self,
        }
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

impl Json for &Page<'_> {
    fn write(self, out: &mut Vec<u8>) {
        Object::open(out)
            .field(key!("count"), self.count)
            .field(key!("next"), self.next.as_deref())
            .field(key!("previous"), self.previous.as_deref())
            .field(key!("first"), self.first.as_str())
            .field(key!("last"), self.last.as_str())
            .field(key!("results"), self.results.as_slice())
            .close();
    }
}

impl Json for &[FileObject<'_>] {
    fn write(self, out: &mut Vec<u8>) {
        out.push(b'[');
        for (index, object) in self.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            object.fields(Object::open(out)).close();
        }
        out.push(b']');
    }
}

impl FileObject<'_> {
    /// The object's fields, in the derived impl's order (a folder's listing follows them
    /// with `children`).
    fn fields<'o>(&self, object: Object<'o>) -> Object<'o> {
        object
            .field(key!("fid"), self.fid)
            .field(key!("filename"), self.filename)
            .field(key!("filetype"), self.filetype)
            .field(key!("owner"), self.owner)
            .field(key!("parent"), self.parent)
            .field(key!("parented"), self.parented)
            .field(key!("world_readable"), self.world_readable)
            .field_if(key!("share_key_enabled"), self.share_key_enabled)
            .field_if(
                key!("share_key"),
                self.share_key.as_ref().map(|ShareKey(key)| *key),
            )
            .field_if(key!("deleted"), self.deleted)
            .field(key!("web_url"), self.web_url)
            .field(key!("embed_url"), self.embed_url)
            .field(key!("api_urls"), &self.api_urls)
            .field(key!("files_url"), self.files_url)
            .field(key!("creation_time"), self.creation_time)
            .field(key!("date_modified"), self.date_modified)
            .field(key!("image_urls"), &self.image_urls)
            .field(key!("img_url"), self.img_url)
            .field(key!("preview"), self.preview)
            .field(key!("references"), self.references)
            .field(key!("referencers"), self.referencers)
            .field(key!("collaborators"), &self.collaborators)
            .field(key!("comments"), self.comments)
            .field(key!("views"), self.views)
            .field(key!("title"), self.title)
            .field(key!("is_theme"), self.is_theme)
            .field(key!("is_template"), self.is_template)
            .field(key!("metadata"), &self.metadata)
            .field_if(key!("cols"), self.cols.as_ref().map(Serde))
    }
}

impl Json for &ApiUrls<'_> {
    fn write(self, out: &mut Vec<u8>) {
        Object::open(out)
            .field(key!("files"), self.files)
            .field_named(self.resource, self.typed)
            .close();
    }
}

impl Json for Text<'_> {
    /// The text as a JSON string, a piece at a time: escaping is per character, so escaping
    /// the pieces is escaping the whole.
    fn write(self, out: &mut Vec<u8>) {
        out.push(b'"');
        match self {
            Text::Fid { owner, id } => {
                push_escaped(out, owner);
                out.push(b':');
                push_int(out, id);
            }
            Text::Web {
                base,
                owner,
                id,
                suffix,
            } => {
                push_escaped(out, base);
                out.extend_from_slice(b"/~");
                push_escaped(out, owner);
                out.push(b'/');
                push_int(out, id);
                push_escaped(out, suffix);
            }
            Text::Api {
                base,
                resource,
                owner,
                id,
            } => {
                push_escaped(out, base);
                out.extend_from_slice(b"/v2/");
                push_escaped(out, resource);
                out.push(b'/');
                push_escaped(out, owner);
                out.push(b':');
                push_int(out, id);
            }
        }
        out.push(b'"');
    }
}

impl Json for &str {
    fn write(self, out: &mut Vec<u8>) {
        push_str(out, self);
    }
}

impl Json for Option<&str> {
    fn write(self, out: &mut Vec<u8>) {
        match self {
            Some(text) => push_str(out, text),
            None => out.extend_from_slice(b"null"),
        }
    }
}

impl Json for bool {
    fn write(self, out: &mut Vec<u8>) {
        out.extend_from_slice(if self { b"true" } else { b"false" });
    }
}

macro_rules! integers {
    ($($integer:ty),*) => {$(
        impl Json for $integer {
            fn write(self, out: &mut Vec<u8>) {
                push_int(out, self);
            }
        }
    )*};
}
integers!(i64, u64, usize);

impl Json for &Collaborators {
    fn write(self, out: &mut Vec<u8>) {
        Object::open(out)
            .field(key!("count"), self.count)
            .field(key!("results"), self.results)
            .close();
    }
}

/// The lists the sandbox does not model (`references`, a file's collaborators): always empty.
impl Json for [(); 0] {
    fn write(self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"[]");
    }
}

/// `comments`, not modelled: `null` (as `()` is too).
impl Json for Option<()> {
    fn write(self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"null");
    }
}

/// `image_urls` and `metadata`: always empty in a listing, so written without `serde_json`
/// unless they hold something.
impl Json for &Map<String, Value> {
    fn write(self, out: &mut Vec<u8>) {
        if self.is_empty() {
            out.extend_from_slice(b"{}");
        } else {
            Serde(self).write(out);
        }
    }
}

/// A value the listing rarely fills (a grid's columns): through `serde_json`, which cannot
/// fail on these types.
struct Serde<'v, T>(&'v T);

impl<T: serde::Serialize> Json for Serde<'_, T> {
    fn write(self, out: &mut Vec<u8>) {
        if serde_json::to_writer(&mut *out, self.0).is_err() {
            out.extend_from_slice(b"null");
        }
    }
}

fn push_int(out: &mut Vec<u8>, value: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

fn push_str(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    push_escaped(out, text);
    out.push(b'"');
}

/// The text inside a JSON string, escaped as `serde_json` escapes it: `"`, `\` and the C0
/// controls, short forms where JSON has them, `\u00xx` (lower-case) otherwise; everything
/// else as it is.
fn push_escaped(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    // Nearly every string of a listing needs no escape: copied whole. Settled over the
    // whole string without stopping early, which compiles to wide compares.
    let escapes = bytes.iter().fold(0u8, |escapes, &byte| {
        escapes | u8::from(byte < 0x20) | u8::from(byte == b'"') | u8::from(byte == b'\\')
    });
    if escapes == 0 {
        out.extend_from_slice(bytes);
        return;
    }
    for &byte in bytes {
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\x08' => out.extend_from_slice(b"\\b"),
            b'\x0c' => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xf)],
            ]),
            _ => out.push(byte),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::super::{FileObject, FolderListing, Listing, Page, Urls, View};
    use super::push_str;
    use crate::store::StoredFile;

    /// Names and hosts as hostile as clients send: quotes, backslashes, every C0 control,
    /// DEL, non-ASCII and emoji.
    fn any_text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9_.-]{0,12}",
            any::<String>(),
            prop::collection::vec(
                prop_oneof![
                    Just('"'),
                    Just('\\'),
                    Just('\u{7f}'),
                    Just('é'),
                    Just('\u{202e}'),
                    (0u8..0x20).prop_map(char::from),
                    Just('a'),
                ],
                0..12
            )
            .prop_map(|chars| chars.into_iter().collect()),
        ]
    }

    prop_compose! {
        fn any_file()(
            owner in any_text(),
            id in any::<i64>(),
            parent in any::<i64>(),
            filename in any_text(),
            filetype in prop_oneof![
                Just("plot".to_owned()),
                Just("grid".to_owned()),
                Just("fold".to_owned()),
                Just("dashboard".to_owned()),
                any_text(),
            ],
            world_readable in any::<bool>(),
            share_key_enabled in any::<bool>(),
            share_key in prop::option::of(any_text()),
            deleted in any::<bool>(),
            cols in prop::collection::vec(any_text(), 0..3),
        ) -> StoredFile {
            let mut file = StoredFile::new(&owner, id, parent, &filename, &filetype,
                std::time::SystemTime::UNIX_EPOCH);
            file.world_readable = world_readable;
            file.share_key_enabled = share_key_enabled;
            file.share_key = share_key;
            file.deleted = deleted;
            file.cols = cols.into_iter().map(|name| json!({"name": name, "uid": "x"})).collect();
            file
        }
    }

    fn any_urls() -> impl Strategy<Value = Urls> {
        (any_text(), any_text()).prop_map(|(api_base, web_base)| Urls { api_base, web_base })
    }

    fn objects<'a>(
        files: &'a [StoredFile],
        urls: &'a Urls,
        owner: bool,
        visible: bool,
    ) -> Vec<FileObject<'a>> {
        let view = if owner { View::Owner } else { View::Reader };
        files
            .iter()
            .map(|file| FileObject::new(file, view, urls, visible))
            .collect()
    }

    fn any_page_links() -> impl Strategy<Value = (String, Vec<(String, String)>, usize, usize)> {
        (
            any_text(),
            prop::collection::vec((any_text(), any_text()), 0..3),
            1usize..4,
            0usize..3,
        )
    }

    proptest! {
        /// A root listing is written as `serde_json` writes the derived impl, byte for byte,
        /// and reads back as the same value.
        #[test]
        fn listings_are_written_as_serde_json_writes_them(
            files in prop::collection::vec(any_file(), 0..4),
            urls in any_urls(),
            owner in any::<bool>(),
            visible in any::<bool>(),
            fid in any_text(),
            listed_owner in any_text(),
            (path, query, number, more) in any_page_links(),
        ) {
            let results = objects(&files, &urls, owner, visible);
            let count = results.len();
            let listing = Listing {
                fid,
                filename: "",
                filetype: "fold",
                owner: &listed_owner,
                children: Page::new(&path, &query, count, number, number + more, results),
            };
            let ours = String::from_utf8(listing.to_json()).unwrap();
            prop_assert_eq!(&ours, &serde_json::to_string(&listing).unwrap());
            prop_assert!(serde_json::from_str::<Value>(&ours).is_ok());
        }

        /// So is a folder's listing, the folder's own fields flattened before `children`.
        #[test]
        fn folder_listings_are_written_as_serde_json_writes_them(
            folder in any_file(),
            files in prop::collection::vec(any_file(), 0..4),
            urls in any_urls(),
            owner in any::<bool>(),
            visible in any::<bool>(),
            (path, query, number, more) in any_page_links(),
        ) {
            let results = objects(&files, &urls, owner, visible);
            let count = results.len();
            let view = if owner { View::Owner } else { View::Reader };
            let listing = FolderListing {
                folder: FileObject::new(&folder, view, &urls, visible),
                children: Page::new(&path, &query, count, number, number + more, results),
            };
            prop_assert_eq!(
                String::from_utf8(listing.to_json()).unwrap(),
                serde_json::to_string(&listing).unwrap()
            );
        }

        /// Any string at all is escaped as `serde_json` escapes it.
        #[test]
        fn strings_are_escaped_as_serde_json_escapes_them(text in any_text()) {
            let mut ours = Vec::new();
            push_str(&mut ours, &text);
            prop_assert_eq!(ours, serde_json::to_vec(&text).unwrap());
        }
    }
}
