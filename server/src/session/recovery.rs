//! Turns whose server stopped before they ended. A single server finds them in the
//! store when it starts; servers sharing sessions find them when a session's lease has
//! expired with its last event not terminal. Either way the turn gets a terminal
//! `error` with code `interrupted` and is stored as interrupted; the conversation
//! goes on.

use std::sync::Arc;

use protocol::{ErrorCode, ServerEvent, Usage};

use super::{Hub, live::LiveSession, publisher::Publisher};
use crate::{
    bus::Live,
    lang::DEFAULT,
    store::{StoreError, TurnRecord, TurnStatus, journal::ConversationMeta},
    texts::{Msg, say},
};

/// Before a turn runs on a session other servers share: takes up the numbering and
/// the history where they left them, and closes a turn a stopped server left open.
/// Call it holding the session's lease.
pub(super) async fn catch_up(hub: &Arc<Hub>, session: &Arc<LiveSession>) -> Result<(), StoreError> {
    let tail = hub
        .bus
        .tail(&session.id)
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    let stored = hub.journal.store().conversation(&session.id).await?;
    let last_known = tail
        .as_ref()
        .map_or(0, |t| t.seq)
        .max(stored.as_ref().map_or(0, |c| c.last_seq));
    {
        let mut state = session.state();
        if last_known >= state.next_seq {
            // Another server ran turns since: the history here is stale.
            state.next_seq = last_known + 1;
            state.history = None;
        }
        if let Some(stored) = &stored {
            state.usage = stored.usage;
            state.turns = stored.turns;
            if state.meta.is_none() {
                state.meta = Some(Arc::new(ConversationMeta {
                    id: stored.id.clone(),
                    owner: stored.owner.clone(),
                    title: stored.title.clone(),
                    created_ms: stored.created_ms,
                }));
            }
        }
    }
    if let Some(tail) = tail
        && !tail.terminal
    {
        interrupt(hub, session, &tail).await?;
    }
    Ok(())
}

/// Ends the turn `tail` belongs to with an `interrupted` error.
async fn interrupt(
    hub: &Arc<Hub>,
    session: &Arc<LiveSession>,
    tail: &Live,
) -> Result<(), StoreError> {
    let stored = hub
        .journal
        .turns(&session.id, 0)
        .await?
        .into_iter()
        .find(|t| t.turn_id == *tail.turn);
    let in_bus: Vec<Live> = hub
        .bus
        .recent(&session.id, 0)
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?
        .into_iter()
        .filter(|live| live.turn == tail.turn)
        .collect();
    let was_stored = stored.is_some();
    let mut record = stored.unwrap_or_else(|| TurnRecord {
        conversation_id: session.id.clone(),
        turn_id: tail.turn.to_string(),
        question: String::new(),
        replaces: None,
        status: TurnStatus::Running,
        first_seq: in_bus.first().map_or(tail.seq, |l| l.seq),
        started_ms: crate::clock::now_ms(),
        ended_ms: None,
        events: Vec::new(),
        messages: "[]".into(),
        usage: Usage::default(),
    });
    for live in in_bus {
        if live.seq == record.last_seq() + 1
            || (record.events.is_empty() && live.seq == record.first_seq)
        {
            record.events.push(live.frame);
        }
    }
    tracing::warn!(turn_id = %record.turn_id, "a turn's server stopped before it ended; marking it interrupted");
    session.state().next_seq = record.last_seq() + 1;
    close(hub, session, record, was_stored).await
}

/// Appends the `interrupted` error to `record` and stores it as interrupted.
async fn close(
    hub: &Arc<Hub>,
    session: &Arc<LiveSession>,
    record: TurnRecord,
    stored: bool,
) -> Result<(), StoreError> {
    let meta = session.state().meta.clone().unwrap_or_else(|| {
        Arc::new(ConversationMeta {
            id: session.id.clone(),
            owner: session.owner().hash().to_owned(),
            title: super::worker::title_of(&record.question),
            created_ms: record.started_ms,
        })
    });
    let lang = crate::lang::detect(&record.question);
    let lang = if record.question.is_empty() {
        DEFAULT
    } else {
        lang
    };
    let turn_id: Arc<str> = Arc::from(record.turn_id.as_str());
    let log = hub.journal.adopt(meta, record, stored, false)?;
    let mut publisher = Publisher {
        session,
        bus: hub.bus.as_ref(),
        log: &log,
        turn_id,
        usage_before: Usage::default(),
        usage: None,
        replaces: None,
    };
    let error = ServerEvent::error_with_code(ErrorCode::Interrupted, say(lang, Msg::Interrupted));
    publisher.publish(error).await;
    drop(publisher);
    let durable = log.finish(TurnStatus::Interrupted, "[]".into(), Usage::default());
    durable.wait().await;
    Ok(())
}

/// At the start of a single server: every turn the store holds as running was cut
/// short by the previous run.
pub async fn close_running_turns(hub: &Arc<Hub>) -> Result<usize, StoreError> {
    let running = hub.journal.store().running_turns().await?;
    let count = running.len();
    for record in running {
        let Some(conversation) = hub
            .journal
            .store()
            .conversation(&record.conversation_id)
            .await?
        else {
            continue;
        };
        let session = hub.hold(&conversation);
        session.state().next_seq = record.last_seq().max(conversation.last_seq) + 1;
        close(hub, &session, record, true).await?;
    }
    Ok(count)
}
