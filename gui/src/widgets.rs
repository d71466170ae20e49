//! Small pieces every screen uses: buttons that say what they do to a screen
//! reader, a yes/no question (and a change the daemon wants agreed to, asked
//! with it) and an error as `AdwAlertDialog`s, file dialogs,
//! a QR code drawn pixel-exact, text made safe, and `Feedback` (what rows
//! may do to their page).

use std::cell::Cell;
use std::rc::Rc;

use adw::prelude::*;

use crate::daemon::{Answer, Change};
use crate::i18n::{tr, trf};

/// Give a control the name assistive technology says (and tests find it
/// by). GTK 4.8 has only the C function, which takes a list of properties.
/// Call it once the control is in its row: libadwaita 1.7 labels a row's
/// activatable widget by the row's title, which this replaces.
pub fn name(widget: &impl IsA<gtk::Widget>, label: &str) {
    use gtk::glib::translate::ToGlibPtr;
    extern "C" {
        fn gtk_accessible_update_property(
            accessible: *mut std::ffi::c_void,
            first: std::ffi::c_int,
            ...
        );
        fn gtk_accessible_reset_relation(
            accessible: *mut std::ffi::c_void,
            relation: std::ffi::c_int,
        );
    }
    let Ok(label) = std::ffi::CString::new(label.replace('\0', "")) else { return };
    let widget: *mut gtk::ffi::GtkWidget = widget.as_ref().to_glib_none().0;
    // SAFETY: a live widget (every GtkWidget is a GtkAccessible), one
    // (LABEL, string) pair, then the -1 that ends the list.
    unsafe {
        gtk_accessible_update_property(
            widget.cast(),
            gtk::ffi::GTK_ACCESSIBLE_PROPERTY_LABEL,
            label.as_ptr(),
            -1 as std::ffi::c_int,
        )
    }
    // GTK 4.18 names a button by its label child (labelled-by) before its
    // own label property: the "Add" of every row would say only "Add".
    // SAFETY: the same live widget; LABELLED_BY is a relation GTK knows.
    unsafe {
        gtk_accessible_reset_relation(widget.cast(), gtk::ffi::GTK_ACCESSIBLE_RELATION_LABELLED_BY)
    }
}

/// A button with an icon, its name said to assistive technology and shown
/// as a tooltip.
pub fn icon_button(icon: &str, label: &str) -> gtk::Button {
    let button = gtk::Button::builder()
        .icon_name(icon)
        .tooltip_text(label)
        .valign(gtk::Align::Center)
        .build();
    button.add_css_class("flat");
    name(&button, label);
    button
}

/// A service's icon: its plugin's icon name (already checked by the core,
/// `display::icon_name`) in the theme's symbolic style when the theme has
/// it, else as it is, else a plugin's generic icon.
pub fn service_icon(icon_name: &str) -> gtk::Image {
    let theme = gtk::gdk::Display::default().map(|d| gtk::IconTheme::for_display(&d));
    let has = |name: &str| theme.as_ref().is_some_and(|t| t.has_icon(name));
    let symbolic = format!("{icon_name}-symbolic");
    let name = if icon_name.is_empty() {
        "application-x-addon-symbolic"
    } else if has(&symbolic) {
        &symbolic
    } else if has(icon_name) {
        icon_name
    } else {
        "application-x-addon-symbolic"
    };
    // Decoration: the row's title says what the service is.
    gtk::Image::builder().icon_name(name).accessible_role(gtk::AccessibleRole::Presentation).build()
}

/// A value a person may select and copy (an address, a key), beside its row's title.
pub fn value_label(text: &str) -> gtk::Label {
    // Broken anywhere (addresses and keys are one long word), but with no
    // hyphen drawn at the breaks: a hyphen is not part of a key someone
    // reads out or types.
    let attributes = gtk::pango::AttrList::new();
    attributes.insert(gtk::pango::AttrInt::new_insert_hyphens(false));
    gtk::Label::builder()
        .label(text)
        .selectable(true)
        .wrap(true)
        .wrap_mode(gtk::pango::WrapMode::Char)
        .attributes(&attributes)
        .width_chars(18)
        .max_width_chars(34)
        .xalign(0.0)
        .valign(gtk::Align::Center)
        .css_classes(["monospace"])
        .build()
}

