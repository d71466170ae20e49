//! The group of a service whose unit runs as a user of its own.
//!
//! systemd's DynamicUser gives such a unit a new user and group at each
//! start, so no file can name them beforehand. Its secret config files (a
//! password) are instead readable by a static system group the host makes
//! for the service alone, `tails-secrets-NAME`, which the unit joins
//! (`SupplementaryGroups=`): root and that service read them, nobody else.
//! On Tails /etc/group is in RAM: the group is made again at each enable.

use std::process::Command;

/// The group of `service`: `tails-secrets-NAME`, hashed to fit a group
/// name's 32 characters. Never `tails-server-NAME`, the unit's own name: for
/// a user of its own, systemd would take a static group of that name as the
/// user's too, and refuse to start when its id is another user's.
pub fn name_of(service: &str) -> String {
    let full = format!("tails-secrets-{service}");
    if full.len() <= 32 {
        return full;
    }
    // FNV-1a: stable across builds and machines.
    let hash = service.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ b as u32).wrapping_mul(0x0100_0193));
    format!("tails-secrets-{}-{hash:08x}", &service[..9])
}

/// The group's id, making it first if it does not exist.
pub fn ensure(service: &str) -> Result<u32, String> {
    let group = name_of(service);
    if let Some(gid) = gid_of(&group) {
        return Ok(gid);
    }
    let out = Command::new("/usr/sbin/groupadd").arg("--system").arg(&group).output().map_err(|e| format!("running groupadd: {e}"))?;
    if !out.status.success() {
        return Err(format!("groupadd --system {group} failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    gid_of(&group).ok_or_else(|| format!("groupadd made no group {group}"))
}

/// Remove the group, if there is one (at plugin remove).
pub fn remove(service: &str) -> Result<(), String> {
    let group = name_of(service);
    if gid_of(&group).is_none() {
        return Ok(());
    }
    let out = Command::new("/usr/sbin/groupdel").arg(&group).output().map_err(|e| format!("running groupdel: {e}"))?;
    if !out.status.success() {
        return Err(format!("groupdel {group} failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(())
}

/// The id of a group, by name.
pub fn gid_of(name: &str) -> Option<u32> {
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: getgrnam with a valid C string; the result is read at once, on
    // this thread, before any other call that could reuse its buffer.
    let group = unsafe { libc::getgrnam(name.as_ptr()) };
    (!group.is_null()).then(|| unsafe { (*group).gr_gid })
}

#[cfg(test)]
mod tests {
    #[test]
    fn group_names_fit_and_differ() {
        assert_eq!(super::name_of("gobby"), "tails-secrets-gobby");
        let long = super::name_of("a-service-with-a-rather-long-name");
        let other = super::name_of("a-service-with-a-rather-long-name2");
        assert!(long.len() <= 32 && other.len() <= 32 && long != other, "{long} {other}");
        assert!(long.starts_with("tails-secrets-a-service"), "{long}");
    }
}
