//! The main window (template `ui/window.ui`): a navigation view whose first
//! page is the services list; a service's page is pushed on it. The window
//! listens to its pages' signals and to the daemon's ServiceChanged, and
//! shows toasts. It decides nothing: every answer is the daemon's.

use adw::prelude::*;
use adw::subclass::prelude::*;
use gtk::glib;

use crate::i18n::tr;
use crate::service_page::ServicePage;
use crate::services_page::ServicesPage;
use crate::{consent, daemon, widgets};

mod imp {
    use std::cell::Cell;

    use super::*;

    #[derive(Default, gtk::CompositeTemplate, glib::Properties)]
    #[template(file = "ui/window.ui")]
    #[properties(wrapper_type = super::Window)]
    pub struct Window {
        #[template_child]
        pub toasts: TemplateChild<adw::ToastOverlay>,
        #[template_child]
        pub navigation: TemplateChild<adw::NavigationView>,
        #[template_child]
        pub services: TemplateChild<ServicesPage>,
        /// Set by the window's breakpoint: 500sp wide or less.
        #[property(get, set)]
        pub narrow: Cell<bool>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for Window {
        const NAME: &'static str = "TailsServerWindow";
        type Type = super::Window;
        type ParentType = adw::ApplicationWindow;

        fn class_init(klass: &mut Self::Class) {
            ServicesPage::ensure_type();
            klass.bind_template();
        }

        fn instance_init(obj: &glib::subclass::InitializingObject<Self>) {
            obj.init_template();
        }
    }

    #[glib::derived_properties]
    impl ObjectImpl for Window {
        fn constructed(&self) {
            self.parent_constructed();
            self.obj().connect_pages();
        }
    }
    impl WidgetImpl for Window {}
    impl WindowImpl for Window {}
    impl ApplicationWindowImpl for Window {}
    impl AdwApplicationWindowImpl for Window {}
}

glib::wrapper! {
    pub struct Window(ObjectSubclass<imp::Window>)
        @extends adw::ApplicationWindow, gtk::ApplicationWindow, gtk::Window, gtk::Widget,
        @implements gtk::gio::ActionGroup, gtk::gio::ActionMap, gtk::Accessible, gtk::Buildable,
            gtk::ConstraintTarget, gtk::Native, gtk::Root, gtk::ShortcutManager;
}

impl Window {
    pub fn new(application: &adw::Application) -> Window {
        let window: Window = glib::Object::builder().property("application", application).build();
        window.actions(application);
        window.follow_changes();
        window
    }

    fn connect_pages(&self) {
        let services = self.imp().services.get();
        services.connect_open_service(glib::clone!(
            #[weak(rename_to = window)]
            self,
            move |name| window.open(name)
        ));
        services.connect_add_plugin(glib::clone!(
            #[weak(rename_to = window)]
            self,
            move |path| window.add_file(path.into())
        ));
        // The list is filled anew whenever it is shown again.
        self.imp().navigation.connect_visible_page_notify(|navigation| {
            if let Some(services) = navigation.visible_page().and_downcast::<ServicesPage>() {
                services.fill();
            }
        });
    }

    fn actions(&self, application: &adw::Application) {
        let add = gtk::gio::SimpleAction::new("add-file", None);
        add.connect_activate(glib::clone!(
            #[weak(rename_to = window)]
            self,
            move |_, _| window.choose_file()
        ));
        application.add_action(&add);
        application.set_accels_for_action("app.add-file", &["<Control>o"]);
        let about = gtk::gio::SimpleAction::new("about", None);
        about.connect_activate(glib::clone!(
            #[weak(rename_to = window)]
            self,
            move |_, _| window.about()
        ));
        application.add_action(&about);
        let quit = gtk::gio::SimpleAction::new("quit", None);
        quit.connect_activate(glib::clone!(
            #[weak(rename_to = window)]
            self,
            move |_, _| window.close()
        ));
        application.add_action(&quit);
        application.set_accels_for_action("app.quit", &["<Control>q"]);
        // The navigation view goes back with Alt+Left and Escape while it
        // has the focus; this works wherever the focus is.
        let back = gtk::gio::SimpleAction::new("back", None);
        back.connect_activate(glib::clone!(
            #[weak(rename_to = window)]
            self,
            move |_, _| window.show_list()
        ));
        application.add_action(&back);
        application.set_accels_for_action("app.back", &["<Alt>Left"]);
    }

    fn about(&self) {
        let about = adw::AboutDialog::builder()
            .application_name(tr("Tails Server"))
            .application_icon(crate::APP_ID)
            .version(env!("CARGO_PKG_VERSION"))
            .comments(tr("Host a chat, a shared text editor, a web site, a file drop or a wiki on this computer, as a Tor onion service that only the people you choose can reach."))
            .license_type(gtk::License::Gpl30)
            .build();
        about.present(Some(self));
    }

