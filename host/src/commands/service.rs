//! The commands of one service: info, status, options, enable, disable.

use anyhow::{bail, Context as _, Result};
use serde_json::{json, Map, Value};

use crate::context::{Context, Service};
use crate::{onion, options};
use crate::runtime::{error_message, error_text};
use crate::runtime::bindings::tails::server::types::{OptionSpec, OptionValue};
use crate::system::packages;

const NOT_BUILT_SYSTEMD: &str = "starting and stopping systemd units is not built yet";
const NOT_BUILT_FIREWALL: &str = "opening the firewall is not built yet";

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

/// The state every front end shows; `running` stays null (unknown) until the
/// systemd backend exists; `published` asks the tor in use (never starts one).
fn status_map(ctx: &Context, service: &Service) -> Result<Map<String, Value>> {
    let missing = packages::missing(&ctx.root, &service.record.info.capabilities.packages)?;
    let mut map = Map::new();
    map.insert("installed".into(), Value::Bool(missing.is_empty()));
    map.insert("running".into(), Value::Null);
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
        map.insert("systemd-service".into(), json!(info.systemd_service));
        map.insert("icon-name".into(), json!(info.icon_name));
        map.insert("packages".into(), json!(info.capabilities.packages));
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
        map.insert("not-built-yet".into(), json!([NOT_BUILT_SYSTEMD, NOT_BUILT_FIREWALL]));
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
        println!("{}", options::to_text(value));
    }
    Ok(())
}

pub fn set_option(ctx: &Context, name: &str, option: &str, text: &str) -> Result<()> {
    let _lock = ctx.state.lock()?;
    let mut service = ctx.service(name)?;
    let spec = spec(&service, option)?.clone();
    if spec.read_only {
        bail!("{option} is read-only");
    }
    let value = options::parse(&spec, text).map_err(anyhow::Error::msg)?;
    // The plugin checks its own options' values (the standard ones are ours).
    let plugin_option = service.record.info.options.iter().any(|o| o.name == option);
    let mut instance = None;
    if plugin_option {
        let inst = instance.insert(ctx.instance(&service)?);
        if let Err(e) = inst.validate_option(option, &value)? {
            bail!("`{text}` is not a valid value for {option}: {}", error_message(&e));
        }
    }
    if option == options::CLIENT_AUTHORIZATION && value == OptionValue::Boolean(false) {
        eprintln!(
            "Warning: without client authorization, anyone who knows the onion address can connect.\n\
             Keep the address secret and share it only with people you trust."
        );
    }
    service.state.options.insert(option.to_string(), value);
    if service.state.enabled {
        let instance = match instance {
            Some(i) => i,
            None => ctx.instance(&service)?,
        };
        reconfigure(&service, instance)?;
        if [options::VIRTUAL_PORT, options::CLIENT_AUTHORIZATION].contains(&option) {
            onion::ensure_first_client(&mut service);
            let address = onion::publish_now(ctx, &service)?;
            println!("Published again at {address}.");
        }
    }
    ctx.state.save_service(name, &service.state)?;
    println!("{option} set.");
    Ok(())
}

pub fn reset_option(ctx: &Context, name: &str, option: &str) -> Result<()> {
    let _lock = ctx.state.lock()?;
    let mut service = ctx.service(name)?;
    let spec = spec(&service, option)?.clone();
    service.state.options.remove(option);
    options::generate_missing_secrets(std::slice::from_ref(&spec), &mut service.state.options);
    if service.state.enabled {
        reconfigure(&service, ctx.instance(&service)?)?;
    }
    ctx.state.save_service(name, &service.state)?;
    match service.state.options.get(option) {
        Some(_) => println!("{option} reset: a new secret was generated."),
        None => println!("{option} reset to its default: {}", options::to_text(&spec.default)),
    }
    Ok(())
}


