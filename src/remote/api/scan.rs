//! A listing page read by a structural scan instead of a full `serde_json` parse.
//!
//! A page's file objects carry some thirty fields, of which plotward reads seven; `serde_json`
//! tokenises, decodes and matches every key and value, which was over half of a 100,000-file
//! plan's instructions. The scan walks the page's bytes once, checks every byte of its
//! structure by the JSON grammar, decodes only the wanted values, and skips the rest cheaply
//! (strings eight bytes at a time, containers by depth).
//!
//! It is a fast path, never a second opinion: anything it is not sure of (an escaped key, a
//! struct written as an array, a number it would not convert as `serde_json` does, deep
//! nesting, any syntax error) makes it answer `None`, and [`super::parse_page`] then hands
//! the page to `serde_json`. So a page is accepted only where `serde_json` accepts it, with
//! the same [`ListPage`], and every refusal keeps `serde_json`'s message. The property tests
//! in `api/tests.rs` compare the two on arbitrary bytes and on mutated pages.

#![expect(
    clippy::inline_always,
    reason = "measured: a 100,000-file listing costs 8% more instructions (callgrind) when the \
              hot helpers are left to the inliner"
)]

use std::borrow::Cow;

use super::{Children, ListPage, ListedFile};

/// The file types the API names, as `inventory::FileType::from_api` knows them.
const KNOWN_FILETYPES: [&str; 5] = [
    "fold",
    "plot",
    "grid",
    "dashboard",
    "spectacle_presentation",
];

/// Nesting deeper than this is left to `serde_json` (which stops at 128), so the scan's
/// recursion stays shallow whatever the server sends.
const MAX_DEPTH: usize = 64;

/// The page in `text`, or `None` when the scan cannot vouch that `serde_json` would read it
/// the same way.
pub(super) fn scan_page(text: &str) -> Option<ListPage> {
    let mut scanner = Scanner {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        plain: is_plain(text.as_bytes()),
    };
    let page = scanner.page()?;
    scanner.skip_whitespace();
    (scanner.pos == scanner.bytes.len()).then_some(page)
}

/// A cursor over the page text.
struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// The page holds no backslash and no control character (as a compact page from a real
    /// server does): a string then ends at the next quote, and nothing in it needs checking.
    plain: bool,
}

/// Whether `bytes` holds no backslash and no byte below 0x20: every string on the page can
/// then be skipped by looking for its closing quote alone. One pass over the whole page, in
/// blocks the compiler turns into vector instructions (no early exit to stop it).
pub(super) fn is_plain(bytes: &[u8]) -> bool {
    let special = |byte: &u8| u8::from(*byte < 0x20) | u8::from(*byte == b'\\');
    let mut blocks = bytes.chunks_exact(64);
    let mut found = 0;
    for block in &mut blocks {
        found |= block.iter().map(special).fold(0, |seen, one| seen | one);
    }
    found |= blocks
        .remainder()
        .iter()
        .map(special)
        .fold(0, |seen, one| seen | one);
    found == 0
}

/// A wanted field seen once at most: `None` until seen, so a repeat is told from a `null`.
type Once<T> = Option<T>;

