//! What the page keeps in this browser between visits ([`Kept`]: scenario drafts, settings,
//! lesson progress), in `localStorage`. A record that cannot be read is set aside under another
//! key, said once, and the page goes on without it.

use crate::authoring::Kept;
use crate::ui::browser;
use std::cell::Cell;

const KEPT_KEY: &str = "dataflow-lab.kept";
/// Where an unreadable record is moved, so that it is not lost and not read again.
const SET_ASIDE_KEY: &str = "dataflow-lab.kept.unreadable";

thread_local! {
    /// Whether an unreadable record was set aside since the page loaded (said once).
    static SET_ASIDE: Cell<bool> = const { Cell::new(false) };
}

/// The record, or a fresh one when there is none or it cannot be read (then it is set aside,
/// and the next [`load`] says so).
pub fn read() -> Kept {
    let Some(json) = browser::local_get(KEPT_KEY) else {
        return Kept::default();
    };
    match Kept::read(&json) {
        Ok(kept) => kept,
        Err(_) => {
            browser::local_set(SET_ASIDE_KEY, &json);
            browser::local_remove(KEPT_KEY);
            SET_ASIDE.with(|s| s.set(true));
            Kept::default()
        }
    }
}

/// The record, with a message for the page if an unreadable one was set aside on the way.
pub fn load() -> (Kept, Option<String>) {
    let kept = read();
    let notice = SET_ASIDE.with(|s| s.replace(false)).then(|| {
        format!(
            "What this browser kept from earlier visits (scenario edits, settings, lesson progress) could not be read: it was set aside (as \"{SET_ASIDE_KEY}\" in the site's storage) and the page starts afresh."
        )
    });
    (kept, notice)
}

/// Changes the record and keeps it.
pub fn update(change: impl FnOnce(&mut Kept)) {
    let mut kept = read();
    change(&mut kept);
    browser::local_set(KEPT_KEY, &kept.write());
}
