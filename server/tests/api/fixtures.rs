//! Controllable parts for fault tests: an LLM that hangs or panics on cue, and a real
//! MCP toolbox (the production calculator behind rmcp over HTTP) whose calls are slow.

use std::{
    borrow::Cow,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
    service::TowerToHyperService,
};
use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, DiscoverResult, ErrorCode, ListToolsResult,
        PaginatedRequestParams, ProtocolVersion, ServerConfig,
    },
    service::RequestContext,
    transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    },
};
use server::llm::{Llm, LlmError, LlmInfo, LlmReply, LlmRequest, TextSink, planner::LocalPlanner};

/// Counts things that happened, shared between a fixture and its test.
#[derive(Clone, Default)]
pub struct Counter(Arc<AtomicUsize>);

impl Counter {
    pub fn bump(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Increments `dropped` unless defused: proves a future was dropped mid-way.
struct DropProbe {
    dropped: Counter,
    armed: bool,
}

impl Drop for DropProbe {
    fn drop(&mut self) {
        if self.armed {
            self.dropped.bump();
        }
    }
}

/// The local planner, except that a message containing `hang` never gets an answer
/// and one containing `panic` panics inside the turn.
#[derive(Clone, Default)]
pub struct StagedLlm {
    planner: LocalPlanner,
    pub started: Counter,
    /// Calls dropped before they finished (cancelled, timed out).
    pub dropped: Counter,
}

#[async_trait]
impl Llm for StagedLlm {
    fn info(&self) -> &LlmInfo {
        self.planner.info()
    }

    async fn complete(
        &self,
        request: LlmRequest<'_>,
        stream: &mut dyn TextSink,
    ) -> Result<LlmReply, LlmError> {
        let last_user = request.messages.iter().rev().find_map(|m| match m {
            server::llm::ChatMessage::User(text) => Some(text.clone()),
            _ => None,
        });
        let text = last_user.unwrap_or_default();
        if text.contains("panic") {
            panic!("staged panic inside a turn");
        }
        if text.contains("hang") {
            self.started.bump();
            let mut probe = DropProbe {
                dropped: self.dropped.clone(),
                armed: true,
            };
            std::future::pending::<()>().await;
            probe.armed = false;
        }
        self.planner.complete(request, stream).await
    }
}

/// The MCP revisions a fixture toolbox speaks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Revision {
    /// 2026-07-28 (stateless) and the earlier ones.
    Current,
    /// Only 2025-11-25, with no `server/discover` at all: a pre-2026 server.
    LegacyWithoutDiscover,
    /// Only 2025-11-25, answering `server/discover` with "unsupported version".
    LegacyWithDiscover,
}

/// A real MCP toolbox whose every call takes `delay` first.
#[derive(Clone)]
pub struct SlowCalculator {
    inner: toolbox::Calculator,
    delay: Duration,
    pub started: Counter,
    pub finished: Counter,
    /// Calls whose client went away before they finished.
    pub cancelled: Counter,
    /// Which MCP revisions the toolbox speaks.
    pub revision: Revision,
}

impl SlowCalculator {
    pub fn new(delay: Duration) -> Self {
        Self {
            inner: toolbox::Calculator::new(),
            delay,
            started: Counter::default(),
            finished: Counter::default(),
            cancelled: Counter::default(),
            revision: Revision::Current,
        }
    }
}

impl ServerHandler for SlowCalculator {
    fn get_info(&self) -> ServerConfig {
        self.inner.get_info()
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        match self.revision {
            Revision::Current => self.inner.supported_protocol_versions(),
            _ => Cow::Owned(vec![ProtocolVersion::V_2025_11_25]),
        }
    }

    /// A server older than 2026-07-28 has no `server/discover` at all.
    async fn discover(
        &self,
        context: RequestContext<RoleServer>,
    ) -> Result<DiscoverResult, ErrorData> {
        match self.revision {
            Revision::LegacyWithoutDiscover => Err(ErrorData::new(
                ErrorCode::METHOD_NOT_FOUND,
                "Method not found",
                None,
            )),
            _ => self.inner.discover(context).await,
        }
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        self.inner.list_tools(request, context).await
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.started.bump();
        // A slow tool that cooperates with cancellation, as rmcp asks handlers to:
        // the request's token fires when the client abandons the call.
        tokio::select! {
            () = tokio::time::sleep(self.delay) => {}
            () = context.ct.cancelled() => {
                self.cancelled.bump();
                return Err(ErrorData::internal_error("cancelled by the client", None));
            }
        }
        let result = self.inner.call_tool(request, context).await;
        self.finished.bump();
        result
    }
}

/// A toolbox serving `calculator` on `address` until killed. It runs its own accept
/// loop so that killing it drops every open connection, as a crashed process would.
pub struct ToolboxProcess {
    pub address: SocketAddr,
    /// The toolbox's MCP sessions (only 2025-11-25 clients open any).
    pub sessions: Arc<LocalSessionManager>,
    task: tokio::task::JoinHandle<()>,
}

impl ToolboxProcess {
    /// Serves on `address` (port 0 for a free one).
    pub async fn start(calculator: SlowCalculator, address: SocketAddr) -> Self {
        Self::serve(calculator, bind_retrying(address).await)
    }

    /// Serves on a socket the test reserved earlier (see
    /// [`crate::helpers::refused_address`]).
    pub fn start_on(calculator: SlowCalculator, socket: tokio::net::TcpSocket) -> Self {
        Self::serve(calculator, socket.listen(1024).unwrap())
    }

    fn serve(calculator: SlowCalculator, listener: tokio::net::TcpListener) -> Self {
        let sessions = Arc::new(LocalSessionManager::default());
        let service = StreamableHttpService::new(
            move || Ok(calculator.clone()),
            sessions.clone(),
            StreamableHttpServerConfig::default()
                .with_json_response(true)
                .with_sse_keep_alive(None),
        );
        let router = axum::Router::new().nest_service("/mcp", service);
        let address = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let service = TowerToHyperService::new(router.clone());
                connections.spawn(async move {
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            address,
            sessions,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.address)
    }

    /// Stops abruptly: the listener and every connection close, requests in flight
    /// are lost.
    pub async fn kill(self) {
        // Aborting the accept loop drops the listener and the JoinSet, which aborts
        // every connection task.
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Binds, retrying briefly: a port just released may take a moment to be free again.
async fn bind_retrying(address: SocketAddr) -> tokio::net::TcpListener {
    for _ in 0..100 {
        if let Ok(listener) = tokio::net::TcpListener::bind(address).await {
            return listener;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("cannot bind {address}");
}