/// A button with words.
pub fn text_button(label: &str) -> gtk::Button {
    let button =
        gtk::Button::builder().label(label).valign(gtk::Align::Center).use_underline(true).build();
    // Said without the mnemonic's underscore.
    name(&button, &label.replace('_', ""));
    button
}

/// Ask a question; true when the person chose `yes`.
pub async fn ask(
    parent: &impl IsA<gtk::Widget>,
    heading: &str,
    body: &str,
    yes: &str,
    destructive: bool,
) -> bool {
    let dialog = adw::AlertDialog::new(Some(heading), Some(body));
    dialog.add_response("no", &tr("_Cancel"));
    dialog.add_response("yes", yes);
    dialog.set_response_appearance(
        "yes",
        if destructive {
            adw::ResponseAppearance::Destructive
        } else {
            adw::ResponseAppearance::Suggested
        },
    );
    dialog.set_default_response(Some("no"));
    dialog.set_close_response("no");
    dialog.choose_future(Some(parent)).await == "yes"
}

/// A change the daemon may want the person's agreement for (as the CLI's
/// `confirming`): call it; when the daemon asks, put its question to the
/// person (`heading`, the `yes` button) and call again confirmed. `Ok(None)`
/// when they said no: nothing was changed.
pub async fn confirming<F, Fut>(
    parent: &impl IsA<gtk::Widget>,
    heading: &str,
    yes: &str,
    call: F,
) -> Answer<Option<String>>
where
    F: Fn(bool) -> Fut,
    Fut: std::future::Future<Output = Answer<Change>>,
{
    let question = match call(false).await? {
        Change::Done(words) => return Ok(Some(words)),
        Change::Ask(question) => question,
    };
    if !ask(parent, heading, &safe(&question), yes, true).await {
        return Ok(None);
    }
    match call(true).await? {
        Change::Done(words) => Ok(Some(words)),
        // Asked again once confirmed: the daemon's fault, said as such.
        Change::Ask(question) => {
            Err(trf("Tails Server asked again after you agreed: {}", &[&question]))
        }
    }
}

/// Tell the person something went wrong, in the daemon's words.
pub fn error(parent: &impl IsA<gtk::Widget>, heading: &str, words: &str) {
    let dialog = adw::AlertDialog::new(Some(heading), Some(&safe(words)));
    dialog.add_response("close", &tr("_Close"));
    dialog.present(Some(parent));
}

/// The window a widget is in, for the file dialogs (which want one).
fn window_of(widget: &impl IsA<gtk::Widget>) -> Option<gtk::Window> {
    widget.as_ref().root().and_downcast::<gtk::Window>()
}

/// Ask for a file to open among those `filter` lets through.
pub async fn open_file(
    parent: &impl IsA<gtk::Widget>,
    title: &str,
    filter: &gtk::FileFilter,
) -> Option<std::path::PathBuf> {
    let filters = gtk::gio::ListStore::new::<gtk::FileFilter>();
    filters.append(filter);
    let dialog = gtk::FileDialog::builder()
        .title(title)
        .modal(true)
        .filters(&filters)
        .default_filter(filter)
        .build();
    dialog.open_future(window_of(parent).as_ref()).await.ok().and_then(|f| f.path())
}

/// Ask where to save a file, suggesting `name`.
pub async fn save_file(
    parent: &impl IsA<gtk::Widget>,
    title: &str,
    name: &str,
) -> Option<std::path::PathBuf> {
    let dialog = gtk::FileDialog::builder().title(title).modal(true).initial_name(name).build();
    dialog.save_future(window_of(parent).as_ref()).await.ok().and_then(|f| f.path())
}

/// A QR code of `data` at a whole number of pixels per module (GTK 4.8
/// would blur a scaled one), with a quiet zone.
pub fn qr_picture(data: &str) -> gtk::Widget {
    let Ok(code) = qrcode::QrCode::new(data.as_bytes()) else {
        return gtk::Label::new(Some("(too long for a QR code)")).upcast();
    };
    let modules = code.width();
    let colors = code.to_colors();
    let (scale, quiet) = (6usize, 4usize);
    let side = (modules + 2 * quiet) * scale;
    let mut pixels = vec![255u8; side * side * 3];
    for (i, color) in colors.iter().enumerate() {
        if *color != qrcode::Color::Dark {
            continue;
        }
        let (mx, my) = (i % modules + quiet, i / modules + quiet);
        for y in my * scale..(my + 1) * scale {
            let row = y * side * 3;
            pixels[row + mx * scale * 3..row + (mx + 1) * scale * 3].fill(0);
        }
    }
    let texture = gtk::gdk::MemoryTexture::new(
        side as i32,
        side as i32,
        gtk::gdk::MemoryFormat::R8g8b8,
        &gtk::glib::Bytes::from_owned(pixels),
        side * 3,
    );
    let picture = gtk::Picture::for_paintable(&texture);
    picture.set_can_shrink(false);
    picture.upcast()
}

