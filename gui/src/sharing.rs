//! Sharing a service: its address (copy, QR code), its clients (add, remove,
//! each key masked until revealed, copy, QR code, saved as .auth_private for
//! other tors), the plugin's own words on connecting, a new address. Keys
//! are asked of the daemon only when the person wants one (it is the
//! "secrets" action: polkit may ask for the administration password).

use std::cell::RefCell;
use std::rc::Rc;

use adw::prelude::*;
use gtk::glib;
use tails_server_types::documents::Info;
use tails_server_types::{ClientCredentials, ConnectionInfo};

use crate::daemon;
use crate::i18n::{tr, trf};
use crate::widgets::{self, Feedback};

/// The keys, once fetched for this page.
#[derive(Clone)]
struct Keys {
    feedback: Feedback,
    service: String,
    info: Rc<RefCell<Option<ConnectionInfo>>>,
}

impl Keys {
    async fn get(&self) -> Option<ConnectionInfo> {
        if let Some(info) = self.info.borrow().clone() {
            return Some(info);
        }
        match daemon::connection_info(&self.service).await {
            Ok(info) => {
                self.info.replace(Some(info.clone()));
                Some(info)
            }
            Err(e) => {
                self.feedback.error(&tr("The keys cannot be shown"), &e);
                None
            }
        }
    }

    /// Do `then` with one client's key (base32, and its .auth_private line).
    fn with_client(&self, client: &str, then: impl FnOnce(&Keys, &ClientCredentials) + 'static) {
        let (keys, client) = (self.clone(), client.to_string());
        glib::spawn_future_local(async move {
            let Some(info) = keys.get().await else { return };
            match info.clients.iter().find(|c| c.name == client) {
                Some(credentials) => then(&keys, credentials),
                None => keys.feedback.said(&trf("{} has no key any more", &[&client])),
            }
        });
    }
}

/// The sharing group. `narrow` is an object whose `narrow` property says
/// the window is narrow (its breakpoint): each client's row then keeps two
/// buttons and puts the rest in a menu.
pub fn group(
    feedback: &Feedback,
    service: &str,
    info: &Info,
    narrow: &glib::Object,
) -> adw::PreferencesGroup {
    let group = adw::PreferencesGroup::builder()
        .title(tr("Sharing"))
        .description(tr(
            "Give the people who should connect the address and, for each of them, their own key.",
        ))
        .build();
    let keys = Keys {
        feedback: feedback.clone(),
        service: service.to_string(),
        info: Rc::new(RefCell::new(None)),
    };
    let enabled = info.details.as_ref().is_some_and(|d| d.enabled);
    let address = widgets::safe(info.address.as_deref().unwrap_or(""));

    if info.options.get("client-authorization").and_then(|v| v.as_bool()) == Some(false) {
        let warning = adw::ActionRow::builder()
            .title(tr("Client authorization is off: anyone who knows the address can connect"))
            .subtitle(tr(
                "Share the address only with people you trust, or turn client authorization on.",
            ))
            .title_lines(0)
            .build();
        warning.add_css_class("warning");
        warning.add_prefix(&gtk::Image::from_icon_name("dialog-warning-symbolic"));
        group.add(&warning);
    }

    if enabled && !address.is_empty() {
        group.add(&address_row(feedback, info, &address));
    } else {
        group.add(
            &adw::ActionRow::builder()
                .title(tr("Address"))
                .subtitle(tr("Enable the service to publish it and get its address."))
                .build(),
        );
    }

    let clients: Vec<String> = info
        .details
        .as_ref()
        .map(|d| d.clients.iter().map(|c| widgets::safe(c)).collect())
        .unwrap_or_default();
    for client in &clients {
        group.add(&client_row(&keys, client, enabled, narrow));
    }
    group.add(&add_client_row(feedback, service));

    if enabled {
        group.add(&how_to_connect(&keys));
        group.add(&new_address_row(feedback, service));
    }
    group
}

