//! The commands of one service: info, status, options, enable, disable.

use anyhow::{bail, Context as _, Result};
use serde_json::{json, Map, Value};

use tails_server_core::context::{Context, Service};
use tails_server_core::system::systemd::Systemd;
use tails_server_core::tor::block_on;
use tails_server_core::{display, engine, onion, options, persistence};
use tails_server_core::runtime::error_message;
use tails_server_core::runtime::bindings::tails::server::types::{OptionSpec, OptionValue};
use tails_server_core::system::{npm, packages};

fn option_value<'a>(service: &'a Service, spec: &'a OptionSpec) -> &'a OptionValue {
    service.value(&spec.name).expect("a spec of this service")
}

fn spec<'a>(service: &'a Service, option: &str) -> Result<&'a OptionSpec> {
    options::find(&service.specs, option).with_context(|| {
        let names: Vec<&str> = service.specs.iter().map(|s| s.name.as_str()).collect();
        format!("{} has no option `{option}`; its options are: {}", service.name, names.join(", "))
    })
}

fn port_option(service: &Service, name: &str) -> Value {
    spec(service, name).map(|s| options::to_json(s, option_value(service, s), true)).unwrap_or(Value::Null)
}

/// The state every front end shows: `installed` from dpkg's status (and the
/// versions in the service's npm folder), `running`
/// from the unit's ActiveState (null when systemd cannot be asked),
/// `published` from the tor in use (never starts one).
fn status_map(ctx: &Context, service: &Service) -> Result<Map<String, Value>> {
    let caps = &service.record.info.capabilities;
    let installed = packages::missing(&ctx.root, &caps.packages)?.is_empty() && npm::missing(&ctx.root, &service.name, &caps.npm_packages).is_empty();
    let mut map = Map::new();
    map.insert("installed".into(), Value::Bool(installed));
    let unit = &tails_server_core::units::unit_name(&service.name, &service.record.info.unit);
    let running = if ctx.live() { block_on(async { Systemd::connect().await?.active_state(unit).await }) } else { Err(anyhow::anyhow!("not live")) };
    map.insert("running".into(), running.map(|s| Value::Bool(s == "active")).unwrap_or(Value::Null));
    map.insert("published".into(), Value::Bool(onion::is_published(ctx, &service.state)));
    Ok(map)
}

pub fn info(ctx: &Context, name: &str, details: bool, as_json: bool, reveal: bool) -> Result<()> {
    let service = ctx.service(name)?;
    let info = &service.record.info;
    let mut map = Map::new();
    if details {
        map.insert("name".into(), json!(info.name));
        map.insert("name-in-gui".into(), json!(info.name_in_gui));
    }
    map.insert("description".into(), json!(info.description));
    map.extend(status_map(ctx, &service)?);
    map.insert("address".into(), json!(onion::address(&service.state)));
    map.insert("local-port".into(), json!(info.default_target_port));
    map.insert("remote-port".into(), port_option(&service, options::VIRTUAL_PORT));
    map.insert("persistent-paths".into(), json!(info.persistent_paths));
    let opts: Map<String, Value> = service.specs.iter().map(|s| (s.name.clone(), options::to_json(s, option_value(&service, s), reveal))).collect();
    map.insert("options".into(), Value::Object(opts));
    if details {
        map.insert("enabled".into(), json!(service.state.enabled));
        map.insert("client-application".into(), json!(info.client_application));
        map.insert("client-application-in-gui".into(), json!(info.client_application_in_gui));
        map.insert("documentation".into(), json!(info.documentation));
        map.insert("systemd-service".into(), json!(tails_server_core::units::unit_name(&service.name, &info.unit)));
        map.insert("icon-name".into(), json!(info.icon_name));
        map.insert("packages".into(), json!(info.capabilities.packages));
        map.insert("npm-packages".into(), json!(info.capabilities.npm_packages));
        map.insert("plugin-sha256".into(), json!(service.record.sha256));
        map.insert("contract".into(), json!(format!("tails:server@{}", service.record.contract)));
        let caps: Map<String, Value> =
            service.record.requested().iter().map(|c| (c.to_string(), json!(if service.grant.granted.contains(c) { "granted" } else { "refused" }))).collect();
        map.insert("capabilities".into(), Value::Object(caps));
        let specs: Vec<Value> = service
            .specs
            .iter()
            .map(|s| {
                json!({"name": s.name, "name-in-gui": s.name_in_gui, "description": s.description, "group": s.group,
                       "allowed": options::allowed(&s.kind), "masked": options::is_secret(s), "read-only": s.read_only})
            })
            .collect();
        map.insert("option-details".into(), Value::Array(specs));
        map.insert("clients".into(), json!(service.state.clients.keys().collect::<Vec<_>>()));
        map.insert("journal".into(), json!(service.state.journal));
    }
    print_map(map, as_json)
}

