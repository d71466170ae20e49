//! Where a command's request goes: the core in this process (root, no daemon:
//! SSH administration, scripts, `--root`) or the daemon `tails-serverd` over
//! the system bus (a user who is not root, or whenever the daemon runs). The
//! commands print the same thing from either, because both answer with the
//! same documents and the same `Progress`.

use anyhow::{anyhow, bail, Result};
use serde_json::Value;
use tails_server_core::context::Context;
use tails_server_core::journal::Progress;
use tails_server_core::requests::{self, Confirm};
use tails_server_core::tor::block_on;
use tails_server_dbus::{client, ConnectionInfo, Inspection, ServerProxy};

/// What `disable_all` did: the services it disabled, and those it could not
/// with why.
pub type Disabled = (Vec<String>, Vec<(String, anyhow::Error)>);

pub enum Backend {
    Local(Box<Context>),
    Daemon(Daemon),
}

/// Set to `1` to make a root CLI work in its own process although a daemon runs.
pub const IN_PROCESS_VAR: &str = "TAILS_SERVER_IN_PROCESS";

impl Backend {
    /// The daemon when it runs (or must be asked: not root), else this process.
    /// Explicit places (`--root`, `--state-dir`, `--persistent-dir`) are this
    /// process's: the daemon serves the system's own.
    pub fn choose(
        paths: &tails_server_core::context::Paths,
        local: impl FnOnce() -> Result<Context>,
    ) -> Result<Backend> {
        let explicit =
            paths.root.is_some() || paths.state_dir.is_some() || paths.persistent_dir.is_some();
        let root = unsafe { libc::geteuid() } == 0;
        if explicit || std::env::var(IN_PROCESS_VAR).is_ok_and(|v| v == "1") {
            return Ok(Backend::Local(Box::new(local()?)));
        }
        if root {
            return match Daemon::running() {
                Some(daemon) => Ok(Backend::Daemon(daemon)),
                None => Ok(Backend::Local(Box::new(local()?))),
            };
        }
        Daemon::connect().map(Backend::Daemon).map_err(|e| {
            anyhow!("a user who is not root works through Tails Server's daemon (tails-serverd), and it cannot be reached: {e:#}\nInstall Tails Server with its daemon, or run this command as root.")
        })
    }

    /// The context, for a command the daemon does not offer yet: root works
    /// in its own process (the state lock keeps it and the daemon apart).
    pub fn local_only(
        self,
        what: &str,
        local: impl FnOnce() -> Result<Context>,
    ) -> Result<Context> {
        match self {
            Backend::Local(ctx) => Ok(*ctx),
            Backend::Daemon(_) if unsafe { libc::geteuid() } == 0 => local(),
            Backend::Daemon(_) => bail!(
                "`{what}` runs only as root (sudo tails-server {what}): {}",
                why_root_only(what)
            ),
        }
    }

    pub fn list(&self) -> Result<Value> {
        match self {
            Backend::Local(ctx) => requests::list(ctx),
            Backend::Daemon(d) => d.document(|s| Box::pin(async move { s.list_services().await })),
        }
    }

    pub fn plugins(&self) -> Result<Value> {
        match self {
            Backend::Local(ctx) => tails_server_core::plugins::listed(ctx),
            Backend::Daemon(d) => d.document(|s| Box::pin(async move { s.plugin_list().await })),
        }
    }

    pub fn plugin(&self, name: &str) -> Result<Value> {
        match self {
            Backend::Local(ctx) => tails_server_core::plugins::shown(ctx, name),
            Backend::Daemon(d) => {
                d.document(|s| Box::pin(async move { s.plugin_show(name).await }))
            }
        }
    }

    pub fn info(&self, name: &str, details: bool, reveal: bool) -> Result<Value> {
        match self {
            Backend::Local(ctx) => requests::info(ctx, name, details, reveal),
            Backend::Daemon(d) => {
                d.document(|s| Box::pin(async move { s.service_info(name, details, reveal).await }))
            }
        }
    }

    pub fn status(&self, name: &str) -> Result<Value> {
        match self {
            Backend::Local(ctx) => requests::status(ctx, name),
            Backend::Daemon(d) => {
                d.document(|s| Box::pin(async move { s.service_status(name).await }))
            }
        }
    }

    pub fn tor_status(&self) -> Result<Value> {
        match self {
            Backend::Local(ctx) => requests::tor_status(ctx),
            Backend::Daemon(d) => d.document(|s| Box::pin(async move { s.tor_status().await })),
        }
    }

    /// Enable (or, `enable` false, disable); progress goes to `show` as it comes.
    pub fn enable(&self, name: &str, enable: bool, show: fn(&Progress)) -> Result<String> {
        match self {
            Backend::Local(ctx) if enable => requests::enable(ctx, name),
            Backend::Local(ctx) => requests::disable(ctx, name),
            Backend::Daemon(d) => d.job(name, enable, show),
        }
    }

