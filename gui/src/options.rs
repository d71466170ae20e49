//! A service's options rendered from their specs (`option-details`): one
//! group per heading, the widget for each kind, secrets masked, read-only
//! ones shown but not editable, and a value the plugin refuses shown with
//! the plugin's words under the field.

use std::rc::Rc;

use adw::prelude::*;
use gtk::glib;
use serde_json::Value;

use crate::daemon::{self, Change};
use tails_server_types::documents::{Info, OptionDetail, OptionKind};

use crate::widgets;
use crate::window::App;

pub fn groups(app: &Rc<App>, service: &str, info: &Info) -> Vec<adw::PreferencesGroup> {
    let mut groups: Vec<(String, adw::PreferencesGroup)> = Vec::new();
    let specs = info.details.as_ref().map(|d| d.option_details.as_slice()).unwrap_or_default();
    for spec in specs {
        let heading = match widgets::safe(&spec.group) {
            g if g.is_empty() => "Settings".to_string(),
            g => g,
        };
        let group = match groups.iter().find(|(h, _)| *h == heading) {
            Some((_, g)) => g.clone(),
            None => {
                let g = adw::PreferencesGroup::builder().title(&heading).build();
                groups.push((heading, g.clone()));
                g
            }
        };
        let name = spec.name.clone();
        let field = Field {
            app: app.clone(),
            service: service.to_string(),
            option: name.clone(),
            error: error_row(),
        };
        let value = info.options.get(&name).unwrap_or(&Value::Null);
        group.add(&field.widget(spec, value));
        group.add(&field.error);
    }
    groups.into_iter().map(|(_, g)| g).collect()
}

/// Where a refused value's words go: a row under the field, hidden until then.
fn error_row() -> adw::ActionRow {
    let row = adw::ActionRow::builder().visible(false).title_lines(0).build();
    row.add_css_class("error");
    row.add_prefix(&gtk::Image::from_icon_name("dialog-warning-symbolic"));
    row
}

#[derive(Clone)]
struct Field {
    app: Rc<App>,
    service: String,
    option: String,
    error: adw::ActionRow,
}

impl Field {
    fn widget(&self, spec: &OptionDetail, value: &Value) -> gtk::Widget {
        let title = match widgets::safe(&spec.name_in_gui) {
            t if t.is_empty() => widgets::safe(&spec.name),
            t => t,
        };
        let description = widgets::safe(&spec.description);
        let shown = match value {
            Value::String(s) => widgets::safe(s),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        if spec.read_only {
            let row = adw::ActionRow::builder().title(&title).subtitle(&description).build();
            let value = widgets::value_label(&shown);
            widgets::name(&value, &title);
            row.add_suffix(&value);
            return row.upcast();
        }
        match &spec.kind {
            OptionKind::Boolean => {
                let row = adw::ActionRow::builder().title(&title).subtitle(&description).build();
                let switch = gtk::Switch::builder()
                    .active(value.as_bool() == Some(true))
                    .valign(gtk::Align::Center)
                    .build();
                row.add_suffix(&switch);
                row.set_activatable_widget(Some(&switch));
                widgets::name(&switch, &title);
                let field = self.clone();
                switch.connect_active_notify(move |switch| {
                    field.apply(Some(switch.is_active().to_string()))
                });
                row.upcast()
            }
            OptionKind::Secret => {
                let row = adw::PasswordEntryRow::builder()
                    .title(format!("{title} (set; type a new one to change it)"))
                    .show_apply_button(true)
                    .tooltip_text(&description)
                    .build();
                let field = self.clone();
                row.connect_apply(move |row| field.apply(Some(row.text().to_string())));
                let renew = widgets::icon_button(
                    "view-refresh-symbolic",
                    &format!("Make a new random {title}"),
                );
                let field = self.clone();
                renew.connect_clicked(move |_| field.apply(None));
                row.add_suffix(&renew);
                row.upcast()
            }
            OptionKind::Port { min, max } | OptionKind::Integer { min, max } => {
                let row = adw::ActionRow::builder().title(&title).subtitle(&description).build();
                // A spin button holds an f64: ranges are bounded to what it
                // holds exactly.
                const EXACT: f64 = 9_007_199_254_740_992.0;
                let min = (*min as f64).max(-EXACT);
                let max = (*max as f64).min(EXACT);
                let spin = gtk::SpinButton::with_range(min, max, 1.0);
                spin.set_digits(0);
                spin.set_value(value.as_f64().unwrap_or(min));
                spin.set_valign(gtk::Align::Center);
                widgets::name(&spin, &title);
                let apply =
                    widgets::icon_button("object-select-symbolic", &format!("Apply {title}"));
                apply.set_visible(false);
                let a = apply.clone();
                spin.connect_value_changed(move |_| a.set_visible(true));
                let (field, s) = (self.clone(), spin.clone());
                apply.connect_clicked(move |apply| {
                    apply.set_visible(false);
                    field.apply(Some(format!("{}", s.value() as i64)));
                });
                row.add_suffix(&spin);
                row.add_suffix(&apply);
                row.upcast()
            }
            OptionKind::Choice { choices } => {
                let choices: Vec<String> = choices.iter().map(|c| widgets::safe(c)).collect();
                let refs: Vec<&str> = choices.iter().map(String::as_str).collect();
                let row = adw::ComboRow::builder()
                    .title(&title)
                    .subtitle(&description)
                    .model(&gtk::StringList::new(&refs))
                    .build();
                if let Some(i) = choices.iter().position(|c| *c == shown) {
                    row.set_selected(i as u32);
                }
                let field = self.clone();
                row.connect_selected_notify(move |row| {
                    if let Some(choice) = choices.get(row.selected() as usize) {
                        field.apply(Some(choice.clone()));
                    }
                });
                row.upcast()
            }
            OptionKind::Text => {
                let row = adw::EntryRow::builder()
                    .title(&title)
                    .text(&shown)
                    .show_apply_button(true)
                    .tooltip_text(&description)
                    .build();
                let field = self.clone();
                row.connect_apply(move |row| field.apply(Some(row.text().to_string())));
                row.upcast()
            }
        }
    }

    /// Send the value (or `None`: back to the default) to the daemon; ask
    /// first when it says the change needs the person's agreement.
    fn apply(&self, value: Option<String>) {
        let field = self.clone();
        glib::spawn_future_local(async move {
            field.error.set_visible(false);
            field.app.busy.borrow_mut().insert(field.service.clone());
            let mut answer =
                daemon::set_option(&field.service, &field.option, value.clone(), false).await;
            if let Ok(Change::Ask(question)) = &answer {
                answer = if widgets::ask(
                    &field.app.window,
                    "Are you sure?",
                    &widgets::safe(question),
                    "_Change it",
                    true,
                )
                .await
                {
                    daemon::set_option(&field.service, &field.option, value, true).await
                } else {
                    Err("Nothing was changed.".into())
                };
            }
            field.app.busy.borrow_mut().remove(&field.service);
            match answer {
                Ok(Change::Done(words)) => {
                    field.app.said(&words);
                    field.app.open(&field.service);
                }
                Ok(Change::Ask(_)) => {}
                Err(e) => {
                    field.error.set_title(&widgets::safe(&e));
                    field.error.set_visible(true);
                }
            }
        });
    }
}
