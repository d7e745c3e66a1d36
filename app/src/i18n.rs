//! The UI's words in Spanish and English, following the browser's language.
//!
//! The server picks the language from `Accept-Language` and writes it into
//! `<html lang>`; the browser reads it back from there, so the hydrated page starts
//! from exactly what the server rendered.

use protocol::ErrorCode;
pub use protocol::Lang;

/// The server's choice, provided as context during server rendering.
#[derive(Debug, Clone, Copy)]
pub struct UiLang(pub Lang);

impl UiLang {
    /// The first supported language of an `Accept-Language` header, else English.
    pub fn from_header(header: &str) -> Self {
        Self(Lang::from_header(header).unwrap_or(Lang::En))
    }
}

/// A fixed piece of UI text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    Tagline,
    Connecting,
    Connected,
    Reconnecting,
    Offline,
    Connect,
    Disconnect,
    NewChat,
    Send,
    Stop,
    Message,
    Placeholder,
    Tools,
    NoTools,
    Llm,
    LocalPlanner,
    Empty,
    Steps,
    Thinking,
    Waiting,
    Stopped,
    Interrupted,
    ErrorTitle,
    ApiKeyNeeded,
    ApiKeyLabel,
    ApiKeySave,
    TakenOver,
    Conversation,
    Jump,
    Copy,
    Copied,
    CopyCode,
    CopyFailed,
    Edit,
    EditLabel,
    SendEdit,
    Cancel,
    Regenerate,
    Total,
    Conversations,
    NoConversations,
    Untitled,
    Rename,
    RenameLabel,
    Delete,
    ConfirmDelete,
    ConversationGone,
    ConversationFailed,
    Close,
    ApprovalNeeded,
    Approve,
    Deny,
    Approved,
    Denied,
    Progress,
    ImageFrom,
    ImageNotKept,
}