/// The address, selectable, with copy and QR code.
fn address_row(feedback: &Feedback, info: &Info, address: &str) -> adw::ActionRow {
    let port = info.remote_port.as_u64().unwrap_or(80);
    let row = adw::ActionRow::builder()
        .title(if port == 80 {
            tr("Address")
        } else {
            trf("Address (port {})", &[&port.to_string()])
        })
        .subtitle(address)
        .subtitle_selectable(true)
        .build();
    row.add_css_class("property");
    let copy = widgets::icon_button("edit-copy-symbolic", &tr("Copy address"));
    let (a, f) = (address.to_string(), feedback.clone());
    copy.connect_clicked(move |button| {
        button.clipboard().set_text(&a);
        f.said(&tr("Address copied"));
    });
    let qr = widgets::icon_button("view-grid-symbolic", &tr("Show the address as a QR code"));
    let (a, f) = (address.to_string(), feedback.clone());
    qr.connect_clicked(move |_| widgets::show_qr(&f.parent, &tr("Address"), &a));
    row.add_suffix(&copy);
    row.add_suffix(&qr);
    row
}

fn add_client_row(feedback: &Feedback, service: &str) -> adw::EntryRow {
    let add = adw::EntryRow::builder()
        .title(tr("Add a client: a name for who will connect"))
        .show_apply_button(true)
        .build();
    let (feedback, service) = (feedback.clone(), service.to_string());
    add.connect_apply(move |row| {
        let (feedback, service, client) =
            (feedback.clone(), service.clone(), row.text().trim().to_string());
        glib::spawn_future_local(async move {
            match daemon::client_add(&service, &client).await {
                Ok(words) => {
                    feedback.said(&words);
                    feedback.reload();
                }
                Err(e) => feedback.error(&tr("The client could not be added"), &e),
            }
        });
    });
    add
}

/// The plugin's own words on connecting, with the keys: asked for only
/// when the person opens the row.
fn how_to_connect(keys: &Keys) -> adw::ExpanderRow {
    let how = adw::ExpanderRow::builder()
        .title(tr("How to connect"))
        .subtitle(tr("The service's own words, with the keys"))
        .build();
    let words = gtk::Label::builder()
        .xalign(0.0)
        .wrap(true)
        .wrap_mode(gtk::pango::WrapMode::WordChar)
        .selectable(true)
        .margin_top(8)
        .margin_bottom(8)
        .margin_start(12)
        .margin_end(12)
        .build();
    how.add_row(&words);
    let k = keys.clone();
    how.connect_expanded_notify(move |how| {
        if !how.is_expanded() || !words.text().is_empty() {
            return;
        }
        let (k, words) = (k.clone(), words.clone());
        glib::spawn_future_local(async move {
            if let Some(info) = k.get().await {
                let text = info
                    .gui_text
                    .as_deref()
                    .and_then(plain)
                    .or(info.text)
                    .unwrap_or_else(|| info.text_missing.unwrap_or_default());
                words.set_text(&widgets::safe(&text));
            }
        });
    });
    how
}

fn new_address_row(feedback: &Feedback, service: &str) -> adw::ActionRow {
    let rotate = adw::ActionRow::builder()
        .title(tr("New address"))
        .subtitle(tr("The old address stops working; every client needs the new one."))
        .build();
    let button = widgets::text_button(&tr("New address…"));
    let (feedback, service) = (feedback.clone(), service.to_string());
    button.connect_clicked(move |_| {
        let (feedback, service) = (feedback.clone(), service.clone());
        glib::spawn_future_local(async move {
            let answer = widgets::confirming(
                &feedback.parent,
                &tr("Make a new address?"),
                &tr("_New address"),
                |confirmed| daemon::rotate_address(&service, confirmed),
            )
            .await;
            match answer {
                Ok(Some(words)) => {
                    feedback.said(&words);
                    feedback.reload();
                }
                Ok(None) => {}
                Err(e) => feedback.error(&tr("No new address was made"), &e),
            }
        });
    });
    rotate.add_suffix(&button);
    rotate
}

