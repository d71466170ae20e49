//! The services list (template `ui/services-page.ui`): Tor's state, the
//! services added with their live state, the shipped ones not added yet.
//! It asks for nothing itself: choosing a service emits `open-service`, a
//! shipped plugin's Add emits `add-plugin` with its file, and adding from a
//! file is the application's `add-file` action.

use std::cell::{Cell, RefCell};

use adw::prelude::*;
use adw::subclass::prelude::*;
use gtk::glib;
use gtk::glib::subclass::Signal;

use tails_server_types::documents::TorStatus;

use crate::i18n::{tr, trf};
use crate::{daemon, widgets};

mod imp {
    use std::sync::OnceLock;

    use super::*;

    #[derive(Default, gtk::CompositeTemplate)]
    #[template(file = "ui/services-page.ui")]
    pub struct ServicesPage {
        #[template_child]
        pub content: TemplateChild<gtk::Stack>,
        #[template_child]
        pub menu_button: TemplateChild<gtk::MenuButton>,
        #[template_child]
        pub tor_row: TemplateChild<adw::ActionRow>,
        #[template_child]
        pub services_group: TemplateChild<adw::PreferencesGroup>,
        #[template_child]
        pub available_group: TemplateChild<adw::PreferencesGroup>,
        #[template_child]
        pub from_file: TemplateChild<adw::ActionRow>,
        #[template_child]
        pub unreachable: TemplateChild<adw::StatusPage>,
        #[template_child]
        pub retry: TemplateChild<gtk::Button>,
        /// The rows made from the daemon's answers, removed at each fill.
        pub rows: RefCell<Vec<(adw::PreferencesGroup, adw::ActionRow)>>,
        /// Only the newest fill is shown when answers cross.
        pub generation: Cell<u64>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for ServicesPage {
        const NAME: &'static str = "TailsServerServicesPage";
        type Type = super::ServicesPage;
        type ParentType = adw::NavigationPage;

        fn class_init(klass: &mut Self::Class) {
            klass.bind_template();
        }

        fn instance_init(obj: &glib::subclass::InitializingObject<Self>) {
            obj.init_template();
        }
    }

    impl ObjectImpl for ServicesPage {
        fn signals() -> &'static [Signal] {
            static SIGNALS: OnceLock<Vec<Signal>> = OnceLock::new();
            SIGNALS.get_or_init(|| {
                vec![
                    Signal::builder("open-service").param_types([String::static_type()]).build(),
                    Signal::builder("add-plugin").param_types([String::static_type()]).build(),
                ]
            })
        }

        fn constructed(&self) {
            self.parent_constructed();
            widgets::name(&*self.menu_button, &tr("Main menu"));
            widgets::name(&*self.retry, &tr("Try again"));
            let page = self.obj().downgrade();
            self.retry.connect_clicked(move |_| {
                if let Some(page) = page.upgrade() {
                    page.fill();
                }
            });
        }
    }
    impl WidgetImpl for ServicesPage {}
    impl NavigationPageImpl for ServicesPage {}
}

glib::wrapper! {
    pub struct ServicesPage(ObjectSubclass<imp::ServicesPage>)
        @extends adw::NavigationPage, gtk::Widget,
        @implements gtk::Accessible, gtk::Buildable, gtk::ConstraintTarget;
}

impl ServicesPage {
    /// `f(name)` when the person opens a service.
    pub fn connect_open_service(&self, f: impl Fn(&str) + 'static) -> glib::SignalHandlerId {
        self.connect_closure(
            "open-service",
            false,
            glib::closure_local!(move |_: ServicesPage, name: String| f(&name)),
        )
    }

    /// `f(file)` when the person adds a shipped plugin.
    pub fn connect_add_plugin(&self, f: impl Fn(&str) + 'static) -> glib::SignalHandlerId {
        self.connect_closure(
            "add-plugin",
            false,
            glib::closure_local!(move |_: ServicesPage, file: String| f(&file)),
        )
    }

