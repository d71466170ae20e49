//! Debian packages: what dpkg says is installed.
//!
//! Installing is not built yet (it comes with the system-integration issue);
//! until then the host reports plainly which packages are missing and how to
//! install them, instead of pretending.

use std::collections::BTreeSet;
use std::path::Path;

/// The packages of `wanted` that dpkg does not list as installed under `root`.
pub fn missing(root: &Path, wanted: &[String]) -> std::io::Result<Vec<String>> {
    let installed = installed(root)?;
    Ok(wanted.iter().filter(|p| !installed.contains(p.as_str())).cloned().collect())
}

/// Names of installed packages, from `<root>/var/lib/dpkg/status`. A root
/// without a dpkg database has none.
pub fn installed(root: &Path) -> std::io::Result<BTreeSet<String>> {
    match std::fs::read_to_string(root.join("var/lib/dpkg/status")) {
        Ok(status) => Ok(parse_status(&status)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(e) => Err(e),
    }
}

/// dpkg's status file: paragraphs separated by blank lines; a package is
/// installed when its `Status:` is `install ok installed` (or `hold ok installed`).
/// Architecture-qualified names (`libc6:amd64`) count under their bare name.
fn parse_status(status: &str) -> BTreeSet<String> {
    let mut installed = BTreeSet::new();
    for paragraph in status.split("\n\n") {
        let mut name = None;
        let mut ok = false;
        for line in paragraph.lines() {
            if let Some(v) = line.strip_prefix("Package: ") {
                name = Some(v.trim());
            } else if let Some(v) = line.strip_prefix("Status: ") {
                ok = v.trim().ends_with(" ok installed");
            }
        }
        if let (Some(name), true) = (name, ok) {
            installed.insert(name.split(':').next().unwrap_or(name).to_string());
        }
    }
    installed
}

pub fn not_built_yet(missing: &[String]) -> String {
    format!(
        "installing packages is not built yet; install them first with `apt-get install --no-install-recommends {}`",
        missing.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dpkg_status() {
        let status = "Package: lighttpd\nStatus: install ok installed\nVersion: 1.4.69\n\n\
                      Package: mumble-server\nStatus: deinstall ok config-files\n\n\
                      Package: tor\nStatus: hold ok installed\nDescription: x\n continued\n\n\
                      Package: half\nStatus: install ok half-configured\n";
        let got = parse_status(status);
        assert_eq!(got.into_iter().collect::<Vec<_>>(), ["lighttpd", "tor"]);
    }

    #[test]
    fn reads_the_real_dpkg_database() {
        // This machine is Debian: dpkg itself must be listed as installed.
        let missing = missing(Path::new("/"), &["dpkg".into(), "no-such-package-xyz".into()]).unwrap();
        assert_eq!(missing, ["no-such-package-xyz"]);
    }
}