fn print_map(map: Map<String, Value>, as_json: bool) -> Result<()> {
    let value = Value::Object(map);
    if as_json {
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!("{}", serde_norway::to_string(&value)?);
    }
    Ok(())
}

pub fn status(ctx: &Context, name: &str, as_json: bool) -> Result<()> {
    let service = ctx.service(name)?;
    let mut map = Map::new();
    map.insert("enabled".into(), json!(service.state.enabled));
    map.extend(status_map(ctx, &service)?);
    print_map(map, as_json)
}

pub fn get_option(ctx: &Context, name: &str, option: &str, reveal: bool) -> Result<()> {
    let service = ctx.service(name)?;
    let spec = spec(&service, option)?;
    let value = option_value(&service, spec);
    if options::is_secret(spec) && !reveal {
        println!("******** (secret: add --show-secret to print it)");
    } else {
        println!("{}", display::line(&options::to_text(value)));
    }
    Ok(())
}

pub fn set_option(ctx: &Context, name: &str, option: &str, text: &str, yes: bool) -> Result<()> {
    let _lock = ctx.state.lock()?;
    // Before changing anything, finish what a crash interrupted.
    engine::repair(ctx)?;
    let service = ctx.service(name)?;
    let spec = spec(&service, option)?.clone();
    if spec.read_only {
        bail!("{option} is read-only");
    }
    let value = options::parse(&spec, text).map_err(anyhow::Error::msg)?;
    // The plugin checks its own options' values (the standard ones are ours).
    if service.record.info.options.iter().any(|o| o.name == option) {
        let address = onion::address(&service.state).unwrap_or_default();
        if let Err(e) = ctx.instance(&service)?.validate_option(option, &value, &address)? {
            bail!("{} is not a valid value for {option}: {}", display::quoted(text), display::line(error_message(&e)));
        }
    }
    change_option(ctx, service, &spec, Some(value), yes)?;
    println!("{option} set.");
    Ok(())
}

pub fn reset_option(ctx: &Context, name: &str, option: &str, yes: bool) -> Result<()> {
    let _lock = ctx.state.lock()?;
    // Before changing anything, finish what a crash interrupted.
    engine::repair(ctx)?;
    let service = ctx.service(name)?;
    let spec = spec(&service, option)?.clone();
    let service = change_option(ctx, service, &spec, None, yes)?;
    match service.state.options.get(option) {
        Some(_) => println!("{option} reset: a new secret was generated."),
        None => println!("{option} reset to its default: {}", options::to_text(&spec.default)),
    }
    Ok(())
}

