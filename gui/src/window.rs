//! The main window: the services list and one service's page in a stack,
//! kept live from the daemon's ServiceChanged signal.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

use adw::prelude::*;
use gtk::glib;

use tails_server_types::documents::TorStatus;

use crate::widgets;
use crate::{consent, daemon, service};

pub struct App {
    pub window: adw::ApplicationWindow,
    toasts: adw::ToastOverlay,
    stack: gtk::Stack,
    back: gtk::Button,
    title: adw::WindowTitle,
    list_holder: gtk::Box,
    page_holder: gtk::Box,
    /// The service whose page is shown.
    shown: RefCell<Option<String>>,
    /// Services with an enable or disable under way from this window: their
    /// page is not rebuilt under the person's eyes.
    pub busy: RefCell<BTreeSet<String>>,
}

impl App {
    pub fn new(application: &adw::Application) -> Rc<App> {
        let title = adw::WindowTitle::new("Tails Server", "");
        let header = adw::HeaderBar::builder().title_widget(&title).build();
        let back = widgets::icon_button("go-previous-symbolic", "Back to the services");
        back.set_visible(false);
        header.pack_start(&back);
        let menu = gtk::gio::Menu::new();
        menu.append(Some("_Add a plugin from a file…"), Some("app.add-file"));
        menu.append(Some("_About Tails Server"), Some("app.about"));
        let menu_button = gtk::MenuButton::builder()
            .icon_name("open-menu-symbolic")
            .menu_model(&menu)
            .tooltip_text("Main menu")
            .build();
        widgets::name(&menu_button, "Main menu");
        header.pack_end(&menu_button);

        let list_holder = gtk::Box::new(gtk::Orientation::Vertical, 0);
        list_holder.set_vexpand(true);
        let page_holder = gtk::Box::new(gtk::Orientation::Vertical, 0);
        page_holder.set_vexpand(true);
        let stack = gtk::Stack::builder()
            .transition_type(gtk::StackTransitionType::SlideLeftRight)
            .vexpand(true)
            .build();
        stack.add_named(&list_holder, Some("services"));
        stack.add_named(&page_holder, Some("service"));

        let content = gtk::Box::new(gtk::Orientation::Vertical, 0);
        content.append(&header);
        content.append(&stack);
        let toasts = adw::ToastOverlay::new();
        toasts.set_child(Some(&content));
        let window = adw::ApplicationWindow::builder()
            .application(application)
            .title("Tails Server")
            .default_width(720)
            .default_height(760)
            .content(&toasts)
            .build();

        let app = Rc::new(App {
            window,
            toasts,
            stack,
            back,
            title,
            list_holder,
            page_holder,
            shown: RefCell::new(None),
            busy: RefCell::new(BTreeSet::new()),
        });
        let a = app.clone();
        app.back.connect_clicked(move |_| a.show_list());
        app.actions(application);
        app.follow_changes();
        app
    }

    fn actions(self: &Rc<Self>, application: &adw::Application) {
        let add = gtk::gio::SimpleAction::new("add-file", None);
        let a = self.clone();
        add.connect_activate(move |_, _| consent::choose_file(&a));
        application.add_action(&add);
        application.set_accels_for_action("app.add-file", &["<Control>o"]);
        let about = gtk::gio::SimpleAction::new("about", None);
        let a = self.clone();
        about.connect_activate(move |_, _| a.about());
        application.add_action(&about);
        let quit = gtk::gio::SimpleAction::new("quit", None);
        let w = self.window.clone();
        quit.connect_activate(move |_, _| w.close());
        application.add_action(&quit);
        application.set_accels_for_action("app.quit", &["<Control>q"]);
        // Alt+Left and Escape go back from a service's page.
        let back = gtk::gio::SimpleAction::new("back", None);
        let a = self.clone();
        back.connect_activate(move |_, _| a.show_list());
        application.add_action(&back);
        application.set_accels_for_action("app.back", &["<Alt>Left"]);
    }

