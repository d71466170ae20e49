//! A service's options rendered from their specs (`option-details`): one
//! group per heading, the widget for each kind, secrets masked, read-only
//! ones shown but not editable, and a value the plugin refuses shown with
//! the plugin's words under the field.

use adw::prelude::*;
use gtk::glib;
use serde_json::Value;

use crate::daemon;
use tails_server_types::documents::{Info, OptionDetail, OptionKind};

use crate::i18n::{tr, trf};
use crate::widgets::{self, Feedback};

pub fn groups(feedback: &Feedback, service: &str, info: &Info) -> Vec<adw::PreferencesGroup> {
    let mut groups: Vec<(String, adw::PreferencesGroup)> = Vec::new();
    let specs = info.details.as_ref().map(|d| d.option_details.as_slice()).unwrap_or_default();
    for spec in specs {
        let heading = match widgets::safe(&spec.group) {
            g if g.is_empty() => tr("Settings"),
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
            feedback: feedback.clone(),
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
    feedback: Feedback,
    service: String,
    option: String,
    error: adw::ActionRow,
}

/// An option's words as the window shows them, made safe.
struct Words {
    title: String,
    description: String,
    /// The value as text (a string as it is, a number or boolean in JSON).
    shown: String,
}

impl Field {
    /// The row for one option: its kind's, or a value shown when read-only.
    fn widget(&self, spec: &OptionDetail, value: &Value) -> gtk::Widget {
        let title = match widgets::safe(&spec.name_in_gui) {
            t if t.is_empty() => widgets::safe(&spec.name),
            t => t,
        };
        let shown = match value {
            Value::String(s) => widgets::safe(s),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        let words = Words { title, description: widgets::safe(&spec.description), shown };
        if spec.read_only {
            let row =
                adw::ActionRow::builder().title(&words.title).subtitle(&words.description).build();
            let value = widgets::value_label(&words.shown);
            widgets::name(&value, &words.title);
            row.add_suffix(&value);
            return row.upcast();
        }
        match &spec.kind {
            OptionKind::Boolean => self.switch_row(&words, value.as_bool() == Some(true)),
            OptionKind::Secret => self.secret_row(&words),
            OptionKind::Port { min, max } | OptionKind::Integer { min, max } => {
                self.spin_row(&words, *min, *max, value.as_f64())
            }
            OptionKind::Choice { choices } => self.choice_row(&words, choices),
            OptionKind::Text => self.text_row(&words),
        }
    }

    fn switch_row(&self, words: &Words, active: bool) -> gtk::Widget {
        let row = adw::SwitchRow::builder()
            .title(&words.title)
            .subtitle(&words.description)
            .active(active)
            .build();
        widgets::name_switch_row(&row, &words.title);
        let field = self.clone();
        row.connect_active_notify(move |row| field.apply(Some(row.is_active().to_string())));
        row.upcast()
    }

    /// A secret is never shown: a new one is typed, or made at random.
    fn secret_row(&self, words: &Words) -> gtk::Widget {
        let row = adw::PasswordEntryRow::builder()
            .title(trf("{} (set; type a new one to change it)", &[&words.title]))
            .show_apply_button(true)
            .tooltip_text(&words.description)
            .build();
        let field = self.clone();
        row.connect_apply(move |row| field.apply(Some(row.text().to_string())));
        let renew = widgets::icon_button(
            "view-refresh-symbolic",
            &trf("Make a new random {}", &[&words.title]),
        );
        let field = self.clone();
        renew.connect_clicked(move |_| field.apply(None));
        row.add_suffix(&renew);
        row.upcast()
    }

    fn spin_row(&self, words: &Words, min: i64, max: i64, value: Option<f64>) -> gtk::Widget {
        // A spin row holds an f64: ranges are bounded to what it holds
        // exactly.
        const EXACT: f64 = 9_007_199_254_740_992.0;
        let min = (min as f64).max(-EXACT);
        let max = (max as f64).min(EXACT);
        let row = adw::SpinRow::with_range(min, max, 1.0);
        row.set_title(&words.title);
        row.set_subtitle(&words.description);
        row.set_digits(0);
        row.set_value(value.unwrap_or(min));
        // Applied with its button, not at each step of the arrows.
        let apply =
            widgets::icon_button("object-select-symbolic", &trf("Apply {}", &[&words.title]));
        apply.set_visible(false);
        let a = apply.clone();
        row.connect_value_notify(move |_| a.set_visible(true));
        let (field, r) = (self.clone(), row.clone());
        apply.connect_clicked(move |apply| {
            apply.set_visible(false);
            field.apply(Some(format!("{}", r.value() as i64)));
        });
        row.add_suffix(&apply);
        row.upcast()
    }

    fn choice_row(&self, words: &Words, choices: &[String]) -> gtk::Widget {
        let choices: Vec<String> = choices.iter().map(|c| widgets::safe(c)).collect();
        let refs: Vec<&str> = choices.iter().map(String::as_str).collect();
        let row = adw::ComboRow::builder()
            .title(&words.title)
            .subtitle(&words.description)
            .model(&gtk::StringList::new(&refs))
            .build();
        if let Some(i) = choices.iter().position(|c| *c == words.shown) {
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

    fn text_row(&self, words: &Words) -> gtk::Widget {
        let row = adw::EntryRow::builder()
            .title(&words.title)
            .text(&words.shown)
            .show_apply_button(true)
            .tooltip_text(&words.description)
            .build();
        let field = self.clone();
        row.connect_apply(move |row| field.apply(Some(row.text().to_string())));
        row.upcast()
    }

    /// Send the value (or `None`: back to the default) to the daemon; ask
    /// first when it says the change needs the person's agreement.
    fn apply(&self, value: Option<String>) {
        let field = self.clone();
        glib::spawn_future_local(async move {
            let feedback = &field.feedback;
            field.error.set_visible(false);
            let hold = feedback.hold();
            let (service, option) = (field.service.clone(), field.option.clone());
            let answer = widgets::confirming(
                &feedback.parent,
                &tr("Are you sure?"),
                &tr("_Change it"),
                |confirmed| daemon::set_option(&service, &option, value.clone(), confirmed),
            )
            .await;
            drop(hold);
            match answer {
                Ok(Some(words)) => {
                    feedback.said(&words);
                    feedback.reload();
                }
                Ok(None) => {
                    field.error.set_title(&tr("Nothing was changed."));
                    field.error.set_visible(true);
                }
                Err(e) => {
                    field.error.set_title(&widgets::safe(&e));
                    field.error.set_visible(true);
                }
            }
        });
    }
}
