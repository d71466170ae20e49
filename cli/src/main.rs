//! `tails-server`, the command line: parses what a person typed, asks the
//! core (`tails-server-core`) and prints the answer for a person or, with
//! `--json`, for a script. Through a link named after a service (`mumble`),
//! that service's command.

mod backend;
mod cli;
mod commands;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

use backend::Backend;
use cli::{Cli, ClientCommand, Command, PluginCommand, ServiceCli, ServiceCommand, TorCommand};
use commands::{plugin, publishing, reference, service};
use tails_server_core::context::Context;

/// Run the program with the process's arguments.
fn main() -> ExitCode {
    match run(argv()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Errors quote plugins and files: shown escaped, lines kept.
            eprintln!(
                "tails-server: error: {}",
                tails_server_core::display::text(&format!("{e:#}"))
            );
            ExitCode::FAILURE
        }
    }
}

/// The arguments, with a service-named link (`mumble info`) turned into
/// `tails-server mumble info`.
fn argv() -> Vec<OsString> {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let invoked = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    if !invoked.is_empty() && !invoked.starts_with("tails-server") {
        args.insert(1, invoked.into());
        args[0] = "tails-server".into();
    }
    args
}

/// The core's context for a CLI command, which prints how operations go.
fn context(global: &cli::Global) -> anyhow::Result<Context> {
    Ok(Context::new(&global.into())?.with_progress(commands::print_progress))
}

/// Where this command's requests go (see `backend`).
fn backend(global: &cli::Global) -> anyhow::Result<Box<dyn Backend>> {
    backend::choose(&global.into(), || context(global))
}

/// The context for a command only this process does (root).
fn local(global: &cli::Global, what: &str) -> anyhow::Result<Context> {
    backend(global)?.into_context(what, &|| context(global))
}

fn run(args: Vec<OsString>) -> anyhow::Result<()> {
    let cli = Cli::parse_from(args);
    match cli.command {
        Command::List { json } => plugin::list_services(&*backend(&cli.global)?, json),
        Command::Plugin(PluginCommand::Add { file, yes, deny }) => {
            plugin::add(&*backend(&cli.global)?, &file, yes, &deny)
        }
        Command::Plugin(PluginCommand::Remove { name }) => {
            plugin::remove(&*backend(&cli.global)?, &name)
        }
        Command::Plugin(PluginCommand::Available { json }) => {
            plugin::available(&*backend(&cli.global)?, json)
        }
        Command::Plugin(PluginCommand::List { json }) => {
            plugin::list_plugins(&*backend(&cli.global)?, json)
        }
        Command::Plugin(PluginCommand::Show { name, json }) => {
            plugin::show(&*backend(&cli.global)?, &name, json)
        }
        // Authoring needs no state, no daemon and no root.
        Command::Plugin(PluginCommand::New { name, lang, r#in }) => {
            plugin::new_project(&name, lang, &r#in)
        }
        // Trying boots a host of its own: this machine's state is not touched.
        Command::Plugin(PluginCommand::Try { files, keep }) => plugin::try_plugins(&files, keep),
        Command::Tor(TorCommand::Status { json }) => {
            publishing::tor_status(&*backend(&cli.global)?, json)
        }
        Command::Tor(TorCommand::Use { control, password }) => {
            publishing::tor_use(&local(&cli.global, "tor use")?, &control, password)
        }
        Command::Tor(TorCommand::Stop) => publishing::tor_stop(&local(&cli.global, "tor stop")?),
        Command::Reconcile => publishing::reconcile(&local(&cli.global, "reconcile")?),
        Command::Repair => service::repair(&local(&cli.global, "repair")?),
        Command::Autostart { feature_on } => {
            service::autostart(&local(&cli.global, "autostart")?, feature_on)
        }
        Command::DisableAll => service::disable_all(&*backend(&cli.global)?),
        Command::Completions { shell } => reference::completions(shell),
        Command::Man => reference::man_page(),
        Command::Service(words) => {
            let name = words[0].clone();
            let sub = ServiceCli::parse_from(
                std::iter::once(format!("tails-server {name}").into())
                    .chain(words.into_iter().skip(1).map(OsString::from)),
            );
            // Options given after the service name win over those before it.
            let global = cli::Global {
                root: sub.global.root.or(cli.global.root),
                state_dir: sub.global.state_dir.or(cli.global.state_dir),
                persistent_dir: sub.global.persistent_dir.or(cli.global.persistent_dir),
            };
            let backend = &*backend(&global)?;
            match sub.command {
                ServiceCommand::Info { details, json, show_secrets } => {
                    service::info(backend, &name, details, json, show_secrets)
                }
                ServiceCommand::Status { json } => service::status(backend, &name, json),
                ServiceCommand::GetOption { option, show_secret } => {
                    service::get_option(backend, &name, &option, show_secret)
                }
                ServiceCommand::SetOption { option, value, yes } => {
                    service::set_option(backend, &name, &option, Some(&value), yes)
                }
                ServiceCommand::ResetOption { option, yes } => {
                    service::set_option(backend, &name, &option, None, yes)
                }
                ServiceCommand::Enable => service::enable(backend, &name),
                ServiceCommand::Disable => service::disable(backend, &name),
                ServiceCommand::Client(ClientCommand::Add { name: client }) => {
                    publishing::add(backend, &name, &client)
                }
                ServiceCommand::Client(ClientCommand::List { json }) => {
                    publishing::list(backend, &name, json)
                }
                ServiceCommand::Client(ClientCommand::Remove { name: client }) => {
                    publishing::remove(backend, &name, &client)
                }
                ServiceCommand::ConnectionInfo { client, json, no_qr } => {
                    publishing::connection_info(backend, &name, client.as_deref(), json, !no_qr)
                }
                ServiceCommand::RotateAddress { yes } => {
                    publishing::rotate_address(backend, &name, yes)
                }
            }
        }
    }
}