pub fn t(lang: Lang, text: Text) -> &'static str {
    use Text::*;
    match (lang, text) {
        (Lang::En, Tagline) => "Chat with an agent that uses tools, and watch every step.",
        (Lang::Es, Tagline) => "Conversa con un agente que usa herramientas y mira cada paso.",
        (Lang::En, Connecting) => "Connecting…",
        (Lang::Es, Connecting) => "Conectando…",
        (Lang::En, Connected) => "Connected",
        (Lang::Es, Connected) => "Conectado",
        (Lang::En, Reconnecting) => "Reconnecting…",
        (Lang::Es, Reconnecting) => "Reconectando…",
        (Lang::En, Offline) => "Offline",
        (Lang::Es, Offline) => "Sin conexión",
        (Lang::En, Connect) => "Connect",
        (Lang::Es, Connect) => "Conectar",
        (Lang::En, Disconnect) => "Disconnect",
        (Lang::Es, Disconnect) => "Desconectar",
        (Lang::En, NewChat) => "New chat",
        (Lang::Es, NewChat) => "Nuevo chat",
        (Lang::En, Send) => "Send",
        (Lang::Es, Send) => "Enviar",
        (Lang::En, Stop) => "Stop",
        (Lang::Es, Stop) => "Detener",
        (Lang::En, Message) => "Message",
        (Lang::Es, Message) => "Mensaje",
        (Lang::En, Placeholder) => "Ask something, e.g. add 2 and 3, or (10 + 5) * 3",
        (Lang::Es, Placeholder) => "Escribe tu mensaje, p. ej. Suma 10 y 5",
        (Lang::En, Tools) => "Tools",
        (Lang::Es, Tools) => "Herramientas",
        (Lang::En, NoTools) => "The toolbox has not answered yet.",
        (Lang::Es, NoTools) => "El toolbox aún no ha respondido.",
        (Lang::En, Llm) => "LLM",
        (Lang::Es, Llm) => "LLM",
        (Lang::En, LocalPlanner) => "Local planner",
        (Lang::Es, LocalPlanner) => "Planificador local",
        (Lang::En, Empty) => "Try “Suma 10 y 5”, “what is 12 divided by 4” or “(10 + 5) * 3”.",
        (Lang::Es, Empty) => "Prueba «Suma 10 y 5», «what is 12 divided by 4» o «(10 + 5) * 3».",
        (Lang::En, Steps) => "steps",
        (Lang::Es, Steps) => "pasos",
        (Lang::En, Thinking) => "Working…",
        (Lang::Es, Thinking) => "Trabajando…",
        (Lang::En, Waiting) => "Waiting for its turn…",
        (Lang::Es, Waiting) => "Esperando su turno…",
        (Lang::En, Stopped) => "Stopped.",
        (Lang::Es, Stopped) => "Detenido.",
        (Lang::En, Interrupted) => {
            "The connection was lost before the answer arrived. Send it again."
        }
        (Lang::Es, Interrupted) => {
            "Se perdió la conexión antes de la respuesta. Vuelve a enviarlo."
        }
        (Lang::En, ErrorTitle) => "Error",
        (Lang::Es, ErrorTitle) => "Error",
        (Lang::En, ApiKeyNeeded) => "This server needs an API key.",
        (Lang::Es, ApiKeyNeeded) => "Este servidor necesita una clave de API.",
        (Lang::En, ApiKeyLabel) => "API key",
        (Lang::Es, ApiKeyLabel) => "Clave de API",
        (Lang::En, ApiKeySave) => "Use key",
        (Lang::Es, ApiKeySave) => "Usar clave",
        (Lang::En, TakenOver) => {
            "This conversation continued in another tab. Press Connect to take it back."
        }
        (Lang::Es, TakenOver) => {
            "Esta conversación continuó en otra pestaña. Pulsa Conectar para recuperarla."
        }
        (Lang::En, Conversation) => "Conversation",
        (Lang::Es, Conversation) => "Conversación",
        (Lang::En, Jump) => "Jump to the latest",
        (Lang::Es, Jump) => "Ir al final",
        (Lang::En, Copy) => "Copy",
        (Lang::Es, Copy) => "Copiar",
        (Lang::En, Copied) => "Copied ✓",
        (Lang::Es, Copied) => "Copiado ✓",
        (Lang::En, CopyCode) => "Copy code",
        (Lang::Es, CopyCode) => "Copiar código",
        (Lang::En, CopyFailed) => "Could not copy",
        (Lang::Es, CopyFailed) => "No se pudo copiar",
        (Lang::En, Edit) => "Edit",
        (Lang::Es, Edit) => "Editar",
        (Lang::En, EditLabel) => "Edit your question",
        (Lang::Es, EditLabel) => "Edita tu pregunta",
        (Lang::En, SendEdit) => "Send",
        (Lang::Es, SendEdit) => "Enviar",
        (Lang::En, Cancel) => "Cancel",
        (Lang::Es, Cancel) => "Cancelar",
        (Lang::En, Regenerate) => "Regenerate",
        (Lang::Es, Regenerate) => "Regenerar",
        (Lang::En, Total) => "This conversation",
        (Lang::Es, Total) => "Esta conversación",
        (Lang::En, Conversations) => "Conversations",
        (Lang::Es, Conversations) => "Conversaciones",
        (Lang::En, NoConversations) => "Your conversations appear here.",
        (Lang::Es, NoConversations) => "Tus conversaciones aparecen aquí.",
        (Lang::En, Untitled) => "New conversation",
        (Lang::Es, Untitled) => "Conversación nueva",
        (Lang::En, Rename) => "Rename",
        (Lang::Es, Rename) => "Renombrar",
        (Lang::En, RenameLabel) => "New title",
        (Lang::Es, RenameLabel) => "Título nuevo",
        (Lang::En, Delete) => "Delete",
        (Lang::Es, Delete) => "Eliminar",
        (Lang::En, ConfirmDelete) => "Delete this conversation? This cannot be undone.",
        (Lang::Es, ConfirmDelete) => "¿Eliminar esta conversación? No se puede deshacer.",
        (Lang::En, ConversationGone) => "That conversation no longer exists.",
        (Lang::Es, ConversationGone) => "Esa conversación ya no existe.",
        (Lang::En, ConversationFailed) => {
            "The conversations could not be reached. Try again in a moment."
        }
        (Lang::Es, ConversationFailed) => {
            "No se pudo acceder a las conversaciones. Inténtalo en un momento."
        }
        (Lang::En, Close) => "Close",
        (Lang::Es, Close) => "Cerrar",
        (Lang::En, ApprovalNeeded) => "Run this tool with these arguments?",
        (Lang::Es, ApprovalNeeded) => "¿Ejecutar esta herramienta con estos argumentos?",
        (Lang::En, Approve) => "Approve",
        (Lang::Es, Approve) => "Aprobar",
        (Lang::En, Deny) => "Deny",
        (Lang::Es, Deny) => "Denegar",
        (Lang::En, Approved) => "✓ Approved",
        (Lang::Es, Approved) => "✓ Aprobada",
        (Lang::En, Denied) => "✗ Denied",
        (Lang::Es, Denied) => "✗ Denegada",
        (Lang::En, Progress) => "Progress",
        (Lang::Es, Progress) => "Progreso",
        (Lang::En, ImageFrom) => "Image returned by",
        (Lang::Es, ImageFrom) => "Imagen devuelta por",
        (Lang::En, ImageNotKept) => "(an image too large to keep after a reload)",
        (Lang::Es, ImageNotKept) => "(una imagen demasiado grande para guardarla)",
    }
}

