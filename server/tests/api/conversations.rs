//! The conversations API and who may use a conversation: only its owner (the owner
//! cookie) lists, reads, resumes, continues, renames or deletes it; a stranger gets
//! nothing and disturbs nobody. Also `edit` and `regenerate`.

use protocol::{ErrorCode, ServerEvent};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    durable::{collect_frames, tool_results, turn_frames},
    helpers::{TestApp, kinds, owner_cookie, spawn_app},
};

/// A REST client that keeps one owner cookie.
struct Rest<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    cookie: String,
}

impl<'a> Rest<'a> {
    fn new(app: &'a TestApp, cookie: &str) -> Self {
        Self {
            app,
            http: reqwest::Client::new(),
            cookie: cookie.to_owned(),
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = request.header("cookie", &self.cookie).send().await.unwrap();
        let status = response.status();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.http.get(self.app.url(path))).await
    }

    async fn chat(&self, body: Value) -> (StatusCode, Value) {
        self.send(self.http.post(self.app.url("/api/chat")).json(&body))
            .await
    }
}

#[tokio::test]
async fn a_stranger_can_neither_resume_nor_read_nor_delete_and_disturbs_nobody() {
    let app = spawn_app().await;
    let mut owner = app.connect_raw().await;
    let ServerEvent::Ready { session_id, .. } = owner.next_event().await else {
        panic!()
    };
    turn_frames(&mut owner, "Suma 10 y 5").await;

    // Knowing the session id is not enough.
    let mut stranger = app.connect().await;
    stranger.resume(&session_id, 0).await;
    assert!(matches!(
        stranger.next_event().await,
        ServerEvent::Error {
            code: Some(ErrorCode::Unauthorized),
            ..
        }
    ));
    // The stranger's own connection goes on; the owner was not disturbed.
    assert_eq!(
        tool_results(&turn_frames(&mut stranger, "Suma 1 y 1").await),
        ["2"]
    );
    assert_eq!(
        tool_results(&turn_frames(&mut owner, "y multiplícalo por 2").await),
        ["30"]
    );

    let stranger_rest = Rest::new(&app, stranger.owner());
    let path = format!("/api/conversations/{session_id}");
    assert_eq!(stranger_rest.get(&path).await.0, StatusCode::NOT_FOUND);
    let delete = stranger_rest.http.delete(app.url(&path));
    assert_eq!(stranger_rest.send(delete).await.0, StatusCode::NOT_FOUND);
    let rename = stranger_rest
        .http
        .patch(app.url(&path))
        .json(&json!({"title": "mine"}));
    assert_eq!(stranger_rest.send(rename).await.0, StatusCode::NOT_FOUND);
    let (status, _) = stranger_rest
        .chat(json!({"message": "Suma 2 y 2", "conversation_id": session_id}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, listed) = stranger_rest.get("/api/conversations").await;
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["id"] != session_id.as_str())
    );

    // The owner still has it all.
    let owner_rest = Rest::new(&app, owner.owner());
    let (status, detail) = owner_rest.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["turns"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_conversations_api_lists_reads_renames_and_deletes() {
    let app = spawn_app().await;
    let mut client = app.connect_raw().await;
    let ServerEvent::Ready {
        session_id: first, ..
    } = client.next_event().await
    else {
        panic!()
    };
    turn_frames(&mut client, "Suma 10 y 5").await;
    turn_frames(&mut client, "y multiplícalo por 2").await;
    let cookie = client.owner().to_owned();
    let rest = Rest::new(&app, &cookie);
    // A second conversation, over REST, continued with its id (the REST agent
    // remembers).
    let (status, reply) = rest.chat(json!({"message": "Resta 9 de 20"})).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let second = reply["conversation_id"].as_str().unwrap().to_owned();
    let (_, reply) = rest
        .chat(json!({"message": "y multiplícalo por 3", "conversation_id": second}))
        .await;
    assert_eq!(reply["tool_calls"][0]["result"], "33", "{reply}");

    let (status, listed) = rest.get("/api/conversations").await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second.as_str(), first.as_str()], "newest first");
    assert_eq!(listed[1]["title"], "Suma 10 y 5");
    assert_eq!(listed[1]["turns"], 2);

    let (status, detail) = rest.get(&format!("/api/conversations/{first}")).await;
    assert_eq!(status, StatusCode::OK);
    let turns = detail["turns"].as_array().unwrap();
    assert_eq!(turns[0]["question"], "Suma 10 y 5");
    assert_eq!(turns[0]["status"], "complete");
    assert_eq!(turns[0]["response"], "La suma de 10 y 5 es 15.");
    assert_eq!(turns[0]["tool_calls"][0]["tool"], "add");
    assert_eq!(turns[0]["tool_calls"][0]["args"], json!({"a": 10, "b": 5}));
    assert_eq!(turns[0]["tool_calls"][0]["result"], "15");
    assert!(turns[0]["ended_ms"].as_u64() >= turns[0]["started_ms"].as_u64());
    assert_eq!(turns[1]["tool_calls"][0]["result"], "30");

    let path = format!("/api/conversations/{first}");
    let (status, renamed) = rest
        .send(
            rest.http
                .patch(app.url(&path))
                .json(&json!({"title": "  Sums  "})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(renamed["title"], "Sums");
    let (status, _) = rest
        .send(rest.http.patch(app.url(&path)).json(&json!({"title": ""})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, _) = rest.send(rest.http.delete(app.url(&path))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(rest.get(&path).await.0, StatusCode::NOT_FOUND);
    let (_, listed) = rest.get("/api/conversations").await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    // Its events are gone too: resuming it finds nothing.
    let mut again = app.connect_as(&cookie).await;
    again.resume(&first, 0).await;
    assert!(matches!(
        again.next_event().await,
        ServerEvent::Error {
            code: Some(ErrorCode::SessionExpired),
            ..
        }
    ));
}

#[tokio::test]
async fn rest_clients_get_an_owner_cookie_and_resume_over_websocket() {
    let app = spawn_app().await;
    let response = reqwest::Client::new()
        .post(app.url("/api/chat"))
        .json(&json!({"message": "Suma 2 y 3"}))
        .send()
        .await
        .unwrap();
    let cookie = owner_cookie(response.headers()).expect("an owner cookie");
    let set_cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    let reply: Value = response.json().await.unwrap();
    let id = reply["conversation_id"].as_str().unwrap();

    let mut client = app.connect_as(&cookie).await;
    client.resume(id, 0).await;
    assert!(matches!(
        client.next_event().await,
        ServerEvent::Ready { .. }
    ));
    let replayed = collect_frames(&mut client).await;
    assert_eq!(tool_results(&replayed), ["5"]);
}

#[tokio::test]
async fn regenerate_and_edit_replace_the_last_turn() {
    let app = spawn_app().await;
    let mut client = app.connect_raw().await;
    let ServerEvent::Ready { session_id, .. } = client.next_event().await else {
        panic!()
    };
    let first = turn_frames(&mut client, "Suma 10 y 5").await;

    client.send_text(r#"{"type":"regenerate"}"#).await;
    let again = collect_frames(&mut client).await;
    assert_eq!(
        again[0].event,
        ServerEvent::Start {
            message: "Procesando tu solicitud...".into(),
            replaces: first[0].turn_id.clone(),
        }
    );
    assert_eq!(tool_results(&again), ["15"]);

    client
        .send_text(r#"{"type":"edit","content":"Suma 1 y 2"}"#)
        .await;
    let edited = collect_frames(&mut client).await;
    let ServerEvent::Start { replaces, .. } = &edited[0].event else {
        panic!("start first")
    };
    assert_eq!(replaces, &again[0].turn_id);
    assert_eq!(tool_results(&edited), ["3"]);

    // The model remembers the edited question, not the replaced ones.
    let next = turn_frames(&mut client, "y multiplícalo por 2").await;
    assert_eq!(tool_results(&next), ["6"]);

    let rest = Rest::new(&app, client.owner());
    let (_, detail) = rest.get(&format!("/api/conversations/{session_id}")).await;
    let questions: Vec<&str> = detail["turns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["question"].as_str().unwrap())
        .collect();
    assert_eq!(questions, ["Suma 1 y 2", "y multiplícalo por 2"]);
    assert_eq!(detail["conversation"]["turns"], 2);
}

#[tokio::test]
async fn regenerate_with_nothing_to_answer_again_is_explained() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    client.send_text(r#"{"type":"regenerate"}"#).await;
    let events = client.collect_turn().await;
    assert_eq!(kinds(&events), ["error"]);
    assert!(matches!(
        events[0],
        ServerEvent::Error {
            code: Some(ErrorCode::InvalidMessage),
            ..
        }
    ));
}
