//! The window's words, ready for translation: `tr` looks a string up in the
//! `tails-server` gettext domain (GLib's `g_dgettext`, glibc's catalogues in
//! /usr/share/locale), and the templates name the same domain. Without a
//! catalogue for the person's language a string is shown as written.
//! `scripts/pot` extracts them into `po/tails-server.pot`.

pub const DOMAIN: &str = "tails-server";

/// The translation of `msgid`, or `msgid` itself.
pub fn tr(msgid: &str) -> String {
    gtk::glib::dgettext(Some(DOMAIN), msgid).to_string()
}

/// The translation of a sentence with places (`{}`), filled in order. The
/// filled-in values are not translated (names, addresses).
pub fn trf(msgid: &str, values: &[&str]) -> String {
    let mut out = String::new();
    let mut parts = tr(msgid).split("{}").map(str::to_string).collect::<Vec<_>>().into_iter();
    if let Some(first) = parts.next() {
        out += &first;
    }
    for (i, part) in parts.enumerate() {
        out += values.get(i).copied().unwrap_or("");
        out += &part;
    }
    out
}

/// Where the catalogues are, and that they are UTF-8; before any window.
pub fn init() {
    extern "C" {
        fn bindtextdomain(
            domain: *const std::ffi::c_char,
            dir: *const std::ffi::c_char,
        ) -> *mut std::ffi::c_char;
        fn bind_textdomain_codeset(
            domain: *const std::ffi::c_char,
            codeset: *const std::ffi::c_char,
        ) -> *mut std::ffi::c_char;
    }
    // SAFETY: glibc's own functions, given NUL-terminated strings that
    // outlive the calls (glibc copies them).
    unsafe {
        bindtextdomain(c"tails-server".as_ptr(), c"/usr/share/locale".as_ptr());
        bind_textdomain_codeset(c"tails-server".as_ptr(), c"UTF-8".as_ptr());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn places_are_filled_in_order_and_missing_ones_left_empty() {
        assert_eq!(super::trf("Remove {}?", &["web"]), "Remove web?");
        assert_eq!(super::trf("{} of {}", &["a", "b"]), "a of b");
        assert_eq!(super::trf("{} and {}", &["a"]), "a and ");
        assert_eq!(super::trf("no places", &["x"]), "no places");
    }
}