/// The plugin's GUI text without its markup (Pango's, and GtkLabel's `<a>`,
/// which Pango alone does not read): shown as plain text, so no plugin sets
/// the look of the window or puts a link in it. Tags are dropped and the
/// XML entities read; `None` for an unclosed tag.
fn plain(markup: &str) -> Option<String> {
    let mut text = String::new();
    let mut rest = markup;
    while let Some(open) = rest.find('<') {
        text += &rest[..open];
        rest = &rest[open + rest[open..].find('>')? + 1..];
    }
    text += rest;
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(amp) = rest.find('&') {
        out += &rest[..amp];
        rest = &rest[amp..];
        let end = rest.find(';').filter(|&e| e <= 10);
        let decoded = end.and_then(|e| match &rest[1..e] {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            n if n.starts_with("#x") => {
                u32::from_str_radix(&n[2..], 16).ok().and_then(char::from_u32)
            }
            n if n.starts_with('#') => n[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        });
        match (decoded, end) {
            (Some(c), Some(e)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out += rest;
    Some(out)
}

/// A client: its key masked until revealed, copy, QR code, .auth_private,
/// remove. The last three are the row's actions (`client.qr`, `client.save`,
/// `client.remove`): buttons when the window is wide, a menu when narrow.
fn client_row(keys: &Keys, client: &str, enabled: bool, narrow: &glib::Object) -> adw::ActionRow {
    let hidden = "••••••••••••••••";
    let row = adw::ActionRow::builder()
        .title(trf("Client {}", &[client]))
        .subtitle(hidden)
        .subtitle_selectable(true)
        .build();
    row.add_css_class("property");
    let reveal = gtk::ToggleButton::builder()
        .icon_name("view-reveal-symbolic")
        .tooltip_text(trf("Reveal {}'s key", &[client]))
        .valign(gtk::Align::Center)
        .sensitive(enabled)
        .build();
    reveal.add_css_class("flat");
    widgets::name(&reveal, &trf("Reveal {}'s key", &[client]));
    let (k, c, r) = (keys.clone(), client.to_string(), row.clone());
    reveal.connect_toggled(move |reveal| {
        if !reveal.is_active() {
            r.set_subtitle(hidden);
            return;
        }
        let r = r.clone();
        k.with_client(&c, move |_, credentials| r.set_subtitle(&credentials.private_key));
    });
    let copy = widgets::icon_button("edit-copy-symbolic", &trf("Copy {}'s key", &[client]));
    copy.set_sensitive(enabled);
    let (k, c) = (keys.clone(), client.to_string());
    copy.connect_clicked(move |b| {
        let b = b.clone();
        k.with_client(&c, move |keys, credentials| {
            b.clipboard().set_text(&credentials.private_key);
            keys.feedback.said(&tr(
                "Key copied: paste it where Tor Browser asks for the onion service's key",
            ));
        });
    });
    row.add_suffix(&reveal);
    row.add_suffix(&copy);
    add_client_actions(&row, keys, client, enabled, narrow);
    row
}

/// The client's QR code, file and removal: the row's actions, as buttons
/// when the window is wide and a menu when it is narrow.
fn add_client_actions(
    row: &adw::ActionRow,
    keys: &Keys,
    client: &str,
    enabled: bool,
    narrow: &glib::Object,
) {
    let actions = gtk::gio::SimpleActionGroup::new();
    let qr = gtk::gio::SimpleAction::new("qr", None);
    qr.set_enabled(enabled);
    let (k, c) = (keys.clone(), client.to_string());
    qr.connect_activate(move |_, _| {
        k.with_client(&c, |keys, credentials| {
            widgets::show_qr(
                &keys.feedback.parent,
                &trf("Key of {}", &[&credentials.name]),
                &credentials.private_key,
            )
        })
    });
    let save = gtk::gio::SimpleAction::new("save", None);
    save.set_enabled(enabled);
    let (k, c) = (keys.clone(), client.to_string());
    save.connect_activate(move |_, _| k.with_client(&c, save_auth_private));
    let remove = gtk::gio::SimpleAction::new("remove", None);
    let (k, c) = (keys.clone(), client.to_string());
    remove.connect_activate(move |_, _| remove_client(&k, &c));
    for action in [&qr, &save, &remove] {
        actions.add_action(action);
    }
    row.insert_action_group("client", Some(&actions));

    let menu = gtk::gio::Menu::new();
    let buttons = gtk::Box::new(gtk::Orientation::Horizontal, 0);
    for (action, icon, label) in [
        ("client.qr", "view-grid-symbolic", trf("Show {}'s key as a QR code", &[client])),
        (
            "client.save",
            "document-save-symbolic",
            trf("Save {}'s key as an .auth_private file", &[client]),
        ),
        ("client.remove", "user-trash-symbolic", trf("Remove client {}", &[client])),
    ] {
        let button = widgets::icon_button(icon, &label);
        button.set_action_name(Some(action));
        buttons.append(&button);
        menu.append(Some(&label), Some(action));
    }
    let more = gtk::MenuButton::builder()
        .icon_name("view-more-symbolic")
        .menu_model(&menu)
        .valign(gtk::Align::Center)
        .tooltip_text(trf("More for {}", &[client]))
        .build();
    more.add_css_class("flat");
    widgets::name(&more, &trf("More for {}", &[client]));
    narrow.bind_property("narrow", &buttons, "visible").invert_boolean().sync_create().build();
    narrow.bind_property("narrow", &more, "visible").sync_create().build();
    row.add_suffix(&buttons);
    row.add_suffix(&more);
}

fn remove_client(keys: &Keys, client: &str) {
    let (feedback, service, client) =
        (keys.feedback.clone(), keys.service.clone(), client.to_string());
    glib::spawn_future_local(async move {
        let body = trf("{}'s key stops working: they can no longer connect.", &[&client]);
        let heading = trf("Remove {}?", &[&client]);
        if !widgets::ask(&feedback.parent, &heading, &body, &tr("_Remove"), true).await {
            return;
        }
        match daemon::client_remove(&service, &client).await {
            Ok(words) => {
                feedback.said(&words);
                feedback.reload();
            }
            Err(e) => feedback.error(&tr("The client could not be removed"), &e),
        }
    });
}

/// Save the `.auth_private` line where the person chooses, readable by them
/// alone (it is a key).
fn save_auth_private(keys: &Keys, credentials: &ClientCredentials) {
    let (feedback, line) = (keys.feedback.clone(), credentials.auth_private.clone());
    let name = format!("{}.auth_private", keys.service);
    glib::spawn_future_local(async move {
        let title = tr("Save the key for another tor");
        let Some(path) = widgets::save_file(&feedback.parent, &title, &name).await else {
            return;
        };
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
        match written {
            Ok(()) => feedback.said(&trf(
                "Saved {}: put it in the ClientOnionAuthDir of the other tor",
                &[&path.display().to_string()],
            )),
            Err(e) => feedback
                .error(&tr("The key could not be saved"), &format!("{}: {e}", path.display())),
        }
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn markup_is_shown_as_its_text() {
        let url = "http://abc.onion/";
        assert_eq!(
            super::plain(&format!("Open <a href=\"{url}\">{url}</a> in Tor Browser.")).unwrap(),
            format!("Open {url} in Tor Browser.")
        );
        assert_eq!(
            super::plain("<b>Key</b>: a &amp; b &lt;c&gt; &#65;&#x42; &bogus; 5 & 6").unwrap(),
            "Key: a & b <c> AB &bogus; 5 & 6"
        );
        assert_eq!(super::plain("<span size=\"999999\">big"), Some("big".into()));
        assert_eq!(super::plain("unclosed <a href"), None);
    }
}
