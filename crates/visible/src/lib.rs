//! Text from outside made safe to show: control and bidirectional-override characters become
//! visible escapes, and columns are measured in terminal cells. Its own crate so plotward and
//! its sandbox (which shares no code with plotward's library) escape with one implementation.
//!
//! File names, folder names, fids, patterns and server messages come from people and servers
//! plotward does not control. Printed raw, an `ESC` sequence could recolour or clear a
//! terminal, a carriage return or newline could forge a line (`\nNo changes. Plan: 0 ...`),
//! and U+202E could reverse what a reviewer reads. Every renderer passes such text through
//! [`escape`] (or [`escape_lines`] for messages whose own line breaks are meant).

use std::borrow::Cow;
use std::fmt::Write as _;

use unicode_width::UnicodeWidthStr;

/// `text` with every control character (`\e`, `\n`, `\r`, `\t`, `\u{7}`, ...) and every
/// bidirectional control (`\u{202e}`, ...) written as a visible escape. Borrowed when there
/// is nothing to escape, which is almost always.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

/// Like [`escape`], but keeps `\n` line breaks: for multi-line messages built by plotward,
/// whose parts from outside were escaped already.
pub fn escape_lines(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && needs_escape(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c == '\n' {
            out.push(c);
        } else {
            push_escaped(&mut out, c);
        }
    }
    Cow::Owned(out)
}

/// How many terminal cells `text` takes (CJK and emoji count two, combining marks none).
pub fn width(text: &str) -> usize {
    text.width()
}

/// `text` followed by spaces up to `cells` terminal cells (nothing added if it is wider).
/// Unlike `format!("{:<w$}")`, this counts display cells and takes any width.
pub fn pad(text: &str, cells: usize) -> String {
    let mut out = String::with_capacity(text.len() + cells);
    out.push_str(text);
    out.extend(std::iter::repeat_n(' ', cells.saturating_sub(width(text))));
    out
}

