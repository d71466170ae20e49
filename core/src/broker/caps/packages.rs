//! Debian package names a plugin may declare.

/// Debian package names (Debian Policy 5.6.7): lower case, digits, `+ - .`,
/// at least two characters, starting with an alphanumeric. Stricter than
/// Policy where apt would read a name as something else: a trailing `-` means
/// "remove" and a trailing `+` "install" to apt, so the name must end with a
/// letter or digit; `..` and `.+` patterns read as regular expressions are
/// covered by asking apt for the exact name before installing (see
/// `system::packages`).
pub fn validate_package_name(name: &str) -> Result<(), String> {
    let ok = name.len() >= 2
        && name.len() <= 100
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{} is not a Debian package name (lower-case letters, digits, + - . inside; starting and ending with a letter or digit)",
            crate::display::quoted(name)
        ))
    }
}

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
