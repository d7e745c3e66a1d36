//! A session's worker: runs its queued messages' turns one after another. For each it
//! takes the session's turn lease (one turn at a time per session, across servers),
//! catches up with what other servers did, runs the agent with a [`Publisher`], then
//! records the turn and lets the lease go. Every message gets exactly one terminal
//! event: `complete`, `error` or `cancelled`.

use std::{panic::AssertUnwindSafe, sync::Arc, time::Duration};

use futures::FutureExt;
use protocol::{ErrorCode, ServerEvent, ServerFrame, Usage};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{
    Hub,
    history::{History, RememberedTurn},
    live::{LiveSession, Queued, Running, TurnKind},
    publisher::Publisher,
};
use crate::{
    agent::{AgentError, ApprovalInbox, approval_channel},
    bus::Live,
    lang::{Lang, detect},
    store::{StoreError, TurnStatus, journal::ConversationMeta},
    texts::{Msg, say},
};

/// How long a turn waits for the store before it is refused.
const STORE_WAIT: Duration = Duration::from_secs(5);

/// Longest title taken from a first question.
const TITLE_CHARS: usize = 80;

/// Runs the session's turns until it closes (or the server shuts down, when the
/// messages still queued get `cancelled`).
pub(super) async fn work(
    hub: Arc<Hub>,
    session: Arc<LiveSession>,
    mut queue: mpsc::Receiver<Queued>,
) {
    loop {
        let queued = tokio::select! {
            queued = queue.recv() => match queued {
                Some(queued) => queued,
                None => break,
            },
            () = session.closed.cancelled() => break,
        };
        session.busy.send_replace(true);
        let turn = Box::pin(run_one(&hub, &session, queued));
        if AssertUnwindSafe(turn).catch_unwind().await.is_err() {
            tracing::error!("a session's turn panicked outside the agent");
        }
        session.busy.send_replace(false);
    }
    session.busy.send_replace(false);
}

/// Why a turn could not start.
enum Refused {
    Storage(String),
    Closed,
}

/// The language of a queued message (a regeneration's is its question's).
fn lang_of(session: &LiveSession, kind: &TurnKind) -> Lang {
    match kind {
        TurnKind::Message(text) | TurnKind::Edit(text) => detect(text),
        TurnKind::Regenerate => session
            .state()
            .history
            .as_ref()
            .and_then(|h| h.last().map(|t| detect(&t.question)))
            .unwrap_or(crate::lang::DEFAULT),
    }
}

async fn run_one(hub: &Arc<Hub>, session: &Arc<LiveSession>, queued: Queued) {
    let lang = lang_of(session, &queued.kind);
    if let Err(refused) = acquire_lease(hub, session).await {
        let (code, msg) = match refused {
            Refused::Storage(why) => {
                tracing::warn!(reason = %why, "a turn could not start: storage unavailable");
                (ErrorCode::StorageUnavailable, Msg::StorageUnavailable)
            }
            Refused::Closed => (ErrorCode::Cancelled, Msg::TurnCancelled),
        };
        refuse(hub, session, &queued.turn_id, code, say(lang, msg));
        return;
    }
    let turn_id = queued.turn_id.clone();
    if let Err(error) = run_leased(hub, session, queued, lang).await {
        tracing::warn!(%error, "a turn could not start: storage unavailable");
        let text = say(lang, Msg::StorageUnavailable);
        refuse(hub, session, &turn_id, ErrorCode::StorageUnavailable, text);
    }
    release_lease(hub, session).await;
}

/// Waits for the session's turn lease.
async fn acquire_lease(hub: &Hub, session: &LiveSession) -> Result<(), Refused> {
    loop {
        match hub.bus.try_lease(&session.id, &hub.replica).await {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(error) => return Err(Refused::Storage(error.to_string())),
        }
        if hub.shutdown.is_cancelled() {
            return Err(Refused::Closed);
        }
        // Held by another server: wait for its release (or its expiry).
        tokio::select! {
            () = session.lease_freed.notified() => {}
            () = tokio::time::sleep(hub.settings.lease_ttl / 2) => {}
            () = session.closed.cancelled() => return Err(Refused::Closed),
        }
    }
}

