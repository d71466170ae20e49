//! The plugin runtime: wasmtime with the component model, one sandboxed
//! instance per use, a memory cap and a wall-clock deadline on every call,
//! compiled components cached on disk.
//!
//! Calls run on wasmtime's async support so that a deadline holds whatever
//! the guest does: computing is stopped by epoch interruption, and waiting in
//! WASI (a sleep, a poll on a clock) is a future that is dropped when the
//! deadline passes. Only time spent in the broker (installing packages, say)
//! does not count; the broker's own calls have their own timeouts.

mod contract;
mod host;
mod shim;
mod since_v0_2;
mod since_v0_3;

use std::future::Future;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, Store, UpdateDeadline};

pub use contract::CONTRACT_VERSION;
pub use host::{error_message, error_text, CallClock, HostState};

use crate::bindings;
use bindings::tails::server::types;

use crate::broker::Broker;

/// A plugin file's identity: the SHA-256 of its bytes, in hex (its record,
/// its grant and its compiled cache are keyed by it).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

/// How often the deadline is checked.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Largest plugin file accepted (a Python plugin with its interpreter is
/// about 18 MiB).
pub const MAX_PLUGIN_BYTES: usize = 48 << 20;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Computing time one call may take.
    pub call_budget: Duration,
    /// Linear memory one instance may grow to, in bytes.
    pub memory: usize,
    /// Wall-clock time compiling a file offered to `plugin add` may take (a
    /// Python plugin with its interpreter takes about 3 s on 2 cores).
    pub compile: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            call_budget: Duration::from_secs(10),
            memory: 64 << 20,
            compile: Duration::from_secs(120),
        }
    }
}

/// What is checked of a plugin file before anything is compiled: its size,
/// that it is a component, that it exports our contract and imports only
/// what the host provides (read from its bytes; milliseconds).
pub fn check_before_compiling(wasm: &[u8]) -> Result<()> {
    if wasm.len() > MAX_PLUGIN_BYTES {
        bail!("the file is larger than {} MiB", MAX_PLUGIN_BYTES >> 20);
    }
    contract::check_header(wasm)?;
    contract::check_names(wasm)?;
    Ok(())
}

/// Marks the trap raised when a call runs past its deadline.
#[derive(Debug)]
struct DeadlineExceeded;
impl std::fmt::Display for DeadlineExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("deadline exceeded")
    }
}
impl std::error::Error for DeadlineExceeded {}

pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    cache_dir: PathBuf,
    pub limits: Limits,
}

