//! Running one job per item at once, on scoped threads: the site step's wasm-opt
//! passes and its compression are each a handful of independent, long jobs.

use crate::error::Result;

/// Runs `job` on every item, each on its own thread, and waits for all of them; the
/// first error (in item order) is returned. A panicking job panics the caller.
pub fn for_each<T: Sync>(items: &[T], job: impl Fn(&T) -> Result<()> + Sync) -> Result<()> {
    let job = &job;
    std::thread::scope(|scope| {
        let running: Vec<_> = items
            .iter()
            .map(|item| scope.spawn(move || job(item)))
            .collect();
        running.into_iter().try_for_each(|thread| {
            thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    })
}