    /// Fill the list again from the daemon.
    pub fn fill(&self) {
        let generation = self.imp().generation.get() + 1;
        self.imp().generation.set(generation);
        let page = self.clone();
        glib::spawn_future_local(async move {
            let (services, available, tor) =
                (daemon::services().await, daemon::available().await, daemon::tor_status().await);
            if page.imp().generation.get() != generation {
                return;
            }
            page.show(services, available, tor);
            crate::timing::mark("listed");
        });
    }

    fn show(
        &self,
        services: daemon::Answer<Vec<tails_server_types::documents::ServiceRow>>,
        available: daemon::Answer<Vec<tails_server_types::documents::AvailablePlugin>>,
        tor: daemon::Answer<TorStatus>,
    ) {
        let imp = self.imp();
        let services = match services {
            Ok(s) => s,
            Err(e) => {
                imp.unreachable.set_description(Some(&widgets::safe(&e)));
                imp.content.set_visible_child_name("unreachable");
                return;
            }
        };
        imp.content.set_visible_child_name("list");
        for (group, row) in imp.rows.take() {
            group.remove(&row);
        }
        imp.tor_row.set_subtitle(&tor_words(&tor));

        let group = imp.services_group.get();
        group.set_description(
            services.is_empty().then(|| tr("None yet: add one below.")).as_deref(),
        );
        for service in &services {
            let name = widgets::safe(&service.name);
            let row = adw::ActionRow::builder()
                .title(&name)
                .subtitle(widgets::safe(&service.description))
                .activatable(true)
                .build();
            row.add_prefix(&widgets::service_icon(&service.icon_name));
            let state = gtk::Label::new(Some(&if service.enabled { tr("On") } else { tr("Off") }));
            state.add_css_class("dim-label");
            row.add_suffix(&state);
            row.add_suffix(&gtk::Image::from_icon_name("go-next-symbolic"));
            let (page, raw) = (self.downgrade(), service.name.clone());
            row.connect_activated(move |_| {
                if let Some(page) = page.upgrade() {
                    page.emit_by_name::<()>("open-service", &[&raw]);
                }
            });
            // The live state (running, published) when the daemon says it.
            let raw = service.name.clone();
            glib::spawn_future_local(async move {
                if let Ok(status) = daemon::status(&raw).await {
                    state.set_text(&crate::service_page::status_words(
                        status.enabled,
                        &status.state,
                    ));
                }
            });
            group.add(&row);
            imp.rows.borrow_mut().push((group.clone(), row));
        }

        // The shipped plugins not added yet, then "from a file" last.
        let more = imp.available_group.get();
        more.remove(&*imp.from_file);
        for plugin in available.iter().flatten().filter(|p| p.added != "added") {
            let name = widgets::safe(&plugin.name);
            let row = adw::ActionRow::builder()
                .title(&name)
                .subtitle(widgets::safe(&plugin.description))
                .build();
            row.add_prefix(&widgets::service_icon(&plugin.icon_name));
            let add = widgets::text_button(&tr("Add"));
            widgets::name(&add, &trf("Add {}", &[&name]));
            let (page, file) = (self.downgrade(), plugin.file.display().to_string());
            add.connect_clicked(move |_| {
                if let Some(page) = page.upgrade() {
                    page.emit_by_name::<()>("add-plugin", &[&file]);
                }
            });
            row.add_suffix(&add);
            more.add(&row);
            imp.rows.borrow_mut().push((more.clone(), row));
        }
        more.add(&*imp.from_file);
    }
}

fn tor_words(tor: &daemon::Answer<TorStatus>) -> String {
    match tor {
        Ok(t) if t.bootstrapped => tr("Connected to the Tor network"),
        Ok(t) => trf(
            "Connecting to the Tor network: {}% ({})",
            &[&t.progress.to_string(), &widgets::safe(&t.summary)],
        ),
        // The first line says what is wrong; the rest is for the command line.
        Err(e) => widgets::safe(e.lines().next().unwrap_or_default()),
    }
}
