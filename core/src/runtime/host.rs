//! What a plugin instance's store holds, and the host side of the imports.
//!
//! Each import converts types and hands the request to the broker, which does
//! every check; nothing here decides what is allowed.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::tails::server::{config, log, network, packages, types};
use crate::broker::caps::Proto;
use crate::broker::{Broker, BrokerError};

/// Bytes of the plugin's stderr kept to explain a panic.
const STDERR_CAPACITY: usize = 16 * 1024;
/// Longest log message a plugin may write in one call.
const MAX_LOG_MESSAGE: usize = 4 * 1024;
/// Log lines one call may print.
const MAX_LOG_LINES_PER_CALL: usize = 100;

pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub stderr: MemoryOutputPipe,
    pub limiter: MemoryLimiter,
    pub broker: Broker,
    pub plugin: String,
    pub clock: CallClock,
    /// Log lines printed in the current call.
    pub log_lines: usize,
}

/// Each call's wall-clock budget, when the current call started and how long
/// it has spent in the broker; shared between the store (which adds broker
/// time and stops computing past the budget) and the caller (which waits for
/// the deadline). The plugin's computing and its waiting in WASI count; time
/// spent in the broker (such as installing packages) does not.
#[derive(Clone)]
pub struct CallClock {
    pub budget: Duration,
    call: Arc<Mutex<(Option<Instant>, Duration)>>,
}

impl CallClock {
    pub fn new(budget: Duration) -> Self {
        CallClock { budget, call: Arc::default() }
    }

    pub fn start(&self) {
        *self.call.lock().unwrap() = (Some(Instant::now()), Duration::ZERO);
    }

    /// Whether the current call has used up its budget.
    pub fn exceeded(&self) -> bool {
        let (started, broker) = *self.call.lock().unwrap();
        started.is_some_and(|s| s.elapsed().saturating_sub(broker) > self.budget)
    }

    /// When the current call's budget runs out, as things stand.
    pub fn deadline(&self) -> Instant {
        let (started, broker) = *self.call.lock().unwrap();
        started.unwrap_or_else(Instant::now) + self.budget + broker
    }

    fn add_broker_time(&self, time: Duration) {
        self.call.lock().unwrap().1 += time;
    }
}

impl HostState {
    pub fn new(plugin: &str, broker: Broker, budget: Duration, memory_limit: usize) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        // Nothing preopened, no environment, no arguments, no network: the
        // plugin reaches the system only through the broker.
        let wasi = WasiCtx::builder()
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        HostState {
            wasi,
            table: ResourceTable::new(),
            stderr,
            limiter: MemoryLimiter { limit: memory_limit, refused: false },
            broker,
            plugin: plugin.into(),
            clock: CallClock::new(budget),
            log_lines: 0,
        }
    }

    pub fn limiter_limit_mib(&self) -> usize {
        self.limiter.limit >> 20
    }

    /// Run a broker call that does real system work (apt, npm: minutes, on
    /// their own timeouts) outside the plugin's deadline. Quick calls
    /// (config, ports) count as the plugin's time, so that a plugin cannot
    /// spin in refused requests for free.
    fn timed<R>(&mut self, f: impl FnOnce(&mut Broker) -> R) -> R {
        let start = Instant::now();
        let r = f(&mut self.broker);
        self.clock.add_broker_time(start.elapsed());
        r
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Caps linear memory; remembers a refusal so that the resulting trap can be
/// explained as "used too much memory".
pub struct MemoryLimiter {
    limit: usize,
    pub refused: bool,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = desired <= self.limit;
        self.refused |= !ok;
        Ok(ok)
    }
    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

impl From<BrokerError> for types::Error {
    fn from(e: BrokerError) -> Self {
        match e {
            BrokerError::Denied(m) => types::Error::Denied(m),
            BrokerError::Invalid(m) => types::Error::Invalid(m),
            BrokerError::Failed(m) => types::Error::Failed(m),
        }
    }
}

impl From<types::Protocol> for Proto {
    fn from(p: types::Protocol) -> Self {
        match p {
            types::Protocol::Tcp => Proto::Tcp,
            types::Protocol::Udp => Proto::Udp,
        }
    }
}

impl types::Host for HostState {}

/// An error a plugin returned, for people: "denied: ...".
pub fn error_text(e: &types::Error) -> String {
    let kind = match e {
        types::Error::Denied(_) => "denied",
        types::Error::Invalid(_) => "invalid",
        types::Error::Failed(_) => "failed",
    };
    format!("{kind}: {}", error_message(e))
}

pub fn error_message(e: &types::Error) -> &str {
    match e {
        types::Error::Denied(m) | types::Error::Invalid(m) | types::Error::Failed(m) => m,
    }
}

impl packages::Host for HostState {
    fn install(&mut self, names: Vec<String>) -> Result<(), types::Error> {
        self.timed(|b| b.install_packages(&names)).map_err(Into::into)
    }
}

impl config::Host for HostState {
    fn write(&mut self, path: String, contents: String, secret: bool) -> Result<(), types::Error> {
        self.broker.write_config(&path, &contents, secret).map_err(Into::into)
    }
    fn read(&mut self, path: String) -> Result<Option<String>, types::Error> {
        self.broker.read_config(&path).map_err(Into::into)
    }
}

impl network::Host for HostState {
    fn open_port(&mut self, port: u16, protocol: types::Protocol) -> Result<(), types::Error> {
        self.broker.open_port(port, protocol.into()).map_err(Into::into)
    }
}

impl log::Host for HostState {
    fn log(&mut self, level: log::Level, message: String) {
        let level = match level {
            log::Level::Debug if std::env::var_os("TAILS_SERVER_DEBUG").is_none() => return,
            log::Level::Debug => "debug",
            log::Level::Info => "info",
            log::Level::Warn => "warning",
            log::Level::Error => "error",
        };
        if self.log_lines >= MAX_LOG_LINES_PER_CALL {
            return;
        }
        self.log_lines += 1;
        let message: String = message.chars().take(MAX_LOG_MESSAGE).collect();
        // One line per message, whatever the plugin sent, nothing a terminal acts on.
        crate::notice::say(crate::journal::Progress::Log {
            plugin: crate::display::line(&self.plugin),
            level: level.into(),
            text: crate::display::line(&message),
        });
    }
}
