//! The command line: clap definitions only; the work is in `commands`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Options every command takes (also after a service name).
#[derive(Debug, Clone, Args, Default)]
pub struct Global {
    /// Prefix for every system path read or written (as `dpkg --root`).
    #[arg(long, value_name = "DIR", env = "TAILS_SERVER_ROOT", global = true)]
    pub root: Option<PathBuf>,
    /// Where Tails Server keeps its state [default: ROOT/var/lib/tails-server].
    #[arg(long, value_name = "DIR", env = "TAILS_SERVER_STATE_DIR", global = true)]
    pub state_dir: Option<PathBuf>,
    /// Where services with persistence on are kept [default on Tails:
    /// /live/persistence/TailsData_unlocked/tails-server].
    #[arg(long, value_name = "DIR", env = "TAILS_SERVER_PERSISTENT_DIR", global = true)]
    pub persistent_dir: Option<PathBuf>,
}

impl From<&Global> for tails_server_core::context::Paths {
    fn from(global: &Global) -> Self {
        tails_server_core::context::Paths {
            root: global.root.clone(),
            state_dir: global.state_dir.clone(),
            persistent_dir: global.persistent_dir.clone(),
        }
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "tails-server",
    version,
    about = "Publish services as Tor onion services that only the people you choose can reach",
    after_help = "Each added plugin is a service: `tails-server SERVICE --help` lists what it takes,\n\
                  e.g. `tails-server mumble info`. A link to this program named after a service\n\
                  (`ln -s tails-server mumble`) acts as that service's command."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the services (added plugins) and whether they are enabled.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add, list, show or remove service plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Which tor is used, and choosing one.
    #[command(subcommand)]
    Tor(TorCommand),
    /// Make tor hold exactly the enabled services (after a tor restart, at boot).
    Reconcile,
    /// Finish or undo an enable or disable that was interrupted (a crash,
    /// a power cut), and make the firewall match the enabled services.
    Repair,
    /// At boot (run by tails-server-autostart.service): bring back the
    /// services kept in Persistent Storage and enable those with autostart on.
    Autostart {
        /// First turn Tails Server's Persistent Storage feature on again (a
        /// line of Tails' persistence.conf), if it was turned off.
        #[arg(long)]
        feature_on: bool,
    },
    /// Disable every enabled service (the Debian package does it before it
    /// is removed).
    DisableAll,
    /// Print the completions for a shell (bash, zsh, fish, elvish, powershell);
    /// the Debian package installs them.
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff), for packaging.
    #[command(hide = true)]
    Man,
    /// SERVICE COMMAND...: act on one service.
    #[command(external_subcommand)]
    Service(Vec<String>),
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Add a plugin: shows what it asks for and asks for consent.
    Add {
        /// A .wasm component (a path), or the name of a plugin shipped with
        /// Tails Server (see `plugin available`).
        #[arg(value_name = "FILE|NAME")]
        file: PathBuf,
        /// Grant everything it asks for without asking (for scripts).
        #[arg(long)]
        yes: bool,
        /// Refuse one capability it asks for (package:NAME, file:/PATH, folder:/PATH/, port:N/tcp); repeatable.
        #[arg(long, value_name = "CAPABILITY")]
        deny: Vec<String>,
    },
    /// List the plugins shipped with Tails Server, and whether each is added.
    Available {
        #[arg(long)]
        json: bool,
    },
    /// List the added plugins.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show a plugin: what it is, what it asked for and what was granted.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a plugin, its grants and its service's settings.
    Remove { name: String },
    /// Write a new plugin project (a web page served by lighttpd) to make your own.
    New {
        /// The service's name: lower-case letters, digits and `-`.
        name: String,
        /// The language (for C, see the SDK's c/README.md).
        #[arg(long, value_name = "LANGUAGE", value_parser = language())]
        lang: tails_server_core::authoring::Language,
        /// The folder to make the project in.
        #[arg(long, value_name = "FOLDER", default_value = ".")]
        r#in: PathBuf,
    },
    /// Try plugins for real, on a private Tor network and a disposable
    /// systemd host on this machine: each added, enabled, reached through
    /// Tor with the client's key, then everything removed (needs root).
    Try {
        #[arg(value_name = "FILE.wasm", required = true)]
        files: Vec<PathBuf>,
        /// Leave everything up (until Enter) to look around.
        #[arg(long)]
        keep: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TorCommand {
    /// Say which tor is used and whether it is bootstrapped.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Use this tor's control port: unix:/PATH, HOST:PORT, or `auto` to search again.
    Use {
        control: String,
        /// Password, for a tor that uses HashedControlPassword.
        #[arg(long)]
        password: Option<String>,
    },
    /// Stop the tor that Tails Server started itself (never any other).
    Stop,
}

/// The commands of one service (`tails-server SERVICE ...` or `SERVICE ...`).
#[derive(Debug, Parser)]
pub struct ServiceCli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: ServiceCommand,
}

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Show the service's state and options (YAML; --json for JSON).
    Info {
        /// Also show the plugin's attributes and grants.
        #[arg(long)]
        details: bool,
        #[arg(long)]
        json: bool,
        /// Show secret option values instead of ********.
        #[arg(long)]
        show_secrets: bool,
    },
    /// Show whether the service is installed, running and published.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Print the value of one option.
    GetOption {
        option: String,
        /// Print a secret option's value instead of ********.
        #[arg(long)]
        show_secret: bool,
    },
    /// Set one option (checked by type, then by the plugin).
    SetOption {
        option: String,
        value: String,
        /// Do not ask (turning persistence off deletes what was kept).
        #[arg(long)]
        yes: bool,
    },
    /// Set one option back to its default (a secret gets a new random value).
    ResetOption {
        option: String,
        /// Do not ask (resetting persistence deletes what was kept).
        #[arg(long)]
        yes: bool,
    },
    /// Install, configure, start and publish the service.
    Enable,
    /// Stop and unpublish the service.
    Disable,
    /// Manage the clients allowed to connect (client authorization).
    #[command(subcommand)]
    Client(ClientCommand),
    /// How to connect: address, port, a client's key, QR codes.
    ConnectionInfo {
        /// Only this client's key (default: every client's).
        client: Option<String>,
        #[arg(long)]
        json: bool,
        /// Leave out the QR codes.
        #[arg(long)]
        no_qr: bool,
    },
    /// Give the service a new onion address (the old one stops working).
    RotateAddress {
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Allow a new client; prints its key.
    Add { name: String },
    /// List the clients.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Stop allowing a client: the service is published again without its key.
    Remove { name: String },
}

/// `--lang`'s values, listed in help and completions.
fn language() -> impl clap::builder::TypedValueParser<Value = tails_server_core::authoring::Language>
{
    use clap::builder::TypedValueParser;
    use tails_server_core::authoring::Language;
    clap::builder::PossibleValuesParser::new(Language::ALL.map(Language::name))
        .map(|name| Language::named(&name).expect("one of ALL"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tails_server_core::manifest::RESERVED_NAMES;

    #[test]
    fn every_cli_command_is_a_reserved_name() {
        use clap::CommandFactory;
        for command in Cli::command().get_subcommands() {
            for name in std::iter::once(command.get_name()).chain(command.get_all_aliases()) {
                assert!(
                    RESERVED_NAMES.contains(&name),
                    "`{name}` is a CLI command but not a reserved service name"
                );
            }
        }
    }
}
