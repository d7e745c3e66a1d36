//! Agent turns through the WebSocket: the exact event sequences.

use protocol::{Node, ServerEvent};

use crate::helpers::{args_json, kinds, spawn_app};

/// Asserts a single-tool turn: start, step(llm), tool_call, tool_result, response,
/// complete{5}; returns the response text.
fn assert_single_tool_turn(events: &[ServerEvent], tool: &str, args: &str, result: &str) -> String {
    let kinds = kinds(events);
    assert_eq!(
        kinds,
        [
            "start",
            "step",
            "tool_call",
            "tool_result",
            "response",
            "complete"
        ],
        "{events:#?}"
    );
    assert!(matches!(
        &events[1],
        ServerEvent::Step {
            node: Node::Llm,
            ..
        }
    ));
    assert!(matches!(&events[2], ServerEvent::ToolCall { tool: t, .. } if t == tool));
    assert_eq!(args_json(&events[2]), args);
    assert_eq!(
        crate::helpers::seed(&events[3]),
        ServerEvent::tool_result(tool, result, false)
    );
    assert_eq!(events[5], ServerEvent::complete(5));
    match &events[4] {
        ServerEvent::Response { content } => {
            assert!(content.contains(result), "{content:?} lacks {result}");
            content.clone()
        }
        other => panic!("expected response, got {other:?}"),
    }
}

#[tokio::test]
async fn suma_100_y_50_streams_the_reference_sequence() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    let events = client.turn("Suma 100 y 50").await;
    let response = assert_single_tool_turn(&events, "add", r#"{"a":100,"b":50}"#, "150");
    assert_eq!(response, "La suma de 100 y 50 es 150.");
    assert!(
        matches!(&events[0], ServerEvent::Start { message, .. } if message.contains("Procesando"))
    );
}

#[tokio::test]
async fn the_examples_of_both_languages() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    let cases = [
        (
            "Suma 10 y 5",
            "add",
            r#"{"a":10,"b":5}"#,
            "15",
            "La suma de 10 y 5 es 15.",
        ),
        (
            "Multiplica 6 por 7",
            "multiply",
            r#"{"a":6,"b":7}"#,
            "42",
            "El producto de 6 por 7 es 42.",
        ),
        (
            "Resta 9 de 20",
            "subtract",
            r#"{"a":20,"b":9}"#,
            "11",
            "La resta de 20 menos 9 es 11.",
        ),
        (
            "Divide 10 entre 4",
            "divide",
            r#"{"a":10,"b":4}"#,
            "2.5",
            "La división de 10 entre 4 es 2.5.",
        ),
        (
            "add 2 and 3",
            "add",
            r#"{"a":2,"b":3}"#,
            "5",
            "The sum of 2 and 3 is 5.",
        ),
        (
            "multiply 6 by 7",
            "multiply",
            r#"{"a":6,"b":7}"#,
            "42",
            "The product of 6 and 7 is 42.",
        ),
        (
            "what is 12 divided by 4",
            "divide",
            r#"{"a":12,"b":4}"#,
            "3",
            "12 divided by 4 is 3.",
        ),
        (
            "Suma 2.5 y -1.5",
            "add",
            r#"{"a":2.5,"b":-1.5}"#,
            "1",
            "La suma de 2.5 y -1.5 es 1.",
        ),
        (
            "subtract 10.5 from -2",
            "subtract",
            r#"{"a":-2,"b":10.5}"#,
            "-12.5",
            "-2 minus 10.5 is -12.5.",
        ),
    ];
    for (input, tool, args, result, answer) in cases {
        let events = client.turn(input).await;
        let response = assert_single_tool_turn(&events, tool, args, result);
        assert_eq!(response, answer, "{input}");
    }
}