    /// Disable every enabled service (before the package is removed, or
    /// when everything must stop now): what each said, and those that could
    /// not be disabled with why (the others are disabled all the same).
    /// Through the daemon, one job each: it talks to the tor that holds
    /// their onion services.
    pub fn disable_all(&self, show: fn(&Progress)) -> Result<Disabled> {
        let (mut said, mut failed) = (Vec::new(), Vec::new());
        for row in
            self.list()?.as_array().into_iter().flatten().filter(|row| row["enabled"] == true)
        {
            let name = row["name"].as_str().unwrap_or_default().to_string();
            match self.enable(&name, false, show) {
                Ok(words) => said.push(words),
                Err(e) => failed.push((name, e)),
            }
        }
        Ok((said, failed))
    }

    pub fn set_option(
        &self,
        name: &str,
        option: &str,
        value: Option<&str>,
        confirm: Confirm,
    ) -> Result<String> {
        match (self, value) {
            (Backend::Local(ctx), Some(value)) => {
                requests::set_option(ctx, name, option, value, confirm)
            }
            (Backend::Local(ctx), None) => requests::reset_option(ctx, name, option, confirm),
            (Backend::Daemon(d), value) => {
                d.confirming(confirm, "persistence left on; nothing was deleted", |confirmed| {
                    d.call(|s| {
                        Box::pin(async move {
                            match value {
                                Some(value) => s.set_option(name, option, value, confirmed).await,
                                None => s.reset_option(name, option, confirmed).await,
                            }
                        })
                    })
                })
            }
        }
    }

    /// A new onion address, once the person agreed.
    pub fn rotate_address(&self, name: &str, confirm: Confirm) -> Result<String> {
        match self {
            Backend::Local(ctx) => requests::rotate_address(ctx, name, confirm),
            Backend::Daemon(d) => d.confirming(confirm, "address unchanged", |confirmed| {
                d.call(|s| Box::pin(async move { s.rotate_address(name, confirmed).await }))
            }),
        }
    }

    /// The shipped plugins and whether they are added.
    pub fn available(&self) -> Result<Value> {
        match self {
            Backend::Local(ctx) => tails_server_core::plugins::available(ctx),
            Backend::Daemon(d) => {
                d.document(|s| Box::pin(async move { s.available_plugins().await }))
            }
        }
    }

    pub fn connection_info(&self, name: &str, client: Option<&str>) -> Result<ConnectionInfo> {
        match self {
            Backend::Local(ctx) => requests::connection_info(ctx, name, client),
            Backend::Daemon(d) => {
                let text = d.call(|s| {
                    Box::pin(async move { s.connection_info(name, client.unwrap_or("")).await })
                })?;
                Ok(serde_json::from_str(&text)?)
            }
        }
    }

    pub fn client_list(&self, name: &str) -> Result<Vec<String>> {
        match self {
            Backend::Local(ctx) => requests::client_list(ctx, name),
            Backend::Daemon(d) => d.call(|s| Box::pin(async move { s.client_list(name).await })),
        }
    }

    /// Add a client; the connection info for it when the service is published.
    pub fn client_add(&self, name: &str, client: &str) -> Result<(String, Option<ConnectionInfo>)> {
        match self {
            Backend::Local(ctx) => requests::client_add(ctx, name, client),
            Backend::Daemon(d) => {
                let said = d.call(|s| Box::pin(async move { s.client_add(name, client).await }))?;
                let enabled = self.status(name)?["enabled"].as_bool().unwrap_or(false);
                Ok((
                    said,
                    if enabled { Some(self.connection_info(name, Some(client))?) } else { None },
                ))
            }
        }
    }

    pub fn remove_plugin(&self, name: &str) -> Result<String> {
        match self {
            Backend::Local(ctx) => tails_server_core::plugins::remove(ctx, name),
            Backend::Daemon(d) => d.call(|s| Box::pin(async move { s.remove_plugin(name).await })),
        }
    }

    pub fn client_remove(&self, name: &str, client: &str) -> Result<String> {
        match self {
            Backend::Local(ctx) => requests::client_remove(ctx, name, client),
            Backend::Daemon(d) => {
                d.call(|s| Box::pin(async move { s.client_remove(name, client).await }))
            }
        }
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

    /// What the plugin file open at `file` asks for; the daemon reads it.
    pub fn inspect_plugin(&self, file: std::fs::File) -> Result<Inspection> {
        let text = self.call(|s| {
            Box::pin(async move { s.inspect_plugin(zbus::zvariant::Fd::from(&file)).await })
        })?;
        Ok(serde_json::from_str(&text)?)
    }

    /// Add the plugin file open at `file`, still the bytes inspected.
    pub fn add_plugin(
        &self,
        file: std::fs::File,
        sha256: &str,
        refused: &[String],
    ) -> Result<String> {
        let refused: Vec<&str> = refused.iter().map(String::as_str).collect();
        self.call(|s| {
            Box::pin(async move {
                s.add_plugin(zbus::zvariant::Fd::from(&file), sha256, &refused).await
            })
        })
    }

    fn call<'a, T>(&'a self, f: impl FnOnce(&'a ServerProxy<'static>) -> Call<'a, T>) -> Result<T> {
        block_on(f(&self.server)).map_err(from_bus)
    }

    fn document<'a>(
        &'a self,
        f: impl FnOnce(&'a ServerProxy<'static>) -> Call<'a, String>,
    ) -> Result<Value> {
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
                        anyhow!(e)
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
