//! The turn's time budget (`TURN_TIMEOUT_SECS`), which stands still while the turn
//! waits for the user to approve a tool call: a person deciding is not the agent
//! being slow, and the approval has its own timeout.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::{sync::Notify, time::Instant};

/// A deadline that can be paused. Cheap to clone.
#[derive(Clone)]
pub struct TurnClock {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    resumed: Notify,
}

struct State {
    deadline: Instant,
    /// Open pauses, and when the first began.
    pauses: u32,
    paused_at: Option<Instant>,
}

impl TurnClock {
    pub fn new(budget: std::time::Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    deadline: Instant::now() + budget,
                    pauses: 0,
                    paused_at: None,
                }),
                resumed: Notify::new(),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Three plain fields; a panic elsewhere cannot tear them.
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stops the clock until the guard is dropped.
    pub fn pause(&self) -> Paused {
        let mut state = self.state();
        if state.pauses == 0 {
            state.paused_at = Some(Instant::now());
        }
        state.pauses += 1;
        Paused {
            clock: self.clone(),
        }
    }

    /// Resolves once the budget is spent (never while paused).
    pub async fn expired(&self) {
        loop {
            let resumed = self.inner.resumed.notified();
            let deadline = {
                let state = self.state();
                (state.pauses == 0).then_some(state.deadline)
            };
            match deadline {
                None => resumed.await,
                Some(deadline) if Instant::now() >= deadline => return,
                Some(deadline) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(deadline) => {}
                        () = resumed => {}
                    }
                }
            }
        }
    }
}

/// An open pause; dropping it restarts the clock, the paused time added back.
pub struct Paused {
    clock: TurnClock,
}

impl Drop for Paused {
    fn drop(&mut self) {
        let mut state = self.clock.state();
        state.pauses = state.pauses.saturating_sub(1);
        if state.pauses == 0
            && let Some(since) = state.paused_at.take()
        {
            state.deadline += since.elapsed();
        }
        drop(state);
        self.clock.inner.resumed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn time_spent_paused_does_not_count() {
        let clock = TurnClock::new(Duration::from_millis(50));
        let started = Instant::now();
        let pause = clock.pause();
        let expiry = tokio::spawn({
            let clock = clock.clone();
            async move { clock.expired().await }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!expiry.is_finished(), "paused clocks do not expire");
        drop(pause);
        expiry.await.unwrap();
        // The 50 ms budget counts only after the 200 ms pause.
        assert!(started.elapsed() >= Duration::from_millis(250));
    }
}
