//! systemd over D-Bus (org.freedesktop.systemd1 on the system bus): start,
//! stop and restart a unit and wait for its job; whether it runs; keep a unit
//! that a package enabled from starting on its own. Never runs systemctl.

use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use futures_util::StreamExt;
use zbus::zvariant::OwnedObjectPath;

/// How long a start or stop job may take before we give up waiting (systemd's
/// own default start timeout is 90 s).
const JOB_TIMEOUT: Duration = Duration::from_secs(100);

#[zbus::proxy(
    interface = "org.freedesktop.systemd1.Manager",
    default_service = "org.freedesktop.systemd1",
    default_path = "/org/freedesktop/systemd1"
)]
trait Manager {
    fn subscribe(&self) -> zbus::Result<()>;
    fn start_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;
    fn stop_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;
    fn restart_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;
    fn load_unit(&self, name: &str) -> zbus::Result<OwnedObjectPath>;
    fn get_unit_file_state(&self, file: &str) -> zbus::Result<String>;
    fn disable_unit_files(
        &self,
        files: &[&str],
        runtime: bool,
    ) -> zbus::Result<Vec<(String, String, String)>>;
    fn reload(&self) -> zbus::Result<()>;
    #[zbus(signal)]
    fn job_removed(
        &self,
        id: u32,
        job: OwnedObjectPath,
        unit: String,
        result: String,
    ) -> zbus::Result<()>;
}

