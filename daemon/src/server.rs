//! `org.tails.Server1` at `/org/tails/Server`: each method checks its polkit
//! action, checks its arguments, then asks the core (`requests`) on a worker
//! thread. Errors are the core's words.

use std::sync::{Arc, Mutex};

use tails_server_core::journal::Operation;
use tails_server_core::{display, options, plugins, requests};
use tails_server_dbus::{action, NEEDS_CONFIRMATION, VERSION};
use zbus::fdo;
use zbus::message::Header;
use zbus::object_server::SignalEmitter;
use zbus::zvariant::OwnedObjectPath;

use crate::changes::changed;
use crate::jobs::Jobs;
use crate::{polkit, work};

/// How a plugin file handed over as a descriptor is named in messages.
const PLUGIN_FILE: &str = "the plugin file";
/// More refusals than any plugin has capabilities is not a request.
const MAX_REFUSED: usize = 1024;

/// The longest option value taken (an option is a line, a list of keys at most).
const MAX_VALUE_BYTES: usize = 64 * 1024;

pub struct Server {
    pub jobs: Jobs,
}

fn failed(e: anyhow::Error) -> fdo::Error {
    fdo::Error::Failed(work::words_for_the_bus(&e))
}

/// A service, option or client name: what the CLI takes as a word.
fn check_name(what: &str, name: &str) -> fdo::Result<()> {
    if options::valid_name(name) {
        return Ok(());
    }
    let shown: String = name.chars().take(64).collect();
    Err(fdo::Error::InvalidArgs(format!(
        "{} is not a {what} name: names are 1-40 lower-case letters, digits and `-`, starting with a letter",
        display::quoted(&shown)
    )))
}

async fn document<T: serde::Serialize + Send + 'static>(
    request: impl FnOnce(&tails_server_core::context::Context) -> anyhow::Result<T> + Send + 'static,
) -> fdo::Result<String> {
    let value = work::quiet(request).await.map_err(failed)?;
    Ok(serde_json::to_string_pretty(&value).expect("a JSON value"))
}

#[zbus::interface(name = "org.tails.Server1")]
impl Server {
    #[zbus(property)]
    fn version(&self) -> u32 {
        VERSION
    }

