//! Showing untrusted text, on a terminal or in a window.
//!
//! Every string a plugin returns (names, descriptions, option values, error
//! messages, connection text, what it wrote to stderr) and every file name
//! goes through here before it is printed, so that a plugin cannot move the
//! cursor, clear the screen, recolour, reorder (Unicode bidirectional
//! controls) or add lines to what the user reads next to the real address and
//! keys. Escaped characters are shown, never interpreted: `\e`, `\r`,
//! `\u{202e}`.

use std::fmt::Write;

/// Characters a terminal or a bidi-aware renderer would act on rather than
/// show: C0 and C1 controls, DEL, and Unicode's invisible format controls
/// (bidi overrides and isolates, zero-width characters, the BOM).
fn is_dangerous(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}')
}

fn escape_into(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{1b}' => out.push_str("\\e"),
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// One line: every dangerous character escaped, newlines too.
pub fn line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_dangerous(c) {
            escape_into(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// Text of several lines: newlines kept, every other dangerous character
/// escaped (a `\r` cannot overwrite a line, `\e[2J` cannot clear the screen).
pub fn text(s: &str) -> String {
    s.split('\n').map(line).collect::<Vec<_>>().join("\n")
}

/// A name shown in quotes, escaped, so that an empty or odd one is visible.
pub fn quoted(s: &str) -> String {
    format!("\"{}\"", line(s).replace('"', "\\\""))
}

/// A file name from the command line or the disk.
pub fn path(p: &std::path::Path) -> String {
    line(&p.to_string_lossy())
}

/// One problem per count past its bound: `(what, count, max)`, said as
/// "PREFIX COUNT WHAT; at most MAX are allowed".
pub fn over_bounds(prefix: &str, counts: &[(&str, usize, usize)]) -> Vec<String> {
    counts.iter().filter(|(_, count, max)| count > max).map(|(what, count, max)| format!("{prefix} {count} {what}; at most {max} are allowed")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_a_terminal_acts_on_gets_through() {
        let hostile = "ok\u{1b}[2J\u{1b}]0;title\u{7}\r\u{8}\u{9b}31m\u{202e}gnp.exe\u{2066}\u{200b}\u{feff}\u{7f}";
        for shown in [line(hostile), text(hostile), quoted(hostile)] {
            assert!(!shown.chars().any(is_dangerous), "{shown:?}");
            assert!(shown.starts_with("ok") || shown.starts_with("\"ok"), "{shown}");
        }
        assert_eq!(line("a\u{1b}[2Jb"), "a\\e[2Jb");
        assert_eq!(line("a\nb"), "a\\nb");
        assert_eq!(text("a\nb\r"), "a\nb\\r");
        assert_eq!(line("\u{202e}x"), "\\u{202e}x");
        assert_eq!(quoted("say \"hi\""), "\"say \\\"hi\\\"\"");
    }

    #[test]
    fn ordinary_text_is_unchanged() {
        for s in ["Mumble — voice chat", "Café, 日本語, emoji 🎙", "http://abc.onion:80/"] {
            assert_eq!(line(s), s);
            assert_eq!(text(s), s);
        }
        assert_eq!(text("line one\nline two\n"), "line one\nline two\n");
    }
}
