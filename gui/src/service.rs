//! One service's page: what it is, the switch that enables it (with the job's
//! steps while it runs), its options, sharing, what the plugin may do, and
//! removing it. Everything shown comes from the daemon's documents.

use std::rc::Rc;

use adw::prelude::*;
use gtk::glib;
use tails_server_types::documents::State;
use tails_server_types::{Progress, STEPS};

use crate::widgets;
use crate::window::App;
use crate::{daemon, options, sharing};

/// "Running · published", in short words for a list.
pub fn status_words(enabled: bool, state: &State) -> String {
    match (enabled, state.running == Some(true), state.published) {
        (false, _, _) => "Off".into(),
        (true, true, true) => "On · published".into(),
        (true, false, _) => "On · not running".into(),
        (true, true, false) => "On · not published".into(),
    }
}

pub async fn page(app: &Rc<App>, name: &str) -> gtk::Widget {
    let info = match daemon::info(name).await {
        Ok(info) => info,
        Err(e) => {
            return adw::StatusPage::builder()
                .icon_name("dialog-error-symbolic")
                .title("This service cannot be shown")
                .description(widgets::safe(&e))
                .build()
                .upcast()
        }
    };
    let page = adw::PreferencesPage::new();
    let shown_name = match info.names.as_ref().and_then(|n| n.name_in_gui.as_deref()) {
        Some(n) if !n.is_empty() => widgets::safe(n),
        _ => name.to_string(),
    };

    let top = adw::PreferencesGroup::builder()
        .title(&shown_name)
        .description(widgets::safe(&info.description))
        .build();
    let enabled = info.details.as_ref().is_some_and(|d| d.enabled);
    let switch_row = adw::ActionRow::builder()
        .title("Enabled")
        .subtitle(status_words(enabled, &info.state))
        .build();
    let switch = gtk::Switch::builder().active(enabled).valign(gtk::Align::Center).build();
    switch_row.add_suffix(&switch);
    switch_row.set_activatable_widget(Some(&switch));
    // After: libadwaita 1.7 labels the row's widget with the row's title.
    widgets::name(&switch, &format!("Enable {name}"));
    top.add(&switch_row);

    // While a job runs: a bar of steps and the lines it says.
    let progress_row = adw::ActionRow::builder().title("Working…").visible(false).build();
    let bar = gtk::ProgressBar::builder().valign(gtk::Align::Center).hexpand(true).build();
    progress_row.add_suffix(&bar);
    top.add(&progress_row);
    let said = gtk::Label::builder()
        .xalign(0.0)
        .wrap(true)
        .selectable(true)
        .css_classes(["monospace", "caption"])
        .build();
    widgets::name(&said, "What the service is doing");
    let said_row = adw::PreferencesRow::builder().child(&said).visible(false).build();
    top.add(&said_row);

    let client_app = widgets::safe(
        info.details.as_ref().and_then(|d| d.client_application_in_gui.as_deref()).unwrap_or(""),
    );
    if !client_app.is_empty() {
        let row = adw::ActionRow::builder().title("Connect with").subtitle(&client_app).build();
        top.add(&row);
    }
    page.add(&top);

    {
        let (app, name, switch_row, progress_row, said_row) = (
            app.clone(),
            name.to_string(),
            switch_row.clone(),
            progress_row.clone(),
            said_row.clone(),
        );
        switch.connect_state_set(move |switch, on| {
            if app.busy.borrow().contains(&name) {
                return glib::Propagation::Stop;
            }
            let job = Job {
                app: app.clone(),
                name: name.clone(),
                switch: switch.clone(),
                row: switch_row.clone(),
                progress: progress_row.clone(),
                said_row: said_row.clone(),
                said: said.clone(),
                bar: bar.clone(),
            };
            glib::spawn_future_local(job.run(on));
            glib::Propagation::Stop
        });
    }

    // Sharing first after the switch: the address and keys are what a
    // person opens the page for once the service runs.
    page.add(&sharing::group(app, name, &info));
    for group in options::groups(app, name, &info) {
        page.add(&group);
    }
    page.add(&plugin_group(app, name).await);
    page.upcast()
}

