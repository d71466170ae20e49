//! The requests a front end makes of the services, with every decision in
//! them, so that the CLI and the daemon (and through it the GUI) behave the
//! same. Each returns a value — a document as the JSON `--json` prints, or
//! the words of what was done — and reports how it goes to the context
//! (`journal::Progress`); none prints. `admin` holds the administrator's
//! and the daemon's own (repair, autostart, reconcile, which tor).

pub mod admin;

use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::Value;
use tails_server_types::documents::{
    Details, Grant, Info, Names, OptionDetail, ServiceRow, State, Status, TorStatus,
};
use tails_server_types::{ClientCredentials, ConnectionInfo};
use tails_server_types::{Hinted, Next};

use crate::bindings::tails::server::types::{
    ClientCredential, ConnectionRequest, Error, OptionSpec, OptionValue,
};
use crate::blocking::block_on;
use crate::broker::caps::units;
use crate::context::{Context, Service};
use crate::journal::Progress;
use crate::runtime::error_message;
use crate::system::systemd::Systemd;
use crate::system::{npm, packages};
use crate::tor::keys::ClientKey;
use crate::{display, engine, onion, options, persistence};

/// The most of a plugin's connection text kept.
const MAX_CONNECTION_TEXT: usize = 8 * 1024;

/// The services: name, enabled, description.
pub fn list(ctx: &Context) -> Result<Vec<ServiceRow>> {
    let mut rows = Vec::new();
    for name in ctx.state.plugin_names()? {
        let service = ctx.service(&name)?;
        let info = &service.record.info;
        rows.push(ServiceRow {
            name,
            enabled: service.state.enabled,
            description: info.description.clone(),
            icon_name: display::icon_name(&info.icon_name),
        });
    }
    Ok(rows)
}

fn option_value<'a>(service: &'a Service, spec: &'a OptionSpec) -> &'a OptionValue {
    service.value(&spec.name).expect("a spec of this service")
}

/// An option of the service, or an error that lists its options.
fn spec<'a>(service: &'a Service, option: &str) -> Result<&'a OptionSpec> {
    options::find(&service.specs, option).with_context(|| {
        let names: Vec<&str> = service.specs.iter().map(|s| s.name.as_str()).collect();
        format!("{} has no option `{option}`; its options are: {}", service.name, names.join(", "))
    })
}

fn port_option(service: &Service, name: &str) -> Value {
    spec(service, name)
        .map(|s| options::to_json(s, option_value(service, s), true))
        .unwrap_or(Value::Null)
}

/// The state every front end shows: `installed` from dpkg's status (and the
/// versions in the service's npm folder), `running` from the unit's
/// ActiveState (none when systemd cannot be asked), `published` from the tor
/// in use (never starts one).
fn state(ctx: &Context, service: &Service) -> Result<State> {
    let caps = &service.record.info.capabilities;
    let installed = packages::missing(&ctx.root, &caps.packages)?.is_empty()
        && npm::missing(&ctx.root, &service.name, &caps.npm_packages).is_empty();
    let unit = &units::unit_name(&service.name, &service.record.info.unit);
    let running = if ctx.live() {
        block_on(async { Systemd::connect().await?.active_state(unit).await })
    } else {
        Err(anyhow!("not live"))
    };
    Ok(State {
        installed,
        running: running.ok().map(|s| s == "active"),
        published: onion::is_published(ctx, &service.state),
    })
}

