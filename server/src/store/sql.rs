//! The SQL store: one implementation, generic over sqlx's database, for SQLite (the
//! embedded default) and PostgreSQL. The statements are plain SQL both engines run
//! (`$n` placeholders, `ON CONFLICT … DO UPDATE`); only the schema differs, one
//! migration per engine. Turns are written whole, many per statement.

use std::{str::FromStr, time::Duration};

use async_trait::async_trait;
use sqlx::{
    ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Postgres, QueryBuilder,
    Row, SqlSafeStr, Sqlite, Type,
    migrate::{Migration, MigrationType, Migrator},
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

mod rows;

use self::rows::{
    CONVERSATION_COLUMNS, TURN_COLUMNS, conversation_of, corrupt, int, turn_of, uint,
    upsert_conversations, upsert_turns,
};
use super::{Batch, ConversationRecord, Store, StoreError, TurnRecord};

/// Rows per multi-row statement: well under both engines' bind-parameter limits.
const ROWS_PER_STATEMENT: usize = 200;
/// How long a request waits for a pooled connection before it reports the store
/// unavailable (a database that is down must not hang turns).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

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
