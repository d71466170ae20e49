//! Small pieces every screen uses: buttons that say what they do to a screen
//! reader, a yes/no question, a QR code drawn pixel-exact, text made safe.

use adw::prelude::*;
use tokio::sync::oneshot;

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
    parent: &impl IsA<gtk::Window>,
    heading: &str,
    body: &str,
    yes: &str,
    destructive: bool,
) -> bool {
    let dialog = adw::MessageDialog::new(Some(parent), Some(heading), Some(body));
    dialog.add_response("no", "_Cancel");
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
    answer(&dialog).await == "yes"
}

/// Present `dialog` and wait for the response chosen.
pub async fn answer(dialog: &adw::MessageDialog) -> String {
    let (tx, rx) = oneshot::channel();
    let tx = std::cell::Cell::new(Some(tx));
    dialog.connect_response(None, move |_, response| {
        if let Some(tx) = tx.take() {
            let _ = tx.send(response.to_string());
        }
    });
    dialog.present();
    rx.await.unwrap_or_default()
}

/// Show a file chooser and run `then` with the chosen path. GTK keeps no
/// reference to a native chooser: this one holds itself until answered.
pub fn choose(chooser: gtk::FileChooserNative, then: impl Fn(std::path::PathBuf) + 'static) {
    let held = std::cell::RefCell::new(Some(chooser.clone()));
    chooser.connect_response(move |chooser, response| {
        let _released = held.borrow_mut().take();
        if response == gtk::ResponseType::Accept {
            if let Some(path) = chooser.file().and_then(|f| f.path()) {
                then(path);
            }
        }
    });
    chooser.show();
}

/// Tell the person something went wrong, in the daemon's words.
pub fn error(parent: &impl IsA<gtk::Window>, heading: &str, words: &str) {
    let dialog = adw::MessageDialog::new(Some(parent), Some(heading), Some(&safe(words)));
    dialog.add_response("close", "_Close");
    dialog.present();
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

/// Show a QR code of `data` in a window of its own.
pub fn show_qr(parent: &impl IsA<gtk::Window>, title: &str, data: &str) {
    let dialog = adw::MessageDialog::new(Some(parent), Some(title), None);
    dialog.set_extra_child(Some(&qr_picture(data)));
    dialog.add_response("close", "_Close");
    dialog.present();
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