    fn about(&self) {
        let about = adw::AboutWindow::builder()
            .transient_for(&self.window)
            .application_name("Tails Server")
            .application_icon("org.tails.Server.Gui")
            .version(env!("CARGO_PKG_VERSION"))
            .comments("Host a chat, a shared text editor, a web site, a file drop or a wiki on this computer, as a Tor onion service that only the people you choose can reach.")
            .license_type(gtk::License::Gpl30)
            .build();
        about.present();
    }

    /// What the daemon says it did. Its first line says what happened; the
    /// lines after it are hints for a terminal (commands to type), left out
    /// here, and `code` quotes become quotation marks.
    pub fn said(&self, words: &str) {
        let first = words.lines().next().unwrap_or(words);
        let mut open = true;
        let shown: String = first
            .chars()
            .map(|c| match c {
                '`' => {
                    open = !open;
                    if open {
                        '”'
                    } else {
                        '“'
                    }
                }
                c => c,
            })
            .collect();
        self.toast(&shown);
    }

    pub fn toast(&self, text: &str) {
        let toast = adw::Toast::new(&widgets::safe(text));
        toast.set_timeout(6);
        // A queued toast's widget is made when the one before it goes.
        let overlay = self.toasts.clone();
        toast.connect_dismissed(move |_| {
            let overlay = overlay.clone();
            glib::idle_add_local_once(move || name_toast_buttons(overlay.upcast_ref()));
        });
        self.toasts.add_toast(toast);
        name_toast_buttons(self.toasts.upcast_ref());
    }

    fn follow_changes(self: &Rc<Self>) {
        let mut changes = daemon::changes();
        let app = self.clone();
        glib::spawn_future_local(async move {
            while let Some(name) = changes.recv().await {
                // Only what is on screen is asked again; the list is filled
                // anew when the person goes back to it (`show_list`).
                let shown = app.shown.borrow().clone();
                match shown {
                    None => app.refresh_list(),
                    Some(shown) if shown == name && !app.busy.borrow().contains(&name) => {
                        app.open(&name)
                    }
                    Some(_) => {}
                }
            }
        });
    }

    pub fn show_list(self: &Rc<Self>) {
        self.shown.replace(None);
        self.back.set_visible(false);
        self.title.set_subtitle("");
        self.stack.set_visible_child_name("services");
        self.refresh_list();
    }

    /// Fill the services list again from the daemon.
    pub fn refresh_list(self: &Rc<Self>) {
        let app = self.clone();
        glib::spawn_future_local(async move {
            let page = app.services_page().await;
            while let Some(child) = app.list_holder.first_child() {
                app.list_holder.remove(&child);
            }
            app.list_holder.append(&page);
            crate::timing::mark("listed");
        });
    }

