//! User Timing measures of the page's own work, for the streaming-cost test and for
//! anyone profiling: on only when the page's address has `perf` in its query
//! (`/?perf`), so a normal page keeps no entries.
//!
//! `toolstream:frame` spans a server frame from its arrival to the end of the view
//! updates it caused; `toolstream:render` spans one markdown render of an answer.

use std::cell::OnceCell;

use leptos::{prelude::window, task::spawn_local};

pub const FRAME: &str = "toolstream:frame";
pub const RENDER: &str = "toolstream:render";

thread_local! {
    static ENABLED: OnceCell<bool> = const { OnceCell::new() };
}

fn enabled() -> bool {
    ENABLED.with(|on| {
        *on.get_or_init(|| {
            window()
                .location()
                .search()
                .is_ok_and(|query| query.contains("perf"))
        })
    })
}

/// A measure that ends when the work it started has settled: dropping it schedules
/// the end after the view updates already queued.
pub struct Span(Option<&'static str>);

impl Span {
    pub fn start(name: &'static str) -> Self {
        if !enabled() {
            return Self(None);
        }
        if let Some(performance) = window().performance() {
            let _ = performance.mark(&start_mark(name));
        }
        Self(Some(name))
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        let Some(name) = self.0 else { return };
        // Effects woken by this work are queued already: this task runs after them.
        spawn_local(async move {
            if let Some(performance) = window().performance() {
                let start = start_mark(name);
                let _ = performance.measure_with_start_mark(name, &start);
                performance.clear_marks_with_mark_name(&start);
            }
        });
    }
}

fn start_mark(name: &str) -> String {
    format!("{name}:start")
}