/// Records a wanted field's value; `None` (give up) on a repeat, which `serde_json` refuses.
fn set_once<T>(slot: &mut Once<T>, value: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Skips JSON whitespace (space, tab, newline, carriage return: nothing else).
    #[inline(always)]
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Consumes `byte` after whitespace, or gives up. A compact page has no whitespace
    /// between tokens, so the byte at the cursor is tried first: one comparison, four times
    /// a field.
    #[inline(always)]
    fn expect(&mut self, byte: u8) -> Option<()> {
        if self.peek() != Some(byte) {
            self.skip_whitespace();
            if self.peek()? != byte {
                return None;
            }
        }
        self.pos += 1;
        Some(())
    }

    /// Walks an object at `depth` (the object itself counted), calling `field` with each key
    /// and the scanner placed on the value, which `field` must consume.
    fn object(
        &mut self,
        depth: usize,
        mut field: impl FnMut(&mut Self, &'a [u8]) -> Option<()>,
    ) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.expect(b'{')?;
        self.skip_whitespace();
        if self.peek()? == b'}' {
            self.pos += 1;
            return Some(());
        }
        loop {
            self.skip_whitespace();
            let key = self.key()?;
            self.expect(b':')?;
            self.skip_whitespace();
            field(self, key)?;
            if self.peek() != Some(b',') {
                self.skip_whitespace();
                match self.peek()? {
                    b',' => {}
                    b'}' => {
                        self.pos += 1;
                        return Some(());
                    }
                    _ => return None,
                }
            }
            self.pos += 1;
        }
    }

    /// An array at `depth`, calling `element` with the scanner placed on each element.
    fn array(
        &mut self,
        depth: usize,
        mut element: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.expect(b'[')?;
        self.skip_whitespace();
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(());
        }
        loop {
            self.skip_whitespace();
            element(self)?;
            self.skip_whitespace();
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// The root object: `children` once, anything else skipped.
    fn page(&mut self) -> Option<ListPage> {
        let mut children = None;
        self.object(1, |scanner, key| {
            if key == b"children" {
                let found = scanner.children()?;
                set_once(&mut children, found)
            } else {
                scanner.skip_value(2)
            }
        })?;
        Some(ListPage {
            children: children?,
        })
    }

    /// `children`: `count` and `results` required, `next` optional, each once.
    fn children(&mut self) -> Option<Children> {
        let (mut count, mut next, mut results) = (None, None, None);
        self.object(2, |scanner, key| match key {
            b"count" => {
                let found = scanner.integer()?;
                set_once(&mut count, usize::try_from(found).ok()?)
            }
            b"next" => {
                let found = scanner.nullable(Self::string)?;
                set_once(&mut next, found)
            }
            b"results" => {
                let found = scanner.results()?;
                set_once(&mut results, found)
            }
            _ => scanner.skip_value(3),
        })?;
        Some(Children {
            count: count?,
            next: next.flatten(),
            results: results?,
        })
    }

    /// `results`: an array of file objects (an element written any other way is left to
    /// `serde_json`).
    fn results(&mut self) -> Option<Vec<ListedFile>> {
        // Room for the page size plotward asks for, so a full page is never moved while it
        // grows; a larger page grows as any vector does.
        let mut files = Vec::with_capacity(super::PAGE_SIZE);
        self.array(3, |scanner| {
            files.push(scanner.file()?);
            Some(())
        })?;
        Some(files)
    }

    /// One file object: the seven fields plotward reads, each once; `fid` required.
    fn file(&mut self) -> Option<ListedFile> {
        let mut fid = None;
        let (mut filename, mut filetype, mut parent) = (None, None, None);
        let (mut world_readable, mut share_key_enabled, mut deleted) = (None, None, None);
        self.object(4, |scanner, key| match key {
            b"fid" => {
                let found = scanner.string()?;
                set_once(&mut fid, found)
            }
            b"filename" => {
                let found = scanner.nullable(Self::string)?;
                set_once(&mut filename, found)
            }
            b"filetype" => {
                let found = scanner.nullable(Self::filetype)?;
                set_once(&mut filetype, found)
            }
            b"parent" => {
                let found = scanner.nullable(Self::integer)?;
                set_once(&mut parent, found)
            }
            b"world_readable" => {
                let found = scanner.nullable(Self::boolean)?;
                set_once(&mut world_readable, found)
            }
            b"share_key_enabled" => {
                let found = scanner.nullable(Self::boolean)?;
                set_once(&mut share_key_enabled, found)
            }
            b"deleted" => {
                let found = scanner.nullable(Self::boolean)?;
                set_once(&mut deleted, found)
            }
            _ => scanner.skip_member_value(5),
        })?;
        Some(ListedFile {
            fid: fid?,
            filename: filename.flatten(),
            filetype: filetype.flatten(),
            parent: parent.flatten(),
            world_readable: world_readable.flatten(),
            share_key_enabled: share_key_enabled.flatten(),
            deleted: deleted.flatten(),
        })
    }

    /// `null` as `Some(None)`, else the value `read` reads.
    #[expect(
        clippy::option_option,
        reason = "the outer `None` gives the page to serde_json, the inner one is a `null`"
    )]
    #[inline(always)]
    fn nullable<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.bytes[self.pos..].starts_with(b"null") {
            self.pos += 4;
            return Some(None);
        }
        read(self).map(Some)
    }

    /// `true` or `false`.
    fn boolean(&mut self) -> Option<bool> {
        let rest = &self.bytes[self.pos..];
        if rest.starts_with(b"true") {
            self.pos += 4;
            Some(true)
        } else if rest.starts_with(b"false") {
            self.pos += 5;
            Some(false)
        } else {
            None
        }
    }

    /// An integer as `serde_json` reads one into `i64` or `usize`: no fraction, no exponent,
    /// within `i64`. `-0` is left to `serde_json` (which reads it as a float).
    fn integer(&mut self) -> Option<i64> {
        let start = self.pos;
        self.skip_number()?;
        let digits = &self.text[start..self.pos];
        // Most are a folder's number: a few plain digits (the grammar above has already
        // refused a leading zero), which any `i64` holds up to eighteen of.
        if digits.len() <= 18 && digits.bytes().all(|byte| byte.is_ascii_digit()) {
            return Some(
                digits
                    .bytes()
                    .fold(0, |value, digit| value * 10 + i64::from(digit - b'0')),
            );
        }
        if digits.starts_with("-0") || digits.contains(['.', 'e', 'E']) {
            return None;
        }
        digits.parse().ok()
    }

    /// A key's bytes: a string without escapes (an escaped key is left to `serde_json`,
    /// which decodes it before matching). Keys are only compared with the wanted names, so
    /// they stay bytes.
    #[inline(always)]
    fn key(&mut self) -> Option<&'a [u8]> {
        let start = self.pos + 1;
        if self.skip_string()? {
            return None;
        }
        self.bytes.get(start..self.pos - 1)
    }

    /// A string value, decoded: borrowed straight from the page when it has no escape,
    /// through `serde_json` when it has (which also refuses lone surrogates).
    fn decoded(&mut self) -> Option<Cow<'a, str>> {
        let start = self.pos;
        let escaped = self.skip_string()?;
        let quoted = self.text.get(start..self.pos)?;
        if escaped {
            serde_json::from_str(quoted).ok().map(Cow::Owned)
        } else {
            Some(Cow::Borrowed(&quoted[1..quoted.len() - 1]))
        }
    }

    /// A string value, decoded and owned.
    fn string(&mut self) -> Option<String> {
        self.decoded().map(Cow::into_owned)
    }

    /// A file type: one of the API's own names is kept without an allocation (one fewer per
    /// listed file); any other is owned.
    fn filetype(&mut self) -> Option<Cow<'static, str>> {
        let name = self.decoded()?;
        Some(
            KNOWN_FILETYPES
                .iter()
                .find(|known| **known == name)
                .map_or_else(
                    || Cow::Owned(name.into_owned()),
                    |known| Cow::Borrowed(*known),
                ),
        )
    }

    /// Skips a string at the cursor, checking it as `serde_json` does (no raw control
    /// character, only JSON's escapes); whether it held an escape. Inlined: a page has some
    /// forty strings a file, most of them a word or two long, where a call costs as much as
    /// the search.
    #[inline(always)]
    fn skip_string(&mut self) -> Option<bool> {
        if self.peek()? != b'"' {
            return None;
        }
        if self.plain {
            self.pos = find_quote(self.bytes, self.pos + 1)? + 1;
            return Some(false);
        }
        self.skip_checked_string()
    }

    /// [`Self::skip_string`] on a page that is not plain: every byte checked.
    fn skip_checked_string(&mut self) -> Option<bool> {
        let mut at = self.pos + 1;
        let mut escaped = false;
        loop {
            at = find_special(self.bytes, at)?;
            match self.bytes[at] {
                b'"' => {
                    self.pos = at + 1;
                    return Some(escaped);
                }
                b'\\' => {
                    escaped = true;
                    at = skip_escape(self.bytes, at)?;
                }
                _ => return None,
            }
        }
    }

    /// Skips a number by JSON's grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn skip_number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek()? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => self.skip_digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.require_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.require_digits()?;
        }
        Some(())
    }

    fn skip_digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    /// At least one digit, then as many as follow.
    fn require_digits(&mut self) -> Option<()> {
        let start = self.pos;
        self.skip_digits();
        (self.pos > start).then_some(())
    }

    /// Skips an unread member's or element's value: most are strings, skipped here without
    /// the call [`Self::skip_value`] costs (a file object has some twenty unread members).
    #[inline(always)]
    fn skip_member_value(&mut self, depth: usize) -> Option<()> {
        if self.peek() == Some(b'"') {
            self.skip_string().map(drop)
        } else {
            self.skip_value(depth)
        }
    }

    /// Skips any value at `depth`, checked by the grammar, nothing decoded.
    fn skip_value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string().map(drop),
            b'{' => self.object(depth, |scanner, _| scanner.skip_member_value(depth + 1)),
            b'[' => self.array(depth, |scanner| scanner.skip_member_value(depth + 1)),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.skip_number(),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.bytes.get(self.pos..self.pos + word.len())? == word {
            self.pos += word.len();
            Some(())
        } else {
            None
        }
    }
}

