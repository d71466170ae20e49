//! What every command works with: the root prefix, the state folder, the
//! plugin runtime, and loading one service (plugin + grant + options).

use std::cell::OnceCell;
use std::path::PathBuf;
use std::time::Duration;
use tails_server_types::{Hinted, Next};

use anyhow::{anyhow, bail, Result};

use crate::bindings::tails::server::types::{OptionSpec, OptionValue};
use crate::broker::Broker;
use crate::journal::Progress;
use crate::options;
use crate::persistence::Persistence;
use crate::runtime::{Instance, Limits, Runtime};
use crate::state::{Grant, PluginRecord, ServiceState, StateDir};

/// Where to work, as a front end was told (`--root`, `--state-dir`,
/// `--persistent-dir`); each `None` is the system's own place.
#[derive(Debug, Clone, Default)]
pub struct Paths {
    pub root: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
    pub persistent_dir: Option<PathBuf>,
}

pub struct Context {
    pub root: PathBuf,
    pub state: StateDir,
    /// Where services with persistence on are kept, when there is such a place.
    pub persistence: Option<Persistence>,
    runtime: OnceCell<Runtime>,
    /// Who is told how an operation goes (the front end); nobody by default.
    progress: crate::notice::Listener,
}

impl Context {
    pub fn new(paths: &Paths) -> Result<Self> {
        let root = paths.root.clone().unwrap_or_else(|| PathBuf::from("/"));
        if !root.is_dir() {
            bail!("--root {}: no such folder", root.display());
        }
        let state = paths
            .state_dir
            .clone()
            .unwrap_or_else(|| root.join(crate::places::STATE.trim_start_matches('/')));
        let persistence = Persistence::locate(paths.persistent_dir.as_deref(), &root);
        Ok(Context {
            root,
            state: StateDir::new(state),
            persistence,
            runtime: OnceCell::new(),
            progress: std::sync::Arc::new(|_: &Progress| ()),
        })
    }

    /// Tell `show` how each operation goes, and what the code below says on
    /// this thread (`notice::say`) while this context lives.
    pub fn with_progress(mut self, show: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        crate::notice::stop(&self.progress);
        self.progress = std::sync::Arc::new(show);
        crate::notice::listen(self.progress.clone());
        self
    }

    pub fn report(&self, progress: Progress) {
        (self.progress)(&progress)
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        crate::notice::stop(&self.progress);
    }
}

impl Context {
    /// The plugin runtime, made on first use (commands that only read state
    /// never pay for it).
    pub fn runtime(&self) -> Result<&Runtime> {
        if let Some(rt) = self.runtime.get() {
            return Ok(rt);
        }
        let rt = Runtime::new(self.state.cache_dir(), limits_from_env()?)?;
        Ok(self.runtime.get_or_init(|| rt))
    }

    /// Load an added service's stored description, grant and state.
    pub fn service(&self, name: &str) -> Result<Service> {
        let Some(record) = self.state.record(name)? else {
            let known = self.state.plugin_names()?;
            if known.is_empty() {
                return Err(Hinted::new(
                    format!(
                        "no service named `{name}` (services: none yet; add one with {{next}})"
                    ),
                    [Next::AddPlugin { file: true }],
                )
                .into());
            }
            bail!("no service named `{name}` (services: {})", known.join(", "));
        };
        let grant = self.state.grant(name)?;
        if grant.sha256 != record.sha256 {
            return Err(Hinted::new(
                format!(
                    "the grant for `{name}` does not match its plugin; add the plugin again with {{next}}"
                ),
                [Next::AddPlugin { file: false }],
            )
            .into());
        }
        let specs = options::all_specs(&record.info);
        let state = self.state.service(name)?;
        Ok(Service { name: name.into(), record, grant, specs, state })
    }

    /// Save a service's state, and its copy in Persistent Storage when its
    /// persistence is on.
    pub fn save_service(&self, name: &str, state: &ServiceState) -> Result<()> {
        self.state.save_service(name, state)?;
        if let Some(p) = self.kept(state) {
            p.save_state(name, state)?;
        }
        Ok(())
    }

    /// The Persistent Storage a service is kept in: there is one and the
    /// service's persistence is on.
    pub fn kept(&self, state: &ServiceState) -> Option<&Persistence> {
        self.persistence.as_ref().filter(|_| crate::persistence::wanted(state))
    }

    /// Whether we act on the running system (`--root /`). Under another root
    /// there are files only: no units to start, no firewall to open.
    pub fn live(&self) -> bool {
        self.machine().live()
    }

    /// What Persistent Storage needs of this context.
    pub fn machine(&self) -> crate::persistence::Machine<'_> {
        crate::persistence::Machine { state: &self.state, root: &self.root }
    }

    /// The broker for a service: exactly what it declared and was granted.
    pub fn broker(&self, service: &Service) -> Broker {
        Broker::new(
            &service.name,
            self.root.clone(),
            service.record.requested(),
            service.grant.granted.clone(),
            self.state.audit(),
        )
        .with_secret_readers(crate::broker::caps::units::secret_readers(
            self.live(),
            &service.record.info,
            &service.name,
        ))
    }

    /// A sandboxed instance of the service's plugin, with its broker.
    pub fn instance(&self, service: &Service) -> Result<Instance> {
        let rt = self.runtime()?;
        let component = rt.load(&self.state.plugin_wasm(&service.name), &service.record.sha256)?;
        rt.instantiate(&component, &service.name, self.broker(service))
    }
}

/// An added service as stored.
pub struct Service {
    pub name: String,
    pub record: PluginRecord,
    pub grant: Grant,
    pub specs: Vec<OptionSpec>,
    pub state: ServiceState,
}

impl Service {
    /// The service as Persistent Storage keeps it.
    pub fn kept(&self) -> crate::persistence::Kept<'_> {
        crate::persistence::Kept {
            name: &self.name,
            record: &self.record,
            grant: &self.grant,
            state: &self.state,
        }
    }

    /// The current value of an option: the one set, else its default.
    pub fn value(&self, option: &str) -> Option<&OptionValue> {
        let spec = options::find(&self.specs, option)?;
        Some(self.state.options.get(option).unwrap_or(&spec.default))
    }
}

/// Per-call limits; the environment may lower or raise them (tests use a short
/// deadline).
fn limits_from_env() -> Result<Limits> {
    let mut limits = Limits::default();
    let read = |var: &str| -> Result<Option<u64>> {
        match std::env::var(var) {
            Ok(v) => v.parse().map(Some).map_err(|_| anyhow!("{var}={v:?} is not a whole number")),
            Err(_) => Ok(None),
        }
    };
    if let Some(ms) = read("TAILS_SERVER_CALL_TIMEOUT_MS")? {
        limits.call_budget = Duration::from_millis(ms);
    }
    if let Some(ms) = read("TAILS_SERVER_COMPILE_TIMEOUT_MS")? {
        limits.compile = Duration::from_millis(ms);
    }
    if let Some(mib) = read("TAILS_SERVER_MEMORY_MIB")? {
        limits.memory = (mib as usize) << 20;
    }
    Ok(limits)
}
