//! Where a command's request goes: the core in this process (root, no daemon:
//! SSH administration, scripts, `--root`) or the daemon `tails-serverd` over
//! the system bus (a user who is not root, or whenever the daemon runs). One
//! trait, two implementations: the commands print the same thing from
//! either, because both answer with the same documents
//! (`tails-server-types`) and the same `Progress`.

use std::path::Path;

use anyhow::{anyhow, bail, Result};
use tails_server_core::blocking::block_on;
use tails_server_core::context::{Context, Paths};
use tails_server_core::journal::Progress;
use tails_server_core::plugins;
use tails_server_core::requests::{self, Confirm};
use tails_server_dbus::{client, ServerProxy};
use tails_server_types::documents::{
    AvailablePlugin, Info, PluginRow, PluginShown, ServiceRow, Status, TorStatus,
};
use tails_server_types::{ConnectionInfo, Inspection};

/// What `disable_all` did: the services it disabled, and those it could not
/// with why.
pub type Disabled = (Vec<String>, Vec<(String, anyhow::Error)>);

/// Whether the person agrees to add a plugin, shown its inspection.
pub type Consent<'a> = &'a mut dyn FnMut(&Inspection) -> Result<bool>;

/// Set to `1` to make a root CLI work in its own process although a daemon runs.
pub const IN_PROCESS_VAR: &str = "TAILS_SERVER_IN_PROCESS";

/// Every request a command makes, answered by the core in this process or
/// by the daemon.
pub trait Backend {
    fn list(&self) -> Result<Vec<ServiceRow>>;
    fn plugins(&self) -> Result<Vec<PluginRow>>;
    fn plugin(&self, name: &str) -> Result<PluginShown>;
    /// The shipped plugins and whether they are added.
    fn available(&self) -> Result<Vec<AvailablePlugin>>;
    fn info(&self, name: &str, details: bool, reveal: bool) -> Result<Info>;
    fn status(&self, name: &str) -> Result<Status>;
    fn tor_status(&self) -> Result<TorStatus>;
    /// Enable (or, `enable` false, disable); progress goes to `show` as it comes.
    fn enable(&self, name: &str, enable: bool, show: fn(&Progress)) -> Result<String>;
    /// Set an option (`value`), or reset it to its default (none).
    fn set_option(
        &self,
        name: &str,
        option: &str,
        value: Option<&str>,
        confirm: Confirm,
    ) -> Result<String>;
    /// A new onion address, once the person agreed.
    fn rotate_address(&self, name: &str, confirm: Confirm) -> Result<String>;
    fn connection_info(&self, name: &str, client: Option<&str>) -> Result<ConnectionInfo>;
    fn client_list(&self, name: &str) -> Result<Vec<String>>;
    /// Add a client; the connection info for it when the service is published.
    fn client_add(&self, name: &str, client: &str) -> Result<(String, Option<ConnectionInfo>)>;
    fn client_remove(&self, name: &str, client: &str) -> Result<String>;
    /// Add the plugin at `file` if `consent` agrees to its inspection,
    /// granting all it asks but `refused` (short forms).
    fn add_plugin(&self, file: &Path, refused: &[String], consent: Consent) -> Result<String>;
    fn remove_plugin(&self, name: &str) -> Result<String>;
    /// The context, for a command the daemon does not offer: root works in
    /// its own process (the state lock keeps it and the daemon apart).
    fn into_context(
        self: Box<Self>,
        what: &str,
        local: &dyn Fn() -> Result<Context>,
    ) -> Result<Context>;

    /// Disable every enabled service (before the package is removed, or
    /// when everything must stop now): what each said, and those that could
    /// not be disabled with why (the others are disabled all the same).
    /// Through the daemon, one job each: it talks to the tor that holds
    /// their onion services.
    fn disable_all(&self, show: fn(&Progress)) -> Result<Disabled> {
        let (mut said, mut failed) = (Vec::new(), Vec::new());
        for row in self.list()?.into_iter().filter(|row| row.enabled) {
            match self.enable(&row.name, false, show) {
                Ok(words) => said.push(words),
                Err(e) => failed.push((row.name, e)),
            }
        }
        Ok((said, failed))
    }
}

