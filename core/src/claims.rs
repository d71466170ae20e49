//! What an added service holds as its own on this computer: the files and
//! folders it may write, its data folders (a login account's home among
//! them) and the ports it listens on. No two added services hold one place
//! or one port, whoever publishes them and whatever they share otherwise (a
//! user): a plugin naming mumble's file would rewrite mumble's password, one
//! naming the wiki's folder would read its password hashes or take it as its
//! login home, one declaring mumble's port would have its own onion lead its
//! own clients to mumble. Checked at `plugin add` (nothing is stored) and
//! again at enable (for services added before this rule).

use crate::bindings::tails::server::types::{ServiceInfo, ServiceUnit};
use crate::broker::caps::{resolve_system_links, Proto};
use tails_server_types::{Hinted, Next};

/// One thing a service holds.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Claim {
    /// A file, or a folder (ending in `/`), as declared.
    Place(String),
    Port(u16, Proto),
}

fn claims(info: &ServiceInfo) -> Vec<Claim> {
    let mut out: Vec<Claim> =
        info.capabilities.config_paths.iter().map(|p| Claim::Place(p.clone())).collect();
    if let ServiceUnit::HostWritten(spec) = &info.unit {
        out.extend(spec.data_folders.iter().map(|p| Claim::Place(p.clone())));
    }
    out.extend(info.capabilities.ports.iter().map(|p| Claim::Port(p.port, p.protocol.into())));
    out
}

/// Do two declared places (`/x/file` or `/x/folder/`) meet: the same, or one
/// inside the other (after resolving the system's links)?
fn places_meet(a: &str, b: &str) -> bool {
    let bare = |p: &str| resolve_system_links(p.strip_suffix('/').unwrap_or(p));
    let (a_bare, b_bare) = (bare(a), bare(b));
    a_bare == b_bare
        || (a.ends_with('/') && b_bare.starts_with(&format!("{a_bare}/")))
        || (b.ends_with('/') && a_bare.starts_with(&format!("{b_bare}/")))
}

/// The first place or port `info` asks for that another added service
/// (`others`: name and description) holds, in words: what, whose, and what
/// to do. `None` when it holds nothing of another's.
pub fn taken<'a>(
    info: &ServiceInfo,
    others: impl IntoIterator<Item = (&'a str, &'a ServiceInfo)>,
) -> Option<Hinted> {
    let mine = claims(info);
    for (other, other_info) in others.into_iter().filter(|(name, _)| *name != info.name) {
        for theirs in claims(other_info) {
            for wanted in &mine {
                let said = match (wanted, &theirs) {
                    (Claim::Place(w), Claim::Place(t)) if places_meet(w, t) => {
                        format!("it asks for {w}, and {t} belongs to the added service {other}: one service may not read or write another's files")
                    }
                    (Claim::Port(p, proto), Claim::Port(q, qproto))
                        if p == q && proto == qproto =>
                    {
                        format!("it asks for port {p}/{proto}, which the added service {other} listens on: its onion would lead to {other}")
                    }
                    _ => continue,
                };
                return Some(Hinted::new(
                    format!("{said}. To use this plugin instead, remove {other} first ({{next}})"),
                    [Next::RemovePlugin { service: other.to_string() }],
                ));
            }
        }
    }
    None
}

/// Every place the plugin declares must be one its packages (`packages`)
/// ship or own, or a folder of its own (`caps::owned_place_problem`), as
/// dpkg says under the root. At `plugin add` (`after_install` false) its
/// packages may not be installed yet: then only what they cannot ship is
/// refused, and the rest once they are, before `configure` writes anything.
/// Under `--root` nothing is checked (nothing runs there).
pub fn check_places(
    root: &std::path::Path,
    info: &ServiceInfo,
    packages: &[String],
    after_install: bool,
) -> anyhow::Result<()> {
    if root != std::path::Path::new("/") {
        return Ok(());
    }
    let dpkg = crate::system::packages::Dpkg::read(root)
        .map_err(|e| anyhow::anyhow!("reading dpkg's database: {e}"))?;
    let installed = after_install || dpkg.all_installed(packages);
    let problem = crate::broker::caps::owned_places_problems(
        &info.capabilities.config_paths,
        packages,
        &|path| dpkg.owners(path),
        &|package| dpkg.roots_own(package),
        installed,
    );
    match problem {
        Some(why) => anyhow::bail!("{}: {why}", info.name),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_meet_when_one_holds_the_other() {
        let table: &[(&str, &str, bool)] = &[
            ("/etc/mumble/mumble-server.ini", "/etc/mumble/mumble-server.ini", true),
            ("/etc/mumble/", "/etc/mumble/mumble-server.ini", true),
            ("/etc/mumble/mumble-server.ini", "/etc/mumble/", true),
            ("/var/lib/dokuwiki/acl/users.auth.php", "/var/lib/dokuwiki/", true),
            ("/var/lib/ssh/", "/var/lib/ssh/", true),
            ("/var/lib/ssh/host/", "/var/lib/ssh/", true),
            // A file is not a folder: /etc/x holds nothing below it.
            ("/etc/mumble", "/etc/mumble/x", false),
            ("/etc/mumble/", "/etc/mumble-server.ini", false),
            ("/var/lib/sshd/", "/var/lib/ssh/", false),
            ("/etc/lighttpd/lighttpd.conf", "/etc/lighttpd/conf-enabled/", false),
            // Through the system's links.
            ("/var/run/x/", "/run/x/y", true),
        ];
        for (a, b, meet) in table {
            assert_eq!(places_meet(a, b), *meet, "{a} {b}");
        }
    }
}