#[zbus::proxy(
    interface = "org.freedesktop.systemd1.Unit",
    default_service = "org.freedesktop.systemd1"
)]
trait Unit {
    #[zbus(property)]
    fn active_state(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn load_state(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn fragment_path(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn drop_in_paths(&self) -> zbus::Result<Vec<String>>;
}

#[zbus::proxy(
    interface = "org.freedesktop.systemd1.Service",
    default_service = "org.freedesktop.systemd1"
)]
trait ServiceUnit {
    #[zbus(property)]
    fn result(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn user(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn group(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn dynamic_user(&self) -> zbus::Result<bool>;
    #[zbus(property)]
    fn permissions_start_only(&self) -> zbus::Result<bool>;
}

pub struct Systemd {
    conn: zbus::Connection,
    manager: ManagerProxy<'static>,
}

#[derive(Clone, Copy, Debug)]
pub enum Job {
    Start,
    Stop,
    Restart,
}

impl Systemd {
    pub async fn connect() -> Result<Self> {
        let conn = zbus::Connection::system().await.context(
            "cannot reach systemd on the system D-Bus (is this a systemd system, and is dbus running?)",
        )?;
        let manager = ManagerProxy::new(&conn).await?;
        Ok(Systemd { conn, manager })
    }

    async fn unit(&self, name: &str) -> Result<UnitProxy<'static>> {
        let path = self
            .manager
            .load_unit(name)
            .await
            .with_context(|| format!("systemd cannot load {name}"))?;
        Ok(UnitProxy::builder(&self.conn).path(path)?.build().await?)
    }

    /// The unit's ActiveState (`active`, `inactive`, `failed`, ...).
    pub async fn active_state(&self, name: &str) -> Result<String> {
        Ok(self.unit(name).await?.active_state().await?)
    }

    pub async fn exists(&self, name: &str) -> Result<bool> {
        Ok(self.unit(name).await?.load_state().await? == "loaded")
    }

    /// A service unit's Unit and Service interfaces (loaded if need be).
    async fn service_unit(
        &self,
        name: &str,
    ) -> Result<(UnitProxy<'static>, ServiceUnitProxy<'static>)> {
        let unit = self.unit(name).await?;
        let service = ServiceUnitProxy::builder(&self.conn)
            .path(unit.inner().path().to_owned())?
            .build()
            .await?;
        Ok((unit, service))
    }

    /// The user and group a service unit runs as (empty when root's), as
    /// systemd reads its file and drop-ins.
    pub async fn runs_as(&self, name: &str) -> Result<(String, String)> {
        let (_, service) = self.service_unit(name).await?;
        Ok((service.user().await.unwrap_or_default(), service.group().await.unwrap_or_default()))
    }

    /// Why a service unit runs something as root, in words, or `None` when
    /// every command it runs runs as its user: no `User=` (and no
    /// `DynamicUser=`), `PermissionsStartOnly=`, or a command with full
    /// privileges (`+`, `!`) in its file or drop-ins, as systemd loaded them.
    pub async fn runs_as_root(&self, name: &str) -> Result<Option<String>> {
        let (unit, service) = self.service_unit(name).await?;
        let user = service.user().await.unwrap_or_default();
        if (user.is_empty() || user == "root" || user == "0")
            && !service.dynamic_user().await.unwrap_or(false)
        {
            return Ok(Some(format!("{name} starts as root (its unit names no User=)")));
        }
        if service.permissions_start_only().await.unwrap_or(false) {
            return Ok(Some(format!(
                "{name} runs its start and stop commands as root (PermissionsStartOnly=yes)"
            )));
        }
        let files = std::iter::once(unit.fragment_path().await.unwrap_or_default())
            .chain(unit.drop_in_paths().await.unwrap_or_default());
        for file in files.filter(|f| !f.is_empty()) {
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {file}"))?;
            if let Some(line) = privileged_command(&text) {
                return Ok(Some(format!("{name} runs `{line}` as root ({file})")));
            }
        }
        Ok(None)
    }

    /// Make systemd read its unit files again (`systemctl daemon-reload`):
    /// after the host wrote or removed a unit or a drop-in.
    pub async fn reload(&self) -> Result<()> {
        self.manager.reload().await.context("systemd refused to reload its unit files")
    }

    /// Run a job on the unit and wait for its result. We subscribe to
    /// JobRemoved before queueing the job, so that its end cannot be missed.
    pub async fn run(&self, job: Job, name: &str) -> Result<()> {
        self.manager.subscribe().await.ok(); // already subscribed is fine
        let mut removed = self.manager.receive_job_removed().await?;
        let path = match job {
            Job::Start => self.manager.start_unit(name, "replace").await,
            Job::Stop => self.manager.stop_unit(name, "replace").await,
            Job::Restart => self.manager.restart_unit(name, "replace").await,
        }
        .with_context(|| format!("systemd refused to {job:?} {name}"))?;
        let result = tokio::time::timeout(JOB_TIMEOUT, async {
            while let Some(signal) = removed.next().await {
                let args = signal.args()?;
                if args.job == path {
                    return Ok::<_, anyhow::Error>(args.result);
                }
            }
            bail!("the D-Bus connection closed while waiting for systemd")
        })
        .await
        .with_context(|| {
            format!("{name}: systemd did not finish the {job:?} job within {JOB_TIMEOUT:?}")
        })??;
        if result == "done" {
            return Ok(());
        }
        let unit = self.unit(name).await?;
        let state = unit.active_state().await.unwrap_or_default();
        let service_result = match ServiceUnitProxy::builder(&self.conn)
            .path(unit.inner().path().to_owned())?
            .build()
            .await
        {
            Ok(s) => s.result().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        bail!(
            "{name}: the {job:?} job ended with `{result}` (unit {state}, result `{service_result}`). Its last log lines:\n{}",
            last_log_lines(name, 10)
        )
    }

    /// Keep a unit that a Debian package enabled (and started) on install
    /// from running on its own: stop it and disable it. Units generated from
    /// an init script are disabled through their rc links (`update-rc.d`).
    pub async fn stop_and_disable(&self, name: &str) -> Result<()> {
        if self.active_state(name).await? != "inactive" {
            self.run(Job::Stop, name).await?;
        }
        match self.manager.get_unit_file_state(name).await {
            Ok(state) if state == "enabled" => {
                self.manager.disable_unit_files(&[name], false).await?;
                self.manager.reload().await?;
            }
            Ok(state) if state == "generated" => disable_init_script(name)?,
            _ => {}
        }
        Ok(())
    }

    /// Whether the unit would start at boot by itself.
    pub async fn is_enabled(&self, name: &str) -> Result<bool> {
        Ok(match self.manager.get_unit_file_state(name).await {
            Ok(state) if state == "enabled" => true,
            Ok(state) if state == "generated" => init_script_enabled(name),
            _ => false,
        })
    }
}

fn init_script(name: &str) -> &str {
    name.strip_suffix(".service").unwrap_or(name)
}

/// An init script is enabled when a start link exists in the default runlevel.
fn init_script_enabled(name: &str) -> bool {
    let script = init_script(name);
    std::fs::read_dir("/etc/rc2.d")
        .map(|dir| {
            dir.flatten().any(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.starts_with('S') && n.get(3..) == Some(script)
            })
        })
        .unwrap_or(false)
}

fn disable_init_script(name: &str) -> Result<()> {
    if !init_script_enabled(name) {
        return Ok(());
    }
    let out = Command::new("update-rc.d")
        .args([init_script(name), "disable"])
        .output()
        .context("running update-rc.d")?;
    if !out.status.success() {
        bail!(
            "update-rc.d {} disable failed: {}",
            init_script(name),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The unit's last journal lines, to say why it failed (the journal has no
/// D-Bus interface; journalctl reads it).
pub fn last_log_lines(name: &str, lines: u32) -> String {
    match Command::new("journalctl")
        .args(["-u", name, "-n", &lines.to_string(), "--no-pager", "-o", "short"])
        .output()
    {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => "    (the journal could not be read)".into(),
    }
}

/// The first command line of a unit file that systemd runs with full
/// privileges whatever `User=` says: an `Exec…=` whose prefixes (`-`, `@`,
/// `:`, `+`, `!`, `!!`) hold `+` or `!`.
pub fn privileged_command(unit_file: &str) -> Option<String> {
    unit_file.lines().map(str::trim).find_map(|line| {
        let (key, value) = line.split_once('=')?;
        let key = key.trim();
        if !key.starts_with("Exec") || key == "ExecSearchPath" {
            return None;
        }
        let value = value.trim_start();
        let prefixes: String = value.chars().take_while(|c| "-@:+!".contains(*c)).collect();
        (prefixes.contains('+') || prefixes.contains('!')).then(|| crate::display::line(line))
    })
}

#[cfg(test)]
mod privileged {
    use super::privileged_command;

    #[test]
    fn commands_systemd_runs_as_root_are_found() {
        let unit = "[Service]\nUser=irc\nExecStartPre=-/usr/bin/true\nExecStart=/usr/sbin/ngircd\n";
        assert_eq!(privileged_command(unit), None);
        for line in [
            "ExecStartPre=+/bin/sh -c id",
            "ExecStartPost=!/bin/sh -c id",
            "ExecReload=-!!/bin/kill",
            "ExecStop=@+/bin/x y",
            "  ExecCondition = :+/bin/x",
        ] {
            assert!(
                privileged_command(&format!("[Service]\nUser=x\n{line}\n")).is_some(),
                "{line}"
            );
        }
        assert_eq!(privileged_command("Environment=A=+x\nExecSearchPath=+/x\n"), None);
    }
}
