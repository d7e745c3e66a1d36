//! Waiting for the user's decision on a tool call whose policy is `ask`.
//!
//! [`approval_channel`] pairs the two sides: the turn holds the [`ApprovalInbox`] and
//! waits there by `call_id` (with a timeout, and its cancellation); the session side
//! (a WebSocket session, a REST endpoint) holds the [`ApprovalSender`] and delivers
//! `approve` / `deny`. Only a call the turn is waiting for can be decided, so a stale
//! or invented `call_id` is refused.
//!
//! [`PendingApprovals`] is the process-wide index of the calls waiting right now, by
//! their unguessable `call_id`, for transports that answer outside the session (REST).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// The user's answer to `approval_required`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub approved: bool,
    /// Why it was denied, in the user's words.
    pub reason: Option<String>,
}

/// How the wait ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Approved,
    Denied {
        reason: Option<String>,
    },
    /// Nobody answered within the timeout: the call is denied.
    TimedOut(Duration),
    /// The turn's client cannot answer approvals (`POST /api/chat`): denied at once.
    Unattended,
    /// The turn was cancelled while waiting.
    Cancelled,
}

/// Why a decision was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecideError {
    #[error("no tool call with this call_id is waiting for approval")]
    NotPending,
}

#[derive(Default)]
struct Shared {
    waiting: Mutex<HashMap<String, oneshot::Sender<Decision>>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, oneshot::Sender<Decision>>> {
        // A plain map; a panic elsewhere cannot leave it torn.
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Makes a connected pair: decisions sent on the sender reach the inbox's waits.
pub fn approval_channel() -> (ApprovalSender, ApprovalInbox) {
    let shared = Arc::new(Shared::default());
    (
        ApprovalSender {
            shared: shared.clone(),
        },
        ApprovalInbox {
            shared: Some(shared),
            index: None,
        },
    )
}

/// Delivers decisions to the turns of one session. Cheap to clone.
#[derive(Clone)]
pub struct ApprovalSender {
    shared: Arc<Shared>,
}

impl ApprovalSender {
    /// Answers the call `call_id` is waiting for.
    pub fn decide(&self, call_id: &str, decision: Decision) -> Result<(), DecideError> {
        let waiting = self.shared.lock().remove(call_id);
        match waiting {
            Some(tx) => tx.send(decision).map_err(|_| DecideError::NotPending),
            None => Err(DecideError::NotPending),
        }
    }
}

/// Where a session's turns wait for decisions.
pub struct ApprovalInbox {
    /// `None` for a client that cannot answer: every wait is denied at once.
    shared: Option<Arc<Shared>>,
    index: Option<Arc<PendingApprovals>>,
}

impl ApprovalInbox {
    /// An inbox for a client that cannot answer approvals.
    pub fn unattended() -> Self {
        Self {
            shared: None,
            index: None,
        }
    }

    /// Also lists this inbox's waiting calls in the process-wide `index`.
    pub fn indexed(mut self, index: Arc<PendingApprovals>) -> Self {
        self.index = Some(index);
        self
    }

    /// Starts waiting for `call_id`'s decision. Call this before announcing
    /// `approval_required`, so that an answer sent at once finds the call waiting.
    pub fn expect(&self, call_id: &str) -> Pending {
        let Some(shared) = &self.shared else {
            return Pending {
                call_id: call_id.to_owned(),
                rx: None,
                shared: None,
                index: None,
            };
        };
        let (tx, rx) = oneshot::channel();
        shared.lock().insert(call_id.to_owned(), tx);
        if let Some(index) = &self.index {
            index.insert(
                call_id,
                ApprovalSender {
                    shared: shared.clone(),
                },
            );
        }
        Pending {
            call_id: call_id.to_owned(),
            rx: Some(rx),
            shared: Some(shared.clone()),
            index: self.index.clone(),
        }
    }
}

/// One call waiting for its decision; it stops waiting when dropped.
pub struct Pending {
    call_id: String,
    rx: Option<oneshot::Receiver<Decision>>,
    shared: Option<Arc<Shared>>,
    index: Option<Arc<PendingApprovals>>,
}

impl Pending {
    /// Waits for the decision, at most `timeout`, or until `cancel` fires.
    pub async fn wait(mut self, timeout: Duration, cancel: &CancellationToken) -> Verdict {
        let Some(rx) = self.rx.take() else {
            return Verdict::Unattended;
        };
        tokio::select! {
            biased;
            () = cancel.cancelled() => Verdict::Cancelled,
            decision = tokio::time::timeout(timeout, rx) => match decision {
                Ok(Ok(Decision { approved: true, .. })) => Verdict::Approved,
                Ok(Ok(Decision { approved: false, reason })) => Verdict::Denied { reason },
                // The sender side is gone (the session ended): nobody can approve.
                Ok(Err(_)) | Err(_) => Verdict::TimedOut(timeout),
            },
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(shared) = &self.shared {
            shared.lock().remove(&self.call_id);
        }
        if let Some(index) = &self.index {
            index.remove(&self.call_id);
        }
    }
}

/// Every call waiting for approval in this process, by `call_id`.
#[derive(Default)]
pub struct PendingApprovals {
    by_call: Mutex<HashMap<String, ApprovalSender>>,
}

impl PendingApprovals {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, ApprovalSender>> {
        self.by_call.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn insert(&self, call_id: &str, sender: ApprovalSender) {
        self.lock().insert(call_id.to_owned(), sender);
    }

    fn remove(&self, call_id: &str) {
        self.lock().remove(call_id);
    }

    /// Answers `call_id`, whichever turn waits for it.
    pub fn decide(&self, call_id: &str, decision: Decision) -> Result<(), DecideError> {
        let sender = self.lock().get(call_id).cloned();
        sender
            .ok_or(DecideError::NotPending)?
            .decide(call_id, decision)
    }

    /// How many calls wait now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approve() -> Decision {
        Decision {
            approved: true,
            reason: None,
        }
    }

    #[tokio::test]
    async fn a_decision_reaches_the_call_waiting_for_it() {
        let (sender, inbox) = approval_channel();
        let pending = inbox.expect("c1");
        // Decided before the turn started waiting: still delivered.
        sender.decide("c1", approve()).unwrap();
        let verdict = pending
            .wait(Duration::from_secs(5), &CancellationToken::new())
            .await;
        assert_eq!(verdict, Verdict::Approved);
        // Once decided, the call no longer waits: a second answer is refused.
        assert_eq!(sender.decide("c1", approve()), Err(DecideError::NotPending));
        assert_eq!(
            sender.decide("nope", approve()),
            Err(DecideError::NotPending)
        );
    }

    #[tokio::test]
    async fn denials_timeouts_and_cancellation() {
        let (sender, inbox) = approval_channel();
        let pending = inbox.expect("c1");
        let reason = Some("too risky".to_owned());
        sender
            .decide(
                "c1",
                Decision {
                    approved: false,
                    reason: reason.clone(),
                },
            )
            .unwrap();
        let never = CancellationToken::new();
        assert_eq!(
            pending.wait(Duration::from_secs(5), &never).await,
            Verdict::Denied { reason }
        );

        let timeout = Duration::from_millis(20);
        assert_eq!(
            inbox.expect("c2").wait(timeout, &never).await,
            Verdict::TimedOut(timeout)
        );
        let cancel = CancellationToken::new();
        cancel.cancel();
        assert_eq!(
            inbox
                .expect("c3")
                .wait(Duration::from_secs(5), &cancel)
                .await,
            Verdict::Cancelled
        );
        assert_eq!(sender.decide("c3", approve()), Err(DecideError::NotPending));
        let unattended = ApprovalInbox::unattended();
        assert_eq!(
            unattended.expect("c4").wait(timeout, &never).await,
            Verdict::Unattended
        );
    }

    #[tokio::test]
    async fn the_process_wide_index_follows_waiting_calls() {
        let index = Arc::new(PendingApprovals::default());
        let (_sender, inbox) = approval_channel();
        let inbox = inbox.indexed(index.clone());
        let pending = inbox.expect("c1");
        assert_eq!(index.len(), 1);
        index.decide("c1", approve()).unwrap();
        let verdict = pending
            .wait(Duration::from_secs(5), &CancellationToken::new())
            .await;
        assert_eq!(verdict, Verdict::Approved);
        assert!(index.is_empty(), "decided calls leave the index");
        let dropped = inbox.expect("c2");
        drop(dropped);
        assert!(index.is_empty(), "abandoned calls leave the index");
        assert_eq!(index.decide("c2", approve()), Err(DecideError::NotPending));
    }
}