/// The position after the escape at `at` (a backslash), if it is one of JSON's: `\\"`,
/// `\\\\`, `\\/`, `\\b`, `\\f`, `\\n`, `\\r`, `\\t` or `\\u` and four hex digits.
fn skip_escape(bytes: &[u8], at: usize) -> Option<usize> {
    match *bytes.get(at + 1)? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(at + 2),
        b'u' => bytes
            .get(at + 2..at + 6)?
            .iter()
            .all(u8::is_ascii_hexdigit)
            .then_some(at + 6),
        _ => None,
    }
}

/// Every byte of a word set to one value.
const fn splat(byte: u8) -> u64 {
    u64::from_ne_bytes([byte; 8])
}

/// The high bit of each byte of `word` that is below `limit` (at most 0x80). Borrows can set
/// bits above a byte that is truly below, never below one, so the lowest bit is exact.
const fn below(word: u64, limit: u8) -> u64 {
    word.wrapping_sub(splat(limit)) & !word & splat(0x80)
}

/// The first `"` at or after `at`, eight bytes a step: all a plain page's strings need.
#[inline(always)]
pub(super) fn find_quote(bytes: &[u8], mut at: usize) -> Option<usize> {
    while let Some(chunk) = bytes.get(at..).and_then(<[u8]>::first_chunk::<8>) {
        let word = u64::from_le_bytes(*chunk);
        let found = below(word ^ splat(b'"'), 1);
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let offset = bytes.get(at..)?.iter().position(|&byte| byte == b'"')?;
    Some(at + offset)
}

/// The first `"`, `\\` or control character at or after `at`: eight bytes a step (a string
/// on a page is some ten to fifty bytes, where `memchr`'s set-up costs more than it saves).
pub(super) fn find_special(bytes: &[u8], mut at: usize) -> Option<usize> {
    while let Some(chunk) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().ok()?);
        let found =
            below(word ^ splat(b'"'), 1) | below(word ^ splat(b'\\'), 1) | below(word, 0x20);
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let rest = bytes.get(at..)?;
    let offset = rest
        .iter()
        .position(|&byte| byte == b'"' || byte == b'\\' || byte < 0x20)?;
    Some(at + offset)
}
