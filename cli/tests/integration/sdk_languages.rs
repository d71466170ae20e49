//! Plugins written in other languages than Rust, built with their SDK's build
//! command as an author would (the test kit builds them): taken through add,
//! every option kind (valid values taken, refused ones with the plugin's own
//! words), enable under `--root` (the written file checked, by lighttpd too),
//! connection info, `print` reaching the host's log, and a mistake in the
//! plugin that comes back as a message instead of a trap.

use tails_server_testkit::{fixtures, text};

#[test]
fn a_python_plugin_works_like_a_rust_one() {
    let sandbox = super::sandbox_with_tor();
    assert!(sandbox.ok(&["plugin", "add", fixtures::PYTHON_PYSITE, "--yes"]).contains("Added pysite."));
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
                let said = sandbox.fails(&["pysite", "set-option", option, value]);
                assert!(said.contains(words), "{option}={value}: {said}");
            }
            None => assert!(sandbox.ok(&["pysite", "set-option", option, value]).contains(&format!("{option} set.")), "{option}={value}"),
        }
    }
    assert!(sandbox.ok(&["pysite", "get-option", "status-password"]).starts_with("********"), "a secret stays masked");

    // Enable under --root: the file the plugin wrote, as lighttpd reads it;
    // its print() went to the host's log, which enable shows.
    let enabled = sandbox.run(&["pysite", "enable"], "");
    assert!(enabled.status.success(), "{}", text(&enabled.stderr));
    assert!(text(&enabled.stderr).contains(&format!("pysite: info: writing /etc/lighttpd/lighttpd.conf for {site}")), "{}", text(&enabled.stderr));
    let conf = sandbox.path("/etc/lighttpd/lighttpd.conf");
    let written = std::fs::read_to_string(&conf).unwrap();
    for line in [&format!("server.document-root = \"{site}\"") as &str, "server.max-connections = 60", "dir-listing.activate = \"enable\"", "charset=iso-8859-1"] {
        assert!(written.contains(line), "{line} in:\n{written}");
    }
    super::plugin_configs::lighttpd_accepts(&conf);

    let info = sandbox.ok(&["pysite", "connection-info", "--no-qr"]);
    assert!(info.contains("Open in Tor Browser: http://") && info.contains(".onion/"), "{info}");

    // The author's mistake (1 // 0) says what and where.
    let said = sandbox.fails(&["pysite", "set-option", "motto", "divide"]);
    assert!(said.contains("pysite's plugin failed while checking motto, so it was not changed: the plugin raised ZeroDivisionError: division by zero (at pysite.py line"), "{said}");
    assert!(!said.contains("unreachable"), "no bare trap: {said}");
}
