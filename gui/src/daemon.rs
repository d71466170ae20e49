//! The window's only way to the system: tails-serverd on the system bus. No
//! GTK here. zbus runs on a small tokio runtime of its own; each call is
//! spawned there and awaited from GTK's main loop, so the window never
//! blocks on the daemon (a polkit password prompt can take minutes).

use std::future::Future;
use std::sync::OnceLock;

use tails_server_dbus::{client, ServerProxy};
use tails_server_types::documents::{
    AvailablePlugin, Info, PluginShown, ServiceRow, Status, TorStatus,
};
use tails_server_types::{ConnectionInfo, Inspection, Progress};
use tokio::sync::{mpsc, OnceCell};

/// An answer, or the daemon's refusal or error in words (as a window says
/// them: `client::for_window`).
pub type Answer<T> = Result<T, String>;

/// The daemon's error in a window's words.
fn words(e: zbus::Error) -> String {
    client::for_window(&client::raw(e))
}

/// What a change that needs the person's agreement answers.
pub enum Change {
    Done(String),
    /// Ask this, and call again confirmed if the answer is yes.
    Ask(String),
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("daemon-calls")
            .enable_all()
            .build()
            .expect("a tokio runtime (threads, timers)")
    })
}

async fn server() -> Answer<&'static ServerProxy<'static>> {
    static SERVER: OnceCell<ServerProxy<'static>> = OnceCell::const_new();
    SERVER
        .get_or_try_init(|| async {
            let conn = zbus::Connection::system().await.map_err(|e| format!("cannot reach the system bus: {e}"))?;
            let server = ServerProxy::new(&conn).await.map_err(words)?;
            // Asking the version starts the daemon (D-Bus activation) and
            // checks both sides speak the same interface.
            match server.version().await {
                Ok(v) if v == tails_server_dbus::VERSION => Ok(server),
                Ok(v) => Err(format!("tails-serverd speaks version {v} of its interface and this window {}: install matching versions", tails_server_dbus::VERSION)),
                Err(e) => Err(format!("Tails Server's service (tails-serverd) cannot be reached: {}. Is the tails-server package installed?", words(e))),
            }
        })
        .await
}

/// Run `call` with the daemon on the runtime; await its answer anywhere.
fn ask<T: Send + 'static, F: Future<Output = zbus::Result<T>> + Send + 'static>(
    call: impl FnOnce(&'static ServerProxy<'static>) -> F + Send + 'static,
) -> impl Future<Output = Answer<T>> {
    let handle = runtime().spawn(async move { call(server().await?).await.map_err(words) });
    async move { handle.await.map_err(|e| format!("a call to the daemon stopped: {e}"))? }
}

/// A JSON answer read as `T`.
fn document<T: serde::de::DeserializeOwned>(text: Answer<String>) -> Answer<T> {
    serde_json::from_str(&text?)
        .map_err(|e| format!("the daemon answered something this window cannot read: {e}"))
}

/// A change's answer: done, or the question the daemon wants answered first.
fn change(answer: Answer<String>) -> Answer<Change> {
    match answer {
        Err(e) => match client::question(&e) {
            Some(question) => Ok(Change::Ask(question.to_string())),
            None => Err(e),
        },
        Ok(words) => Ok(Change::Done(words)),
    }
}

pub async fn services() -> Answer<Vec<ServiceRow>> {
    document(ask(|s| async move { s.list_services().await }).await)
}

pub async fn info(name: &str) -> Answer<Info> {
    let name = name.to_string();
    document(ask(move |s| async move { s.service_info(&name, true, false).await }).await)
}

pub async fn status(name: &str) -> Answer<Status> {
    let name = name.to_string();
    document(ask(move |s| async move { s.service_status(&name).await }).await)
}

pub async fn plugin(name: &str) -> Answer<PluginShown> {
    let name = name.to_string();
    document(ask(move |s| async move { s.plugin_show(&name).await }).await)
}

pub async fn available() -> Answer<Vec<AvailablePlugin>> {
    document(ask(|s| async move { s.available_plugins().await }).await)
}

pub async fn tor_status() -> Answer<TorStatus> {
    document(ask(|s| async move { s.tor_status().await }).await)
}

/// Set (`Some`) or reset (`None`) an option.
pub async fn set_option(
    name: &str,
    option: &str,
    value: Option<String>,
    confirmed: bool,
) -> Answer<Change> {
    let (name, option) = (name.to_string(), option.to_string());
    change(
        ask(move |s| async move {
            match value {
                Some(value) => s.set_option(&name, &option, &value, confirmed).await,
                None => s.reset_option(&name, &option, confirmed).await,
            }
        })
        .await,
    )
}

pub async fn rotate_address(name: &str, confirmed: bool) -> Answer<Change> {
    let name = name.to_string();
    change(ask(move |s| async move { s.rotate_address(&name, confirmed).await }).await)
}

pub async fn connection_info(name: &str) -> Answer<ConnectionInfo> {
    let name = name.to_string();
    document(ask(move |s| async move { s.connection_info(&name, "").await }).await)
}

pub async fn client_add(name: &str, client: &str) -> Answer<String> {
    let (name, client) = (name.to_string(), client.to_string());
    ask(move |s| async move { s.client_add(&name, &client).await }).await
}

pub async fn client_remove(name: &str, client: &str) -> Answer<String> {
    let (name, client) = (name.to_string(), client.to_string());
    ask(move |s| async move { s.client_remove(&name, &client).await }).await
}

pub async fn remove_plugin(name: &str) -> Answer<String> {
    let name = name.to_string();
    ask(move |s| async move { s.remove_plugin(&name).await }).await
}

/// What the plugin file asks for. The daemon reads the open file; it never
/// opens a path for us.
pub async fn inspect(file: std::fs::File) -> Answer<Inspection> {
    document(
        ask(move |s| async move { s.inspect_plugin(zbus::zvariant::Fd::from(&file)).await }).await,
    )
}

/// Add the file (still the bytes inspected), refusing `refused`.
pub async fn add(file: std::fs::File, sha256: &str, refused: Vec<String>) -> Answer<String> {
    let sha256 = sha256.to_string();
    ask(move |s| async move {
        let refused: Vec<&str> = refused.iter().map(String::as_str).collect();
        s.add_plugin(zbus::zvariant::Fd::from(&file), &sha256, &refused).await
    })
    .await
}

/// Start enabling (or disabling) `name`; what it says comes on `said`, and
/// the answer is its result.
pub async fn switch(
    name: &str,
    enable: bool,
    said: mpsc::UnboundedSender<Progress>,
) -> Answer<String> {
    let name = name.to_string();
    let handle = runtime().spawn(async move {
        let s = server().await?;
        let path =
            if enable { s.enable(&name).await } else { s.disable(&name).await }.map_err(words)?;
        let what = format!("the {} of {name}", if enable { "enable" } else { "disable" });
        client::follow(s.inner().connection(), path, &what, |p| {
            let _ = said.send(p);
        })
        .await
        .map_err(|e| client::for_window(&e))
    });
    handle.await.map_err(|e| format!("a call to the daemon stopped: {e}"))?
}

/// The names of services as they change (enabled, disabled, an option, a
/// client), for as long as the receiver is kept.
pub fn changes() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    runtime().spawn(async move {
        use futures_util::StreamExt;
        let Ok(s) = server().await else { return };
        let Ok(mut changed) = s.receive_service_changed().await else { return };
        while let Some(signal) = changed.next().await {
            let Ok(args) = signal.args() else { continue };
            if tx.send(args.name.to_string()).is_err() {
                return;
            }
        }
    });
    rx
}