/// An enable or disable followed to its end on the page.
struct Job {
    app: Rc<App>,
    name: String,
    switch: gtk::Switch,
    row: adw::ActionRow,
    progress: adw::ActionRow,
    said_row: adw::PreferencesRow,
    said: gtk::Label,
    bar: gtk::ProgressBar,
}

impl Job {
    async fn run(self, enable: bool) {
        self.app.busy.borrow_mut().insert(self.name.clone());
        self.switch.set_sensitive(false);
        self.progress.set_title(if enable { "Enabling…" } else { "Disabling…" });
        self.progress.set_visible(true);
        self.said_row.set_visible(true);
        self.said.set_text("");
        self.bar.set_fraction(0.0);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let name = self.name.clone();
        let answer =
            glib::spawn_future_local(async move { daemon::switch(&name, enable, tx).await });
        let mut lines: Vec<String> = Vec::new();
        let mut steps = 0usize;
        while let Some(p) = rx.recv().await {
            if matches!(p, Progress::Done { .. }) {
                steps += 1;
                self.bar.set_fraction(steps as f64 / STEPS.len() as f64);
            }
            // At most the last 40 lines: a flood cannot grow the window.
            lines.push(widgets::safe(&p.line().1));
            if lines.len() > 40 {
                lines.remove(0);
            }
            self.said.set_text(&lines.join("\n"));
        }
        let answer =
            answer.await.unwrap_or_else(|_| Err("the window stopped following the job".into()));
        self.progress.set_visible(false);
        match &answer {
            Ok(words) => {
                self.switch.set_state(enable);
                self.app.said(words);
            }
            Err(e) => {
                // Put back while still busy: this starts no new job.
                self.switch.set_active(!enable);
                self.switch.set_state(!enable);
                self.row.set_subtitle(&widgets::safe(&format!("Failed: {e}")));
            }
        }
        self.app.busy.borrow_mut().remove(&self.name);
        self.switch.set_sensitive(true);
        match answer {
            Ok(_) => self.app.open(&self.name),
            Err(e) => widgets::error(
                &self.app.window,
                if enable {
                    "The service could not be enabled"
                } else {
                    "The service could not be disabled"
                },
                &e,
            ),
        }
    }
}

/// What the plugin may do (granted or refused), its build, and removing it.
async fn plugin_group(app: &Rc<App>, name: &str) -> adw::PreferencesGroup {
    let group = adw::PreferencesGroup::builder().title("Plugin").build();
    match daemon::plugin(name).await {
        Ok(shown) => {
            let caps = adw::ExpanderRow::builder()
                .title("What it may do")
                .subtitle(widgets::safe(&shown.from))
                .build();
            for cap in &shown.capabilities {
                let row = adw::ActionRow::builder()
                    .title(widgets::safe(&cap.capability))
                    .subtitle(if cap.granted { "allowed" } else { "refused" })
                    .build();
                caps.add_row(&row);
            }
            group.add(&caps);
            let build = adw::ActionRow::builder().title("Build (sha256)").build();
            build.add_suffix(&widgets::value_label(&widgets::safe(&shown.sha256)));
            group.add(&build);
        }
        Err(e) => group.set_description(Some(&widgets::safe(&e))),
    }
    let remove_row = adw::ActionRow::builder()
        .title("Remove this service")
        .subtitle("Its settings, keys and clients are deleted; its address is gone for good.")
        .build();
    let remove = widgets::text_button("Remove…");
    remove.add_css_class("destructive-action");
    widgets::name(&remove, &format!("Remove {name}"));
    let (app, name) = (app.clone(), name.to_string());
    remove.connect_clicked(move |_| {
        let (app, name) = (app.clone(), name.clone());
        glib::spawn_future_local(async move {
            let body = format!("{name}'s settings, its onion address and its clients' keys are deleted. Disable it first if it is on.");
            if !widgets::ask(&app.window, &format!("Remove {name}?"), &body, "_Remove", true).await {
                return;
            }
            match daemon::remove_plugin(&name).await {
                Ok(words) => {
                    app.said(&words);
                    app.show_list();
                }
                Err(e) => widgets::error(&app.window, "The service could not be removed", &e),
            }
        });
    });
    remove_row.add_suffix(&remove);
    group.add(&remove_row);
    group
}
