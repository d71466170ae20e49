//! The accounts the host makes for a service whose unit runs as a user of
//! its own: a group for its secrets and, when its plugin asks for one (and
//! the user agreed), a login account.
//!
//! systemd's DynamicUser gives such a unit a new user and group at each
//! start, so no file can name them beforehand. Its secret config files (a
//! password) are instead readable by a static system group the host makes
//! for the service alone, `tails-secrets-NAME`, which the unit joins
//! (`SupplementaryGroups=`): root and that service read them, nobody else.
//!
//! A user of its own has no shell (systemd gives it `nologin`), so a server
//! it runs (sshd) could let nobody in. A login account, `tails-login-NAME`,
//! is a static system user with /bin/bash and the service's first data
//! folder as home, whose primary group is the secrets group. Its unit names
//! it (`User=`) instead of `DynamicUser=yes`: for a unit with DynamicUser,
//! systemd shows even a static user to the service as locked and expired
//! (its shadow entry `!*`, expired), and sshd would let no one in.
//!
//! On Tails /etc/passwd and /etc/group are in RAM: both are made again at
//! each enable (the configure step); `plugin remove` deletes them.

use std::process::Command;

/// `PREFIX-SERVICE`, hashed to fit a user or group name's 32 characters.
fn fitted(prefix: &str, service: &str) -> String {
    let full = format!("{prefix}-{service}");
    if full.len() <= 32 {
        return full;
    }
    // FNV-1a: stable across builds and machines.
    let hash =
        service.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ b as u32).wrapping_mul(0x0100_0193));
    let keep = 32 - prefix.len() - 10;
    format!("{prefix}-{}-{hash:08x}", &service[..keep])
}

/// The group of `service`: `tails-secrets-NAME`. Never `tails-server-NAME`,
/// the unit's own name: for a user of its own, systemd would take a static
/// group of that name as the user's too, and refuse to start when its id is
/// another user's.
pub fn group_of(service: &str) -> String {
    fitted("tails-secrets", service)
}

/// The login account of `service`: `tails-login-NAME`.
pub fn login_of(service: &str) -> String {
    fitted("tails-login", service)
}

/// The group's id, making it first if it does not exist.
pub fn ensure_group(service: &str) -> Result<u32, String> {
    let group = group_of(service);
    if let Some(gid) = gid_of(&group) {
        return Ok(gid);
    }
    run("groupadd", Command::new("/usr/sbin/groupadd").arg("--system").arg(&group))?;
    gid_of(&group).ok_or_else(|| format!("groupadd made no group {group}"))
}

/// The login account, made (with the group) if it does not exist, its home
/// set to `home` if it is elsewhere.
pub fn ensure_login(service: &str, home: &str) -> Result<(), String> {
    ensure_group(service)?;
    let login = login_of(service);
    match home_of(&login) {
        Some(now) if now == home => Ok(()),
        Some(_) => run("usermod", Command::new("/usr/sbin/usermod").args(["--home", home, &login])),
        None => run(
            "useradd",
            Command::new("/usr/sbin/useradd")
                .args([
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/bin/bash",
                    "--home-dir",
                    home,
                    "--gid",
                    &group_of(service),
                ])
                .args([
                    "--comment",
                    &format!("Tails Server login account of the service {service}"),
                ])
                .arg(&login),
        ),
    }
}

/// Remove the login account and the group, where there are (at plugin remove).
pub fn remove(service: &str) -> Result<(), String> {
    let login = login_of(service);
    if home_of(&login).is_some() {
        run("userdel", Command::new("/usr/sbin/userdel").arg(&login))?;
    }
    let group = group_of(service);
    if gid_of(&group).is_some() {
        run("groupdel", Command::new("/usr/sbin/groupdel").arg(&group))?;
    }
    Ok(())
}

fn run(tool: &str, command: &mut Command) -> Result<(), String> {
    let out = command.output().map_err(|e| format!("running {tool}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{tool} failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
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

/// The home folder of a user, by name; None when there is no such user.
fn home_of(name: &str) -> Option<String> {
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: as in gid_of, with getpwnam.
    let user = unsafe { libc::getpwnam(name.as_ptr()) };
    (!user.is_null())
        .then(|| unsafe { std::ffi::CStr::from_ptr((*user).pw_dir) }.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_fit_and_differ() {
        assert_eq!(super::group_of("gobby"), "tails-secrets-gobby");
        assert_eq!(super::login_of("ssh"), "tails-login-ssh");
        for of in [super::group_of, super::login_of] {
            let long = of("a-service-with-a-rather-long-name");
            let other = of("a-service-with-a-rather-long-name2");
            assert!(long.len() <= 32 && other.len() <= 32 && long != other, "{long} {other}");
            assert!(long.contains("-a-service"), "{long}");
        }
    }
}