/// The daemon when it runs (or must be asked: not root), else this process.
/// Explicit places (`--root`, `--state-dir`, `--persistent-dir`) are this
/// process's: the daemon serves the system's own.
pub fn choose(paths: &Paths, local: impl FnOnce() -> Result<Context>) -> Result<Box<dyn Backend>> {
    let explicit =
        paths.root.is_some() || paths.state_dir.is_some() || paths.persistent_dir.is_some();
    let root = unsafe { libc::geteuid() } == 0;
    if explicit || std::env::var(IN_PROCESS_VAR).is_ok_and(|v| v == "1") {
        return Ok(Box::new(InProcess(local()?)));
    }
    if root {
        return match Daemon::running() {
            Some(daemon) => Ok(Box::new(daemon)),
            None => Ok(Box::new(InProcess(local()?))),
        };
    }
    let daemon = Daemon::connect().map_err(|e| {
        anyhow!("a user who is not root works through Tails Server's daemon (tails-serverd), and it cannot be reached: {e:#}\nInstall Tails Server with its daemon, or run this command as root.")
    })?;
    Ok(Box::new(daemon))
}

/// The core in this process.
pub struct InProcess(pub Context);

impl Backend for InProcess {
    fn list(&self) -> Result<Vec<ServiceRow>> {
        requests::list(&self.0)
    }
    fn plugins(&self) -> Result<Vec<PluginRow>> {
        plugins::listed(&self.0)
    }
    fn plugin(&self, name: &str) -> Result<PluginShown> {
        plugins::shown(&self.0, name)
    }
    fn available(&self) -> Result<Vec<AvailablePlugin>> {
        plugins::available(&self.0)
    }
    fn info(&self, name: &str, details: bool, reveal: bool) -> Result<Info> {
        requests::info(&self.0, name, details, reveal)
    }
    fn status(&self, name: &str) -> Result<Status> {
        requests::status(&self.0, name)
    }
    fn tor_status(&self) -> Result<TorStatus> {
        requests::tor_status(&self.0)
    }
    fn enable(&self, name: &str, enable: bool, _show: fn(&Progress)) -> Result<String> {
        // In this process, the context prints progress as it comes.
        if enable {
            requests::enable(&self.0, name)
        } else {
            requests::disable(&self.0, name)
        }
    }
    fn set_option(
        &self,
        name: &str,
        option: &str,
        value: Option<&str>,
        confirm: Confirm,
    ) -> Result<String> {
        match value {
            Some(value) => requests::set_option(&self.0, name, option, value, confirm),
            None => requests::reset_option(&self.0, name, option, confirm),
        }
    }
    fn rotate_address(&self, name: &str, confirm: Confirm) -> Result<String> {
        requests::rotate_address(&self.0, name, confirm)
    }
    fn connection_info(&self, name: &str, client: Option<&str>) -> Result<ConnectionInfo> {
        requests::connection_info(&self.0, name, client)
    }
    fn client_list(&self, name: &str) -> Result<Vec<String>> {
        requests::client_list(&self.0, name)
    }
    fn client_add(&self, name: &str, client: &str) -> Result<(String, Option<ConnectionInfo>)> {
        requests::client_add(&self.0, name, client)
    }
    fn client_remove(&self, name: &str, client: &str) -> Result<String> {
        requests::client_remove(&self.0, name, client)
    }
    fn add_plugin(&self, file: &Path, refused: &[String], consent: Consent) -> Result<String> {
        let ctx = &self.0;
        let candidate = plugins::inspect(
            ctx,
            plugins::read_file(file)?,
            &tails_server_core::display::path(file),
        )?;
        if !consent(&candidate.inspection)? {
            bail!("not added: permission was not granted; nothing was stored");
        }
        let refused = candidate.capabilities(refused)?;
        candidate.add(ctx, &refused)
    }
    fn remove_plugin(&self, name: &str) -> Result<String> {
        requests::remove_plugin(&self.0, name)
    }
    fn into_context(
        self: Box<Self>,
        _what: &str,
        _local: &dyn Fn() -> Result<Context>,
    ) -> Result<Context> {
        Ok(self.0)
    }
}