#[tokio::test]
async fn chained_requests_run_two_tool_calls_in_two_iterations() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    for input in ["(10 + 5) * 3", "suma 10 y 5 y multiplica por 3"] {
        let events = client.turn(input).await;
        let kinds = kinds(&events);
        assert_eq!(
            kinds,
            [
                "start",
                "step",
                "tool_call",
                "tool_result",
                "tool_call",
                "tool_result",
                "response",
                "complete"
            ],
            "{input}: {events:#?}"
        );
        assert_eq!(args_json(&events[2]), r#"{"a":10,"b":5}"#);
        assert!(matches!(&events[3], ServerEvent::ToolResult { result, .. } if result == "15"));
        // The second call uses the first call's result.
        assert_eq!(args_json(&events[4]), r#"{"a":15,"b":3}"#);
        assert!(
            matches!(&events[5], ServerEvent::ToolResult { tool, result, .. } if tool == "multiply" && result == "45")
        );
        assert!(matches!(&events[6], ServerEvent::Response { content } if content.contains("45")));
        assert_eq!(events[7], ServerEvent::complete(7));
    }
}

#[tokio::test]
async fn requests_it_cannot_plan_get_a_polite_answer_without_tools() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    for (input, needle) in [
        ("hola", "Hola"),
        ("hello", "Hello"),
        ("¿qué tiempo hace mañana?", "planificador local"),
        ("tell me a joke", "local planner"),
        ("suma 5", "dos números"),
    ] {
        let events = client.turn(input).await;
        let kinds = kinds(&events);
        assert_eq!(kinds, ["start", "step", "response", "complete"], "{input}");
        assert!(
            matches!(&events[2], ServerEvent::Response { content } if content.contains(needle)),
            "{input}: {:?}",
            events[2]
        );
        assert_eq!(events[3], ServerEvent::complete(3));
    }
}

#[tokio::test]
async fn a_tool_error_is_shown_and_explained() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    let events = client.turn("Divide 1 entre 0").await;
    let kinds = kinds(&events);
    assert_eq!(
        kinds,
        [
            "start",
            "step",
            "tool_call",
            "tool_result",
            "response",
            "complete"
        ]
    );
    assert!(
        matches!(&events[3], ServerEvent::ToolResult { is_error: true, result, .. } if result.contains("division by zero"))
    );
    assert!(matches!(&events[4], ServerEvent::Response { content } if content.contains("error")));
}

#[tokio::test]
async fn a_turn_can_continue_from_the_previous_result() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    client.turn("Suma 10 y 5").await;
    let events = client.turn("y multiplícalo por 2").await;
    assert_eq!(args_json(&events[2]), r#"{"a":15,"b":2}"#);
    assert!(matches!(&events[4], ServerEvent::Response { content } if content.contains("30")));
}

#[tokio::test]
async fn every_turn_event_carries_the_turn_id_and_time() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    client.say("Suma 1 y 2").await;
    let mut turn_ids = std::collections::HashSet::new();
    loop {
        let frame = client.next_frame().await;
        assert!(frame.ts_ms.is_some_and(|ts| ts > 1_700_000_000_000));
        turn_ids.insert(frame.turn_id.clone().expect("turn_id"));
        if frame.event.is_terminal() {
            break;
        }
    }
    assert_eq!(turn_ids.len(), 1);
}

#[tokio::test]
async fn an_external_toolbox_is_used_when_mcp_server_url_is_set() {
    // A standalone toolbox on its own port, as in Compose or Kubernetes.
    let shutdown = tokio_util::sync::CancellationToken::new();
    let toolbox = toolbox::router(&toolbox::AccessPolicy::default(), shutdown.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let toolbox_address = listener.local_addr().unwrap();
    let token = shutdown.clone();
    tokio::spawn(async move {
        axum::serve(listener, toolbox)
            .with_graceful_shutdown(token.cancelled_owned())
            .await
            .unwrap();
    });

    // The URL without a path, as operators write it (`/mcp` is implied).
    let app = crate::helpers::spawn_app_with(|settings| {
        settings.mcp_server_url =
            Some(server::config::parse_mcp_url(&format!("http://{toolbox_address}")).unwrap());
    })
    .await;
    // The server does not serve the toolbox itself in this mode.
    let embedded = reqwest::Client::new()
        .post(app.url("/mcp"))
        .send()
        .await
        .unwrap();
    assert!(embedded.status().is_client_error(), "{}", embedded.status());

    let mut client = app.connect().await;
    let events = client.turn("Suma 100 y 50").await;
    assert_single_tool_turn(&events, "add", r#"{"a":100,"b":50}"#, "150");
    shutdown.cancel();
}