async fn release_lease(hub: &Hub, session: &LiveSession) {
    if let Err(error) = hub.bus.release_lease(&session.id, &hub.replica).await {
        tracing::warn!(%error, "cannot release a turn lease; it will expire");
    }
    if hub.bus.shared() {
        let _ = hub
            .bus
            .control(&session.id, crate::bus::Control::Released)
            .await;
    }
}

/// Sends an error for a turn that never started, to clients here only (it has no seq:
/// it is not part of the stored conversation).
fn refuse(
    hub: &Hub,
    session: &LiveSession,
    turn_id: &str,
    code: ErrorCode,
    message: impl Into<String>,
) {
    let frame = ServerFrame {
        event: ServerEvent::error_with_code(code, message),
        turn_id: Some(turn_id.to_owned()),
        seq: None,
        ts_ms: Some(crate::clock::now_ms()),
    };
    if let Ok(text) = serde_json::to_string(&frame) {
        hub.bus.deliver_local(
            &session.id,
            Live {
                seq: 0,
                turn: Arc::from(turn_id),
                terminal: true,
                frame: Arc::from(text),
            },
        );
    }
}

/// Runs one turn while holding the lease.
async fn run_leased(
    hub: &Arc<Hub>,
    session: &Arc<LiveSession>,
    queued: Queued,
    lang: Lang,
) -> Result<(), StoreError> {
    if !hub.journal.healthy() {
        return Err(StoreError::Unavailable("the last commit failed".into()));
    }
    if hub.bus.shared() {
        super::recovery::catch_up(hub, session).await?;
    }
    let history = ensure_history(hub, session).await?;
    let dropped = session.state().dropped.remove(&queued.turn_id);
    let cancelled = queued.epoch != session.epoch.load(std::sync::atomic::Ordering::Acquire)
        || hub.shutdown.is_cancelled()
        || dropped;
    let (question, replaces) = match (&queued.kind, history.last()) {
        _ if cancelled => (String::new(), None),
        (TurnKind::Message(text), _) => (text.clone(), None),
        (TurnKind::Edit(text), Some(last)) => (text.clone(), Some(last.turn_id.clone())),
        (TurnKind::Edit(text), None) => (text.clone(), None),
        (TurnKind::Regenerate, Some(last)) => (last.question.clone(), Some(last.turn_id.clone())),
        (TurnKind::Regenerate, None) => {
            let text = say(lang, Msg::NothingToRedo);
            refuse(
                hub,
                session,
                &queued.turn_id,
                ErrorCode::InvalidMessage,
                text,
            );
            return Ok(());
        }
    };
    let meta = conversation_meta(session, &question);
    let first_seq = session.state().next_seq;
    let log = match hub.journal.begin(
        meta,
        &queued.turn_id,
        &question,
        replaces.clone(),
        first_seq,
        crate::clock::now_ms(),
        hub.bus.shared(),
    ) {
        Ok(log) => log,
        Err(error) => return Err(error),
    };
    if hub.bus.shared() {
        // Before any event shows, the conversation and its question are stored, so
        // that any server a client turns to can open it.
        if tokio::time::timeout(STORE_WAIT, log.stored())
            .await
            .is_err()
        {
            log.finish(TurnStatus::Failed, "[]".into(), Usage::default());
            return Err(StoreError::Unavailable(
                "the turn could not be stored in time".into(),
            ));
        }
    }
    let usage_before = session.state().usage;
    let mut publisher = Publisher {
        session,
        bus: hub.bus.as_ref(),
        log: &log,
        turn_id: Arc::from(queued.turn_id.as_str()),
        usage_before,
        usage: None,
        replaces: replaces.clone(),
    };
    if cancelled {
        publisher.publish(ServerEvent::Cancelled {}).await;
        drop(publisher);
        log.finish(TurnStatus::Cancelled, "[]".into(), Usage::default());
        return Ok(());
    }

    let cancel = hub.hard_stop.child_token();
    let (approvals, inbox) = approval_channel();
    let inbox = if queued.attended {
        inbox
    } else {
        ApprovalInbox::unattended()
    };
    *session.running() = Some(Running {
        turn_id: queued.turn_id.clone(),
        cancel: cancel.clone(),
        approvals,
    });
    let heartbeat = heartbeat(hub, session, cancel.clone());
    let model_history = history.for_model(replaces.as_deref());
    let turn = Box::pin(hub.agent.run_turn(
        &queued.turn_id,
        &question,
        &model_history,
        &mut publisher,
        &inbox,
        &cancel,
    ));
    let outcome = AssertUnwindSafe(turn).catch_unwind().await;
    heartbeat.cancel();
    session.running().take();

    let (status, messages) = match outcome {
        Ok(Ok(summary)) => (TurnStatus::Complete, summary.messages),
        Ok(Err(AgentError::Cancelled | AgentError::ClientGone(_))) => {
            (TurnStatus::Cancelled, Vec::new())
        }
        Ok(Err(_)) => (TurnStatus::Failed, Vec::new()),
        Err(_) => {
            tracing::error!(turn_id = %queued.turn_id, "a turn panicked");
            hub.agent.record_panic();
            let event = ServerEvent::error_with_code(ErrorCode::Internal, say(lang, Msg::Internal));
            publisher.publish(event).await;
            (TurnStatus::Failed, Vec::new())
        }
    };
    let usage = publisher.usage.unwrap_or_default();
    drop(publisher);
    let messages_json = serde_json::to_string(&messages).unwrap_or_else(|_| "[]".into());
    {
        let mut state = session.state();
        state.usage.add(&usage);
        state.updated_ms = crate::clock::now_ms();
        if replaces.is_none() {
            state.turns += 1;
        }
        if let Some(history) = state.history.as_mut() {
            if let Some(replaced) = &replaces {
                history.remove(replaced);
            }
            history.push(RememberedTurn {
                turn_id: queued.turn_id.clone(),
                question,
                messages,
            });
        }
    }
    let durable = log.finish(status, messages_json, usage);
    if hub.bus.shared() {
        // The next turn may run on another server, which reads the history from the
        // store: it must be there before the lease goes.
        if tokio::time::timeout(Duration::from_secs(10), durable.wait())
            .await
            .is_err()
        {
            tracing::warn!("a turn was not durable within 10 s; releasing its lease anyway");
        }
    }
    Ok(())
}

