//! The D-Bus interface of `tails-serverd`, shared by the daemon and its
//! clients (the `tails-server` CLI, the GUI): the names on the bus, the
//! polkit actions, the proxies, and following a job (`client`). The
//! documents that cross it are `tails-server-types`'. It links no plugin
//! runtime, so a front end that uses only this crate never loads a plugin.
//!
//! Interface `org.tails.Server1` (the version is in the name: a change that
//! breaks a client gets `org.tails.Server2` beside it). Documents (a service's
//! info, status, the list, connection info) cross as the JSON the CLI prints
//! with `--json`, so that every front end reads the same fields; long work
//! (enable, disable) returns a job object at once.

pub mod client;

/// The daemon's well-known name on the system bus.
pub const BUS_NAME: &str = "org.tails.Server";
/// The daemon's interface (the version is in its name).
pub const INTERFACE: &str = "org.tails.Server1";
/// The object that serves [`ServerProxy`].
pub const PATH: &str = "/org/tails/Server";
/// Where jobs live: `/org/tails/Server/jobs/N`.
pub const JOBS_PATH: &str = "/org/tails/Server/jobs";
/// The interface version this crate speaks (`org.tails.Server1`).
pub const VERSION: u32 = 1;

/// The polkit actions, one per kind of request (see
/// `data/polkit-1/actions/org.tails.server.policy`).
pub mod action {
    /// See the services, their state and options (secrets masked).
    pub const READ: &str = "org.tails.server.read";
    /// Enable, disable, change options, add and remove clients.
    pub const MANAGE: &str = "org.tails.server.manage";
    /// Add or remove plugins (what runs as root on the user's behalf).
    pub const PLUGINS: &str = "org.tails.server.plugins";
    /// See secrets: client keys, secret options.
    pub const SECRETS: &str = "org.tails.server.secrets";
}

/// How `SetOption`/`ResetOption`/`RotateAddress` say that the change needs the person's
/// agreement (persistence off deletes what was kept): the error's message is
/// this followed by the question. Ask it, then call again with `confirmed`.
pub const NEEDS_CONFIRMATION: &str = "needs confirmation: ";

/// A job's `Status`.
pub mod status {
    pub const RUNNING: &str = "running";
    pub const SUCCEEDED: &str = "succeeded";
    pub const FAILED: &str = "failed";
}

/// The daemon. Every method checks its polkit action for the caller first;
/// a refusal is an `org.freedesktop.DBus.Error.AccessDenied` that says which
/// action and what to do. A change answers in words: the first line says
/// what happened (what a window shows); the lines after it are hints for a
/// terminal, naming commands.
#[zbus::proxy(
    interface = "org.tails.Server1",
    default_service = "org.tails.Server",
    default_path = "/org/tails/Server"
)]
pub trait Server {
    /// [`VERSION`] of the daemon that answers.
    #[zbus(property)]
    fn version(&self) -> zbus::Result<u32>;

