-- toolstream conversations, SQLite. Times are Unix milliseconds; ids are text.
CREATE TABLE conversations (
    id            TEXT PRIMARY KEY NOT NULL,
    owner         TEXT NOT NULL,
    title         TEXT NOT NULL,
    created_ms    INTEGER NOT NULL,
    updated_ms    INTEGER NOT NULL,
    turns         INTEGER NOT NULL DEFAULT 0,
    last_seq      INTEGER NOT NULL DEFAULT 0,
    input_tokens  INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd      REAL
);
CREATE INDEX conversations_by_owner ON conversations (owner, updated_ms DESC);
CREATE INDEX conversations_by_age ON conversations (updated_ms);

-- One row per turn: its events (one JSON frame per line, seq first_seq, first_seq+1, ...)
-- and the entries it added to the model's history.
CREATE TABLE turns (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    turn_id         TEXT NOT NULL,
    question        TEXT NOT NULL,
    replaces        TEXT,
    status          TEXT NOT NULL,
    first_seq       INTEGER NOT NULL,
    last_seq        INTEGER NOT NULL,
    event_count     INTEGER NOT NULL,
    started_ms      INTEGER NOT NULL,
    ended_ms        INTEGER,
    events          TEXT NOT NULL,
    messages        TEXT NOT NULL,
    input_tokens    INTEGER NOT NULL DEFAULT 0,
    output_tokens   INTEGER NOT NULL DEFAULT 0,
    cost_usd        REAL,
    PRIMARY KEY (conversation_id, turn_id)
);
CREATE INDEX turns_by_seq ON turns (conversation_id, last_seq);
CREATE INDEX turns_running ON turns (status) WHERE status = 'running';
