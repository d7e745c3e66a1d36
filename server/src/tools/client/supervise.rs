//! The supervisor of one server: connect (starting the process, for stdio), list the
//! tools, hold the connection (re-listing the tools when the server says they
//! changed), and on loss reconnect with backoff, until shutdown.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use rmcp::{
    model::ProtocolVersion,
    service::{ClientLifecycleMode, ClientServiceExt, RoleClient, RunningService},
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{Connection, ServerClient, Target};
use crate::tools::{
    ServerState,
    handler::{HostHandler, ProgressRoutes},
    stdio,
};

impl ServerClient {
    /// Keeps the server connected until `shutdown`.
    pub async fn supervise(self: Arc<Self>, shutdown: CancellationToken) {
        if self.config.disabled {
            return;
        }
        let mut delay = None::<Duration>;
        let mut generation = 0;
        loop {
            generation += 1;
            // The last error stays until this attempt ends: it says why we retry.
            let last_error = self.snapshot().error.clone();
            self.set(ServerState::Connecting, None, last_error);
            let connected = tokio::select! {
                () = shutdown.cancelled() => return,
                attempt = tokio::time::timeout(self.timing.connect_timeout, Box::pin(self.connect(generation))) => {
                    attempt.unwrap_or_else(|_| Err("timed out connecting".into()))
                }
            };
            match connected {
                Ok((service, tools_changed)) => {
                    let since = Instant::now();
                    let ended = self
                        .hold(service, generation, tools_changed, &shutdown)
                        .await;
                    self.set_connection(None);
                    if ended == Ended::Shutdown {
                        return;
                    }
                    // A connection that lived a while resets the backoff; a server that
                    // dies right after starting keeps backing off.
                    if since.elapsed() > self.timing.max_backoff * 5 {
                        delay = None;
                    }
                }
                Err(error) => {
                    let error = self.scrub(&error);
                    let first = delay.is_none();
                    if first {
                        tracing::warn!(server = %self.name, at = %self.config.transport.describe(), %error, "cannot connect to the MCP server; retrying with backoff");
                    } else {
                        tracing::debug!(server = %self.name, %error, "MCP server still unreachable");
                    }
                    self.set(ServerState::Down, None, Some(error));
                }
            }
            let next = delay.map_or(self.timing.min_backoff, |d| {
                (d * 2).min(self.timing.max_backoff)
            });
            delay = Some(next);
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(next) => {}
            }
        }
    }

    /// Connects and lists the tools; the server is then ready.
    async fn connect(
        &self,
        generation: u64,
    ) -> Result<(RunningService<RoleClient, HostHandler>, Arc<Notify>), String> {
        let routes = Arc::new(ProgressRoutes::default());
        let tools_changed = Arc::new(Notify::new());
        let handler = || HostHandler {
            server: self.name.clone(),
            routes: routes.clone(),
            tools_changed: tools_changed.clone(),
        };
        // Prefer the stateless 2026-07-28 protocol; rmcp falls back to a 2025-11-25
        // session when the server has no `server/discover`.
        let auto = || ClientLifecycleMode::Auto {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            legacy_version: Some(ProtocolVersion::V_2025_11_25),
        };
        let service = match &self.target {
            Target::Broken(error) => return Err(error.clone()),
            Target::Http(http) => match handler()
                .serve_with_lifecycle(http.transport(), auto())
                .await
            {
                Ok(service) => service,
                // A server that has `server/discover` but refuses 2026-07-28 gets a
                // plain `initialize` as a second try.
                Err(first) => handler()
                    .serve_with_lifecycle(http.transport(), ClientLifecycleMode::Initialize)
                    .await
                    .map_err(|_| first.to_string())?,
            },
            Target::Stdio => {
                let child = stdio::spawn(&self.name, &self.config.transport)?;
                handler()
                    .serve_with_lifecycle(child, auto())
                    .await
                    .map_err(|e| e.to_string())?
            }
        };
        let tools = match service.peer().list_all_tools().await {
            Ok(tools) => tools,
            Err(error) => {
                service.cancellation_token().cancel();
                return Err(format!("listing its tools failed: {error}"));
            }
        };
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        tracing::info!(server = %self.name, at = %self.config.transport.describe(), tools = ?names, "connected to the MCP server");
        self.set_connection(Some(Arc::new(Connection {
            peer: service.peer().clone(),
            routes,
            generation,
        })));
        self.set(ServerState::Ready, Some(tools), None);
        Ok((service, tools_changed))
    }

    /// Holds a connection until it closes, a caller reports it broken, or shutdown;
    /// re-lists the tools whenever the server says they changed.
    async fn hold(
        &self,
        service: RunningService<RoleClient, HostHandler>,
        generation: u64,
        tools_changed: Arc<Notify>,
        shutdown: &CancellationToken,
    ) -> Ended {
        let peer = service.peer().clone();
        let mut stop = Some(service.cancellation_token());
        let mut waiting = std::pin::pin!(service.waiting());
        let mut lost = self.lost.subscribe();
        let ended = loop {
            tokio::select! {
                _ = &mut waiting => {
                    stop = None;
                    tracing::warn!(server = %self.name, "the MCP server closed the connection; reconnecting");
                    self.set(ServerState::Down, None, Some("the connection closed".into()));
                    break Ended::Closed;
                }
                // (The wait's `Ref` is dropped at once: it must not live across awaits.)
                () = async { let _ = lost.wait_for(|g| *g == generation).await; } => break Ended::Lost,
                () = shutdown.cancelled() => break Ended::Shutdown,
                () = tools_changed.notified() => match peer.list_all_tools().await {
                    Ok(tools) => self.set(ServerState::Ready, Some(tools), None),
                    Err(error) => {
                        self.report_lost(generation, &error.to_string());
                        break Ended::Lost;
                    }
                },
            }
        };
        if let Some(stop) = stop.take() {
            stop.cancel();
            // A stdio server gets a moment to exit after its stdin closes, then the
            // kill (see `stdio`); dropping the service kills it in any case.
            let _ = tokio::time::timeout(Duration::from_secs(5), waiting).await;
        }
        ended
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Closed,
    Lost,
    Shutdown,
}
