//! MCP over HTTPS: our toolbox served with a certificate from a CA made in the test,
//! trusted through the extra-roots setting (what `SSL_CERT_FILE` sets), and refused
//! without it. Also: a broken `mcp.json` stops start-up, naming what is wrong.

use std::{path::PathBuf, sync::Arc};

use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
    service::TowerToHyperService,
};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use serde_json::json;
use server::{Application, Settings};
use tokio_rustls::{
    TlsAcceptor,
    rustls::{
        ServerConfig,
        pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer},
    },
};
use tokio_util::sync::CancellationToken;

use crate::{
    helpers::{kinds, spawn_app_with},
    mcp_servers::{test_env, write_config, write_text},
};

/// Our toolbox over HTTPS on loopback, until dropped.
struct HttpsToolbox {
    port: u16,
    /// The CA that signed its certificate, as a PEM file.
    ca_file: PathBuf,
    stop: CancellationToken,
}

impl Drop for HttpsToolbox {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn https_toolbox() -> HttpsToolbox {
    server::tools::tls::install_crypto_provider();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "toolstream test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let ca_file = write_text(&ca.pem());

    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let stop = CancellationToken::new();
    let router = toolbox::router(&toolbox::AccessPolicy::default(), stop.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let token = stop.clone();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = tokio::select! {
                accepted = listener.accept() => accepted.unwrap(),
                () = token.cancelled() => return,
            };
            let (acceptor, router) = (acceptor.clone(), router.clone());
            tokio::spawn(async move {
                // A client that refuses our certificate ends the handshake: fine.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = TowerToHyperService::new(router);
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    HttpsToolbox {
        port,
        ca_file,
        stop,
    }
}

#[tokio::test]
async fn an_https_server_is_reached_when_its_ca_is_trusted() {
    let toolbox = https_toolbox().await;
    let config = write_config(json!({
        "secure": { "url": format!("https://localhost:{}/mcp", toolbox.port), "required": true }
    }));
    let ca_file = toolbox.ca_file.clone();
    let app = spawn_app_with(move |s| {
        s.mcp_config = Some(config);
        s.mcp_env = Some(test_env());
        s.ssl_cert_file = Some(ca_file);
    })
    .await;
    app.wait_servers(&["secure"], "ready").await;
    assert_eq!(
        reqwest::get(app.url("/readyz")).await.unwrap().status(),
        200
    );
    let mut client = app.connect().await;
    let events = client.turn("Suma 10 y 5").await;
    assert_eq!(
        kinds(&events),
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
        matches!(&events[2], protocol::ServerEvent::ToolCall { server: Some(s), .. } if s == "secure")
    );
}

#[tokio::test]
async fn an_https_server_with_an_unknown_ca_is_refused() {
    let toolbox = https_toolbox().await;
    let config = write_config(json!({
        "secure": { "url": format!("https://localhost:{}/mcp", toolbox.port), "required": true }
    }));
    let app = spawn_app_with(move |s| {
        s.mcp_config = Some(config);
        s.mcp_env = Some(test_env());
    })
    .await;
    app.wait_servers(&["secure"], "down").await;
    let ready = reqwest::get(app.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 503, "a required server is down");
    let body: serde_json::Value = ready.json().await.unwrap();
    let error = body["servers"][0]["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!error.is_empty(), "{body}");
    // Turns fail clearly rather than run without the required server.
    let mut client = app.connect().await;
    let events = client.turn("Suma 10 y 5").await;
    assert_eq!(kinds(&events), ["start", "error"], "{events:?}");
}

#[tokio::test]
async fn a_broken_mcp_config_stops_startup_naming_file_server_and_field() {
    let path = write_config(json!({
        "good": { "url": "http://127.0.0.1:9/mcp" },
        "broken": { "command": "node", "args": ["server.js", 7] }
    }));
    let mut settings = Settings::for_tests();
    settings.mcp_config = Some(path.clone());
    settings.mcp_env = Some(test_env());
    let error = Application::build(settings)
        .await
        .err()
        .expect("start-up fails");
    let message = format!("{error:#}");
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("server \"broken\""), "{message}");
    assert!(message.contains("field \"args[1]\""), "{message}");

    // A variable the file needs but the environment lacks.
    let path = write_config(json!({
        "remote": { "url": "https://h.example/mcp", "headers": { "Authorization": "Bearer ${MCP_TOKEN}" } }
    }));
    let mut settings = Settings::for_tests();
    settings.mcp_config = Some(path);
    settings.mcp_env = Some(test_env());
    let message = format!("{:#}", Application::build(settings).await.err().unwrap());
    assert!(
        message.contains("field \"headers.Authorization\""),
        "{message}"
    );
    assert!(message.contains("MCP_TOKEN is not set"), "{message}");

    // A missing file.
    let mut settings = Settings::for_tests();
    settings.mcp_config = Some(PathBuf::from("/nonexistent/mcp.json"));
    let message = format!("{:#}", Application::build(settings).await.err().unwrap());
    assert!(
        message.contains("/nonexistent/mcp.json: cannot read it"),
        "{message}"
    );
}
