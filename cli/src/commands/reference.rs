//! The program's reference for shells and `man`, made from the clap
//! definitions so that neither can disagree with what the program takes.

use std::io::Write;

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, ServiceCli};
use tails_server_core::shipped;

/// Completions: the commands, and each service shipped with Tails Server by
/// name with its own commands (`tails-server web en<Tab>`). A service added
/// from a file has no completion: a static script cannot know it.
pub fn completions(shell: clap_complete::Shell) -> Result<()> {
    // One service subcommand, every other shipped name an alias of it: the
    // same completions, once.
    let names: Vec<String> = shipped::list().into_iter().map(|(name, _)| name).collect();
    let mut command = Cli::command();
    if let Some((first, others)) = names.split_first() {
        command = command.subcommand(
            ServiceCli::command()
                .name(first)
                .about("A shipped service's commands")
                .visible_aliases(others),
        );
    }
    if shell != clap_complete::Shell::Bash {
        clap_complete::generate(shell, &mut command, "tails-server", &mut std::io::stdout());
        return Ok(());
    }
    // clap_complete's bash script completes nothing after a subcommand when
    // the program's name has a hyphen (clap-rs/clap#6421, open): made for a
    // name without one, then bound to ours.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "tailsserver", &mut script);
    let script = String::from_utf8(script)?;
    for line in script.lines() {
        if line.trim_start().starts_with("complete -F _tailsserver ") {
            println!("{}", line.replace(" tailsserver", " tails-server"));
        } else {
            println!("{line}");
        }
    }
    Ok(())
}

/// tails-server(1): the commands, a service's commands (which clap sees as
/// one external subcommand), the files.
pub fn man_page() -> Result<()> {
    let mut page = Vec::new();
    let man = clap_mangen::Man::new(Cli::command());
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    page.extend_from_slice(b".SH COMMANDS\n");
    list_commands(&mut page, "", &Cli::command());
    page.extend_from_slice(b".SH \"SERVICE COMMANDS\"\n.B tails-server\n.I SERVICE COMMAND\n.RI [ OPTIONS ]\n.PP\nEach added plugin is a service, named as its plugin; a link to tails-server named after a service acts as that service's command.\n");
    list_commands(&mut page, "", &ServiceCli::command());
    page.extend_from_slice(
        b".SH FILES\n.TP\n/var/lib/tails-server/\nThe state: added plugins, their grants, options, onion keys (readable by root alone).\n\
          .TP\n/usr/share/tails-server/plugins/\nThe plugins shipped with Tails Server (\\fBplugin add\\fR \\fINAME\\fR).\n\
          .TP\n/live/persistence/TailsData_unlocked/tails-server/\nServices kept in Persistent Storage.\n\
          .SH \"SEE ALSO\"\n\\fBtails-server-gui\\fR (the window), \\fBtails-serverd\\fR (the daemon, \\fBjournalctl -u tails-serverd\\fR), \\fBtor\\fR(1)\n",
    );
    man.render_version_section(&mut page)?;
    std::io::stdout().write_all(&page)?;
    Ok(())
}

/// Every command under `command` that does something, by its whole name
/// (`plugin add`), with what it does (help and hidden ones left out).
fn list_commands(page: &mut Vec<u8>, prefix: &str, command: &clap::Command) {
    for sub in command.get_subcommands().filter(|c| !c.is_hide_set() && c.get_name() != "help") {
        let name = format!("{prefix}{}", sub.get_name());
        if sub.has_subcommands() {
            list_commands(page, &format!("{name} "), sub);
            continue;
        }
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        page.extend_from_slice(
            format!(".TP\n\\fB{}\\fR\n{}\n", roff(&name), roff(&about)).as_bytes(),
        );
    }
}

/// Text safe in a roff paragraph: backslashes escaped, no line starting a
/// request.
fn roff(text: &str) -> String {
    text.replace('\\', "\\e")
        .lines()
        .map(|l| if l.starts_with(['.', '\'']) { format!("\\&{l}") } else { l.to_string() })
        .collect::<Vec<_>>()
        .join("\n")
}
