//! Conversations outlive the server: stored in SQLite (the default) or PostgreSQL,
//! resumed after a restart with their events replayed exactly and the model's memory
//! intact; expired ones purged; turns cut short by a crash marked interrupted.

use protocol::{ErrorCode, ServerEvent, ServerFrame};

use crate::{
    engines::{Postgres, TempDir},
    helpers::{TestApp, WsClient, spawn_app_with},
};

/// Every frame of one turn, up to and including its terminal event.
pub async fn turn_frames(client: &mut WsClient, content: &str) -> Vec<ServerFrame> {
    client.say(content).await;
    collect_frames(client).await
}

pub async fn collect_frames(client: &mut WsClient) -> Vec<ServerFrame> {
    let mut frames = Vec::new();
    loop {
        let frame = client.next_frame().await;
        let done = frame.event.is_terminal();
        frames.push(frame);
        if done {
            return frames;
        }
    }
}

pub fn tool_results(frames: &[ServerFrame]) -> Vec<String> {
    frames
        .iter()
        .filter_map(|f| match &f.event {
            ServerEvent::ToolResult { result, .. } => Some(result.clone()),
            _ => None,
        })
        .collect()
}

async fn app_on(database_url: &str) -> TestApp {
    let url = database_url.to_owned();
    spawn_app_with(move |s| s.database_url = url).await
}

/// Asks, restarts the server, resumes: the same events, and the model remembers.
async fn survives_a_restart(database_url: &str) {
    let app = app_on(database_url).await;
    let mut client = app.connect_raw().await;
    let ServerEvent::Ready { session_id, .. } = client.next_event().await else {
        panic!("ready first");
    };
    let first = turn_frames(&mut client, "Suma 10 y 5").await;
    assert_eq!(tool_results(&first), ["15"]);
    let owner = client.owner().to_owned();
    drop(client);
    app.stop().await;

    let app = app_on(database_url).await;
    let mut client = app.connect_as(&owner).await;
    client.resume(&session_id, 0).await;
    match client.next_event().await {
        ServerEvent::Ready {
            session_id: resumed,
            conversation: Some(conversation),
            ..
        } => {
            assert_eq!(resumed, session_id);
            assert_eq!(conversation.title, "Suma 10 y 5");
            assert_eq!(conversation.turns, 1);
        }
        other => panic!("expected ready with the conversation, got {other:?}"),
    }
    let replayed = collect_frames(&mut client).await;
    assert_eq!(replayed, first, "the stored events, exactly");

    // Resuming after the last event replays nothing; the model remembers 15.
    let next = turn_frames(&mut client, "multiply the result by 2").await;
    assert_eq!(tool_results(&next), ["30"]);
    let first_seq = next[0].seq.unwrap();
    assert_eq!(first_seq, first.last().unwrap().seq.unwrap() + 1);
    app.stop().await;
}

#[tokio::test]
async fn conversations_survive_a_restart_on_sqlite() {
    let dir = TempDir::new("toolstream-sqlite");
    // The folder does not exist yet: the server creates it.
    let url = format!("sqlite://{}/nested/toolstream.db", dir.path().display());
    survives_a_restart(&url).await;
    assert!(dir.path().join("nested/toolstream.db").exists());
}

#[tokio::test]
async fn conversations_survive_a_restart_on_postgres() {
    let postgres = Postgres::start();
    survives_a_restart(&postgres.url()).await;
}

#[tokio::test]
async fn a_resume_after_last_seq_replays_only_what_came_after() {
    let dir = TempDir::new("toolstream-sqlite");
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let app = app_on(&url).await;
    let mut client = app.connect_raw().await;
    let ServerEvent::Ready { session_id, .. } = client.next_event().await else {
        panic!()
    };
    let first = turn_frames(&mut client, "Suma 1 y 2").await;
    let second = turn_frames(&mut client, "Suma 3 y 4").await;
    let owner = client.owner().to_owned();
    drop(client);
    app.stop().await;

    let app = app_on(&url).await;
    let mut client = app.connect_as(&owner).await;
    client
        .resume(&session_id, first.last().unwrap().seq.unwrap())
        .await;
    assert!(matches!(
        client.next_event().await,
        ServerEvent::Ready { .. }
    ));
    assert_eq!(collect_frames(&mut client).await, second);
    app.stop().await;
}

#[tokio::test]
async fn expired_conversations_are_purged_at_start() {
    let dir = TempDir::new("toolstream-sqlite");
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let app = app_on(&url).await;
    let mut client = app.connect_raw().await;
    let ServerEvent::Ready {
        session_id: old, ..
    } = client.next_event().await
    else {
        panic!()
    };
    turn_frames(&mut client, "Suma 1 y 2").await;
    let owner = client.owner().to_owned();
    drop(client);
    let mut other = app.connect_as(&owner).await;
    turn_frames(&mut other, "Suma 3 y 4").await;
    drop(other);
    app.stop().await;

    // The first conversation was last used 31 days ago (the default keeps 30).
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let month_ago = server::clock::now_ms() as i64 - 31 * 24 * 3600 * 1000;
    sqlx::query("UPDATE conversations SET updated_ms = $1 WHERE id = $2")
        .bind(month_ago)
        .bind(old.clone())
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let app = app_on(&url).await;
    let client = reqwest::Client::new();
    let listed = loop {
        let list: Vec<serde_json::Value> = client
            .get(app.url("/api/conversations"))
            .header("cookie", &owner)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        // The purge runs as the server starts; wait for it rather than guess.
        if list.len() == 1 {
            break list;
        }
        tokio::task::yield_now().await;
    };
    assert_ne!(listed[0]["id"], old.as_str());
    let mut resumer = app.connect_as(&owner).await;
    resumer.resume(&old, 0).await;
    assert!(matches!(
        resumer.next_event().await,
        ServerEvent::Error {
            code: Some(ErrorCode::SessionExpired),
            ..
        }
    ));
    app.stop().await;
}