/// A service's description, state, address and options (secrets masked
/// unless `reveal`); with `details`, everything a front end renders its page
/// from (option specs, capabilities, clients, the journal).
pub fn info(ctx: &Context, name: &str, details: bool, reveal: bool) -> Result<Info> {
    let service = ctx.service(name)?;
    let info = &service.record.info;
    let options = service
        .specs
        .iter()
        .map(|s| (s.name.clone(), options::to_json(s, option_value(&service, s), reveal)))
        .collect();
    let details = details.then(|| Details {
        enabled: service.state.enabled,
        client_application: info.client_application.clone(),
        client_application_in_gui: info.client_application_in_gui.clone(),
        documentation: info.documentation.clone(),
        systemd_service: units::unit_name(&service.name, &info.unit),
        icon_name: info.icon_name.clone(),
        packages: info.capabilities.packages.clone(),
        npm_packages: info.capabilities.npm_packages.clone(),
        plugin_sha256: service.record.sha256.clone(),
        contract: format!("tails:server@{}", service.record.contract),
        capabilities: service
            .record
            .requested()
            .iter()
            .map(|c| {
                let granted = service.grant.granted.contains(c);
                (c.to_string(), if granted { Grant::Granted } else { Grant::Refused })
            })
            .collect(),
        option_details: service
            .specs
            .iter()
            .map(|s| OptionDetail {
                name: s.name.clone(),
                name_in_gui: s.name_in_gui.clone(),
                description: s.description.clone(),
                group: s.group.clone(),
                allowed: options::allowed(&s.kind),
                kind: options::kind_document(&s.kind),
                masked: options::is_secret(s),
                read_only: s.read_only,
            })
            .collect(),
        clients: service.state.clients.keys().cloned().collect(),
        journal: service.state.journal.clone(),
    });
    Ok(Info {
        names: details
            .is_some()
            .then(|| Names { name: info.name.clone(), name_in_gui: info.name_in_gui.clone() }),
        description: info.description.clone(),
        state: state(ctx, &service)?,
        address: onion::address(&service.state),
        local_port: info.default_target_port,
        remote_port: port_option(&service, options::VIRTUAL_PORT),
        persistent_paths: info.persistent_paths.clone(),
        options,
        details,
    })
}

/// Enabled, installed, running, published.
pub fn status(ctx: &Context, name: &str) -> Result<Status> {
    let service = ctx.service(name)?;
    Ok(Status { enabled: service.state.enabled, state: state(ctx, &service)? })
}

/// Enable a service (again, if it is: every step is safe to repeat).
pub fn enable(ctx: &Context, name: &str) -> Result<String> {
    let _lock = ctx.state.lock()?;
    // Before changing anything, finish what a crash interrupted.
    engine::repair(ctx)?;
    let mut service = ctx.service(name)?;
    let text = if service.state.enabled {
        format!("{name} is already enabled; enabling it again (every step is safe to repeat):")
    } else {
        format!("Enabling {name}:")
    };
    ctx.report(Progress::Note { text });
    engine::enable(ctx, &mut service)?;
    Ok(format!("{name} is enabled: installed, configured, running and published."))
}

pub fn disable(ctx: &Context, name: &str) -> Result<String> {
    let _lock = ctx.state.lock()?;
    // Before changing anything, finish what a crash interrupted.
    engine::repair(ctx)?;
    let mut service = ctx.service(name)?;
    if !service.state.enabled {
        return Ok(format!("{name} is not enabled."));
    }
    ctx.report(Progress::Note { text: format!("Disabling {name}:") });
    engine::disable(ctx, &mut service)?;
    Ok(format!("{name} is disabled: unpublished, firewall closed, stopped. Its configuration files stay in place."))
}

/// A question the person must agree to before a change goes on; the CLI asks
/// it at the terminal (or `--yes` agreed), the daemon's caller agreed to it
/// beforehand or not.
pub type Confirm<'a> = &'a dyn Fn(&str) -> bool;

/// Set an option from its text: checked by its kind, then by the plugin (its
/// own options), then applied if the service is enabled.
pub fn set_option(
    ctx: &Context,
    name: &str,
    option: &str,
    text: &str,
    confirm: Confirm,
) -> Result<String> {
    let _lock = ctx.state.lock()?;
    engine::repair(ctx)?;
    let service = ctx.service(name)?;
    let spec = spec(&service, option)?.clone();
    if spec.read_only {
        bail!("{option} is read-only");
    }
    let value = options::parse(&spec, text).map_err(anyhow::Error::msg)?;
    if service.record.info.options.iter().any(|o| o.name == option) {
        let address = onion::address(&service.state).unwrap_or_default();
        match ctx.instance(&service)?.validate_option(option, &value, &address)? {
            Ok(()) => {}
            // The plugin refused the value, in its words.
            Err(e @ Error::Invalid(_)) => bail!(
                "{} is not a valid value for {option}: {}",
                display::quoted(text),
                display::line(error_message(&e))
            ),
            // Anything else is the plugin failing, not the value being wrong.
            Err(e) => bail!(
                "{name}'s plugin failed while checking {option}, so it was not changed: {}",
                display::line(error_message(&e))
            ),
        }
    }
    change_option(ctx, service, &spec, Some(value), confirm)?;
    Ok(format!("{option} set."))
}

