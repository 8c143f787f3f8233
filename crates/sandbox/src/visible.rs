//! Text from outside made safe to show in a message: control and bidirectional-override
//! characters become visible escapes, exactly as plotward's `visible::escape` writes them, so
//! the messages the sandbox shares with plotward (a seed's errors) read the same.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with every control character (`\e`, `\n`, `\r`, `\t`, `\u{7}`, ...), bidirectional
/// control and invisible character written as a visible escape; borrowed when there is none.
pub(crate) fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
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
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control() || is_bidi_control(c) || is_invisible(c)
}

/// Characters that print as nothing or as blank, and the line and paragraph separators; the
/// joiners and variation selectors are left alone, as scripts and emoji need them.
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

/// Unicode's bidirectional embeddings, overrides, isolates and marks.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_overrides_become_visible() {
        assert!(matches!(escape("plain/名前"), Cow::Borrowed("plain/名前")));
        assert_eq!(
            escape("a\u{1b}[2Jb\nPlan: 0\r\u{7}\u{202e}x\t"),
            "a\\e[2Jb\\nPlan: 0\\r\\u{7}\\u{202e}x\\t"
        );
        assert_eq!(escape("alice\u{200b}:1\u{61c}"), "alice\\u{200b}:1\\u{61c}");
        assert_eq!(escape("👨\u{200d}👩"), "👨\u{200d}👩", "joiners stay");
    }
}
