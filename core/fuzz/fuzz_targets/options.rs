//! Fuzz what a user types for an option (`set-option`), the `{NAME}` forms of
//! a unit's command line, and the terminal escaping every plugin string goes
//! through. Byte 0 picks the option's kind; the rest is the text (for a
//! choice, the text and the choices separated by NUL).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tails_server_core::broker::caps::units::expand;
use tails_server_core::display;
use tails_server_core::options::{fits, parse, to_text};
use tails_server_core::bindings::tails::server::types::{
    IntegerRange, OptionKind, OptionSpec, OptionValue,
};

fn spec(kind: OptionKind) -> OptionSpec {
    OptionSpec {
        name: "fuzzed".into(),
        name_in_gui: "Fuzzed".into(),
        description: String::new(),
        group: String::new(),
        kind,
        default: OptionValue::Boolean(false),
        masked: false,
        read_only: false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let (kind, text) = match selector % 6 {
        0 => (OptionKind::Boolean, text.to_string()),
        1 => (OptionKind::Text, text.to_string()),
        2 => (OptionKind::Secret, text.to_string()),
        3 => (OptionKind::Port, text.to_string()),
        4 => {
            let mut n = [0u8; 16];
            let used = rest.len().min(16);
            n[..used].copy_from_slice(&rest[..used]);
            let a = i64::from_le_bytes(n[..8].try_into().unwrap());
            let b = i64::from_le_bytes(n[8..].try_into().unwrap());
            let body = String::from_utf8_lossy(&rest[used..]).to_string();
            (OptionKind::Integer(IntegerRange { min: a.min(b), max: a.max(b) }), body)
        }
        _ => {
            let mut parts = text.split('\0').map(str::to_string);
            let typed = parts.next().unwrap_or_default();
            (OptionKind::Choice(parts.collect()), typed)
        }
    };
    let spec = spec(kind);
    if let Ok(value) = parse(&spec, &text) {
        // A value the parser accepts has the option's kind, and what
        // `get-option` prints reads back as the same value.
        assert!(fits(&spec.kind, &value), "{value:?} does not fit {:?}", spec.kind);
        assert_eq!(parse(&spec, &to_text(&value)).as_ref(), Ok(&value));
        if let OptionValue::Text(s) | OptionValue::Secret(s) = &value {
            assert!(!s.chars().any(char::is_control) && s.len() <= 4096);
        }
    }

    // Escaping: one line has no control character at all; text keeps only
    // its newlines.
    let one = display::line(&text);
    assert!(!one.chars().any(char::is_control), "{one:?}");
    assert!(!display::text(&text).chars().any(|c| c.is_control() && c != '\n'));
    assert!(!display::quoted(&text).chars().any(char::is_control));

    // `{NAME}` forms: a word without braces is itself; every placeholder is
    // replaced by its value and nothing else is.
    let expanded = expand(&text, &|name| Ok(format!("<{}>", name.len())));
    if !text.contains(['{', '}']) {
        assert_eq!(expanded.as_deref(), Ok(text.as_str()));
    }
    if let Ok(out) = expanded {
        assert!(
            out.len() <= text.len() + 24 * text.matches('{').count(),
            "expansion grew beyond its placeholders"
        );
    }
});