/// What the user can do about an error, by its code.
pub fn error_hint(lang: Lang, code: Option<ErrorCode>) -> &'static str {
    use ErrorCode::*;
    match (lang, code) {
        (Lang::En, Some(ToolboxUnavailable)) => {
            "The server reconnects to the toolbox by itself: send the message again in a few seconds."
        }
        (Lang::Es, Some(ToolboxUnavailable)) => {
            "El servidor se reconecta solo al toolbox: vuelve a enviar el mensaje en unos segundos."
        }
        (Lang::En, Some(LlmUnavailable)) => {
            "The language model is not reachable: try again later, or check the server's LLM settings."
        }
        (Lang::Es, Some(LlmUnavailable)) => {
            "El modelo de lenguaje no responde: inténtalo más tarde o revisa la configuración del servidor."
        }
        (Lang::En, Some(Timeout)) => "It took too long: try again, or ask for something simpler.",
        (Lang::Es, Some(Timeout)) => {
            "Tardó demasiado: inténtalo de nuevo o pide algo más sencillo."
        }
        (Lang::En, Some(RateLimited | Busy)) => {
            "Too many messages at once: wait for the answers, then continue."
        }
        (Lang::Es, Some(RateLimited | Busy)) => {
            "Demasiados mensajes a la vez: espera las respuestas y continúa."
        }
        (Lang::En, Some(IterationLimit)) => {
            "The agent needed too many steps: split the request into smaller ones."
        }
        (Lang::Es, Some(IterationLimit)) => {
            "El agente necesitó demasiados pasos: divide la petición en partes."
        }
        (Lang::En, Some(TooLarge)) => "The message is too long: shorten it.",
        (Lang::Es, Some(TooLarge)) => "El mensaje es demasiado largo: acórtalo.",
        (Lang::En, _) => "Try again. If it keeps happening, the server's logs say why.",
        (Lang::Es, _) => {
            "Inténtalo de nuevo. Si se repite, los registros del servidor dicen por qué."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_first_supported() {
        let lang = |header| UiLang::from_header(header).0;
        assert_eq!(lang("es-ES,es;q=0.9,en;q=0.8"), Lang::Es);
        assert_eq!(lang("fr-FR,fr;q=0.9,es;q=0.5"), Lang::Es);
        assert_eq!(lang("en-US,en;q=0.9"), Lang::En);
        assert_eq!(lang("de"), Lang::En);
        assert_eq!(lang(""), Lang::En);
    }
}