    /// The services: `[{"name", "enabled", "description"}]`.
    fn list_services(&self) -> zbus::Result<String>;
    /// A service's info (`info --json`, with `details` as `--details`);
    /// secrets masked unless `reveal` (which needs the secrets action).
    fn service_info(&self, name: &str, details: bool, reveal: bool) -> zbus::Result<String>;
    /// `{"enabled", "installed", "running", "published"}`.
    fn service_status(&self, name: &str) -> zbus::Result<String>;
    /// Set an option from its text; applied at once when the service is
    /// enabled. `confirmed`: the person agreed to what the change deletes
    /// (persistence off). Returns what was done, in words.
    fn set_option(
        &self,
        name: &str,
        option: &str,
        value: &str,
        confirmed: bool,
    ) -> zbus::Result<String>;
    /// Put an option back to its default (a secret: a new one).
    fn reset_option(&self, name: &str, option: &str, confirmed: bool) -> zbus::Result<String>;
    /// Start enabling a service; returns the job at once.
    fn enable(&self, name: &str) -> zbus::Result<zbus::zvariant::OwnedObjectPath>;
    /// Start disabling a service; returns the job at once.
    fn disable(&self, name: &str) -> zbus::Result<zbus::zvariant::OwnedObjectPath>;
    /// [`ConnectionInfo`] as JSON, for one client or (`""`) all.
    fn connection_info(&self, name: &str, client: &str) -> zbus::Result<String>;
    /// The clients' names.
    fn client_list(&self, name: &str) -> zbus::Result<Vec<String>>;
    /// Add a client (a new key); returns what was done, in words.
    fn client_add(&self, name: &str, client: &str) -> zbus::Result<String>;
    /// Remove a client: re-published without its key, it can no longer connect.
    fn client_remove(&self, name: &str, client: &str) -> zbus::Result<String>;
    /// What the plugin file open at `file` asks for ([`Inspection`] as
    /// JSON). Nothing is stored.
    fn inspect_plugin(&self, file: zbus::zvariant::Fd<'_>) -> zbus::Result<String>;
    /// Add the plugin file open at `file`, which must still be the bytes
    /// inspected (`sha256`), granting what it asks except `refused`
    /// (capabilities' short forms). Returns what was done, in words.
    fn add_plugin(
        &self,
        file: zbus::zvariant::Fd<'_>,
        sha256: &str,
        refused: &[&str],
    ) -> zbus::Result<String>;
    /// Remove a plugin (disabled): its grants, settings, keys and npm packages go.
    fn remove_plugin(&self, name: &str) -> zbus::Result<String>;
    /// A new onion address; every client then needs it. `confirmed`: the
    /// person agreed (else the error is [`NEEDS_CONFIRMATION`] and the question).
    fn rotate_address(&self, name: &str, confirmed: bool) -> zbus::Result<String>;
    /// The plugins shipped with Tails Server: `[{"name", "description", "added", "file", "sha256"}]`.
    fn available_plugins(&self) -> zbus::Result<String>;
    /// The added plugins: `[{"name", "sha256", "contract", "description"}]`.
    fn plugin_list(&self) -> zbus::Result<String>;
    /// One added plugin (`plugin show --json`): who it is from, each
    /// capability it asked for and whether it was granted.
    fn plugin_show(&self, name: &str) -> zbus::Result<String>;
    /// Which tor is used and whether it is up (`tor status --json`).
    fn tor_status(&self) -> zbus::Result<String>;

    /// A service changed (enabled, disabled, an option, a client).
    #[zbus(signal)]
    fn service_changed(&self, name: &str) -> zbus::Result<()>;
}

/// An enable or disable under way. Subscribe to `Progress` and `Finished`
/// first, then read `History`: each `Progress` carries its index in it, so
/// nothing said before the subscription is lost or shown twice.
#[zbus::proxy(interface = "org.tails.Server1.Job", default_service = "org.tails.Server")]
pub trait Job {
    #[zbus(property)]
    fn service(&self) -> zbus::Result<String>;
    /// `enable` or `disable`.
    #[zbus(property)]
    fn operation(&self) -> zbus::Result<String>;
    /// The step under way (empty before the first and after the last).
    #[zbus(property)]
    fn step(&self) -> zbus::Result<String>;
    /// Steps done of [`STEPS`], for a progress bar.
    #[zbus(property)]
    fn steps_done(&self) -> zbus::Result<u32>;
    /// [`status`]: running, succeeded or failed.
    #[zbus(property)]
    fn status(&self) -> zbus::Result<String>;
    /// When finished: what was done, or the error, in words.
    #[zbus(property)]
    fn result(&self) -> zbus::Result<String>;
    /// Every [`progress::Progress`] so far, as JSON.
    #[zbus(property)]
    fn history(&self) -> zbus::Result<Vec<String>>;

    /// The `index`th [`progress::Progress`] of the job, as JSON.
    #[zbus(signal)]
    fn progress(&self, index: u32, progress: &str) -> zbus::Result<()>;
    /// The job ended: `message` is what was done, or the error.
    #[zbus(signal)]
    fn finished(&self, succeeded: bool, message: &str) -> zbus::Result<()>;
}
