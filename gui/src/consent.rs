//! Adding a plugin: a file chooser, then a consent dialog that says what the
//! plugin asks for in words, with a switch per capability to refuse it, the
//! file's sha256 and, for an upgrade, what changed. Nothing is added until
//! the person agrees, and the daemon adds only the bytes it showed.

use std::path::Path;

use adw::prelude::*;
use tails_server_types::Inspection;

use crate::daemon;
use crate::i18n::{tr, trf};
use crate::widgets;

/// Open the file without blocking on a FIFO and only if it is a regular file.
fn open(path: &std::path::Path) -> Result<std::fs::File, String> {
    let file = tails_server_types::files::open_plugin_file(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    match file.metadata() {
        Ok(m) if m.is_file() => Ok(file),
        _ => Err(format!("{} is not a plugin file (not a regular file)", path.display())),
    }
}

/// How adding a file ended.
pub enum Outcome {
    /// Added as `name`; the daemon's words.
    Added { name: String, words: String },
    /// Nothing to do, in these words (this very build is already added).
    Said(String),
    /// Refused by the person, or failed (already told in a dialog).
    Nothing,
}

/// Inspect the file, ask, and add what the person agreed to.
pub async fn add_file(parent: &impl IsA<gtk::Widget>, path: &Path) -> Outcome {
    let inspection = match open(path) {
        Ok(file) => daemon::inspect(file).await,
        Err(e) => Err(e),
    };
    let inspection = match inspection {
        Ok(i) => i,
        Err(e) => {
            widgets::error(parent, &tr("This plugin cannot be added"), &e);
            return Outcome::Nothing;
        }
    };
    if inspection.changes_nothing(false) {
        return Outcome::Said(trf(
            "{} is already added, this very build",
            &[&widgets::safe(&inspection.name)],
        ));
    }
    let Some(refused) = consent(parent, &inspection).await else { return Outcome::Nothing };
    let added = match open(path) {
        Ok(file) => daemon::add(file, &inspection.sha256, refused).await,
        Err(e) => Err(e),
    };
    match added {
        Ok(words) => Outcome::Added { name: inspection.name, words },
        Err(e) => {
            widgets::error(parent, &tr("The plugin was not added"), &e);
            Outcome::Nothing
        }
    }
}

/// Ask; the capabilities refused, or `None` when the person said no.
async fn consent(parent: &impl IsA<gtk::Widget>, i: &Inspection) -> Option<Vec<String>> {
    let name = widgets::safe(&i.name);
    let heading =
        if i.replaces.is_some() { trf("Upgrade {}?", &[&name]) } else { trf("Add {}?", &[&name]) };
    let dialog = adw::AlertDialog::new(Some(&heading), Some(&summary(i)));
    // Wide where there is room: the capabilities are sentences.
    dialog.set_prefer_wide_layout(true);
    let (list, switches) = asked(i);
    dialog.set_extra_child(Some(&details(i, &list)));
    dialog.add_response("cancel", &tr("_Cancel"));
    dialog.add_response("add", &if i.replaces.is_some() { tr("_Upgrade") } else { tr("_Add") });
    dialog.set_response_appearance("add", adw::ResponseAppearance::Suggested);
    dialog.set_default_response(Some("cancel"));
    dialog.set_close_response("cancel");
    if dialog.choose_future(Some(parent)).await != "add" {
        return None;
    }
    Some(switches.into_iter().filter(|(_, s)| !s.is_active()).map(|(c, _)| c).collect())
}

/// What it is, from whom, built for which contract, and what an upgrade
/// changes.
fn summary(i: &Inspection) -> String {
    let mut body = format!(
        "{}\n\n{}\n{}",
        widgets::safe(&i.description),
        trf("From: {}", &[&widgets::safe(&i.publisher)]),
        trf("Built for: {}", &[&widgets::safe(&i.contract)]),
    );
    if i.older_contract {
        body += &tr(" (an older contract: it runs through a compatibility layer)");
    }
    for change in &i.changes {
        body += &format!("\n{}", widgets::safe(change));
    }
    body
}

/// A switch row per capability asked for, on: each capability with its row.
fn asked(i: &Inspection) -> (gtk::ListBox, Vec<(String, adw::SwitchRow)>) {
    let list = gtk::ListBox::builder()
        .selection_mode(gtk::SelectionMode::None)
        .css_classes(["boxed-list"])
        .build();
    let mut switches = Vec::new();
    for asked in &i.asks {
        let row = adw::SwitchRow::builder()
            .title(widgets::safe(&asked.words))
            .subtitle(widgets::safe(&asked.capability))
            .title_lines(0)
            .active(true)
            .build();
        widgets::name_switch_row(&row, &trf("Allow: {}", &[&widgets::safe(&asked.words)]));
        list.append(&row);
        switches.push((asked.capability.clone(), row));
    }
    if i.asks.is_empty() {
        list.append(&adw::ActionRow::builder().title(tr("It asks for nothing new.")).build());
    }
    (list, switches)
}

/// The list of what it asks, what an upgrade keeps or no longer asks, and
/// the file's sha256, scrolled when long.
fn details(i: &Inspection, list: &gtk::ListBox) -> gtk::ScrolledWindow {
    let more = gtk::Box::new(gtk::Orientation::Vertical, 8);
    let lead = gtk::Label::builder()
        .label(if i.replaces.is_some() {
            tr("What it asks for now (turn a switch off to refuse it):")
        } else {
            tr("It asks to (turn a switch off to refuse it):")
        })
        .xalign(0.0)
        .wrap(true)
        .build();
    more.append(&lead);
    more.append(list);
    let no_longer: Vec<String> = i.no_longer_asks.iter().map(|a| a.words.clone()).collect();
    for (what, lines) in
        [(tr("Still allowed from before:"), &i.kept), (tr("No longer asked for:"), &no_longer)]
    {
        if !lines.is_empty() {
            let text = lines
                .iter()
                .map(|l| format!("• {}", widgets::safe(l)))
                .collect::<Vec<_>>()
                .join("\n");
            more.append(
                &gtk::Label::builder()
                    .label(format!("{what}\n{text}"))
                    .xalign(0.0)
                    .wrap(true)
                    .build(),
            );
        }
    }
    let sha = gtk::Label::builder()
        .label(format!("sha256: {}", i.sha256))
        .xalign(0.0)
        .wrap(true)
        .wrap_mode(gtk::pango::WrapMode::Char)
        .selectable(true)
        .css_classes(["monospace", "caption"])
        .build();
    more.append(&sha);
    gtk::ScrolledWindow::builder()
        .child(&more)
        .propagate_natural_height(true)
        .max_content_height(420)
        .hscrollbar_policy(gtk::PolicyType::Never)
        .build()
}
