//! What an MCP server tells the host on its own: progress of running calls (routed to
//! the call by its progress token) and tool list changes (which trigger a new
//! `tools/list`).

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard},
};

use rmcp::{
    ClientHandler,
    model::{
        ClientCapabilities, ClientConfig, Implementation, ProgressNotificationParam, ProgressToken,
    },
    service::{NotificationContext, RoleClient},
};
use tokio::sync::Notify;

use super::{Progress, ProgressSender};

/// Reports that arrive before their call has registered (the server may answer with
/// progress before the request's handle is back) wait here, the oldest dropped first.
const EARLY_REPORTS: usize = 64;

/// Routes progress reports to the call that owns their token.
#[derive(Default)]
pub struct ProgressRoutes {
    inner: Mutex<Routes>,
}

#[derive(Default)]
struct Routes {
    live: HashMap<ProgressToken, ProgressSender>,
    early: VecDeque<(ProgressToken, Progress)>,
}

impl ProgressRoutes {
    fn lock(&self) -> MutexGuard<'_, Routes> {
        // Plain map updates; a panic elsewhere cannot leave them torn.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends `token`'s reports to `sender` until the returned guard is dropped; reports
    /// that came early are delivered first.
    pub fn register(self: &Arc<Self>, token: ProgressToken, sender: ProgressSender) -> RouteGuard {
        let mut routes = self.lock();
        let early = std::mem::take(&mut routes.early);
        for (early_token, progress) in early {
            if early_token == token {
                let _ = sender.try_send(progress);
            } else {
                routes.early.push_back((early_token, progress));
            }
        }
        routes.live.insert(token.clone(), sender);
        RouteGuard {
            routes: Arc::clone(self),
            token,
        }
    }

    /// Delivers one report; never blocks (a full receiver loses it).
    pub fn deliver(&self, params: ProgressNotificationParam) {
        let progress = Progress {
            progress: params.progress,
            total: params.total,
            message: params.message,
        };
        let mut routes = self.lock();
        match routes.live.get(&params.progress_token) {
            Some(sender) => {
                let _ = sender.try_send(progress);
            }
            None => {
                if routes.early.len() == EARLY_REPORTS {
                    routes.early.pop_front();
                }
                routes.early.push_back((params.progress_token, progress));
            }
        }
    }
}

/// Stops routing a call's reports when dropped.
pub struct RouteGuard {
    routes: Arc<ProgressRoutes>,
    token: ProgressToken,
}

impl Drop for RouteGuard {
    fn drop(&mut self) {
        self.routes.lock().live.remove(&self.token);
    }
}

/// The host's side of one connection to one server.
pub struct HostHandler {
    /// The server's configured name, for logs.
    pub server: Arc<str>,
    pub routes: Arc<ProgressRoutes>,
    /// Notified on `notifications/tools/list_changed`.
    pub tools_changed: Arc<Notify>,
}

impl ClientHandler for HostHandler {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("toolstream", env!("CARGO_PKG_VERSION")),
        )
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.routes.deliver(params);
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        tracing::debug!(server = %self.server, "the server's tool list changed");
        self.tools_changed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use rmcp::model::NumberOrString;
    use tokio::sync::mpsc;

    use super::*;

    fn report(token: i64, progress: f64) -> ProgressNotificationParam {
        ProgressNotificationParam::new(ProgressToken(NumberOrString::Number(token)), progress)
    }

    #[tokio::test]
    async fn reports_reach_their_call_even_when_they_come_first() {
        let routes = Arc::new(ProgressRoutes::default());
        routes.deliver(report(1, 0.5)); // before the call registered
        routes.deliver(report(2, 9.0)); // someone else's
        let (tx, mut rx) = mpsc::channel(8);
        let guard = routes.register(ProgressToken(NumberOrString::Number(1)), tx);
        routes.deliver(report(1, 1.0));
        assert_eq!(rx.recv().await.unwrap().progress, 0.5);
        assert_eq!(rx.recv().await.unwrap().progress, 1.0);
        drop(guard);
        routes.deliver(report(1, 2.0));
        assert!(rx.try_recv().is_err(), "no reports after the call ended");
        // The other token's early report is still waiting for its call.
        let (tx2, mut rx2) = mpsc::channel(8);
        let _guard = routes.register(ProgressToken(NumberOrString::Number(2)), tx2);
        assert_eq!(rx2.recv().await.unwrap().progress, 9.0);
    }
}
