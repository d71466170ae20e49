//! Every method asks polkit whether its caller may do what it asks, before
//! it acts (the actions are in `tails_server_dbus::action`).

use std::collections::HashMap;

use zbus::fdo;
use zbus::message::Header;
use zbus_polkit::policykit1::{AuthorityProxy, CheckAuthorizationFlags, Subject};

/// The words for an action, in refusals.
fn what(action: &str) -> &'static str {
    use tails_server_dbus::action::*;
    match action {
        READ => "see Tails Server's services",
        MANAGE => "manage Tails Server's services",
        PLUGINS => "add or remove Tails Server's plugins",
        SECRETS => "see Tails Server's secrets and client keys",
        _ => "do this",
    }
}

/// Refuse unless polkit says the message's sender may do `action` (asking
/// the person through their authentication agent when polkit wants a
/// password and one is running).
pub async fn check(conn: &zbus::Connection, header: &Header<'_>, action: &str) -> fdo::Result<()> {
    let subject = Subject::new_for_message_header(header)
        .map_err(|e| fdo::Error::Failed(format!("cannot tell who is asking: {e}")))?;
    let authority = AuthorityProxy::new(conn)
        .await
        .map_err(|e| fdo::Error::Failed(format!("polkit cannot be asked: {e}")))?;
    let result = authority
        .check_authorization(
            &subject,
            action,
            &HashMap::new(),
            CheckAuthorizationFlags::AllowUserInteraction.into(),
            "",
        )
        .await
        .map_err(|e| fdo::Error::Failed(format!("polkit cannot be asked: {e}")))?;
    if result.is_authorized {
        return Ok(());
    }
    let how = if result.is_challenge {
        "an administration password is needed and none could be asked for: on Tails, set an administration password in the Welcome Screen; elsewhere, run a polkit authentication agent (or use sudo)"
    } else {
        "the system's polkit rules do not allow it"
    };
    Err(fdo::Error::AccessDenied(format!("not allowed to {} ({action}): {how}", what(action))))
}