/// Put an option back to its default; a secret whose default is empty gets a
/// new random one.
pub fn reset_option(ctx: &Context, name: &str, option: &str, confirm: Confirm) -> Result<String> {
    let _lock = ctx.state.lock()?;
    engine::repair(ctx)?;
    let service = ctx.service(name)?;
    let spec = spec(&service, option)?.clone();
    let service = change_option(ctx, service, &spec, None, confirm)?;
    Ok(match service.state.options.get(option) {
        Some(_) => format!("{option} reset: a new secret was generated."),
        None => format!("{option} reset to its default: {}", options::to_text(&spec.default)),
    })
}

/// Give an option a checked value (`None`: its default) and apply it if the
/// service is enabled; a value that does not work is put back. Returns the
/// service as it is afterwards.
fn change_option(
    ctx: &Context,
    mut service: Service,
    spec: &OptionSpec,
    value: Option<OptionValue>,
    confirm: Confirm,
) -> Result<Service> {
    let option = spec.name.as_str();
    let effective = value.as_ref().unwrap_or(&spec.default);
    if option == options::CLIENT_AUTHORIZATION && *effective == OptionValue::Boolean(false) {
        ctx.report(Progress::Warning {
            text: "without client authorization, anyone who knows the onion address can connect.\n\
                   Keep the address secret and share it only with people you trust."
                .into(),
        });
    }
    if option == options::PERSISTENCE {
        set_persistence(ctx, &service, *effective == OptionValue::Boolean(true), confirm)?;
    }
    let previous = match value {
        Some(value) => service.state.options.insert(option.to_string(), value),
        None => {
            let previous = service.state.options.remove(option);
            options::generate_missing_secrets(
                std::slice::from_ref(spec),
                &mut service.state.options,
            );
            previous
        }
    };
    ctx.save_service(&service.name, &service.state)?;
    if service.state.enabled {
        // Every step is safe to repeat: the plugin rewrites the configuration,
        // the unit restarts, the firewall and the onion follow the options.
        ctx.report(Progress::Note {
            text: format!("{} is enabled; applying {option}:", service.name),
        });
        if let Err(e) = engine::enable(ctx, &mut service) {
            // Losing the service for a bad value is worse than the value:
            // put the old one back and enable with it again.
            match previous {
                Some(old) => service.state.options.insert(option.to_string(), old),
                None => service.state.options.remove(option),
            };
            ctx.report(Progress::Note { text: format!("The new value of {option} did not work; enabling {} again with the previous one:", service.name) });
            if let Err(again) = engine::enable(ctx, &mut service) {
                return Err(e.context(format!(
                    "and enabling with the previous value failed too: {again:#}"
                )));
            }
            return Err(e.context(format!(
                "{option} was not changed; {} runs with the previous value",
                service.name
            )));
        }
    }
    Ok(service)
}

/// Turning persistence on keeps the service in Persistent Storage from now
/// on; turning it off deletes what was kept, once the person agreed.
fn set_persistence(ctx: &Context, service: &Service, on: bool, confirm: Confirm) -> Result<()> {
    let was = persistence::wanted(&service.state);
    let Some(p) = &ctx.persistence else {
        if on {
            bail!(
                "there is no Persistent Storage to keep {} in: unlock it in the Welcome Screen (on Tails), or choose a folder with --persistent-dir",
                service.name
            );
        }
        return Ok(());
    };
    if on && !was {
        let mut kept = Service { state: service.state.clone(), ..ctx.service(&service.name)? };
        kept.state.options.insert(options::PERSISTENCE.into(), OptionValue::Boolean(true));
        p.save(&ctx.machine(), kept.kept())?;
        ctx.report(Progress::Note {
            text: format!("{} is kept in {} from now on.", service.name, p.dir.display()),
        });
    } else if !on && was {
        let question = format!(
            "Turning persistence off deletes {}'s options, onion key and client keys and its files from {}. Delete them?",
            service.name,
            p.dir.display()
        );
        if !confirm(&question) {
            bail!("persistence left on; nothing was deleted");
        }
        p.forget(&ctx.root, &service.name, &service.record.info.capabilities.packages)?;
        ctx.report(Progress::Note {
            text: format!("Deleted what was kept of {} in {}.", service.name, p.dir.display()),
        });
    }
    Ok(())
}

/// A plugin's text, cut at the limit (on a character boundary).
fn bounded(text: &str) -> String {
    match text.char_indices().nth(MAX_CONNECTION_TEXT) {
        Some((at, _)) => text[..at].to_string(),
        None => text.to_string(),
    }
}

