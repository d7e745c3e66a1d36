//! The session a connection is on: followed from a seq on, watched (so it stays in
//! memory), attached (so another connection resuming it takes it over), and the
//! `ready` event that describes it.

use std::sync::Arc;

use protocol::{LlmDescriptor, PROTOCOL_VERSION, ServerEvent, ToolDescriptor};
use tokio_util::sync::CancellationToken;

use crate::{
    session::{FollowError, Follower, LiveSession, Watch},
    state::AppState,
};

/// The session a connection is on, and how it follows it.
pub(super) struct Current {
    pub(super) session: Arc<LiveSession>,
    pub(super) follower: Follower,
    pub(super) taken_over: CancellationToken,
    _watch: Watch,
}

impl Current {
    pub(super) async fn open(
        state: &AppState,
        session: Arc<LiveSession>,
        connection: &str,
        after: u64,
    ) -> Result<(Self, bool), FollowError> {
        let watch = Watch::new(session.clone());
        let (follower, gap) = if after == 0 && session.summary().is_none() {
            // A new session: nothing stored to replay (and no store to wait for).
            (state.hub.follow_new(&session).await?, false)
        } else {
            state.hub.follow(&session, after).await?
        };
        if let Some(tail) = follower.tail() {
            session.note(tail);
        }
        let taken_over = state.hub.attach(&session, connection).await;
        Ok((
            Self {
                session,
                follower,
                taken_over,
                _watch: watch,
            },
            gap,
        ))
    }
}

/// The `ready` event: protocol version, session, model, the tools available now and
/// the conversation.
pub(super) fn ready(
    state: &AppState,
    session: &LiveSession,
    tools: Vec<ToolDescriptor>,
) -> ServerEvent {
    let info = state.hub.agent.llm().info();
    ServerEvent::Ready {
        protocol: PROTOCOL_VERSION,
        session_id: session.id.clone(),
        llm: LlmDescriptor {
            provider: info.provider.clone(),
            model: info.model.clone(),
            label: info.label.clone(),
        },
        tools,
        conversation: session.summary(),
    }
}