impl Runtime {
    pub fn new(cache_dir: PathBuf, limits: Limits) -> Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model(true).epoch_interruption(true);
        // Winch, wasmtime's baseline compiler (tier 1 on x86_64, what Tails
        // runs on): a plugin's code runs for milliseconds per call, so its
        // compile time is what a person waits for. A Python plugin (CPython
        // inside) compiles in 2.9 s instead of 9 s; Rust plugins in ~40 ms.
        #[cfg(target_arch = "x86_64")]
        config.strategy(wasmtime::Strategy::Winch);
        let engine = Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        bindings::TailsService::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;
        since_v0_3::bindings::TailsService::add_to_linker::<HostState, HasSelf<HostState>>(
            &mut linker,
            |s| s,
        )?;
        since_v0_2::bindings::TailsService::add_to_linker::<HostState, HasSelf<HostState>>(
            &mut linker,
            |s| s,
        )?;
        start_epoch_ticker(&engine);
        Ok(Runtime { engine, linker, cache_dir, limits })
    }

    /// Compile a plugin file offered to `plugin add`, refusing anything that is
    /// not a component for this contract or that imports what the host does
    /// not provide. Nothing is stored: see [`Runtime::store_in_cache`].
    pub fn compile_new(&self, wasm: &[u8]) -> Result<Component> {
        check_before_compiling(wasm)?;
        let component = self.compile_within(wasm, self.limits.compile)?;
        self.linker
            .instantiate_pre(&component)
            .map_err(|e| anyhow!("its imports do not match what this host provides: {e:#}"))?;
        Ok(component)
    }

    /// Compile on a thread of its own, waiting at most `limit`: a component
    /// made to compile for minutes is refused instead. (wasmtime cannot stop
    /// a compilation; the thread is left to finish, and ends with the
    /// process, as a refused `plugin add` does at once.)
    fn compile_within(&self, wasm: &[u8], limit: Duration) -> Result<Component> {
        let (engine, wasm) = (self.engine.clone(), wasm.to_vec());
        let (done, result) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = done.send(Component::from_binary(&engine, &wasm));
        });
        match result.recv_timeout(limit) {
            Ok(compiled) => compiled.map_err(|e| {
                anyhow!("it is not a valid WebAssembly component: {}", first_line(&e))
            }),
            Err(_) => {
                bail!("compiling it took longer than {} s, so it was given up", limit.as_secs_f32())
            }
        }
    }

    /// Load an added plugin: from the cache when it holds this exact build for
    /// this exact engine, else compile (and cache) it.
    pub fn load(&self, wasm_path: &Path, sha256: &str) -> Result<Component> {
        if let Some(component) = self.cached(sha256) {
            return Ok(component);
        }
        let wasm =
            std::fs::read(wasm_path).with_context(|| format!("reading {}", wasm_path.display()))?;
        let actual = sha256_hex(&wasm);
        if actual != sha256 {
            bail!("{} has changed since it was added (sha256 {actual}, granted {sha256}); add it again", wasm_path.display());
        }
        let component = Component::from_binary(&self.engine, &wasm)?;
        self.store_in_cache(&component, sha256);
        Ok(component)
    }

    /// A file's component from the cache, else checked and compiled as at
    /// `plugin add` (and cached).
    pub fn load_checked(&self, wasm: &[u8], sha256: &str) -> Result<Component> {
        if let Some(component) = self.cached(sha256) {
            return Ok(component);
        }
        let component = self.compile_new(wasm)?;
        self.store_in_cache(&component, sha256);
        Ok(component)
    }

    /// This exact build, compiled for this exact engine, if the cache has it.
    fn cached(&self, sha256: &str) -> Option<Component> {
        let cached = self.cache_path(sha256);
        if !cached.exists() {
            return None;
        }
        // SAFETY: the cache folder is the host's own (0700, root's); the
        // name binds the entry to the plugin's hash and to this engine.
        match unsafe { Component::deserialize_file(&self.engine, &cached) } {
            Ok(component) => Some(component),
            Err(e) => {
                crate::notice::warn(format!("recompiling {sha256}: cached copy unusable: {e}"));
                None
            }
        }
    }

    pub fn forget_cached(&self, sha256: &str) {
        let _ = std::fs::remove_file(self.cache_path(sha256));
    }

    fn cache_path(&self, sha256: &str) -> PathBuf {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut hasher);
        self.cache_dir.join(format!("{sha256}-{:016x}.cwasm", hasher.finish()))
    }

    pub fn store_in_cache(&self, component: &Component, sha256: &str) {
        let stored = component.serialize().map_err(anyhow::Error::from).and_then(|bytes| {
            Ok(crate::fsutil::write_state_file(&self.cache_path(sha256), &bytes)?)
        });
        if let Err(e) = stored {
            crate::notice::warn(format!("could not cache the compiled plugin: {e:#}"));
        }
    }

    /// A fresh, sandboxed instance whose imports go through `broker`.
    pub fn instantiate(
        &self,
        component: &Component,
        plugin: &str,
        broker: Broker,
    ) -> Result<Instance> {
        let state = HostState::new(plugin, broker, self.limits.call_budget, self.limits.memory);
        let clock = state.clock.clone();
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.epoch_deadline_callback(|ctx| {
            if ctx.data().clock.exceeded() {
                Err(DeadlineExceeded.into())
            } else {
                // Yield so that the wall-clock timer around the call is polled.
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store.set_epoch_deadline(1);
        clock.start();
        let guest = match contract::version_of(&component.component_type(), &self.engine) {
            Some(CONTRACT_VERSION) => with_deadline(
                &clock,
                bindings::TailsService::instantiate_async(&mut store, component, &self.linker),
            )
            .map(Guest::Current),
            Some(since_v0_3::VERSION) => with_deadline(
                &clock,
                since_v0_3::bindings::TailsService::instantiate_async(
                    &mut store,
                    component,
                    &self.linker,
                ),
            )
            .map(Guest::V0_3),
            Some(since_v0_2::VERSION) => with_deadline(
                &clock,
                since_v0_2::bindings::TailsService::instantiate_async(
                    &mut store,
                    component,
                    &self.linker,
                ),
            )
            .map(Guest::V0_2),
            _ => bail!(
                "plugin `{}` exports no contract this host loads",
                crate::display::line(plugin)
            ),
        };
        let guest = guest.map_err(|e| explain(store.data(), plugin, "start", e))?;
        Ok(Instance { store, guest, plugin: plugin.into(), clock, broken: false })
    }
}

/// Run one call of the guest to its end or to its deadline: the clock's
/// budget of the guest's own time (computing or waiting in WASI), not
/// counting the time spent in the broker. The call runs on a thread of its own with a runtime
/// of its own, so that it can be made from anywhere (even inside another
/// tokio runtime).
fn with_deadline<R: Send>(
    clock: &CallClock,
    call: impl Future<Output = wasmtime::Result<R>> + Send,
) -> wasmtime::Result<R> {
    let run = || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a tokio runtime for a plugin call");
        rt.block_on(async {
            tokio::pin!(call);
            loop {
                let deadline = clock.deadline();
                tokio::select! {
                    result = &mut call => return result,
                    () = tokio::time::sleep_until(deadline.into()) => {
                        // Broker time may have pushed the deadline back meanwhile.
                        if Instant::now() >= clock.deadline() {
                            return Err(DeadlineExceeded.into());
                        }
                    }
                }
            }
        })
    };
    // The call's thread tells the same front end as this one.
    let listener = crate::notice::current();
    std::thread::scope(|scope| {
        match scope.spawn(move || crate::notice::on_behalf(listener, run)).join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// One tick thread per process advances the engine's epoch.
fn start_epoch_ticker(engine: &Engine) {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let engine = engine.clone();
        std::thread::spawn(move || loop {
            std::thread::sleep(EPOCH_TICK);
            engine.increment_epoch();
        });
    });
}

/// A live plugin instance. A call that traps or runs past its deadline
/// leaves it unusable; make a new one.
pub struct Instance {
    store: Store<HostState>,
    guest: Guest,
    plugin: String,
    clock: CallClock,
    broken: bool,
}

/// The plugin's exports, by the contract it was built for.
enum Guest {
    Current(bindings::TailsService),
    V0_3(since_v0_3::bindings::TailsService),
    V0_2(since_v0_2::bindings::TailsService),
}

/// Call one export under the deadline. `$current` is the call for this
/// contract (given the service interface and the store), `$older` the same
/// call for an older one through its shim module `$shim` (converting to and
/// from its types): the older contracts' bindings differ in type only.
macro_rules! call_export {
    ($self:ident, $what:literal, |$service:ident, $store:ident, $shim:ident| current: $current:expr, older: $older:expr) => {{
        if $self.broken {
            bail!("plugin `{}` was stopped by an earlier error in this command", $self.plugin);
        }
        $self.clock.start();
        $self.store.data_mut().log_lines = 0;
        let $store = &mut $self.store;
        let result = match &$self.guest {
            Guest::Current(guest) => {
                let $service = guest.tails_server_service();
                with_deadline(&$self.clock, async { $current.await })
            }
            Guest::V0_3(guest) => {
                use since_v0_3 as $shim;
                let $service = guest.tails_server_service();
                with_deadline(&$self.clock, async { $older.await })
            }
            Guest::V0_2(guest) => {
                use since_v0_2 as $shim;
                let $service = guest.tails_server_service();
                with_deadline(&$self.clock, async { $older.await })
            }
        };
        $self.broken = result.is_err();
        $self.store.data_mut().broker.end_call();
        result.map_err(|e| explain($self.store.data(), &$self.plugin, $what, e))
    }};
}

impl Instance {
    /// The contract version the plugin was built for.
    pub fn contract(&self) -> &'static str {
        match self.guest {
            Guest::Current(_) => CONTRACT_VERSION,
            Guest::V0_3(_) => since_v0_3::VERSION,
            Guest::V0_2(_) => since_v0_2::VERSION,
        }
    }

    pub fn describe(&mut self) -> Result<types::ServiceInfo> {
        call_export!(self, "describe", |service, store, shim|
            current: service.call_describe(store),
            older: async { service.call_describe(store).await.map(shim::service_info) })
    }

    pub fn validate_option(
        &mut self,
        name: &str,
        value: &types::OptionValue,
        onion_address: &str,
    ) -> Result<Result<(), types::Error>> {
        call_export!(self, "validate-option", |service, store, shim|
            current: service.call_validate_option(store, name, value, onion_address),
            older: async { shim::validate_option(service, store, name, value, onion_address).await })
    }

    pub fn configure(
        &mut self,
        options: &[types::OptionSetting],
    ) -> Result<Result<(), types::Error>> {
        call_export!(self, "configure", |service, store, shim|
            current: service.call_configure(store, options),
            older: async { service.call_configure(store, &shim::settings(options)).await.map(shim::result) })
    }

    pub fn connection_info(
        &mut self,
        request: &types::ConnectionRequest,
    ) -> Result<types::ConnectionText> {
        call_export!(self, "connection-info", |service, store, shim|
            current: service.call_connection_info(store, request),
            older: async { service.call_connection_info(store, &shim::connection_request(request)).await.map(shim::connection_text) })
    }

    pub fn broker(&mut self) -> &mut Broker {
        &mut self.store.data_mut().broker
    }
}

/// Turn a trap into a message that says what the plugin did.
fn explain(state: &HostState, plugin: &str, what: &str, error: wasmtime::Error) -> anyhow::Error {
    let error = anyhow::Error::from(error);
    if error.chain().any(|e| e.is::<DeadlineExceeded>()) {
        return anyhow!("plugin `{plugin}` ran longer than {:?} in `{what}` (computing or waiting) and was stopped", state.clock.budget);
    }
    if state.limiter.refused {
        return anyhow!(
            "plugin `{plugin}` tried to use more than {} MiB of memory in `{what}` and was stopped",
            state.limiter_limit_mib()
        );
    }
    let said = String::from_utf8_lossy(&state.stderr.contents()).trim().to_string();
    let said: String = said
        .lines()
        .rev()
        .take(5)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .map(crate::display::line)
        .collect::<Vec<_>>()
        .join("\n  ");
    let mut trap = error
        .downcast_ref::<wasmtime::Trap>()
        .map(|t| t.to_string())
        .unwrap_or_else(|| crate::display::line(&first_line(&error)));
    // Where: the innermost function with a name (the plugin's own name
    // section: its words, shown escaped and cut short).
    if let Some(name) = error
        .downcast_ref::<wasmtime::WasmBacktrace>()
        .and_then(|b| b.frames().iter().find_map(|f| f.func_name()))
    {
        let name: String = crate::display::line(name).chars().take(80).collect();
        trap = format!("{trap} (in {name})");
    }
    if said.is_empty() {
        anyhow!("plugin `{plugin}` crashed in `{what}`: {trap}")
    } else {
        anyhow!("plugin `{plugin}` crashed in `{what}`: {trap}\n  plugin said: {said}")
    }
}

fn first_line(e: &dyn std::fmt::Display) -> String {
    e.to_string().lines().next().unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tails_server_testkit::fixtures;

    fn runtime(dir: &Path) -> Runtime {
        Runtime::new(dir.join("cache"), Limits::default()).unwrap()
    }

    fn instance(rt: &Runtime, dir: &Path, file: &str) -> Instance {
        let component = rt.compile_new(&std::fs::read(file).unwrap()).unwrap();
        let audit = crate::audit::AuditLog::new(dir.join("audit.log"));
        rt.instantiate(&component, "test", Broker::deny_all("test", audit)).unwrap()
    }

    #[test]
    fn a_refused_import_is_a_value_not_a_trap() {
        let tmp = tempfile::tempdir().unwrap();
        let rt = runtime(tmp.path());
        let mut mumble = instance(&rt, tmp.path(), fixtures::MUMBLE);
        // Nothing granted: configure gets `denied` back and returns it.
        let result = mumble.configure(&[]).expect("no trap");
        assert!(matches!(result, Err(types::Error::Denied(_))), "{result:?}");
        // The instance is still usable afterwards.
        assert_eq!(mumble.describe().unwrap().name, "mumble");
        let log = std::fs::read_to_string(tmp.path().join("audit.log")).unwrap();
        assert!(
            log.contains(
                "action=write-config target=\"/etc/mumble/mumble-server.ini\" outcome=denied"
            ),
            "{log}"
        );
    }

    #[test]
    fn connection_text_comes_from_the_plugin() {
        let tmp = tempfile::tempdir().unwrap();
        let rt = runtime(tmp.path());
        let request = types::ConnectionRequest {
            address: "abc.onion".into(),
            virtual_port: 64738,
            clients: vec![],
            options: vec![types::OptionSetting {
                name: "server-password".into(),
                value: types::OptionValue::Secret("pw".into()),
            }],
        };
        let text = instance(&rt, tmp.path(), fixtures::MUMBLE).connection_info(&request).unwrap();
        assert!(text.text.contains("mumble://abc.onion:64738/"), "{}", text.text);
        assert!(text.text.contains("Server password: pw"));
        let web = types::ConnectionRequest { virtual_port: 80, ..request };
        assert!(instance(&rt, tmp.path(), fixtures::WEB)
            .connection_info(&web)
            .unwrap()
            .text
            .contains("http://abc.onion/"));
    }

    #[test]
    fn cache_is_keyed_by_hash_and_reused() {
        let tmp = tempfile::tempdir().unwrap();
        let rt = runtime(tmp.path());
        let wasm = std::fs::read(fixtures::WEB).unwrap();
        let sha = sha256_hex(&wasm);
        let component = rt.compile_new(&wasm).unwrap();
        rt.store_in_cache(&component, &sha);
        let cached = rt.cache_path(&sha);
        assert!(cached.file_name().unwrap().to_str().unwrap().starts_with(&sha));
        // Loading uses the cache: a wrong wasm path is never read.
        rt.load(Path::new("/nonexistent.wasm"), &sha).expect("loaded from the cache");
        // Without the cache entry the wasm is read and its hash checked.
        rt.forget_cached(&sha);
        let wrong = tmp.path().join("other.wasm");
        std::fs::write(&wrong, std::fs::read(fixtures::MUMBLE).unwrap()).unwrap();
        let err = rt.load(&wrong, &sha).err().unwrap().to_string();
        assert!(err.contains("has changed since it was added"), "{err}");
    }
}
