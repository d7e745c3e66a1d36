//! The page's reactive state: the conversation, one signal per turn, and the
//! connection as the UI shows it.
//!
//! The conversation's own signal changes only when its shape does (a turn added,
//! removed, started or ended; the totals): the transcript's list and the composer
//! follow it. Each turn has its own signal, which its views follow: a streamed piece
//! notifies that turn alone.

use leptos::prelude::*;
use protocol::{ConversationSummary, LlmDescriptor, ServerFrame, ToolDescriptor};

use crate::{
    chat::{Applied, Conversation, Turn, TurnCell},
    i18n::{Lang, Text, t},
};

/// One turn's signal.
pub type TurnSignal = ArcRwSignal<Turn>;

/// The conversation as the page holds it.
pub type LiveConversation = Conversation<TurnSignal>;

impl TurnCell for TurnSignal {
    fn wrap(turn: Turn) -> Self {
        ArcRwSignal::new(turn)
    }

    fn read_turn<R>(&self, f: impl FnOnce(&Turn) -> R) -> R {
        self.with_untracked(f)
    }

    fn write_turn<R>(&mut self, f: impl FnOnce(&mut Turn) -> R) -> R {
        f(&mut self.write_untracked())
    }
}

/// The connection as the UI shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Connecting,
    Connected,
    Reconnecting,
    /// Not connected and not trying (the user disconnected, or a key is needed).
    Offline,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Connected => "connected",
            Self::Reconnecting => "reconnecting",
            Self::Offline => "offline",
        }
    }

    pub fn label(self, lang: Lang) -> &'static str {
        t(
            lang,
            match self {
                Self::Connecting => Text::Connecting,
                Self::Connected => Text::Connected,
                Self::Reconnecting => Text::Reconnecting,
                Self::Offline => Text::Offline,
            },
        )
    }
}

/// Everything the page's parts share. `Copy`: every field is a signal handle.
#[derive(Clone, Copy)]
pub struct ChatState {
    pub lang: Lang,
    pub conversation: RwSignal<LiveConversation>,
    pub status: RwSignal<Status>,
    /// The active LLM, from `ready`.
    pub llm: RwSignal<Option<LlmDescriptor>>,
    /// The toolbox's tools, from `ready`.
    pub tools: RwSignal<Vec<ToolDescriptor>>,
    /// The latest finished answer, for the screen-reader live region.
    pub announcement: RwSignal<String>,
    /// A message about the connection, shown above the composer.
    pub notice: RwSignal<Option<&'static str>>,
    /// The server closed with 1008: ask for an API key.
    pub needs_key: RwSignal<bool>,
    /// The caller's conversations, newest first (from the conversations API).
    pub conversations: RwSignal<Vec<ConversationSummary>>,
    /// The conversation list is open as a drawer (narrow screens).
    pub drawer: RwSignal<bool>,
}

impl ChatState {
    pub fn new(lang: Lang) -> Self {
        Self {
            lang,
            conversation: RwSignal::new(Conversation::default()),
            status: RwSignal::new(Status::Connecting),
            llm: RwSignal::new(None),
            tools: RwSignal::new(Vec::new()),
            announcement: RwSignal::new(String::new()),
            notice: RwSignal::new(None),
            needs_key: RwSignal::new(false),
            conversations: RwSignal::new(Vec::new()),
            drawer: RwSignal::new(false),
        }
    }

    /// Applies a server frame, notifying the views of what changed: the turn's own,
    /// and the conversation's only when its shape changed.
    pub fn apply(self, frame: &ServerFrame) -> Applied {
        let applied = self
            .conversation
            .try_update_untracked(|c| c.apply(frame))
            .unwrap_or(Applied::Nothing);
        if let Applied::Turn {
            local_id, reshaped, ..
        } = applied
        {
            if reshaped {
                self.conversation.notify();
            }
            self.notify_turn(local_id);
        }
        applied
    }

    /// Changes the conversation's shape on the user's behalf (or the connection's)
    /// and notifies its followers; turns whose content changed are notified with
    /// [`ChatState::notify_turn`].
    pub fn change<R>(self, f: impl FnOnce(&mut LiveConversation) -> R) -> Option<R> {
        let result = self.conversation.try_update_untracked(f);
        self.conversation.notify();
        result
    }

    /// Replaces the whole conversation (a stored one, or a new chat).
    pub fn reset(self, conversation: LiveConversation) {
        self.conversation.set(conversation);
    }

    /// Tells the views of turn `local_id` that it changed.
    pub fn notify_turn(self, local_id: u64) {
        self.conversation.with_untracked(|c| {
            if let Some(cell) = c.cell(local_id) {
                cell.notify();
            }
        });
    }

    /// Whether a turn is waiting or running (tracked: follows the conversation).
    pub fn busy(self) -> bool {
        self.conversation.with(|c| c.is_busy())
    }

    /// The open conversation's id (tracked).
    pub fn session_id(self) -> Option<String> {
        self.conversation.with(|c| c.session_id.clone())
    }
}
