//! Records as rows and back: the columns, the multi-row upserts the journal's batches
//! become, and the decoding of what a query returns. Counters are `BIGINT` in both
//! engines (neither has unsigned integers); values past `i64::MAX` are clamped.

use std::sync::Arc;

use protocol::Usage;
use sqlx::{ColumnIndex, Database, Decode, Encode, QueryBuilder, Row, Type};

use crate::store::{ConversationRecord, ConversationWrite, StoreError, TurnRecord, TurnStatus};

pub(super) const CONVERSATION_COLUMNS: &str = "id, owner, title, created_ms, updated_ms, turns, last_seq, \
     input_tokens, output_tokens, cost_usd";
pub(super) const TURN_COLUMNS: &str = "conversation_id, turn_id, question, replaces, status, first_seq, \
     last_seq, event_count, started_ms, ended_ms, events, messages, input_tokens, output_tokens, \
     cost_usd";

pub(super) fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub(super) fn uint(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

pub(super) fn corrupt(error: sqlx::Error) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

pub(super) fn upsert_conversations<DB>(rows: &[ConversationWrite]) -> QueryBuilder<DB>
where
    DB: Database,
    DB::Arguments: Default,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Option<f64>: Encode<'q, DB> + Type<DB>,
{
    let mut query = QueryBuilder::new(format!(
        "INSERT INTO conversations ({CONVERSATION_COLUMNS}) "
    ));
    query.push_values(rows, |mut row, c| {
        row.push_bind(c.id.clone())
            .push_bind(c.owner.clone())
            .push_bind(c.title.clone())
            .push_bind(int(c.created_ms))
            .push_bind(int(c.updated_ms))
            .push_bind(i64::from(c.add_turns))
            .push_bind(int(c.last_seq))
            .push_bind(int(c.add_usage.input_tokens))
            .push_bind(int(c.add_usage.output_tokens))
            .push_bind(c.add_usage.cost_usd);
    });
    // Title, owner and creation time stay as first written (a rename wins).
    query.push(
        " ON CONFLICT (id) DO UPDATE SET updated_ms = excluded.updated_ms, \
         last_seq = excluded.last_seq, turns = conversations.turns + excluded.turns, \
         input_tokens = conversations.input_tokens + excluded.input_tokens, \
         output_tokens = conversations.output_tokens + excluded.output_tokens, \
         cost_usd = CASE WHEN excluded.cost_usd IS NULL THEN conversations.cost_usd \
         ELSE COALESCE(conversations.cost_usd, 0) + excluded.cost_usd END",
    );
    query
}

pub(super) fn upsert_turns<DB>(rows: &[TurnRecord]) -> QueryBuilder<DB>
where
    DB: Database,
    DB::Arguments: Default,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<f64>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
{
    let mut query = QueryBuilder::new(format!("INSERT INTO turns ({TURN_COLUMNS}) "));
    query.push_values(rows, |mut row, t| {
        row.push_bind(t.conversation_id.clone())
            .push_bind(t.turn_id.clone())
            .push_bind(t.question.clone())
            .push_bind(t.replaces.clone())
            .push_bind(t.status.as_str().to_owned())
            .push_bind(int(t.first_seq))
            .push_bind(int(t.last_seq()))
            .push_bind(t.events.len() as i64)
            .push_bind(int(t.started_ms))
            .push_bind(t.ended_ms.map(int))
            .push_bind(t.events.join("\n"))
            .push_bind(t.messages.clone())
            .push_bind(int(t.usage.input_tokens))
            .push_bind(int(t.usage.output_tokens))
            .push_bind(t.usage.cost_usd);
    });
    query.push(
        " ON CONFLICT (conversation_id, turn_id) DO UPDATE SET status = excluded.status, \
         last_seq = excluded.last_seq, event_count = excluded.event_count, \
         ended_ms = excluded.ended_ms, events = excluded.events, messages = excluded.messages, \
         input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens, \
         cost_usd = excluded.cost_usd",
    );
    query
}

pub(super) fn conversation_of<DB>(row: &DB::Row) -> Result<ConversationRecord, StoreError>
where
    DB: Database,
    for<'q> i64: Decode<'q, DB> + Type<DB>,
    for<'q> String: Decode<'q, DB> + Type<DB>,
    for<'q> Option<f64>: Decode<'q, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    let int = |at: usize| row.try_get::<i64, _>(at).map(uint).map_err(corrupt);
    Ok(ConversationRecord {
        id: row.try_get(0).map_err(corrupt)?,
        owner: row.try_get(1).map_err(corrupt)?,
        title: row.try_get(2).map_err(corrupt)?,
        created_ms: int(3)?,
        updated_ms: int(4)?,
        turns: u32::try_from(int(5)?).unwrap_or(u32::MAX),
        last_seq: int(6)?,
        usage: Usage {
            input_tokens: int(7)?,
            output_tokens: int(8)?,
            cost_usd: row.try_get(9).map_err(corrupt)?,
        },
    })
}

pub(super) fn turn_of<DB>(row: &DB::Row) -> Result<TurnRecord, StoreError>
where
    DB: Database,
    for<'q> i64: Decode<'q, DB> + Type<DB>,
    for<'q> String: Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Decode<'q, DB> + Type<DB>,
    for<'q> Option<f64>: Decode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Decode<'q, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    let int = |at: usize| row.try_get::<i64, _>(at).map(uint).map_err(corrupt);
    let status: String = row.try_get(4).map_err(corrupt)?;
    let events: String = row.try_get(10).map_err(corrupt)?;
    let count = int(7)?;
    let events: Vec<Arc<str>> = if count == 0 {
        Vec::new()
    } else {
        events.split('\n').map(Arc::from).collect()
    };
    if events.len() as u64 != count {
        return Err(StoreError::Corrupt("a turn's event count is wrong".into()));
    }
    Ok(TurnRecord {
        conversation_id: row.try_get(0).map_err(corrupt)?,
        turn_id: row.try_get(1).map_err(corrupt)?,
        question: row.try_get(2).map_err(corrupt)?,
        replaces: row.try_get(3).map_err(corrupt)?,
        status: TurnStatus::parse(&status),
        first_seq: int(5)?,
        started_ms: int(8)?,
        ended_ms: row.try_get::<Option<i64>, _>(9).map_err(corrupt)?.map(uint),
        events,
        messages: row.try_get(11).map_err(corrupt)?,
        usage: Usage {
            input_tokens: int(12)?,
            output_tokens: int(13)?,
            cost_usd: row.try_get(14).map_err(corrupt)?,
        },
    })
}