impl Backend for Daemon {
    fn list(&self) -> Result<Vec<ServiceRow>> {
        self.document(|s| Box::pin(async move { s.list_services().await }))
    }
    fn plugins(&self) -> Result<Vec<PluginRow>> {
        self.document(|s| Box::pin(async move { s.plugin_list().await }))
    }
    fn plugin(&self, name: &str) -> Result<PluginShown> {
        self.document(|s| Box::pin(async move { s.plugin_show(name).await }))
    }
    fn available(&self) -> Result<Vec<AvailablePlugin>> {
        self.document(|s| Box::pin(async move { s.available_plugins().await }))
    }
    fn info(&self, name: &str, details: bool, reveal: bool) -> Result<Info> {
        self.document(|s| Box::pin(async move { s.service_info(name, details, reveal).await }))
    }
    fn status(&self, name: &str) -> Result<Status> {
        self.document(|s| Box::pin(async move { s.service_status(name).await }))
    }
    fn tor_status(&self) -> Result<TorStatus> {
        self.document(|s| Box::pin(async move { s.tor_status().await }))
    }
    fn enable(&self, name: &str, enable: bool, show: fn(&Progress)) -> Result<String> {
        self.job(name, enable, show)
    }
    fn set_option(
        &self,
        name: &str,
        option: &str,
        value: Option<&str>,
        confirm: Confirm,
    ) -> Result<String> {
        self.confirming(confirm, "persistence left on; nothing was deleted", |confirmed| {
            self.call(|s| {
                Box::pin(async move {
                    match value {
                        Some(value) => s.set_option(name, option, value, confirmed).await,
                        None => s.reset_option(name, option, confirmed).await,
                    }
                })
            })
        })
    }
    fn rotate_address(&self, name: &str, confirm: Confirm) -> Result<String> {
        self.confirming(confirm, "address unchanged", |confirmed| {
            self.call(|s| Box::pin(async move { s.rotate_address(name, confirmed).await }))
        })
    }
    fn connection_info(&self, name: &str, client: Option<&str>) -> Result<ConnectionInfo> {
        self.document(|s| {
            Box::pin(async move { s.connection_info(name, client.unwrap_or("")).await })
        })
    }
    fn client_list(&self, name: &str) -> Result<Vec<String>> {
        self.call(|s| Box::pin(async move { s.client_list(name).await }))
    }
    fn client_add(&self, name: &str, client: &str) -> Result<(String, Option<ConnectionInfo>)> {
        let said = self.call(|s| Box::pin(async move { s.client_add(name, client).await }))?;
        let enabled = self.status(name)?.enabled;
        Ok((said, if enabled { Some(self.connection_info(name, Some(client))?) } else { None }))
    }
    fn client_remove(&self, name: &str, client: &str) -> Result<String> {
        self.call(|s| Box::pin(async move { s.client_remove(name, client).await }))
    }
    fn add_plugin(&self, file: &Path, refused: &[String], consent: Consent) -> Result<String> {
        let opened = plugins::open(file)?;
        let text = self.call(|s| {
            Box::pin(async move { s.inspect_plugin(zbus::zvariant::Fd::from(&opened)).await })
        })?;
        let inspection: Inspection = serde_json::from_str(&text)?;
        if !consent(&inspection)? {
            bail!("not added: permission was not granted; nothing was stored");
        }
        // Opened again: the daemon checks these are still the bytes inspected.
        let opened = plugins::open(file)?;
        let refused: Vec<&str> = refused.iter().map(String::as_str).collect();
        let sha256 = inspection.sha256.as_str();
        self.call(|s| {
            Box::pin(async move {
                s.add_plugin(zbus::zvariant::Fd::from(&opened), sha256, &refused).await
            })
        })
    }
    fn remove_plugin(&self, name: &str) -> Result<String> {
        self.call(|s| Box::pin(async move { s.remove_plugin(name).await }))
    }
    fn into_context(
        self: Box<Self>,
        what: &str,
        local: &dyn Fn() -> Result<Context>,
    ) -> Result<Context> {
        if unsafe { libc::geteuid() } == 0 {
            return local();
        }
        bail!("`{what}` runs only as root (sudo tails-server {what}): {}", why_root_only(what))
    }
}

