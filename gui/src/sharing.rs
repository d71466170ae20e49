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
use tails_server_types::ConnectionInfo;

use crate::daemon::{self, Change};
use crate::widgets;
use crate::window::App;

/// The keys, once fetched for this page.
#[derive(Clone)]
struct Keys {
    app: Rc<App>,
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
                widgets::error(&self.app.window, "The keys cannot be shown", &e);
                None
            }
        }
    }

    /// Do `then` with one client's key (base32, and its .auth_private line).
    fn with_client(
        &self,
        client: &str,
        then: impl FnOnce(&Keys, &tails_server_types::ClientCredentials) + 'static,
    ) {
        let (keys, client) = (self.clone(), client.to_string());
        glib::spawn_future_local(async move {
            let Some(info) = keys.get().await else { return };
            match info.clients.iter().find(|c| c.name == client) {
                Some(credentials) => then(&keys, credentials),
                None => keys.app.toast(&format!("{client} has no key any more")),
            }
        });
    }
}

pub fn group(app: &Rc<App>, service: &str, info: &Info) -> adw::PreferencesGroup {
    let group = adw::PreferencesGroup::builder()
        .title("Sharing")
        .description(
            "Give the people who should connect the address and, for each of them, their own key.",
        )
        .build();
    let keys =
        Keys { app: app.clone(), service: service.to_string(), info: Rc::new(RefCell::new(None)) };
    let enabled = info.details.as_ref().is_some_and(|d| d.enabled);
    let address = widgets::safe(info.address.as_deref().unwrap_or(""));

    if info.options.get("client-authorization").and_then(|v| v.as_bool()) == Some(false) {
        let warning = adw::ActionRow::builder()
            .title("Client authorization is off: anyone who knows the address can connect")
            .subtitle(
                "Share the address only with people you trust, or turn client authorization on.",
            )
            .title_lines(0)
            .build();
        warning.add_css_class("warning");
        warning.add_prefix(&gtk::Image::from_icon_name("dialog-warning-symbolic"));
        group.add(&warning);
    }

    if enabled && !address.is_empty() {
        let port = info.remote_port.as_u64().unwrap_or(80);
        let row = adw::ActionRow::builder()
            .title(if port == 80 {
                "Address".to_string()
            } else {
                format!("Address (port {port})")
            })
            .build();
        let shown = widgets::value_label(&address);
        row.add_suffix(&shown);
        let copy = widgets::icon_button("edit-copy-symbolic", "Copy address");
        let a = address.clone();
        let ap = app.clone();
        copy.connect_clicked(move |button| {
            button.clipboard().set_text(&a);
            ap.toast("Address copied");
        });
        let qr = widgets::icon_button("view-grid-symbolic", "Show the address as a QR code");
        let (a, ap) = (address.clone(), app.clone());
        qr.connect_clicked(move |_| widgets::show_qr(&ap.window, "Address", &a));
        row.add_suffix(&copy);
        row.add_suffix(&qr);
        group.add(&row);
    } else {
        group.add(
            &adw::ActionRow::builder()
                .title("Address")
                .subtitle("Enable the service to publish it and get its address.")
                .build(),
        );
    }

    let clients: Vec<String> = info
        .details
        .as_ref()
        .map(|d| d.clients.iter().map(|c| widgets::safe(c)).collect())
        .unwrap_or_default();
    for client in &clients {
        group.add(&client_row(&keys, client, enabled));
    }

    let add = adw::EntryRow::builder()
        .title("Add a client: a name for who will connect")
        .show_apply_button(true)
        .build();
    let (ap, service_name) = (app.clone(), service.to_string());
    add.connect_apply(move |row| {
        let (app, service, client) =
            (ap.clone(), service_name.clone(), row.text().trim().to_string());
        glib::spawn_future_local(async move {
            match daemon::client_add(&service, &client).await {
                Ok(words) => {
                    app.said(&words);
                    app.open(&service);
                }
                Err(e) => widgets::error(&app.window, "The client could not be added", &e),
            }
        });
    });
    group.add(&add);

    if enabled {
        let how = adw::ExpanderRow::builder()
            .title("How to connect")
            .subtitle("The service's own words, with the keys")
            .build();
        let words = gtk::Label::builder()
            .xalign(0.0)
            .wrap(true)
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
        group.add(&how);

        let rotate = adw::ActionRow::builder()
            .title("New address")
            .subtitle("The old address stops working; every client needs the new one.")
            .build();
        let button = widgets::text_button("New address…");
        let (ap, service_name) = (app.clone(), service.to_string());
        button.connect_clicked(move |_| {
            let (app, service) = (ap.clone(), service_name.clone());
            glib::spawn_future_local(async move {
                let mut answer = daemon::rotate_address(&service, false).await;
                if let Ok(Change::Ask(question)) = &answer {
                    answer = if widgets::ask(
                        &app.window,
                        "Make a new address?",
                        &widgets::safe(question),
                        "_New address",
                        true,
                    )
                    .await
                    {
                        daemon::rotate_address(&service, true).await
                    } else {
                        return;
                    };
                }
                match answer {
                    Ok(Change::Done(words)) => {
                        app.said(&words);
                        app.open(&service);
                    }
                    Ok(Change::Ask(_)) => {}
                    Err(e) => widgets::error(&app.window, "No new address was made", &e),
                }
            });
        });
        rotate.add_suffix(&button);
        group.add(&rotate);
    }
    group
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

/// A client: its key masked until revealed, copy, QR code, .auth_private, remove.
fn client_row(keys: &Keys, client: &str, enabled: bool) -> adw::ActionRow {
    const HIDDEN: &str = "••••••••••••••••";
    let row = adw::ActionRow::builder().title(format!("Client {client}")).build();
    let key = widgets::value_label(HIDDEN);
    row.add_suffix(&key);
    let button = |icon: &str, label: String| {
        let b = widgets::icon_button(icon, &label);
        b.set_sensitive(enabled);
        b
    };
    let reveal = gtk::ToggleButton::builder()
        .icon_name("view-reveal-symbolic")
        .tooltip_text(format!("Reveal {client}'s key"))
        .valign(gtk::Align::Center)
        .sensitive(enabled)
        .build();
    reveal.add_css_class("flat");
    widgets::name(&reveal, &format!("Reveal {client}'s key"));
    let (k, c) = (keys.clone(), client.to_string());
    reveal.connect_toggled(move |reveal| {
        if !reveal.is_active() {
            key.set_text(HIDDEN);
            return;
        }
        let key = key.clone();
        k.with_client(&c, move |_, credentials| key.set_text(&credentials.private_key));
    });
    let copy = button("edit-copy-symbolic", format!("Copy {client}'s key"));
    let (k, c) = (keys.clone(), client.to_string());
    copy.connect_clicked(move |b| {
        let b = b.clone();
        k.with_client(&c, move |keys, credentials| {
            b.clipboard().set_text(&credentials.private_key);
            keys.app
                .toast("Key copied: paste it where Tor Browser asks for the onion service's key");
        });
    });
    let qr = button("view-grid-symbolic", format!("Show {client}'s key as a QR code"));
    let (k, c) = (keys.clone(), client.to_string());
    qr.connect_clicked(move |_| {
        k.with_client(&c, |keys, credentials| {
            widgets::show_qr(
                &keys.app.window,
                &format!("Key of {}", credentials.name),
                &credentials.private_key,
            )
        })
    });
    let save =
        button("document-save-symbolic", format!("Save {client}'s key as an .auth_private file"));
    let (k, c) = (keys.clone(), client.to_string());
    save.connect_clicked(move |_| k.with_client(&c, save_auth_private));
    let remove = widgets::icon_button("user-trash-symbolic", &format!("Remove client {client}"));
    let (k, c) = (keys.clone(), client.to_string());
    remove.connect_clicked(move |_| {
        let (app, service, client) = (k.app.clone(), k.service.clone(), c.clone());
        glib::spawn_future_local(async move {
            let body = format!("{client}'s key stops working: they can no longer connect.");
            if !widgets::ask(&app.window, &format!("Remove {client}?"), &body, "_Remove", true)
                .await
            {
                return;
            }
            match daemon::client_remove(&service, &client).await {
                Ok(words) => {
                    app.said(&words);
                    app.open(&service);
                }
                Err(e) => widgets::error(&app.window, "The client could not be removed", &e),
            }
        });
    });
    for b in [
        reveal.upcast_ref::<gtk::Widget>(),
        copy.upcast_ref(),
        qr.upcast_ref(),
        save.upcast_ref(),
        remove.upcast_ref(),
    ] {
        row.add_suffix(b);
    }
    row
}

/// Save the `.auth_private` line where the person chooses, readable by them
/// alone (it is a key).
fn save_auth_private(keys: &Keys, credentials: &tails_server_types::ClientCredentials) {
    let chooser = gtk::FileChooserNative::new(
        Some("Save the key for another tor"),
        Some(&keys.app.window),
        gtk::FileChooserAction::Save,
        Some("_Save"),
        Some("_Cancel"),
    );
    chooser.set_current_name(&format!("{}.auth_private", keys.service));
    let (app, line) = (keys.app.clone(), credentials.auth_private.clone());
    widgets::choose(chooser, move |path| {
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
            Ok(()) => app.toast(&format!(
                "Saved {}: put it in the ClientOnionAuthDir of the other tor",
                path.display()
            )),
            Err(e) => widgets::error(
                &app.window,
                "The key could not be saved",
                &format!("{}: {e}", path.display()),
            ),
        }
    });
}
