//! One service's page (template `ui/service-page.ui`): what it is, the
//! switch that enables it (with the job's steps while it runs), sharing,
//! its options, what its plugin may do, and removing it. Everything shown
//! comes from the daemon's documents. The page tells the window only what
//! the daemon said (`said`) and that the service is gone (`removed`).

use std::cell::{Cell, OnceCell, RefCell};

use adw::prelude::*;
use adw::subclass::prelude::*;
use gtk::glib;
use gtk::glib::subclass::Signal;

use tails_server_types::documents::{Info, State};
use tails_server_types::{Progress, STEPS};

use crate::i18n::{tr, trf};
use crate::widgets::{self, Feedback};
use crate::{daemon, options, sharing};

/// "Running · published", in short words for a list.
pub fn status_words(enabled: bool, state: &State) -> String {
    match (enabled, state.running == Some(true), state.published) {
        (false, _, _) => tr("Off"),
        (true, true, true) => tr("On · published"),
        (true, false, _) => tr("On · not running"),
        (true, true, false) => tr("On · not published"),
    }
}

mod imp {
    use std::sync::OnceLock;

    use super::*;

    #[derive(Default, gtk::CompositeTemplate, glib::Properties)]
    #[template(file = "ui/service-page.ui")]
    #[properties(wrapper_type = super::ServicePage)]
    pub struct ServicePage {
        #[template_child]
        pub content: TemplateChild<gtk::Stack>,
        #[template_child]
        pub problem: TemplateChild<adw::StatusPage>,
        #[template_child]
        pub page: TemplateChild<adw::PreferencesPage>,
        #[template_child]
        pub top: TemplateChild<adw::PreferencesGroup>,
        #[template_child]
        pub enable_row: TemplateChild<adw::SwitchRow>,
        #[template_child]
        pub progress_row: TemplateChild<adw::ActionRow>,
        #[template_child]
        pub bar: TemplateChild<gtk::ProgressBar>,
        #[template_child]
        pub said_row: TemplateChild<adw::PreferencesRow>,
        #[template_child]
        pub said: TemplateChild<gtk::Label>,
        #[template_child]
        pub client_row: TemplateChild<adw::ActionRow>,
        /// The service shown.
        #[property(get)]
        pub service: RefCell<String>,
        /// The window is narrow (its breakpoint): rows keep fewer buttons.
        #[property(get, set)]
        pub narrow: Cell<bool>,
        /// Set while the page itself moves the switch: that starts no job.
        pub syncing: Cell<bool>,
        /// The groups made from the daemon's answer, removed at each reload.
        pub groups: RefCell<Vec<adw::PreferencesGroup>>,
        pub generation: Cell<u64>,
        pub feedback: OnceCell<Feedback>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for ServicePage {
        const NAME: &'static str = "TailsServerServicePage";
        type Type = super::ServicePage;
        type ParentType = adw::NavigationPage;

        fn class_init(klass: &mut Self::Class) {
            klass.bind_template();
        }

        fn instance_init(obj: &glib::subclass::InitializingObject<Self>) {
            obj.init_template();
        }
    }

    #[glib::derived_properties]
    impl ObjectImpl for ServicePage {
        fn signals() -> &'static [Signal] {
            static SIGNALS: OnceLock<Vec<Signal>> = OnceLock::new();
            SIGNALS.get_or_init(|| {
                vec![
                    Signal::builder("said").param_types([String::static_type()]).build(),
                    Signal::builder("removed").build(),
                ]
            })
        }

        fn constructed(&self) {
            self.parent_constructed();
            let obj = self.obj();
            widgets::name(&*self.said, &tr("What the service is doing"));
            let (said, reload) = (obj.downgrade(), obj.downgrade());
            let feedback = Feedback::new(
                &*obj,
                move |words| {
                    if let Some(page) = said.upgrade() {
                        page.emit_by_name::<()>("said", &[&words.to_string()]);
                    }
                },
                move || {
                    if let Some(page) = reload.upgrade() {
                        page.reload();
                    }
                },
            );
            let _ = self.feedback.set(feedback);
            let page = obj.downgrade();
            self.enable_row.connect_active_notify(move |row| {
                let Some(page) = page.upgrade() else { return };
                if page.imp().syncing.get() {
                    return;
                }
                glib::spawn_future_local(page.switch(row.is_active()));
            });
        }
    }
    impl WidgetImpl for ServicePage {}
    impl NavigationPageImpl for ServicePage {}
}

