//! What the page keeps in this browser between visits ([`Kept`]: scenario drafts, settings,
//! lesson progress), in `localStorage`. A record that cannot be read is set aside under another
//! key, said once, and the page goes on without it; one written by a newer version of the page
//! is left as it is (and not written over).

use crate::authoring::{AuthoringError, Kept};
use crate::ui::browser;
use std::cell::{Cell, RefCell};

const KEPT_KEY: &str = "dataflow-lab.kept";
/// Where an unreadable record is moved, so that it is not lost and not read again.
const SET_ASIDE_KEY: &str = "dataflow-lab.kept.unreadable";

thread_local! {
    /// What to say, once, about the record found at start (set aside, or from a newer page).
    static SAY: RefCell<Option<String>> = const { RefCell::new(None) };
    /// Whether the record is a newer page's: this page neither reads nor writes it.
    static NEWER: Cell<bool> = const { Cell::new(false) };
}

/// The record, or a fresh one when there is none or it cannot be read (then it is set aside,
/// and the next [`load`] says so).
pub fn read() -> Kept {
    let Some(json) = browser::local_get(KEPT_KEY) else {
        return Kept::default();
    };
    match Kept::read(&json) {
        Ok(kept) => kept,
        Err(error @ AuthoringError::Newer { .. }) => {
            NEWER.with(|n| n.set(true));
            SAY.with(|s| {
                *s.borrow_mut() = Some(format!(
                    "What this browser kept from earlier visits {error}: it is left as it is, and this page keeps nothing new (scenario edits, settings, lesson progress) until that version is used again."
                ))
            });
            Kept::default()
        }
        Err(_) => {
            // The original goes only once its copy is safe.
            let copied = browser::local_set(SET_ASIDE_KEY, &json);
            if copied {
                browser::local_remove(KEPT_KEY);
            }
            SAY.with(|s| {
                *s.borrow_mut() = Some(if copied {
                    format!("What this browser kept from earlier visits (scenario edits, settings, lesson progress) could not be read: it was set aside (as \"{SET_ASIDE_KEY}\" in the site's storage) and the page starts afresh.")
                } else {
                    "What this browser kept from earlier visits (scenario edits, settings, lesson progress) could not be read, nor set aside (the browser's storage is full): the page starts afresh without it.".to_owned()
                })
            });
            Kept::default()
        }
    }
}

/// The record, with a message for the page about what was found, said once.
pub fn load() -> (Kept, Option<String>) {
    let kept = read();
    let notice = SAY.with(|s| s.borrow_mut().take());
    (kept, notice)
}

/// Changes the record and keeps it; whether it was kept (not when the browser refuses, nor over
/// a newer page's record).
pub fn update(change: impl FnOnce(&mut Kept)) -> bool {
    let mut kept = read();
    if NEWER.with(Cell::get) {
        return false;
    }
    change(&mut kept);
    browser::local_set(KEPT_KEY, &kept.write())
}
