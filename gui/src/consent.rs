//! Adding a plugin: a file chooser, then a consent dialog that says what the
//! plugin asks for in words, with a switch per capability to refuse it, the
//! file's sha256 and, for an upgrade, what changed. Nothing is added until
//! the person agrees, and the daemon adds only the bytes it showed.

use std::path::PathBuf;
use std::rc::Rc;

use adw::prelude::*;
use gtk::glib;
use tails_server_types::Inspection;

use crate::daemon;
use crate::widgets;
use crate::window::App;

pub fn choose_file(app: &Rc<App>) {
    let chooser = gtk::FileChooserNative::new(
        Some("Add a plugin"),
        Some(&app.window),
        gtk::FileChooserAction::Open,
        Some("_Open"),
        Some("_Cancel"),
    );
    let filter = gtk::FileFilter::new();
    filter.set_name(Some("Tails Server plugins (.wasm)"));
    filter.add_pattern("*.wasm");
    chooser.add_filter(&filter);
    let app = app.clone();
    widgets::choose(chooser, move |path| add_file(&app, path));
}

/// Open the file without blocking on a FIFO and only if it is a regular file.
fn open(path: &std::path::Path) -> Result<std::fs::File, String> {
    let file = tails_server_types::files::open_plugin_file(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    match file.metadata() {
        Ok(m) if m.is_file() => Ok(file),
        _ => Err(format!("{} is not a plugin file (not a regular file)", path.display())),
    }
}

pub fn add_file(app: &Rc<App>, path: PathBuf) {
    let app = app.clone();
    glib::spawn_future_local(async move {
        let inspection = match open(&path) {
            Ok(file) => daemon::inspect(file).await,
            Err(e) => Err(e),
        };
        let inspection = match inspection {
            Ok(i) => i,
            Err(e) => return widgets::error(&app.window, "This plugin cannot be added", &e),
        };
        if inspection.changes_nothing(false) {
            return app.toast(&format!(
                "{} is already added, this very build",
                widgets::safe(&inspection.name)
            ));
        }
        let Some(refused) = consent(&app, &inspection).await else { return };
        let added = match open(&path) {
            Ok(file) => daemon::add(file, &inspection.sha256, refused).await,
            Err(e) => Err(e),
        };
        match added {
            Ok(words) => {
                app.said(&words);
                app.open(&inspection.name);
            }
            Err(e) => widgets::error(&app.window, "The plugin was not added", &e),
        }
    });
}

/// Ask; the capabilities refused, or `None` when the person said no.
async fn consent(app: &Rc<App>, i: &Inspection) -> Option<Vec<String>> {
    let name = widgets::safe(&i.name);
    let heading =
        if i.replaces.is_some() { format!("Upgrade {name}?") } else { format!("Add {name}?") };
    let mut body = format!(
        "{}\n\nFrom: {}\nBuilt for: {}",
        widgets::safe(&i.description),
        widgets::safe(&i.publisher),
        widgets::safe(&i.contract)
    );
    if i.older_contract {
        body += " (an older contract: it runs through a compatibility layer)";
    }
    for change in &i.changes {
        body += &format!("\n{}", widgets::safe(change));
    }
    let dialog = adw::MessageDialog::new(Some(&app.window), Some(&heading), Some(&body));

    let list = gtk::ListBox::builder()
        .selection_mode(gtk::SelectionMode::None)
        .css_classes(["boxed-list"])
        .build();
    let mut switches = Vec::new();
    for asked in &i.asks {
        let row = adw::ActionRow::builder()
            .title(widgets::safe(&asked.words))
            .subtitle(widgets::safe(&asked.capability))
            .title_lines(0)
            .build();
        let switch = gtk::Switch::builder().active(true).valign(gtk::Align::Center).build();
        row.add_suffix(&switch);
        row.set_activatable_widget(Some(&switch));
        widgets::name(&switch, &format!("Allow: {}", widgets::safe(&asked.words)));
        list.append(&row);
        switches.push((asked.capability.clone(), switch));
    }
    if i.asks.is_empty() {
        list.append(&adw::ActionRow::builder().title("It asks for nothing new.").build());
    }
    let more = gtk::Box::new(gtk::Orientation::Vertical, 8);
    let lead = gtk::Label::builder()
        .label(if i.replaces.is_some() {
            "What it asks for now (turn a switch off to refuse it):"
        } else {
            "It asks to (turn a switch off to refuse it):"
        })
        .xalign(0.0)
        .wrap(true)
        .build();
    more.append(&lead);
    more.append(&list);
    let no_longer: Vec<String> = i.no_longer_asks.iter().map(|a| a.words.clone()).collect();
    for (what, lines) in
        [("Still allowed from before:", &i.kept), ("No longer asked for:", &no_longer)]
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
    let scroller = gtk::ScrolledWindow::builder()
        .child(&more)
        .propagate_natural_height(true)
        .max_content_height(420)
        .min_content_width(460)
        .hscrollbar_policy(gtk::PolicyType::Never)
        .build();
    dialog.set_extra_child(Some(&scroller));
    dialog.add_response("cancel", "_Cancel");
    dialog.add_response("add", if i.replaces.is_some() { "_Upgrade" } else { "_Add" });
    dialog.set_response_appearance("add", adw::ResponseAppearance::Suggested);
    dialog.set_default_response(Some("cancel"));
    dialog.set_close_response("cancel");
    if widgets::answer(&dialog).await != "add" {
        return None;
    }
    Some(switches.into_iter().filter(|(_, s)| !s.is_active()).map(|(c, _)| c).collect())
}