    async fn list_services(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> fdo::Result<String> {
        polkit::check(conn, &header, action::READ).await?;
        document(requests::list).await
    }

    async fn service_info(
        &self,
        name: String,
        details: bool,
        reveal: bool,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> fdo::Result<String> {
        check_name("service", &name)?;
        polkit::check(conn, &header, if reveal { action::SECRETS } else { action::READ }).await?;
        document(move |ctx| requests::info(ctx, &name, details, reveal)).await
    }

    async fn service_status(
        &self,
        name: String,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> fdo::Result<String> {
        check_name("service", &name)?;
        polkit::check(conn, &header, action::READ).await?;
        document(move |ctx| requests::status(ctx, &name)).await
    }

    async fn set_option(
        &self,
        name: String,
        option: String,
        value: String,
        confirmed: bool,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> fdo::Result<String> {
        check_name("service", &name)?;
        check_name("option", &option)?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(fdo::Error::InvalidArgs(format!("the value of {option} is {} bytes long; the most an option takes is {MAX_VALUE_BYTES}", value.len())));
        }
        polkit::check(conn, &header, action::MANAGE).await?;
        let words = change(name.clone(), option, Some(value), confirmed).await?;
        changed(conn, &name).await;
        Ok(words)
    }

    async fn reset_option(
        &self,
        name: String,
        option: String,
        confirmed: bool,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> fdo::Result<String> {
        check_name("service", &name)?;
        check_name("option", &option)?;
        polkit::check(conn, &header, action::MANAGE).await?;
        let words = change(name.clone(), option, None, confirmed).await?;
        changed(conn, &name).await;
        Ok(words)
    }

    async fn enable(
        &self,
        name: String,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> fdo::Result<OwnedObjectPath> {
        check_name("service", &name)?;
        polkit::check(conn, &header, action::MANAGE).await?;
        self.jobs.start(conn, &header, &name, Operation::Enable).await
    }

    async fn disable(
        &self,
        name: String,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> fdo::Result<OwnedObjectPath> {
        check_name("service", &name)?;
        polkit::check(conn, &header, action::MANAGE).await?;
        self.jobs.start(conn, &header, &name, Operation::Disable).await
    }

    async fn connection_info(
        &self,
        name: String,
        client: String,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> fdo::Result<String> {
        check_name("service", &name)?;
        if !client.is_empty() {
            check_name("client", &client)?;
        }
        polkit::check(conn, &header, action::SECRETS).await?;
        let info = work::quiet(move |ctx| {
            requests::connection_info(ctx, &name, Some(client.as_str()).filter(|c| !c.is_empty()))
        })
        .await
        .map_err(failed)?;
        Ok(serde_json::to_string_pretty(&info).expect("plain data"))
    }

    async fn client_list(
        &self,
        name: String,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> fdo::Result<Vec<String>> {
        check_name("service", &name)?;
        polkit::check(conn, &header, action::READ).await?;
        work::quiet(move |ctx| requests::client_list(ctx, &name)).await.map_err(failed)
    }

    async fn client_add(
        &self,
        name: String,
        client: String,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> fdo::Result<String> {
        check_name("service", &name)?;
        check_name("client", &client)?;
        polkit::check(conn, &header, action::MANAGE).await?;
        let service = name.clone();
        // The new key is shown by ConnectionInfo, to callers allowed secrets.
        let words = work::run_saying(move |ctx| {
            requests::client_add(ctx, &service, &client).map(|(words, _)| words)
        })
        .await
        .map_err(failed)?;
        changed(conn, &name).await;
        Ok(words)
    }

    async fn client_remove(
        &self,
        name: String,
        client: String,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> fdo::Result<String> {
        check_name("service", &name)?;
        check_name("client", &client)?;
        polkit::check(conn, &header, action::MANAGE).await?;
        let service = name.clone();
        let words = work::run_saying(move |ctx| requests::client_remove(ctx, &service, &client))
            .await
            .map_err(failed)?;
        changed(conn, &name).await;
        Ok(words)
    }

    async fn rotate_address(
        &self,
        name: String,
        confirmed: bool,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> fdo::Result<String> {
        check_name("service", &name)?;
        polkit::check(conn, &header, action::MANAGE).await?;
        let service = name.clone();
        let words = confirming(confirmed, move |ctx, confirm| {
            requests::rotate_address(ctx, &service, confirm)
        })
        .await?;
        changed(conn, &name).await;
        Ok(words)
    }

    async fn available_plugins(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> fdo::Result<String> {
        polkit::check(conn, &header, action::READ).await?;
        document(plugins::available).await
    }

    async fn plugin_list(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> fdo::Result<String> {
        polkit::check(conn, &header, action::READ).await?;
        document(plugins::listed).await
    }

    async fn plugin_show(
        &self,
        name: String,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> fdo::Result<String> {
        check_name("service", &name)?;
        polkit::check(conn, &header, action::READ).await?;
        document(move |ctx| plugins::shown(ctx, &name)).await
    }

    async fn inspect_plugin(
        &self,
        file: zbus::zvariant::OwnedFd,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> fdo::Result<String> {
        polkit::check(conn, &header, action::PLUGINS).await?;
        let file = std::fs::File::from(std::os::fd::OwnedFd::from(file));
        let inspection = work::quiet(move |ctx| {
            Ok(plugins::inspect(ctx, plugins::read(file, PLUGIN_FILE)?, PLUGIN_FILE)?.inspection)
        })
        .await
        .map_err(failed)?;
        Ok(serde_json::to_string_pretty(&inspection).expect("plain data"))
    }

    async fn add_plugin(
        &self,
        file: zbus::zvariant::OwnedFd,
        sha256: String,
        refused: Vec<String>,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> fdo::Result<String> {
        if refused.len() > MAX_REFUSED {
            return Err(fdo::Error::InvalidArgs(format!(
                "{} capabilities refused; a plugin asks for at most {MAX_REFUSED}",
                refused.len()
            )));
        }
        polkit::check(conn, &header, action::PLUGINS).await?;
        let file = std::fs::File::from(std::os::fd::OwnedFd::from(file));
        let (name, words) = work::quiet(move |ctx| {
            let wasm = plugins::read(file, PLUGIN_FILE)?;
            plugins::add_as_inspected(ctx, wasm, &sha256, PLUGIN_FILE, &refused)
        })
        .await
        .map_err(failed)?;
        changed(conn, &name).await;
        Ok(words)
    }

    async fn remove_plugin(
        &self,
        name: String,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> fdo::Result<String> {
        check_name("service", &name)?;
        polkit::check(conn, &header, action::PLUGINS).await?;
        let service = name.clone();
        let words = work::run_saying(move |ctx| requests::remove_plugin(ctx, &service))
            .await
            .map_err(failed)?;
        changed(conn, &name).await;
        Ok(words)
    }

    async fn tor_status(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> fdo::Result<String> {
        polkit::check(conn, &header, action::READ).await?;
        document(requests::tor_status).await
    }

    #[zbus(signal)]
    async fn service_changed(emitter: &SignalEmitter<'_>, name: &str) -> zbus::Result<()>;
}

/// Set (`Some`) or reset an option.
async fn change(
    name: String,
    option: String,
    value: Option<String>,
    confirmed: bool,
) -> fdo::Result<String> {
    confirming(confirmed, move |ctx, confirm| match &value {
        Some(value) => requests::set_option(ctx, &name, &option, value, confirm),
        None => requests::reset_option(ctx, &name, &option, confirm),
    })
    .await
}

/// Run a request that may need the person's agreement. Not given
/// (`confirmed` false), the question comes back as [`NEEDS_CONFIRMATION`]
/// and the question, for the caller to ask and call again.
async fn confirming(
    confirmed: bool,
    request: impl FnOnce(&tails_server_core::context::Context, requests::Confirm) -> anyhow::Result<String>
        + Send
        + 'static,
) -> fdo::Result<String> {
    let asked: Arc<Mutex<Option<String>>> = Arc::default();
    let question = asked.clone();
    let outcome = work::run_saying(move |ctx| {
        let confirm = |q: &str| {
            *question.lock().expect("question") = Some(q.to_string());
            confirmed
        };
        request(ctx, &confirm)
    })
    .await;
    let question = asked.lock().expect("question").take();
    match (outcome, question) {
        (Err(_), Some(question)) if !confirmed => {
            Err(fdo::Error::Failed(format!("{NEEDS_CONFIRMATION}{question}")))
        }
        (outcome, _) => outcome.map_err(failed),
    }
}