/// How to reach a published service: address, port, each client's key (or
/// only `only`'s), the plugin's own text.
pub fn connection_info(ctx: &Context, name: &str, only: Option<&str>) -> Result<ConnectionInfo> {
    let service = ctx.service(name)?;
    if let Some(client) = only {
        if !service.state.clients.contains_key(client) {
            return Err(Hinted::new(
                format!("{name} has no client `{client}`; see {{next}}"),
                [Next::ListClients { service: name.into() }],
            )
            .into());
        }
    }
    connection_info_of(ctx, &service, only)
}

fn connection_info_of(
    ctx: &Context,
    service: &Service,
    only: Option<&str>,
) -> Result<ConnectionInfo> {
    let address = match onion::address(&service.state) {
        Some(address) if service.state.enabled => address,
        _ => {
            return Err(Hinted::new(
                format!(
                    "{} is not published yet, so it has no onion address to share; enable it first with {{next}}",
                    service.name
                ),
                [Next::Enable { service: service.name.clone() }],
            )
            .into())
        }
    };
    let port = onion::virtual_port(service);
    let auth = onion::client_authorization(service);
    let clients: Vec<(String, ClientKey)> = if auth {
        service
            .state
            .clients
            .iter()
            .filter(|(n, _)| only.is_none_or(|o| o == n.as_str()))
            .map(|(n, k)| Ok((n.clone(), ClientKey::from_base32(k)?)))
            .collect::<Result<_>>()?
    } else {
        Vec::new()
    };
    let request = ConnectionRequest {
        address: address.clone(),
        virtual_port: port,
        clients: clients
            .iter()
            .map(|(n, k)| ClientCredential { name: n.clone(), private_key: k.private_base32() })
            .collect(),
        options: options::for_connection(
            &service.record.info,
            &service.specs,
            &service.state.options,
        ),
    };
    // The address and keys are the host's; the plugin only adds how to use
    // them. A plugin that fails or runs out of time here costs the user its
    // words, never the address and keys.
    let (text, gui_text, text_missing) =
        match ctx.instance(service).and_then(|mut instance| instance.connection_info(&request)) {
            Ok(t) => (Some(bounded(&t.text)), Some(bounded(&t.gui_text)), None),
            Err(e) => (
                None,
                None,
                Some(format!(
                    "the plugin's own connection text cannot be shown: {}",
                    display::line(&format!("{e:#}"))
                )),
            ),
        };
    let clients = clients
        .iter()
        .map(|(n, k)| ClientCredentials {
            name: n.clone(),
            private_key: k.private_base32(),
            auth_private: k.auth_private_line(&address),
        })
        .collect();
    Ok(ConnectionInfo {
        address,
        port,
        client_authorization: auth,
        clients,
        text,
        gui_text,
        text_missing,
    })
}

/// Publish the service again (with its current clients and ports) if it is
/// enabled, waiting for its descriptor as `wait` says.
fn republish_if_enabled(ctx: &Context, service: &Service, wait: onion::Uploads) -> Result<()> {
    if service.state.enabled {
        let address = onion::publish_now(ctx, service, wait)?;
        ctx.report(Progress::Note { text: format!("Published again at {address}.") });
    }
    Ok(())
}

pub fn client_list(ctx: &Context, name: &str) -> Result<Vec<String>> {
    Ok(ctx.service(name)?.state.clients.keys().cloned().collect())
}

/// Add a client with a new key. Returns the words, and the connection info
/// for the new client when the service is published.
pub fn client_add(
    ctx: &Context,
    name: &str,
    client: &str,
) -> Result<(String, Option<ConnectionInfo>)> {
    let _lock = ctx.state.lock()?;
    let mut service = ctx.service(name)?;
    if !options::valid_name(client) {
        bail!("client name `{client}` must be 1-40 lower-case letters, digits and `-`, starting with a letter");
    }
    if service.state.clients.contains_key(client) {
        bail!("{name} already has a client named `{client}`");
    }
    service.state.clients.insert(client.into(), ClientKey::generate().private_base32());
    republish_if_enabled(ctx, &service, onion::Uploads::Reachable)?;
    ctx.save_service(name, &service.state)?;
    if service.state.enabled {
        Ok((
            format!("Client `{client}` added."),
            Some(connection_info_of(ctx, &service, Some(client))?),
        ))
    } else {
        Ok((format!("Client `{client}` added.\nIts key is shown by `tails-server {name} connection-info {client}` once the service is enabled."), None))
    }
}