    async fn services_page(self: &Rc<Self>) -> gtk::Widget {
        let (services, available, tor) =
            (daemon::services().await, daemon::available().await, daemon::tor_status().await);
        let services = match services {
            Ok(s) => s,
            Err(e) => {
                let status = adw::StatusPage::builder()
                    .icon_name("dialog-error-symbolic")
                    .title("Tails Server cannot be reached")
                    .description(widgets::safe(&e))
                    .build();
                let retry = widgets::text_button("_Try again");
                retry.set_halign(gtk::Align::Center);
                let app = self.clone();
                retry.connect_clicked(move |_| app.refresh_list());
                status.set_child(Some(&retry));
                return status.upcast();
            }
        };
        let page = adw::PreferencesPage::new();

        let tor_group = adw::PreferencesGroup::new();
        let tor_row = adw::ActionRow::builder().title("Tor").subtitle(tor_words(&tor)).build();
        tor_row.add_prefix(&gtk::Image::from_icon_name("network-wireless-symbolic"));
        tor_group.add(&tor_row);
        page.add(&tor_group);

        let group = adw::PreferencesGroup::builder().title("Your services").build();
        let rows = services;
        if rows.is_empty() {
            group.set_description(Some("None yet: add one below."));
        }
        for row in &rows {
            let name = widgets::safe(&row.name);
            let action = adw::ActionRow::builder()
                .title(&name)
                .subtitle(widgets::safe(&row.description))
                .activatable(true)
                .build();
            let state = gtk::Label::new(Some(if row.enabled { "On" } else { "Off" }));
            state.add_css_class("dim-label");
            action.add_suffix(&state);
            action.add_suffix(&gtk::Image::from_icon_name("go-next-symbolic"));
            let app = self.clone();
            action.connect_activated(move |_| app.open(&name));
            // The live state (running, published) when the daemon says it.
            let (name, state) = (row.name.clone(), state.clone());
            glib::spawn_future_local(async move {
                if let Ok(status) = daemon::status(&name).await {
                    state.set_text(&service::status_words(status.enabled, &status.state));
                }
            });
            group.add(&action);
        }
        page.add(&group);

        let more = adw::PreferencesGroup::builder().title("Add a service").description("Services that come with Tails Server. Adding one shows what it will be allowed to do first.").build();
        if let Ok(available) = &available {
            for plugin in available {
                if plugin.added == "added" {
                    continue;
                }
                let name = widgets::safe(&plugin.name);
                let row = adw::ActionRow::builder()
                    .title(&name)
                    .subtitle(widgets::safe(&plugin.description))
                    .build();
                let add = widgets::text_button("Add");
                widgets::name(&add, &format!("Add {name}"));
                let (app, file) = (self.clone(), plugin.file.clone());
                add.connect_clicked(move |_| consent::add_file(&app, file.clone()));
                row.add_suffix(&add);
                more.add(&row);
            }
        }
        let from_file = adw::ActionRow::builder()
            .title("Add a plugin from a file…")
            .subtitle("A .wasm plugin someone gave you")
            .activatable(true)
            .build();
        from_file.add_suffix(&gtk::Image::from_icon_name("document-open-symbolic"));
        let app = self.clone();
        from_file.connect_activated(move |_| consent::choose_file(&app));
        more.add(&from_file);
        page.add(&more);
        page.upcast()
    }

    /// Show (or show again) a service's page.
    pub fn open(self: &Rc<Self>, name: &str) {
        self.shown.replace(Some(name.to_string()));
        self.back.set_visible(true);
        self.title.set_subtitle(name);
        self.stack.set_visible_child_name("service");
        let (app, name) = (self.clone(), name.to_string());
        glib::spawn_future_local(async move {
            let page = service::page(&app, &name).await;
            if app.shown.borrow().as_deref() != Some(name.as_str()) {
                return;
            }
            while let Some(child) = app.page_holder.first_child() {
                app.page_holder.remove(&child);
            }
            app.page_holder.append(&page);
        });
    }
}

/// libadwaita 1.2 gives a toast's close button no name that assistive
/// technology can say (the window's accessibility test found it). Toasts
/// are the overlay's own children, their button one of theirs.
fn name_toast_buttons(overlay: &gtk::Widget) {
    let children = |w: &gtk::Widget| std::iter::successors(w.first_child(), |c| c.next_sibling());
    for toast in children(overlay).filter(|c| c.type_().name() == "AdwToastWidget") {
        for button in children(&toast).filter(|c| c.is::<gtk::Button>()) {
            widgets::name(&button, "Dismiss the message");
        }
    }
}

fn tor_words(tor: &daemon::Answer<TorStatus>) -> String {
    match tor {
        Ok(t) if t.bootstrapped => "Connected to the Tor network".into(),
        Ok(t) => format!(
            "Connecting to the Tor network: {}% ({})",
            t.progress,
            widgets::safe(&t.summary)
        ),
        // The first line says what is wrong; the rest is for the command line.
        Err(e) => widgets::safe(e.lines().next().unwrap_or_default()),
    }
}
