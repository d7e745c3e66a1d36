//! The SQL store: one implementation, generic over sqlx's database, for SQLite (the
//! embedded default) and PostgreSQL. The statements are plain SQL both engines run
//! (`$n` placeholders, `ON CONFLICT … DO UPDATE`); only the schema differs, one
//! migration per engine. Turns are written whole, many per statement.

use std::{str::FromStr, sync::Arc, time::Duration};

use async_trait::async_trait;
use protocol::Usage;
use sqlx::{
    ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Postgres, QueryBuilder,
    Row, SqlSafeStr, Sqlite, Type,
    migrate::{Migration, MigrationType, Migrator},
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use super::{
    Batch, ConversationRecord, ConversationWrite, Store, StoreError, TurnRecord, TurnStatus,
};

/// Rows per multi-row statement: well under both engines' bind-parameter limits.
const ROWS_PER_STATEMENT: usize = 200;
/// How long a request waits for a pooled connection before it reports the store
/// unavailable (a database that is down must not hang turns).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

const CONVERSATION_COLUMNS: &str = "id, owner, title, created_ms, updated_ms, turns, last_seq, \
     input_tokens, output_tokens, cost_usd";
const TURN_COLUMNS: &str = "conversation_id, turn_id, question, replaces, status, first_seq, \
     last_seq, event_count, started_ms, ended_ms, events, messages, input_tokens, output_tokens, \
     cost_usd";

/// Conversations in a SQL database.
pub struct SqlStore<DB: Database> {
    pool: Pool<DB>,
    kind: &'static str,
}

fn unavailable(error: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

fn migrator(schema: &'static str) -> Migrator {
    let init = Migration::new(
        1,
        "conversations and turns".into(),
        MigrationType::Simple,
        sqlx::AssertSqlSafe(schema).into_sql_str(),
        false,
    );
    Migrator::with_migrations(vec![init])
}

impl SqlStore<Sqlite> {
    /// Opens (creating it, and its folder, when missing) the SQLite file of `url`.
    pub async fn open_sqlite(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(format!("invalid DATABASE_URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL with NORMAL: a crash of the machine may lose the last commits, never
            // corrupt the file; a crash of the process loses nothing committed.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        if let Some(folder) = options.get_filename().parent()
            && !folder.as_os_str().is_empty()
        {
            std::fs::create_dir_all(folder).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", folder.display()))
            })?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(unavailable)?;
        migrator(include_str!("migrations/sqlite.sql"))
            .run(&pool)
            .await
            .map_err(unavailable)?;
        Ok(Self {
            pool,
            kind: "sqlite",
        })
    }
}

impl SqlStore<Postgres> {
    /// Connects to PostgreSQL. Migrations take the migrator's advisory lock, so
    /// replicas starting together apply them once.
    pub async fn open_postgres(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await
            .map_err(unavailable)?;
        migrator(include_str!("migrations/postgres.sql"))
            .run(&pool)
            .await
            .map_err(unavailable)?;
        Ok(Self {
            pool,
            kind: "postgres",
        })
    }
}

fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn uint(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

#[async_trait]
impl<DB> Store for SqlStore<DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'c> &'c Pool<DB>: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB> + Default,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> f64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Decode<'q, DB>,
    for<'q> Option<f64>: Encode<'q, DB> + Decode<'q, DB>,
    for<'q> Option<String>: Encode<'q, DB> + Decode<'q, DB>,
    usize: ColumnIndex<DB::Row>,
    DB::QueryResult: RowsAffected,
{
    fn kind(&self) -> &'static str {
        self.kind
    }

    async fn write(&self, batch: &Batch) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        for chunk in batch.conversations.chunks(ROWS_PER_STATEMENT) {
            let mut query = upsert_conversations::<DB>(chunk);
            query.build().execute(&mut *tx).await.map_err(unavailable)?;
        }
        for chunk in batch.turns.chunks(ROWS_PER_STATEMENT) {
            let mut query = upsert_turns::<DB>(chunk);
            query.build().execute(&mut *tx).await.map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)
    }

    async fn conversation(&self, id: &str) -> Result<Option<ConversationRecord>, StoreError> {
        let sql = format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_owned())
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.map(|row| conversation_of::<DB>(&row)).transpose()
    }

    async fn list(&self, owner: &str, limit: u32) -> Result<Vec<ConversationRecord>, StoreError> {
        let sql = format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE owner = $1 \
             ORDER BY updated_ms DESC, id LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(owner.to_owned())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter().map(conversation_of::<DB>).collect()
    }

    async fn turns(&self, id: &str, after_seq: u64) -> Result<Vec<TurnRecord>, StoreError> {
        let sql = format!(
            "SELECT {TURN_COLUMNS} FROM turns WHERE conversation_id = $1 AND last_seq > $2 \
             ORDER BY first_seq"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_owned())
            .bind(int(after_seq))
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter().map(turn_of::<DB>).collect()
    }

    async fn rename(&self, id: &str, owner: &str, title: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE conversations SET title = $1 WHERE id = $2 AND owner = $3")
            .bind(title.to_owned())
            .bind(id.to_owned())
            .bind(owner.to_owned())
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(done.rows() > 0)
    }

    async fn delete(&self, id: &str, owner: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let done = sqlx::query("DELETE FROM conversations WHERE id = $1 AND owner = $2")
            .bind(id.to_owned())
            .bind(owner.to_owned())
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        let deleted = done.rows() > 0;
        if deleted {
            // The foreign key cascades too; this keeps it true without relying on it.
            sqlx::query("DELETE FROM turns WHERE conversation_id = $1")
                .bind(id.to_owned())
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(deleted)
    }

    async fn purge(&self, before_ms: u64) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        sqlx::query(
            "DELETE FROM turns WHERE conversation_id IN \
             (SELECT id FROM conversations WHERE updated_ms < $1)",
        )
        .bind(int(before_ms))
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        let done = sqlx::query("DELETE FROM conversations WHERE updated_ms < $1")
            .bind(int(before_ms))
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(done.rows())
    }

    async fn trim(&self, id: &str, max_events: u64) -> Result<u64, StoreError> {
        // Newest first: keep turns while the running total fits, always the newest.
        let rows = sqlx::query(
            "SELECT turn_id, event_count FROM turns WHERE conversation_id = $1 \
             ORDER BY first_seq DESC",
        )
        .bind(id.to_owned())
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        let mut kept = 0u64;
        let mut doomed = Vec::new();
        for (at, row) in rows.iter().enumerate() {
            let turn_id: String = row.try_get(0).map_err(corrupt)?;
            let count: i64 = row.try_get(1).map_err(corrupt)?;
            kept += uint(count);
            if at > 0 && kept > max_events {
                doomed.push(turn_id);
            }
        }
        for chunk in doomed.chunks(ROWS_PER_STATEMENT) {
            let mut query = QueryBuilder::<DB>::new("DELETE FROM turns WHERE conversation_id = ");
            query.push_bind(id.to_owned()).push(" AND turn_id IN (");
            let mut list = query.separated(", ");
            for turn_id in chunk {
                list.push_bind(turn_id.clone());
            }
            query.push(")");
            query
                .build()
                .execute(&self.pool)
                .await
                .map_err(unavailable)?;
        }
        Ok(doomed.len() as u64)
    }

    async fn running_turns(&self) -> Result<Vec<TurnRecord>, StoreError> {
        let sql = format!("SELECT {TURN_COLUMNS} FROM turns WHERE status = 'running'");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter().map(turn_of::<DB>).collect()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}

fn corrupt(error: sqlx::Error) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

/// How many rows a statement changed: each engine's query result has it, under no
/// common trait.
pub trait RowsAffected {
    fn rows(&self) -> u64;
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows(&self) -> u64 {
        self.rows_affected()
    }
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows(&self) -> u64 {
        self.rows_affected()
    }
}

fn upsert_conversations<DB>(rows: &[ConversationWrite]) -> QueryBuilder<DB>
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

fn upsert_turns<DB>(rows: &[TurnRecord]) -> QueryBuilder<DB>
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

fn conversation_of<DB>(row: &DB::Row) -> Result<ConversationRecord, StoreError>
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

fn turn_of<DB>(row: &DB::Row) -> Result<TurnRecord, StoreError>
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