/// Remove a client: re-published without its key, it can no longer connect.
pub fn client_remove(ctx: &Context, name: &str, client: &str) -> Result<String> {
    let _lock = ctx.state.lock()?;
    let mut service = ctx.service(name)?;
    if !service.state.clients.contains_key(client) {
        let known: Vec<&str> = service.state.clients.keys().map(String::as_str).collect();
        bail!(
            "{name} has no client `{client}` (clients: {})",
            if known.is_empty() { "none".into() } else { known.join(", ") }
        );
    }
    if service.state.clients.len() == 1
        && service.state.enabled
        && onion::client_authorization(&service)
    {
        bail!("`{client}` is the last client of {name}; add another one first, or disable the service");
    }
    service.state.clients.remove(client);
    // Only once every HSDir has the new descriptor is the removed key no
    // longer in any descriptor served.
    republish_if_enabled(ctx, &service, onion::Uploads::Every)?;
    ctx.save_service(name, &service.state)?;
    Ok(format!("Client `{client}` removed."))
}

/// A new onion address for the service (published at once if it is
/// enabled); every client then needs the new one, so the person agrees first.
pub fn rotate_address(ctx: &Context, name: &str, confirm: Confirm) -> Result<String> {
    let _lock = ctx.state.lock()?;
    let mut service = ctx.service(name)?;
    if let Some(old) = onion::address(&service.state) {
        if !confirm(&format!("{name} is at {old}. A new address means every client needs the new one.\nMake a new address?")) {
            bail!("address unchanged");
        }
    }
    let old_state = service.state.clone();
    service.state.onion_key = None;
    onion::ensure_key(&mut service.state)?;
    if service.state.enabled {
        block_on(async {
            let mut tor = onion::connect_ready(ctx).await?;
            onion::unpublish(&mut tor, &old_state).await?;
            onion::publish(&mut tor, &service, onion::Uploads::Reachable).await
        })?;
    }
    ctx.save_service(name, &service.state)?;
    Ok(format!("New address: {}", onion::address(&service.state).expect("made above")))
}

/// Remove a plugin that is not enabled: grants, settings, keys, its npm
/// folder, its accounts, and its copy in Persistent Storage.
pub fn remove_plugin(ctx: &Context, name: &str) -> Result<String> {
    let _lock = ctx.state.lock()?;
    // An interrupted enable or disable is finished (or undone) first, so that
    // even a service whose plugin hangs can be got rid of.
    engine::repair(ctx)?;
    let service = ctx.service(name)?;
    if service.state.enabled {
        return Err(Hinted::new(
            format!("{name} is enabled; disable it first with {{next}}"),
            [Next::Disable { service: name.into() }],
        )
        .into());
    }
    if service.state.journal.operation.is_some() {
        return Err(Hinted::new(
            format!("{name} was interrupted while being enabled or disabled; run {{next}} first"),
            [Next::Repair],
        )
        .into());
    }
    if let Some(p) = &ctx.persistence {
        p.forget(&ctx.root, name, &service.record.info.capabilities.packages)?;
    }
    // The npm folder goes first: if that fails, the service is still there to retry.
    crate::system::npm::remove(&ctx.root, name)
        .with_context(|| format!("removing {name}'s npm folder"))?;
    if ctx.live() {
        crate::system::accounts::remove(name)
            .map_err(|e| anyhow!("removing {name}'s accounts: {e}"))?;
    }
    ctx.state.remove_plugin(name)?;
    ctx.runtime()?.forget_cached(&service.record.sha256);
    Ok(format!("Removed {name}: its plugin, grants, settings and npm packages are gone (from Persistent Storage too). Files it wrote stay in place."))
}

/// Which tor is used, how it is reached and whether it is bootstrapped.
pub fn tor_status(ctx: &Context) -> Result<TorStatus> {
    let status = block_on(async {
        let mut found = onion::connect(ctx, false).await?;
        let (progress, summary) = found.controller.bootstrap().await?;
        anyhow::Ok((
            found.source,
            found.controller.endpoint.to_string(),
            found.method,
            progress,
            summary,
        ))
    });
    match status {
        Ok((tor, control, method, progress, summary)) => Ok(TorStatus {
            tor,
            control,
            auth: format!("{method:?}"),
            bootstrapped: progress >= 100,
            progress,
            summary,
        }),
        Err(e) => Err(Hinted::new(
            format!("{e:#}\nEnabling a service will start Tails Server's own tor; or choose one with {{next}}."),
            [Next::ChooseTor],
        )
        .into()),
    }
}