    /// Show the services list (filled again from the daemon).
    pub fn show_list(&self) {
        let navigation = &self.imp().navigation;
        if navigation.visible_page().is_some_and(|p| p.is::<ServicesPage>()) {
            self.imp().services.fill();
        } else {
            navigation.pop_to_tag("services");
        }
    }

    /// Push a service's page (or show the one shown again).
    pub fn open(&self, name: &str) {
        let navigation = &self.imp().navigation;
        if let Some(page) = navigation.visible_page().and_downcast::<ServicePage>() {
            if page.service() == name {
                return page.reload();
            }
            navigation.pop_to_tag("services");
        }
        let page = ServicePage::new(name);
        page.connect_said(glib::clone!(
            #[weak(rename_to = window)]
            self,
            move |words| window.said(words)
        ));
        page.connect_removed(glib::clone!(
            #[weak(rename_to = window)]
            self,
            move || window.show_list()
        ));
        self.bind_property("narrow", &page, "narrow").sync_create().build();
        navigation.push(&page);
    }

    fn choose_file(&self) {
        let window = self.clone();
        glib::spawn_future_local(async move {
            let filter = gtk::FileFilter::new();
            filter.set_name(Some(&tr("Tails Server plugins (.wasm)")));
            filter.add_pattern("*.wasm");
            if let Some(path) = widgets::open_file(&window, &tr("Add a plugin"), &filter).await {
                window.add_file(path);
            }
        });
    }

    /// The consent dialog for a plugin file, then its page once added.
    pub fn add_file(&self, path: std::path::PathBuf) {
        let window = self.clone();
        glib::spawn_future_local(async move {
            match consent::add_file(&window, &path).await {
                consent::Outcome::Added { name, words } => {
                    window.said(&words);
                    window.open(&name);
                }
                consent::Outcome::Said(words) => window.toast(&words),
                consent::Outcome::Nothing => {}
            }
        });
    }

    /// What the daemon says it did. Its first line says what happened; the
    /// lines after it are hints for a terminal (commands to type), left out
    /// here, and `code` quotes become quotation marks.
    pub fn said(&self, words: &str) {
        self.toast(&first_line_for_people(words));
    }

    pub fn toast(&self, text: &str) {
        let toast = adw::Toast::new(&widgets::safe(text));
        toast.set_timeout(6);
        // A queued toast's widget is made when the one before it goes.
        let overlay = self.imp().toasts.get();
        toast.connect_dismissed(move |_| {
            let overlay = overlay.clone();
            glib::idle_add_local_once(move || name_toast_buttons(overlay.upcast_ref()));
        });
        self.imp().toasts.add_toast(toast);
        name_toast_buttons(self.imp().toasts.upcast_ref());
    }

    fn follow_changes(&self) {
        let mut changes = daemon::changes();
        let window = self.downgrade();
        glib::spawn_future_local(async move {
            while let Some(name) = changes.recv().await {
                let Some(window) = window.upgrade() else { return };
                // Only what is on screen is asked again; the list is filled
                // anew when the person goes back to it.
                let visible = window.imp().navigation.visible_page();
                if let Some(services) = visible.and_downcast_ref::<ServicesPage>() {
                    services.fill();
                } else if let Some(page) = visible.and_downcast_ref::<ServicePage>() {
                    if page.service() == name {
                        page.reload_unless_held();
                    }
                }
            }
        });
    }
}

/// A toast's close button has no name that assistive technology can say
/// (the window's accessibility test found it in libadwaita 1.2). Toasts are
/// the overlay's own children, their button one of theirs.
fn name_toast_buttons(overlay: &gtk::Widget) {
    let children = |w: &gtk::Widget| std::iter::successors(w.first_child(), |c| c.next_sibling());
    for toast in children(overlay).filter(|c| c.type_().name() == "AdwToastWidget") {
        for button in children(&toast).filter(|c| c.is::<gtk::Button>()) {
            widgets::name(&button, &tr("Dismiss the message"));
        }
    }
}

/// The daemon's first line, with `code` quotes as quotation marks.
fn first_line_for_people(words: &str) -> String {
    let first = words.lines().next().unwrap_or(words);
    let mut open = false;
    first
        .chars()
        .map(|c| match c {
            '`' => {
                open = !open;
                if open {
                    '“'
                } else {
                    '”'
                }
            }
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_first_line_is_said_with_quotation_marks() {
        assert_eq!(
            super::first_line_for_people("Enabled `web`.\nRun `tails-server web info`."),
            "Enabled “web”."
        );
    }
}