glib::wrapper! {
    pub struct ServicePage(ObjectSubclass<imp::ServicePage>)
        @extends adw::NavigationPage, gtk::Widget,
        @implements gtk::Accessible, gtk::Buildable, gtk::ConstraintTarget;
}

impl ServicePage {
    pub fn new(service: &str) -> ServicePage {
        let page: ServicePage = glib::Object::builder().build();
        page.imp().service.replace(service.to_string());
        page.set_title(service);
        page.reload();
        page
    }

    fn feedback(&self) -> &Feedback {
        self.imp().feedback.get().expect("made when the page is constructed")
    }

    /// `f(words)` with what the daemon said it did.
    pub fn connect_said(&self, f: impl Fn(&str) + 'static) -> glib::SignalHandlerId {
        self.connect_closure(
            "said",
            false,
            glib::closure_local!(move |_: ServicePage, words: String| f(&words)),
        )
    }

    /// `f()` once the service is removed.
    pub fn connect_removed(&self, f: impl Fn() + 'static) -> glib::SignalHandlerId {
        self.connect_closure("removed", false, glib::closure_local!(move |_: ServicePage| f()))
    }

    /// Show the page again from the daemon, unless a change made here is
    /// still under way (its end shows the page again).
    pub fn reload_unless_held(&self) {
        if !self.feedback().held() {
            self.reload();
        }
    }

    /// Show the page again from the daemon.
    pub fn reload(&self) {
        let generation = self.imp().generation.get() + 1;
        self.imp().generation.set(generation);
        let page = self.clone();
        glib::spawn_future_local(async move {
            let name = page.service();
            let info = daemon::info(&name).await;
            let plugin = plugin_group(page.feedback(), &name).await;
            if page.imp().generation.get() == generation {
                page.show(info, plugin);
            }
        });
    }

    fn show(&self, info: daemon::Answer<Info>, plugin: adw::PreferencesGroup) {
        let imp = self.imp();
        let name = self.service();
        let info = match info {
            Ok(info) => info,
            Err(e) => {
                imp.problem.set_description(Some(&widgets::safe(&e)));
                imp.content.set_visible_child_name("problem");
                return;
            }
        };
        let shown_name = match info.names.as_ref().and_then(|n| n.name_in_gui.as_deref()) {
            Some(n) if !n.is_empty() => widgets::safe(n),
            _ => name.clone(),
        };
        self.set_title(&shown_name);
        imp.top.set_title(&shown_name);
        imp.top.set_description(Some(&widgets::safe(&info.description)));
        let enabled = info.details.as_ref().is_some_and(|d| d.enabled);
        imp.syncing.set(true);
        imp.enable_row.set_active(enabled);
        imp.syncing.set(false);
        imp.enable_row.set_subtitle(&status_words(enabled, &info.state));
        widgets::name_switch_row(&imp.enable_row, &trf("Enable {}", &[&name]));
        let client_app = widgets::safe(
            info.details
                .as_ref()
                .and_then(|d| d.client_application_in_gui.as_deref())
                .unwrap_or(""),
        );
        imp.client_row.set_subtitle(&client_app);
        imp.client_row.set_visible(!client_app.is_empty());

        for group in imp.groups.take() {
            imp.page.remove(&group);
        }
        // Sharing first after the switch: the address and keys are what a
        // person opens the page for once the service runs.
        let mut groups = vec![sharing::group(self.feedback(), &name, &info, self.upcast_ref())];
        groups.extend(options::groups(self.feedback(), &name, &info));
        groups.push(plugin);
        for group in &groups {
            imp.page.add(group);
        }
        imp.groups.replace(groups);
        imp.content.set_visible_child_name("page");
    }