type Call<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = zbus::Result<T>> + 'a>>;

pub struct Daemon {
    server: ServerProxy<'static>,
}

impl Daemon {
    /// The daemon, if its name has an owner on the system bus now.
    fn running() -> Option<Daemon> {
        block_on(async {
            let conn = zbus::Connection::system().await.ok()?;
            let bus = zbus::fdo::DBusProxy::new(&conn).await.ok()?;
            let name = zbus::names::BusName::try_from(tails_server_dbus::BUS_NAME).ok()?;
            if !bus.name_has_owner(name).await.ok()? {
                return None;
            }
            Some(Daemon { server: ServerProxy::new(&conn).await.ok()? })
        })
    }

    /// The daemon, started by D-Bus activation if it is not running.
    fn connect() -> Result<Daemon> {
        block_on(async {
            let conn = zbus::Connection::system().await?;
            let server = ServerProxy::new(&conn).await?;
            let version = server.version().await?;
            if version != tails_server_dbus::VERSION {
                bail!(
                    "the daemon speaks version {version} of the interface and this program {}",
                    tails_server_dbus::VERSION
                );
            }
            Ok(Daemon { server })
        })
    }

    /// Call once unconfirmed; if the daemon says the change needs the
    /// person's agreement, ask here (the daemon cannot) and call again.
    fn confirming(
        &self,
        confirm: Confirm,
        refused: &str,
        call: impl Fn(bool) -> Result<String>,
    ) -> Result<String> {
        match call(false) {
            Err(e) => match client::question(&e.to_string()) {
                Some(question) if confirm(question) => call(true),
                Some(_) => bail!("{refused}"),
                None => Err(e),
            },
            answer => answer,
        }
    }

    fn call<'a, T>(&'a self, f: impl FnOnce(&'a ServerProxy<'static>) -> Call<'a, T>) -> Result<T> {
        block_on(f(&self.server)).map_err(from_bus)
    }

    /// A document the daemon answers as JSON.
    fn document<'a, T: serde::de::DeserializeOwned>(
        &'a self,
        f: impl FnOnce(&'a ServerProxy<'static>) -> Call<'a, String>,
    ) -> Result<T> {
        Ok(serde_json::from_str(&self.call(f)?)?)
    }

    /// Start an enable or disable, show its progress, return its result.
    fn job(&self, name: &str, enable: bool, show: fn(&Progress)) -> Result<String> {
        block_on(async {
            let path = if enable {
                self.server.enable(name).await
            } else {
                self.server.disable(name).await
            }
            .map_err(from_bus)?;
            let what = format!("the {} of {name}", if enable { "enable" } else { "disable" });
            client::follow(self.server.inner().connection(), path, &what, |p| show(&p))
                .await
                .map_err(|e| {
                    if e.starts_with("tails-serverd stopped") {
                        anyhow!("{e}: see `tails-server {name} status`")
                    } else {
                        anyhow!(client::for_terminal(&e))
                    }
                })
        })
    }
}

/// The daemon's refusal or error, as its own words.
fn from_bus(e: zbus::Error) -> anyhow::Error {
    anyhow!(client::words(e))
}

/// Why a command is not offered to a user who is not root.
fn why_root_only(what: &str) -> &'static str {
    match what {
        "repair" => "tails-serverd repairs by itself each time it starts",
        "reconcile" => {
            "tails-serverd publishes every enabled service again by itself whenever tor comes back"
        }
        "autostart" => "it is run at boot by tails-server-autostart.service",
        _ => "which tor Tails Server uses is the administrator's choice",
    }
}