/// Give an option a checked value (`None`: its default; a secret whose
/// default is empty gets a new random one), and apply it if the service is
/// enabled. Returns the service as it is afterwards.
fn change_option(ctx: &Context, mut service: Service, spec: &OptionSpec, value: Option<OptionValue>, yes: bool) -> Result<Service> {
    let option = spec.name.as_str();
    let effective = value.as_ref().unwrap_or(&spec.default);
    if option == options::CLIENT_AUTHORIZATION && *effective == OptionValue::Boolean(false) {
        eprintln!(
            "Warning: without client authorization, anyone who knows the onion address can connect.\n\
             Keep the address secret and share it only with people you trust."
        );
    }
    if option == options::PERSISTENCE {
        set_persistence(ctx, &service, *effective == OptionValue::Boolean(true), yes)?;
    }
    let previous = match value {
        Some(value) => service.state.options.insert(option.to_string(), value),
        None => {
            let previous = service.state.options.remove(option);
            options::generate_missing_secrets(std::slice::from_ref(spec), &mut service.state.options);
            previous
        }
    };
    ctx.save_service(&service.name, &service.state)?;
    if service.state.enabled {
        // Every step is safe to repeat: the plugin rewrites the configuration,
        // the unit restarts, the firewall and the onion follow the options.
        println!("{} is enabled; applying {option}:", service.name);
        if let Err(e) = engine::enable(ctx, &mut service) {
            // Losing the service for a bad value is worse than the value:
            // put the old one back and enable with it again.
            match previous {
                Some(old) => service.state.options.insert(option.to_string(), old),
                None => service.state.options.remove(option),
            };
            println!("The new value of {option} did not work; enabling {} again with the previous one:", service.name);
            if let Err(again) = engine::enable(ctx, &mut service) {
                return Err(e.context(format!("and enabling with the previous value failed too: {again:#}")));
            }
            return Err(e.context(format!("{option} was not changed; {} runs with the previous value", service.name)));
        }
    }
    Ok(service)
}

/// Turning persistence on keeps the service in Persistent Storage from now
/// on; turning it off deletes what was kept, after asking.
fn set_persistence(ctx: &Context, service: &Service, on: bool, yes: bool) -> Result<()> {
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
        p.save(ctx, &kept)?;
        println!("{} is kept in {} from now on.", service.name, p.dir.display());
    } else if !on && was {
        let question = format!(
            "Turning persistence off deletes {}'s options, onion key and client keys and its files from {}. Delete them?",
            service.name,
            p.dir.display()
        );
        if !yes && !tails_server_core::consent::ask(&question) {
            bail!("persistence left on; nothing was deleted");
        }
        p.forget(&ctx.root, &service.name, &service.record.info.capabilities.packages)?;
        println!("Deleted what was kept of {} in {}.", service.name, p.dir.display());
    }
    Ok(())
}

pub fn enable(ctx: &Context, name: &str) -> Result<()> {
    let _lock = ctx.state.lock()?;
    // Before changing anything, finish what a crash interrupted.
    engine::repair(ctx)?;
    let mut service = ctx.service(name)?;
    if service.state.enabled {
        println!("{name} is already enabled; enabling it again (every step is safe to repeat):");
    } else {
        println!("Enabling {name}:");
    }
    engine::enable(ctx, &mut service)?;
    println!("{name} is enabled: installed, configured, running and published.\n");
    super::publishing::print_connection_info(ctx, &service, None, false, true)
}

pub fn disable(ctx: &Context, name: &str) -> Result<()> {
    let _lock = ctx.state.lock()?;
    // Before changing anything, finish what a crash interrupted.
    engine::repair(ctx)?;
    let mut service = ctx.service(name)?;
    if !service.state.enabled {
        println!("{name} is not enabled.");
        return Ok(());
    }
    println!("Disabling {name}:");
    engine::disable(ctx, &mut service)?;
    println!("{name} is disabled: unpublished, firewall closed, stopped. Its configuration files stay in place.");
    Ok(())
}

pub fn repair(ctx: &Context) -> Result<()> {
    let _lock = ctx.state.lock()?;
    if engine::repair(ctx)? == 0 {
        println!("Nothing was interrupted; the firewall matches the enabled services.");
    }
    Ok(())
}

/// At boot: bring back what Persistent Storage kept, finish what a crash
/// interrupted, enable the services whose autostart is on (the engine
/// decides; see `engine::autostart`), and say which could not be.
pub fn autostart(ctx: &Context) -> Result<()> {
    let _lock = ctx.state.lock()?;
    let failed = engine::autostart(ctx)?;
    for (name, e) in &failed {
        eprintln!("{name}: {e:#}");
    }
    if !failed.is_empty() {
        let names: Vec<&str> = failed.iter().map(|(name, _)| name.as_str()).collect();
        bail!("autostart could not enable: {}", names.join(", "));
    }
    Ok(())
}