/// Serialized JSON with every character [`needs_escape`] flags, except the newlines of
/// pretty-printing, written as `\uXXXX` escapes, which `serde_json` leaves raw (DEL, C1
/// controls, bidirectional controls, characters that print as nothing). A JSON document
/// holds such characters only inside strings, where the escapes mean the same text: the
/// document reads back equal, and a terminal or log viewer shows it as it is.
pub fn escape_json(json: &str) -> Cow<'_, str> {
    // Printable ASCII and newlines (nearly every string of a report) need nothing: settled
    // a byte at a time, without decoding characters.
    let printable = |byte: &u8| (b' '..=b'~').contains(byte) || *byte == b'\n';
    if json.as_bytes().iter().all(printable) || !json.chars().any(|c| c != '\n' && needs_escape(c))
    {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if c != '\n' && needs_escape(c) {
            for unit in c.encode_utf16(&mut [0; 2]) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Whether a character is shown as an escape: control characters, bidirectional controls,
/// line and paragraph separators, and characters that print as nothing.
pub fn needs_escape(c: char) -> bool {
    // Every bidirectional control and invisible character lies above ASCII; an ASCII
    // character (most of any report) is settled by one comparison.
    if c.is_ascii() {
        return c.is_ascii_control();
    }
    c.is_control() || is_bidi_control(c) || is_invisible(c)
}

/// Characters that print as nothing or as blank, so two different names look the same
/// (`alice\u{200b}:1`), and the line and paragraph separators some viewers break lines at.
/// The joiners U+200C and U+200D and variation selectors are left alone: scripts and emoji
/// need them.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{0600}'..='\u{0605}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{08E2}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180E}'
            | '\u{200B}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{2060}'..='\u{2064}'
            | '\u{206A}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\u{1b}' => out.push_str("\\e"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if needs_escape(c) => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
        c => out.push(c),
    }
}

/// Unicode's bidirectional embeddings, overrides, isolates and marks, which reorder what a
/// terminal or browser shows.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

#[cfg(test)]
mod tests {

    #[test]
    fn json_escapes_what_a_terminal_obeys_and_keeps_the_rest() {
        assert_eq!(
            super::escape_json("{\n  \"a\": \"x\"\n}"),
            "{\n  \"a\": \"x\"\n}"
        );
        assert_eq!(
            super::escape_json("\"a\u{202e}\u{7f}\u{1F600}\""),
            "\"a\\u202e\\u007f\u{1F600}\""
        );
    }

    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The printable-ASCII shortcut changes nothing: escaped exactly where a character
        /// needs it, kept borrowed where none does.
        #[test]
        fn escape_json_escapes_exactly_what_needs_it(text in "[ -~\n\t\x7f\u{80}-\u{a0}\u{200b}\u{202e}é]{0,40}") {
            let expected: String = text
                .chars()
                .map(|c| if c != '\n' && needs_escape(c) {
                    c.encode_utf16(&mut [0; 2]).iter().fold(String::new(), |mut out, unit| {
                        let _ = write!(out, "\\u{unit:04x}");
                        out
                    })
                } else {
                    c.to_string()
                })
                .collect();
            let escaped = escape_json(&text);
            prop_assert_eq!(&*escaped, expected.as_str());
            prop_assert_eq!(matches!(escaped, Cow::Borrowed(_)), expected == text);
        }
    }

    #[test]
    fn the_ascii_shortcut_flags_what_the_full_rule_flags() {
        for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            let full = c.is_control() || is_bidi_control(c) || is_invisible(c);
            assert_eq!(needs_escape(c), full, "{:x}", u32::from(c));
        }
    }

    #[test]
    fn controls_and_overrides_become_visible() {
        assert_eq!(escape("plain/名前"), "plain/名前");
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
        assert_eq!(
            escape("a\u{1b}[2Jb\nPlan: 0\r\u{7}\u{202e}x"),
            "a\\e[2Jb\\nPlan: 0\\r\\u{7}\\u{202e}x"
        );
        assert_eq!(escape_lines("one\ntwo\u{1b}"), "one\ntwo\\e");
        assert_eq!(escape("alice\u{200b}:1\u{61c}"), "alice\\u{200b}:1\\u{61c}");
        assert_eq!(
            escape("a\u{2028}b\u{ad}\u{e0041}"),
            "a\\u{2028}b\\u{ad}\\u{e0041}"
        );
        assert_eq!(
            escape("x\u{600}\u{70f}\u{1d173}"),
            "x\\u{600}\\u{70f}\\u{1d173}"
        );
        assert_eq!(escape("👨\u{200d}👩"), "👨\u{200d}👩", "joiners stay");
    }

    #[test]
    fn padding_counts_cells_and_takes_any_width() {
        assert_eq!(pad("ab", 4), "ab  ");
        assert_eq!(pad("名前", 6), "名前  ");
        assert_eq!(pad("toolong", 3), "toolong");
        assert_eq!(pad("x", 70_000).len(), 70_000);
        assert_eq!(width("名前"), 4);
    }

    proptest! {
        /// Nothing escaped holds a character that moves the cursor, ends a line or reorders
        /// text, and escaping is the identity on text that has none.
        #[test]
        fn escaped_text_is_inert(text in "\\PC*|[\\x00-\\x1f\\x7f-\\u{9f}\\u{202a}-\\u{202e}a-z名]{0,40}") {
            let shown = escape(&text);
            prop_assert!(!shown.chars().any(needs_escape));
            if !text.chars().any(needs_escape) {
                prop_assert_eq!(shown.as_ref(), text.as_str());
            }
            let lines = escape_lines(&text);
            prop_assert!(!lines.chars().any(|c| c != '\n' && needs_escape(c)));
            prop_assert_eq!(lines.matches('\n').count(), text.matches('\n').count());
        }
    }
}
