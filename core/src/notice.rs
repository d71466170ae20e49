//! How code far below a request (a plugin's log line, a wait for the dpkg
//! lock, a cache that could not be written) tells the request's front end,
//! without a context to hand: a context that has a front end listening
//! (`Context::with_progress`) makes it this thread's listener, and `say`
//! reaches it. With nobody listening, what is said goes nowhere: the core
//! never prints.

use std::cell::RefCell;
use std::sync::Arc;

use crate::journal::Progress;

/// Shared with the thread a plugin call runs on (see `runtime`), hence Send.
pub(crate) type Listener = Arc<dyn Fn(&Progress) + Send + Sync>;

thread_local! {
    static LISTENER: RefCell<Option<Listener>> = const { RefCell::new(None) };
}

/// Tell this thread's front end, if one listens.
pub fn say(progress: Progress) {
    // Cloned out first: a listener that itself says something must not find
    // the cell borrowed.
    let listener = LISTENER.with(|l| l.borrow().clone());
    if let Some(listener) = listener {
        listener(&progress);
    }
}

/// A warning, in the words a person reads after "Warning: ".
pub fn warn(text: impl Into<String>) {
    say(Progress::Warning { text: text.into() })
}

/// Who listens on this thread, for a thread that works on its behalf.
pub(crate) fn current() -> Option<Listener> {
    LISTENER.with(|l| l.borrow().clone())
}

/// `listener` hears what this thread says from now on.
pub(crate) fn listen(listener: Listener) {
    LISTENER.with(|l| *l.borrow_mut() = Some(listener));
}

/// Run `work` on this (new) thread with `listener` hearing it.
pub(crate) fn on_behalf<T>(listener: Option<Listener>, work: impl FnOnce() -> T) -> T {
    if let Some(listener) = listener {
        listen(listener);
    }
    work()
}

/// `listener` stops hearing, if it is still the one that listens.
pub(crate) fn stop(listener: &Listener) {
    LISTENER.with(|l| {
        let mut l = l.borrow_mut();
        if l.as_ref().is_some_and(|current| Arc::ptr_eq(current, listener)) {
            *l = None;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn said_reaches_the_listener_and_nobody_after_it_stops() {
        let heard = Arc::new(std::sync::Mutex::new(Vec::new()));
        let h = heard.clone();
        let listener: Listener = Arc::new(move |p: &Progress| h.lock().unwrap().push(p.clone()));
        say(Progress::Note { text: "before".into() });
        listen(listener.clone());
        warn("during");
        stop(&listener);
        say(Progress::Note { text: "after".into() });
        assert_eq!(*heard.lock().unwrap(), vec![Progress::Warning { text: "during".into() }]);
    }
}
