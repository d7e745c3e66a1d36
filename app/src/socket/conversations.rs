//! The conversation list's actions: refresh, open (the transcript replayed from the
//! server), rename, delete. The list itself comes from the conversations API; the
//! open conversation is this connection's session.

use leptos::{prelude::*, task::spawn_local};
use protocol::ClientMessage;

use super::Socket;
use crate::{
    api::{self, ApiError},
    chat::Conversation,
    i18n::{Text, t},
    storage,
};

impl Socket {
    /// Reloads the list (after hydration, a turn's end, a change).
    pub fn refresh_conversations(self) {
        spawn_local(async move {
            if let Ok(list) = api::list().await {
                self.state.conversations.set(list);
            }
        });
    }

    /// Shows conversation `id`: its questions from the API, then every stored event
    /// replayed through this connection (`resume` from 0).
    pub fn open_conversation(self, id: String) {
        let current = self
            .state
            .conversation
            .with_untracked(|c| c.session_id.clone());
        if current.as_deref() == Some(id.as_str()) {
            return;
        }
        spawn_local(async move {
            let questions = match api::questions(&id).await {
                Ok(questions) => questions,
                Err(error) => {
                    self.state.notice.set(Some(t(
                        self.state.lang,
                        match error {
                            ApiError::NotFound => Text::ConversationGone,
                            ApiError::Failed => Text::ConversationFailed,
                        },
                    )));
                    self.refresh_conversations();
                    return;
                }
            };
            self.state.announcement.set(String::new());
            self.state.notice.set(None);
            self.state
                .reset(Conversation::opened(id.clone(), questions));
            self.save();
            if self.outbox.with_value(Option::is_some) && self.resuming.with_value(Option::is_none)
            {
                // The connection's own session, should the resume fail.
                self.fresh.set_value(current);
                self.resuming.set_value(Some(id.clone()));
                self.transmit(&ClientMessage::Resume {
                    session_id: id,
                    last_seq: 0,
                });
            } else {
                // Not connected: connecting resumes the stored (now this) session.
                self.drop_connection();
                self.connect_now();
            }
        });
    }

    pub fn rename_conversation(self, id: String, title: String) {
        spawn_local(async move {
            if api::rename(&id, &title).await.is_err() {
                self.state
                    .notice
                    .set(Some(t(self.state.lang, Text::ConversationFailed)));
            }
            self.refresh_conversations();
        });
    }

    /// Deletes conversation `id`; deleting the open one starts a new chat.
    pub fn delete_conversation(self, id: String) {
        let open = self
            .state
            .conversation
            .with_untracked(|c| c.session_id.as_deref() == Some(id.as_str()));
        spawn_local(async move {
            match api::delete(&id).await {
                Ok(()) | Err(ApiError::NotFound) => {
                    if open {
                        storage::clear_conversation();
                        self.new_chat();
                    }
                }
                Err(ApiError::Failed) => self
                    .state
                    .notice
                    .set(Some(t(self.state.lang, Text::ConversationFailed))),
            }
            self.refresh_conversations();
        });
    }
}
