//! Listings written straight into bytes: the same JSON `serde_json` writes for the derived
//! `Serialize` impls in `wire` (tested byte for byte), without its per-token machinery.
//!
//! A listing page is 500 file objects of some 30 fields; through `serde_json` the sandbox
//! spent more CPU rendering an organization's pages than plotward spent reading them, on the
//! same cores a benchmark shares between the two. The derived impls stay the definition of the
//! shapes (and serve every other response); this module only writes them faster.

use super::{ApiUrls, FileObject, FolderListing, Listing, Page, ShareKey, Text};

/// Room to reserve per file object: a generated file's object is about 790 bytes.
const OBJECT_BYTES: usize = 832;

impl Listing<'_> {
    /// This listing as JSON.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + OBJECT_BYTES * self.children.results.len());
        out.extend_from_slice(b"{\"fid\":");
        push_str(&mut out, &self.fid);
        out.extend_from_slice(b",\"filename\":");
        push_str(&mut out, self.filename);
        out.extend_from_slice(b",\"filetype\":");
        push_str(&mut out, self.filetype);
        out.extend_from_slice(b",\"owner\":");
        push_str(&mut out, self.owner);
        out.extend_from_slice(b",\"children\":");
        self.children.write(&mut out);
        out.push(b'}');
        out
    }
}

impl FolderListing<'_> {
    /// This listing as JSON: the folder's own fields, then its children.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + OBJECT_BYTES * (1 + self.children.results.len()));
        out.push(b'{');
        self.folder.write_fields(&mut out);
        out.extend_from_slice(b",\"children\":");
        self.children.write(&mut out);
        out.push(b'}');
        out
    }
}

impl Page<'_> {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"count\":");
        push_int(out, self.count);
        out.extend_from_slice(b",\"next\":");
        push_optional(out, self.next.as_deref());
        out.extend_from_slice(b",\"previous\":");
        push_optional(out, self.previous.as_deref());
        out.extend_from_slice(b",\"first\":");
        push_str(out, &self.first);
        out.extend_from_slice(b",\"last\":");
        push_str(out, &self.last);
        out.extend_from_slice(b",\"results\":[");
        for (index, object) in self.results.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            out.push(b'{');
            object.write_fields(out);
            out.push(b'}');
        }
        out.extend_from_slice(b"]}");
    }
}

impl FileObject<'_> {
    /// The object's fields, in the derived impl's order, without the braces (a folder's
    /// listing follows them with `children`).
    fn write_fields(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"\"fid\":");
        self.fid.write(out);
        out.extend_from_slice(b",\"filename\":");
        push_str(out, self.filename);
        out.extend_from_slice(b",\"filetype\":");
        push_str(out, self.filetype);
        out.extend_from_slice(b",\"owner\":");
        push_str(out, self.owner);
        out.extend_from_slice(b",\"parent\":");
        push_int(out, self.parent);
        out.extend_from_slice(b",\"parented\":");
        push_bool(out, self.parented);
        out.extend_from_slice(b",\"world_readable\":");
        push_bool(out, self.world_readable);
        if let Some(enabled) = self.share_key_enabled {
            out.extend_from_slice(b",\"share_key_enabled\":");
            push_bool(out, enabled);
        }
        if let Some(ShareKey(key)) = &self.share_key {
            out.extend_from_slice(b",\"share_key\":");
            push_optional(out, *key);
        }
        if let Some(deleted) = self.deleted {
            out.extend_from_slice(b",\"deleted\":");
            push_bool(out, deleted);
        }
        out.extend_from_slice(b",\"web_url\":");
        self.web_url.write(out);
        out.extend_from_slice(b",\"embed_url\":");
        self.embed_url.write(out);
        out.extend_from_slice(b",\"api_urls\":");
        self.api_urls.write(out);
        out.extend_from_slice(b",\"files_url\":");
        self.files_url.write(out);
        out.extend_from_slice(b",\"creation_time\":");
        push_str(out, self.creation_time);
        out.extend_from_slice(b",\"date_modified\":");
        push_str(out, self.date_modified);
        out.extend_from_slice(b",\"image_urls\":");
        push_value(out, &self.image_urls);
        out.extend_from_slice(b",\"img_url\":");
        push_str(out, self.img_url);
        out.extend_from_slice(b",\"preview\":");
        push_str(out, self.preview);
        out.extend_from_slice(b",\"references\":[],\"referencers\":[],\"collaborators\":");
        push_value(out, &self.collaborators);
        out.extend_from_slice(b",\"comments\":null,\"views\":");
        push_int(out, self.views);
        out.extend_from_slice(b",\"title\":");
        push_str(out, self.title);
        out.extend_from_slice(b",\"is_theme\":");
        push_bool(out, self.is_theme);
        out.extend_from_slice(b",\"is_template\":");
        push_bool(out, self.is_template);
        out.extend_from_slice(b",\"metadata\":");
        push_value(out, &self.metadata);
        if let Some(cols) = &self.cols {
            out.extend_from_slice(b",\"cols\":");
            push_value(out, cols);
        }
    }
}

impl ApiUrls<'_> {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"files\":");
        self.files.write(out);
        out.push(b',');
        push_str(out, self.resource);
        out.push(b':');
        self.typed.write(out);
        out.push(b'}');
    }
}

impl Text<'_> {
    /// The text as a JSON string, a piece at a time: escaping is per character, so escaping
    /// the pieces is escaping the whole.
    fn write(&self, out: &mut Vec<u8>) {
        out.push(b'"');
        match *self {
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

fn push_bool(out: &mut Vec<u8>, value: bool) {
    out.extend_from_slice(if value { b"true" } else { b"false" });
}

fn push_int(out: &mut Vec<u8>, value: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

fn push_optional(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => push_str(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

/// A value the listing rarely or never fills (an empty map, a grid's columns): through
/// `serde_json`, which cannot fail on these types.
fn push_value(out: &mut Vec<u8>, value: &impl serde::Serialize) {
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.extend_from_slice(b"null");
    }
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
    // Nearly every string of a listing needs no escape: copied whole.
    if !bytes
        .iter()
        .any(|&byte| byte < 0x20 || byte == b'"' || byte == b'\\')
    {
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