    /// Enable (or disable) the service, following the job on the page.
    async fn switch(self, enable: bool) {
        let imp = self.imp();
        let feedback = self.feedback().clone();
        let hold = feedback.hold();
        let name = self.service();
        imp.enable_row.set_sensitive(false);
        imp.progress_row.set_title(&if enable { tr("Enabling…") } else { tr("Disabling…") });
        imp.progress_row.set_visible(true);
        imp.said_row.set_visible(true);
        imp.said.set_text("");
        imp.bar.set_fraction(0.0);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let job = name.clone();
        let answer =
            glib::spawn_future_local(async move { daemon::switch(&job, enable, tx).await });
        let mut lines: Vec<String> = Vec::new();
        let mut steps = 0usize;
        while let Some(p) = rx.recv().await {
            if matches!(p, Progress::Done { .. }) {
                steps += 1;
                imp.bar.set_fraction(steps as f64 / STEPS.len() as f64);
            }
            // At most the last 40 lines: a flood cannot grow the window.
            lines.push(widgets::safe(&p.line().1));
            if lines.len() > 40 {
                lines.remove(0);
            }
            imp.said.set_text(&lines.join("\n"));
        }
        let answer =
            answer.await.unwrap_or_else(|_| Err(tr("the window stopped following the job")));
        imp.progress_row.set_visible(false);
        imp.enable_row.set_sensitive(true);
        drop(hold);
        match answer {
            Ok(words) => {
                // The toast says what happened; the steps' lines stay only
                // when something went wrong.
                imp.said_row.set_visible(false);
                feedback.said(&words);
                self.reload();
            }
            Err(e) => {
                imp.syncing.set(true);
                imp.enable_row.set_active(!enable);
                imp.syncing.set(false);
                imp.enable_row.set_subtitle(&widgets::safe(&trf("Failed: {}", &[&e])));
                feedback.error(
                    &if enable {
                        tr("The service could not be enabled")
                    } else {
                        tr("The service could not be disabled")
                    },
                    &e,
                );
            }
        }
    }
}

/// What the plugin may do (granted or refused), its build, and removing it.
async fn plugin_group(feedback: &Feedback, name: &str) -> adw::PreferencesGroup {
    let group = adw::PreferencesGroup::builder().title(tr("Plugin")).build();
    match daemon::plugin(name).await {
        Ok(shown) => {
            let caps = adw::ExpanderRow::builder()
                .title(tr("What it may do"))
                .subtitle(widgets::safe(&shown.from))
                .build();
            for cap in &shown.capabilities {
                let row = adw::ActionRow::builder()
                    .title(widgets::safe(&cap.capability))
                    .subtitle(if cap.granted { tr("allowed") } else { tr("refused") })
                    .build();
                caps.add_row(&row);
            }
            group.add(&caps);
            let build = adw::ActionRow::builder()
                .title(tr("Build (sha256)"))
                .subtitle(widgets::safe(&shown.sha256))
                .subtitle_selectable(true)
                .build();
            build.add_css_class("property");
            group.add(&build);
        }
        Err(e) => group.set_description(Some(&widgets::safe(&e))),
    }
    let remove_row = adw::ActionRow::builder()
        .title(tr("Remove this service"))
        .subtitle(tr("Its settings, keys and clients are deleted; its address is gone for good."))
        .build();
    let remove = widgets::text_button(&tr("Remove…"));
    remove.add_css_class("destructive-action");
    widgets::name(&remove, &trf("Remove {}", &[name]));
    let (feedback, name) = (feedback.clone(), name.to_string());
    remove.connect_clicked(move |_| {
        let (feedback, name) = (feedback.clone(), name.clone());
        glib::spawn_future_local(async move {
            let body = trf("{}'s settings, its onion address and its clients' keys are deleted. Disable it first if it is on.", &[&name]);
            let heading = trf("Remove {}?", &[&name]);
            if !widgets::ask(&feedback.parent, &heading, &body, &tr("_Remove"), true).await {
                return;
            }
            match daemon::remove_plugin(&name).await {
                Ok(words) => {
                    feedback.said(&words);
                    feedback.parent.emit_by_name::<()>("removed", &[]);
                }
                Err(e) => feedback.error(&tr("The service could not be removed"), &e),
            }
        });
    });
    remove_row.add_suffix(&remove);
    group.add(&remove_row);
    group
}