/// The conversation's title and creation time, set by its first question.
fn conversation_meta(session: &LiveSession, question: &str) -> Arc<ConversationMeta> {
    let mut state = session.state();
    if let Some(meta) = &state.meta {
        return meta.clone();
    }
    let meta = Arc::new(ConversationMeta {
        id: session.id.clone(),
        owner: session.owner().hash().to_owned(),
        title: title_of(question),
        created_ms: crate::clock::now_ms(),
    });
    state.meta = Some(meta.clone());
    meta
}

/// A title from a question: its first line, at most [`TITLE_CHARS`] characters.
pub fn title_of(question: &str) -> String {
    let line = question.lines().next().unwrap_or_default().trim();
    match line.char_indices().nth(TITLE_CHARS) {
        Some((end, _)) => format!("{}…", line[..end].trim_end()),
        None => line.to_owned(),
    }
}

/// The session's history, loaded from the store when this server does not hold it.
async fn ensure_history(hub: &Hub, session: &LiveSession) -> Result<History, StoreError> {
    if let Some(history) = session.state().history.clone() {
        return Ok(history);
    }
    let records = hub.journal.turns(&session.id, 0).await?;
    let history = History::from_records(&records);
    session.state().history = Some(history.clone());
    Ok(history)
}

/// Keeps the lease alive while the turn runs; a lost lease stops the turn (another
/// server may take the session over).
fn heartbeat(
    hub: &Arc<Hub>,
    session: &Arc<LiveSession>,
    turn: CancellationToken,
) -> CancellationToken {
    let stop = CancellationToken::new();
    if !hub.bus.shared() {
        return stop;
    }
    let (hub, session, done) = (hub.clone(), session.clone(), stop.clone());
    let every = hub.settings.lease_ttl / 3;
    hub.tasks.clone().spawn(async move {
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = done.cancelled() => return,
            }
            match hub.bus.renew_lease(&session.id, &hub.replica).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!("lost a turn lease; stopping the turn");
                    turn.cancel();
                    return;
                }
                Err(error) => tracing::warn!(%error, "cannot renew a turn lease"),
            }
        }
    });
    stop
}
