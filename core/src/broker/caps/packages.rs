//! Debian package names a plugin may declare.

/// Debian's rule for a package name lives with the apt backend
/// (`system::packages::check_name`); the capability takes it as it is.
pub use crate::system::packages::check_name as validate_package_name;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names_follow_debian_policy() {
        for good in ["mumble-server", "lighttpd", "libc6.1", "0ad", "libstdc++6"] {
            assert!(validate_package_name(good).is_ok(), "{good}");
        }
        for bad in [
            "", "a", "Mumble", "-rf", "x;rm", "x y", "../x", "pkg=1.0", "tor-", "tor+", "g++",
            "lib.*", "lib?", "lib[a]", "^x", "x$", "x|y", "x^",
        ] {
            assert!(validate_package_name(bad).is_err(), "{bad}");
        }
    }
}
