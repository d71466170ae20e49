//! Fuzz the parsers that stand between a plugin's strings and the system:
//! request paths, declared paths, Debian and npm package names, packaged unit
//! names. Each accepted input is checked against the rule it must satisfy,
//! written out again here independently of the parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tails_server_core::broker::caps::units::check_packaged_name;
use tails_server_core::broker::caps::{
    resolve_system_links, validate_declared_path, validate_package_name, NpmSpec, SysPath,
};

/// Places a plugin must never be able to write, whatever the spelling.
const NEVER: &[&str] = &[
    "/etc/systemd",
    "/etc/cron.d",
    "/etc/cron.daily",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/etc/apt",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/profile.d",
    "/etc/pam.d",
    "/etc/polkit-1",
    "/etc/dbus-1",
    "/etc/tor",
    "/etc/onion-grater.d",
    "/etc/ssh",
    "/etc/passwd",
    "/etc/shadow",
    "/etc/udev",
    "/var/lib/tails-server",
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/run",
    "/home",
    "/root",
    "/boot",
    "/dev",
    "/proc",
    "/sys",
    "/tmp",
];

fn inside(path: &str, place: &str) -> bool {
    path == place || path.starts_with(&format!("{place}/"))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();

    if let Ok(path) = SysPath::parse(text) {
        let s = path.as_str();
        assert!(s.starts_with('/') && !s.ends_with('/') && s.len() <= 1024);
        assert!(!s.chars().any(char::is_control));
        assert!(path.components().all(|c| !c.is_empty() && c != "." && c != ".."), "{s:?}");
    }

    if validate_declared_path(text).is_ok() {
        let file_form = text.strip_suffix('/').unwrap_or(text);
        let resolved = resolve_system_links(file_form);
        assert!(SysPath::parse(file_form).is_ok());
        for place in NEVER {
            assert!(!inside(&resolved, place), "{text:?} was accepted but resolves into {place}");
            // A folder grant must not contain a forbidden place either.
            if text.ends_with('/') {
                assert!(
                    !inside(place, &resolved),
                    "folder {text:?} was accepted but contains {place}"
                );
            }
        }
    }

    if validate_package_name(text).is_ok() {
        let b = text.as_bytes();
        assert!((2..=100).contains(&b.len()));
        assert!(b[0].is_ascii_lowercase() || b[0].is_ascii_digit());
        assert!(
            b[b.len() - 1].is_ascii_lowercase() || b[b.len() - 1].is_ascii_digit(),
            "apt reads a trailing + or - as an action: {text:?}"
        );
        assert!(b
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"+-.".contains(c)));
    }

    if let Ok(spec) = NpmSpec::parse(text) {
        // One exact version from the registry: no range, tag, URL or path.
        assert!(!spec.version.is_empty());
        assert!(
            spec.version.chars().all(|c| c.is_ascii_alphanumeric() || ".-+".contains(c)),
            "{:?}",
            spec.version
        );
        assert!(spec.version.starts_with(|c: char| c.is_ascii_digit()));
        // The name becomes folders under node_modules: never a way out of it
        // (`a..b` is a valid npm name and a plain folder name).
        assert!(!spec.name.contains(':') && !spec.name.contains('\\'));
        assert!(
            spec.name.split('/').all(|c| !c.is_empty() && c != "." && c != ".."),
            "{:?}",
            spec.name
        );
        assert!(spec.name.matches('/').count() <= usize::from(spec.name.starts_with('@')));
    }

    if check_packaged_name(text).is_ok() {
        assert!(text.ends_with(".service"));
        assert!(
            !text.contains('/')
                && !text.contains("..")
                && !text.chars().any(|c| c.is_whitespace() || c.is_control())
        );
    }
});
