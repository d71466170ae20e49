//! Plugins written in other languages than Rust, built with their SDK's build
//! command as an author would (the test kit builds them): taken through add,
//! every option kind (valid values taken, refused ones with the plugin's own
//! words), enable under `--root` (the written file checked, by lighttpd too),
//! connection info, `print` / `console.log` reaching the host's log, and a mistake in the
//! plugin that comes back as a message instead of a trap.

use tails_server_testkit::{fixtures, text};

#[test]
fn a_python_plugin_works_like_a_rust_one() {
    let mistake = "pysite's plugin failed while checking motto, so it was not changed: the plugin raised ZeroDivisionError: division by zero (at pysite.py line";
    works_like_a_rust_one(fixtures::PYTHON_PYSITE, "pysite", mistake);
}

#[test]
fn a_javascript_plugin_works_like_a_rust_one() {
    let mistake = "jssite's plugin failed while checking motto, so it was not changed: the plugin raised TypeError: can't access property \"motto\" of null (at jssite.js line";
    works_like_a_rust_one(fixtures::JS_JSSITE, "jssite", mistake);
}

/// C has no exceptions: its mistake is a trap, which the host names with
/// the function it happened in (from the plugin's name section).
#[test]
fn a_c_plugin_works_like_a_rust_one() {
    let mistake = "plugin `csite` crashed in `validate-option`: wasm trap: integer divide by zero (in letters_per_connection)";
    works_like_a_rust_one(fixtures::C_CSITE, "csite", mistake);
}

/// The example each SDK ships (sdk/LANGUAGE/example) is the web plugin with
/// an option of every kind and a mistake on purpose (`motto` set to `divide`).
fn works_like_a_rust_one(file: &str, name: &str, mistake: &str) {
    let sandbox = super::sandbox_with_tor();
    assert!(sandbox.ok(&["plugin", "add", file, "--yes"]).contains(&format!("Added {name}.")));
    let site = tempfile::tempdir().unwrap();
    let site = site.path().to_str().unwrap();
    let table: &[(&str, &str, Option<&str>)] = &[
        ("folder", "relative", Some("must be an absolute path, e.g. /var/www/site")),
        ("folder", site, None),
        ("directory-listing", "maybe", Some("expected true or false")),
        ("directory-listing", "true", None),
        ("max-connections", "55", Some("must be a multiple of 10")),
        ("max-connections", "5000", Some("expected a whole number from 1 to 1000")),
        ("max-connections", "60", None),
        ("charset", "latin", Some("expected one of: utf-8, iso-8859-1")),
        ("charset", "iso-8859-1", None),
        ("status-password", "horse battery", None),
    ];
    for (option, value, refused) in table {
        match refused {
            Some(words) => {
                let said = sandbox.fails(&[name, "set-option", option, value]);
                assert!(said.contains(words), "{option}={value}: {said}");
            }
            None => assert!(
                sandbox
                    .ok(&[name, "set-option", option, value])
                    .contains(&format!("{option} set.")),
                "{option}={value}"
            ),
        }
    }
    assert!(
        sandbox.ok(&[name, "get-option", "status-password"]).starts_with("********"),
        "a secret stays masked"
    );

    // Enable under --root: the file the plugin wrote, as lighttpd reads it;
    // its print() / console.log went to the host's log, which enable shows.
    let enabled = sandbox.run(&[name, "enable"], "");
    assert!(enabled.status.success(), "{}", text(&enabled.stderr));
    assert!(
        text(&enabled.stderr)
            .contains(&format!("{name}: info: writing /etc/lighttpd/lighttpd.conf for {site}")),
        "{}",
        text(&enabled.stderr)
    );
    let conf = sandbox.path("/etc/lighttpd/lighttpd.conf");
    let written = std::fs::read_to_string(&conf).unwrap();
    for line in [
        &format!("server.document-root = \"{site}\"") as &str,
        "server.max-connections = 60",
        "dir-listing.activate = \"enable\"",
        "charset=iso-8859-1",
    ] {
        assert!(written.contains(line), "{line} in:\n{written}");
    }
    super::plugin_configs::lighttpd_accepts(&conf);

    let info = sandbox.ok(&[name, "connection-info", "--no-qr"]);
    assert!(info.contains("Open in Tor Browser: http://") && info.contains(".onion/"), "{info}");

    // The author's mistake says what and where.
    let said = sandbox.fails(&[name, "set-option", "motto", "divide"]);
    assert!(said.contains(mistake), "{said}");
    assert!(!said.contains("unreachable"), "no bare trap: {said}");
}