/// Show a QR code of `data` in a dialog of its own.
pub fn show_qr(parent: &impl IsA<gtk::Widget>, title: &str, data: &str) {
    let picture = qr_picture(data);
    name(&picture, &trf("QR code: {}", &[title]));
    let content = gtk::Box::builder()
        .orientation(gtk::Orientation::Vertical)
        .margin_top(6)
        .margin_bottom(18)
        .margin_start(18)
        .margin_end(18)
        .halign(gtk::Align::Center)
        .build();
    content.append(&picture);
    let view = adw::ToolbarView::new();
    view.add_top_bar(&adw::HeaderBar::new());
    view.set_content(Some(&content));
    let dialog = adw::Dialog::builder().title(title).child(&view).build();
    dialog.present(Some(parent));
}

/// The switch inside an `AdwSwitchRow` (libadwaita keeps it private): it is
/// a control of its own in the accessibility tree, which says it by the
/// name given here, as it does every other control.
pub fn name_switch_row(row: &adw::SwitchRow, label: &str) {
    let mut stack: Vec<gtk::Widget> = vec![row.clone().upcast()];
    let mut seen = 0;
    while let Some(widget) = stack.pop() {
        seen += 1;
        if seen > 64 {
            return;
        }
        if widget.is::<gtk::Switch>() {
            return name(&widget, label);
        }
        stack.extend(std::iter::successors(widget.first_child(), |c| c.next_sibling()));
    }
}

/// What rows on a page may do to the page they are on: say what the daemon
/// answered, show the page anew, hold it still while a change is under way
/// (a page is not rebuilt under the person's eyes). Made by the page; the
/// rows never reach the window.
#[derive(Clone)]
pub struct Feedback {
    /// Where dialogs are shown.
    pub parent: gtk::Widget,
    said: Rc<dyn Fn(&str)>,
    reload: Rc<dyn Fn()>,
    busy: Rc<Cell<u32>>,
}

impl Feedback {
    pub fn new(
        parent: &impl IsA<gtk::Widget>,
        said: impl Fn(&str) + 'static,
        reload: impl Fn() + 'static,
    ) -> Feedback {
        Feedback {
            parent: parent.clone().upcast(),
            said: Rc::new(said),
            reload: Rc::new(reload),
            busy: Rc::new(Cell::new(0)),
        }
    }

    /// The daemon's words, for a toast.
    pub fn said(&self, words: &str) {
        (self.said)(words)
    }

    /// Show the page again from the daemon.
    pub fn reload(&self) {
        (self.reload)()
    }

    pub fn error(&self, heading: &str, words: &str) {
        error(&self.parent, heading, words)
    }

    /// Held still until the guard goes.
    pub fn hold(&self) -> Hold {
        self.busy.set(self.busy.get() + 1);
        Hold(self.busy.clone())
    }

    pub fn held(&self) -> bool {
        self.busy.get() > 0
    }
}

/// See `Feedback::hold`.
pub struct Hold(Rc<Cell<u32>>);

impl Drop for Hold {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}

/// Text from a plugin or the daemon, made safe to show: escaped as every
/// front end escapes it (`display::text`: controls, bidi and zero-width
/// characters shown, never acted on; lines kept) and bounded in length (the
/// core escapes too; a window does not rely on it).
pub fn safe(text: &str) -> String {
    const MAX: usize = 8192;
    let bounded: String = text.chars().take(MAX).collect();
    tails_server_types::display::text(&bounded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_direction_overrides_are_shown_not_acted_on() {
        assert_eq!(safe("ok\u{1b}[2J\u{202e}x\u{200b}"), "ok\\e[2J\\u{202e}x\\u{200b}");
        assert_eq!(safe("two\nlines"), "two\nlines");
        assert_eq!(safe(&"a".repeat(10_000)).len(), 8192);
    }
}
