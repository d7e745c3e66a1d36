//! Frames a connection sends that belong to no turn (`ready`, `tools_changed`, errors
//! about a client's frame, close frames): no `seq`, straight to the writer task.

use protocol::{ErrorCode, ServerEvent, ServerFrame};
use tokio::sync::mpsc;

use super::writer::Outgoing;
use crate::agent::SinkClosed;

/// Sends frames that belong to no turn (`ready`, errors about a frame): no `seq`.
#[derive(Clone)]
pub(super) struct Outbound {
    pub(super) tx: mpsc::Sender<Outgoing>,
}

impl Outbound {
    pub(super) async fn event(&self, event: ServerEvent) -> Result<(), SinkClosed> {
        let frame = ServerFrame {
            event,
            turn_id: None,
            seq: None,
            ts_ms: Some(crate::clock::now_ms()),
        };
        let text = serde_json::to_string(&frame).map_err(|_| SinkClosed)?;
        self.text(text).await
    }

    pub(super) async fn text(&self, text: impl Into<String>) -> Result<(), SinkClosed> {
        let text: String = text.into();
        self.tx
            .send(Outgoing::Text(text.into()))
            .await
            .map_err(|_| SinkClosed)
    }

    pub(super) async fn error(
        &self,
        code: ErrorCode,
        message: impl Into<String>,
    ) -> Result<(), SinkClosed> {
        self.event(ServerEvent::error_with_code(code, message))
            .await
    }

    pub(super) async fn close(&self, code: u16, reason: &'static str) {
        let _ = self.tx.send(Outgoing::Close(code, reason)).await;
    }
}
