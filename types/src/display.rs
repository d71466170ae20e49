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
/// show, or that show as nothing: C0 and C1 controls, DEL, line and
/// paragraph separators, Unicode's format characters (category Cf: bidi
/// overrides and isolates, zero-width characters, the soft hyphen, the BOM,
/// interlinear annotations, the tag characters that can hide a whole
/// message), and the letters that draw nothing (Hangul fillers, the combining
/// grapheme joiner, Khmer's invisible vowels, the Mongolian vowel separator).
pub fn is_dangerous(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{ad}' | '\u{34f}' | '\u{600}'..='\u{605}' | '\u{61c}' | '\u{6dd}' | '\u{70f}' | '\u{890}'..='\u{891}' | '\u{8e2}'
            | '\u{115f}' | '\u{1160}' | '\u{17b4}' | '\u{17b5}' | '\u{180b}'..='\u{180f}'
            | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{3164}'
            | '\u{feff}' | '\u{ffa0}' | '\u{fff9}'..='\u{fffb}'
            | '\u{110bd}' | '\u{110cd}' | '\u{13430}'..='\u{1343f}' | '\u{1bca0}'..='\u{1bca3}' | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0000}'..='\u{e0fff}')
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

/// A plugin's own words (its connection text) in a terminal: escaped, each
/// line behind a bar under a heading naming the plugin, so that no line of it
/// can pass for one of the host's own (`Key for Tor Browser: ...`).
pub fn plugins_words(plugin: &str, words: &str) -> String {
    let mut out = format!("In the words of the {} plugin:\n", line(plugin));
    for l in text(words.trim_end()).lines() {
        out += "  │ ";
        out += l;
        out.push('\n');
    }
    out
}

/// A JSON document for a terminal or a program: what serde_json writes,
/// with every dangerous character inside a string written as its `\\u`
/// escape (two for a character past U+FFFF). The document decodes to the very
/// same values; only the terminal no longer sees the characters themselves.
pub fn json(value: &impl serde::Serialize) -> Result<String, serde_json::Error> {
    let raw = serde_json::to_string_pretty(value)?;
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        // A raw newline is the pretty layout's (serde_json escapes C0 in strings).
        if is_dangerous(c) && c != '\n' {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{:04x}", unit);
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// A document for a person (YAML, a table): every string in it, keys too,
/// escaped as [`text`] does, so that any format made from it shows them.
pub fn document(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(text(s)),
        Value::Array(items) => Value::Array(items.iter().map(document).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (line(k), document(v))).collect())
        }
        other => other.clone(),
    }
}

/// One problem per count past its bound: `(what, count, max)`, said as
/// "PREFIX COUNT WHAT; at most MAX are allowed".
pub fn over_bounds(prefix: &str, counts: &[(&str, usize, usize)]) -> Vec<String> {
    counts
        .iter()
        .filter(|(_, count, max)| count > max)
        .map(|(what, count, max)| format!("{prefix} {count} {what}; at most {max} are allowed"))
        .collect()
}

/// A plugin's icon name as a window may look it up in the icon theme: a
/// freedesktop icon name (lower-case letters, digits, `-`, `_` and `.`, at
/// most 64 bytes, no path), or empty (the window's own icon is shown).
pub fn icon_name(name: &str) -> String {
    let plain = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
        && !name.contains("..");
    if plain {
        name.to_string()
    } else {
        String::new()
    }
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
    fn invisible_and_hiding_characters_are_shown() {
        // The soft hyphen, tag characters (a hidden "hi"), Hangul fillers,
        // the Mongolian vowel separator, C1's CSI, the interlinear anchor.
        let hostile = "a\u{ad}b\u{e0001}\u{e0068}\u{e0069}\u{e007f}c\u{115f}\u{1160}\u{3164}\u{ffa0}\u{180e}\u{9b}\u{fff9}\u{2066}";
        let shown = line(hostile);
        assert!(!shown.chars().any(is_dangerous), "{shown:?}");
        assert!(shown.starts_with("a\\u{ad}b\\u{e0001}\\u{e0068}"), "{shown}");
    }

    #[test]
    fn json_escapes_what_serde_leaves_raw_and_means_the_same() {
        let value = serde_json::json!({"name\u{202e}": "x\u{9b}31m\u{e0041}\u{2066}y", "n": 1, "list": ["\u{ad}"]});
        let shown = json(&value).unwrap();
        assert!(!shown.chars().any(|c| is_dangerous(c) && c != '\n'), "{shown:?}");
        assert!(
            shown.contains("\\u009b")
                && shown.contains("\\udb40\\udc41")
                && shown.contains("\\u202e"),
            "{shown}"
        );
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&shown).unwrap(),
            value,
            "the same document"
        );
    }

    #[test]
    fn a_document_for_a_person_is_escaped_keys_and_all() {
        let value =
            serde_json::json!({"opt\u{1b}[2J": {"v": ["a\u{202e}b", "two\nlines"]}, "n": true});
        let shown = document(&value);
        assert_eq!(
            shown,
            serde_json::json!({"opt\\e[2J": {"v": ["a\\u{202e}b", "two\nlines"]}, "n": true})
        );
    }

    #[test]
    fn a_plugins_words_cannot_pass_for_the_hosts() {
        let shown =
            plugins_words("web", "Open it in Tor Browser.\n  Key for Tor Browser:   FAKE\r over\n");
        assert_eq!(shown, "In the words of the web plugin:\n  │ Open it in Tor Browser.\n  │   Key for Tor Browser:   FAKE\\r over\n");
        assert!(shown.lines().skip(1).all(|l| l.starts_with("  │ ")));
    }

    #[test]
    fn ordinary_text_is_unchanged() {
        for s in ["Mumble — voice chat", "Café, 日本語, 한국어, emoji 🎙️", "http://abc.onion:80/"]
        {
            assert_eq!(line(s), s);
            assert_eq!(text(s), s);
        }
        assert_eq!(text("line one\nline two\n"), "line one\nline two\n");
    }

    #[test]
    fn an_icon_name_is_a_plain_theme_name_or_nothing() {
        assert_eq!(icon_name("web-browser"), "web-browser");
        assert_eq!(icon_name("org.tails.Server.Gui"), "");
        for bad in ["", "../../etc/x", "/usr/share/x.svg", "a\u{202e}b", "A", &"a".repeat(65)] {
            assert_eq!(icon_name(bad), "", "{bad:?}");
        }
    }
}