/// Run the plugin's `configure` with the service's current values and write
/// what it staged. Returns the files written and the ports asked for.
fn reconfigure(service: &Service, mut instance: crate::runtime::Instance) -> Result<(Vec<String>, Vec<String>)> {
    let values = options::for_configure(&service.record.info, &service.specs, &service.state.options);
    if let Err(e) = instance.configure(&values)? {
        bail!("{}: the plugin could not configure the service; nothing was written:\n  {}", service.name, error_text(&e));
    }
    let broker = instance.broker();
    let written = broker.commit().map_err(|e| anyhow::anyhow!("{}: writing the configuration failed: {}", service.name, e.message()))?;
    let ports = broker.ports.iter().map(|(p, proto)| format!("{p}/{proto}")).collect();
    Ok((written, ports))
}

pub fn enable(ctx: &Context, name: &str) -> Result<()> {
    let _lock = ctx.state.lock()?;
    let mut service = ctx.service(name)?;
    let info = service.record.info.clone();
    println!("Enabling {name}:");

    let missing = packages::missing(&ctx.root, &info.capabilities.packages)?;
    if missing.is_empty() {
        println!("  ✓ packages installed: {}", info.capabilities.packages.join(", "));
    } else {
        println!("  ! packages not installed: {} — {}", missing.join(", "), packages::not_built_yet(&missing));
    }

    let instance = ctx.instance(&service)?;
    let (written, ports) = reconfigure(&service, instance)?;
    println!("  ✓ configuration written: {}", if written.is_empty() { "(none)".into() } else { written.join(", ") });
    println!("  · systemd unit {}: not started — {NOT_BUILT_SYSTEMD}", info.systemd_service);
    let ports = if ports.is_empty() { "none".to_string() } else { ports.join(", ") };
    println!("  · firewall: unchanged (ports asked for: {ports}) — {NOT_BUILT_FIREWALL}");

    // The key and first client are stored before publishing, so that a retry
    // after a failure publishes at the same address.
    let (_, new_key) = onion::ensure_key(&mut service.state)?;
    if let Some(client) = onion::ensure_first_client(&mut service) {
        println!("  ✓ client authorization: made the first client, `{client}`");
    }
    ctx.state.save_service(name, &service.state)?;
    let address = onion::publish_now(ctx, &service)?;
    println!("  ✓ onion service published{}: {address}", if new_key { " at a new address" } else { "" });

    service.state.enabled = true;
    ctx.state.save_service(name, &service.state)?;
    println!("{name} is enabled: configured and published, not yet running (see above).\n");
    super::publishing::print_connection_info(ctx, &service, None, false, true)
}

pub fn disable(ctx: &Context, name: &str) -> Result<()> {
    let _lock = ctx.state.lock()?;
    let mut service = ctx.service(name)?;
    if !service.state.enabled {
        println!("{name} is not enabled.");
        return Ok(());
    }
    println!("Disabling {name}:");
    let removed = crate::tor::block_on(async {
        let mut found = onion::connect(ctx, false).await?;
        onion::unpublish(&mut found.controller, &service.state).await
    });
    match removed {
        Ok(true) => println!("  ✓ onion service removed"),
        Ok(false) => println!("  ✓ onion service: tor did not hold it"),
        // No tor answers: no tor holds it either (detached services die with tor).
        Err(e) => println!("  ✓ onion service: no tor answers, so none holds it ({})", first_line(&e)),
    }
    println!("  · firewall: nothing to close — {NOT_BUILT_FIREWALL}");
    println!("  · systemd unit {}: nothing to stop — {NOT_BUILT_SYSTEMD}", service.record.info.systemd_service);
    service.state.enabled = false;
    ctx.state.save_service(name, &service.state)?;
    println!("{name} is disabled. Its configuration files stay in place.");
    Ok(())
}

fn first_line(e: &anyhow::Error) -> String {
    format!("{e:#}").lines().next().unwrap_or("").to_string()
}
