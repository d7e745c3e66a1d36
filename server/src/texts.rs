//! Every text the server sends to people, in Spanish and English, in one place. The
//! language is the conversation's: the one its user writes in.

use std::borrow::Cow;

use crate::lang::Lang;

/// A message the server sends. Texts with details carry them.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg<'a> {
    /// `start`: the turn began.
    Processing,
    /// `step` of the `llm` node for a model with this label.
    Consulting(&'a str),
    /// `step` of the `llm` node for the local planner.
    ConsultingPlanner,
    /// The MCP server (by its configured name) cannot be reached.
    ToolboxUnavailable(&'a str),
    ToolTimeout {
        tool: &'a str,
        secs: f32,
    },
    LlmTimeout,
    /// With what went wrong, in words safe to show (the providers' own).
    LlmUnavailable(&'a str),
    LlmRefused(&'a str),
    LlmAccessDenied,
    LlmModelNotFound(&'a str),
    LlmThrottled,
    IterationLimit(u32),
    TurnTimeout {
        secs: f32,
    },
    TurnCancelled,
    /// The conversation store or the session bus cannot be reached.
    StorageUnavailable,
    /// The server running the turn stopped before it ended.
    Interrupted,
    /// An unexpected fault stopped the turn.
    Internal,
    /// `regenerate` or `edit` with no earlier question.
    NothingToRedo,
    /// Too many turns run on the server right now.
    ServerBusy,
}

/// The text of `msg` in `lang`.
pub fn say(lang: Lang, msg: Msg<'_>) -> Cow<'static, str> {
    use Msg::*;
    let es = lang == Lang::Es;
    let fixed = |es_text: &'static str, en_text: &'static str| -> Cow<'static, str> {
        Cow::Borrowed(if es { es_text } else { en_text })
    };
    match msg {
        Processing => fixed("Procesando tu solicitud...", "Processing your request..."),
        Consulting(label) if es => format!("Consultando a {label}...").into(),
        Consulting(label) => format!("Consulting {label}...").into(),
        ConsultingPlanner => fixed(
            "Consultando al planificador local...",
            "Consulting the local planner...",
        ),
        ToolboxUnavailable(server) if es => format!(
            "El toolbox de herramientas ({server}) no está disponible ahora mismo. Inténtalo de nuevo en unos segundos."
        )
        .into(),
        ToolboxUnavailable(server) => format!(
            "The toolbox ({server}) is unavailable right now. Please try again in a few seconds."
        )
        .into(),
        ToolTimeout { tool, secs } if es => {
            format!("La herramienta {tool} no respondió en {secs} s. Inténtalo de nuevo.").into()
        }
        ToolTimeout { tool, secs } => {
            format!("The tool {tool} did not answer within {secs} s. Please try again.").into()
        }
        LlmTimeout => fixed(
            "El modelo de lenguaje no respondió a tiempo. Inténtalo de nuevo.",
            "The language model did not answer in time. Please try again.",
        ),
        LlmUnavailable(why) if es => format!(
            "El modelo de lenguaje no está disponible ahora mismo ({why}). Inténtalo de nuevo más tarde."
        )
        .into(),
        LlmUnavailable(why) => {
            format!("The language model is unavailable: {why}. Please try again.").into()
        }
        LlmRefused(why) if es => format!("El modelo de lenguaje rechazó la petición: {why}").into(),
        LlmRefused(why) => format!("The language model refused the request: {why}").into(),
        LlmAccessDenied => fixed(
            "El servidor no tiene permiso para usar el modelo de lenguaje (revisa sus credenciales y su acceso al modelo).",
            "The server is not allowed to use the language model (check its credentials and its access to the model).",
        ),
        LlmModelNotFound(model) if es => {
            format!("El modelo de lenguaje configurado ({model}) no existe o no está disponible.")
                .into()
        }
        LlmModelNotFound(model) => {
            format!("The configured language model ({model}) does not exist or is not available.")
                .into()
        }
        LlmThrottled => fixed(
            "El modelo de lenguaje está recibiendo demasiadas peticiones. Inténtalo de nuevo en unos segundos.",
            "The language model is receiving too many requests. Please try again in a few seconds.",
        ),
        IterationLimit(n) if es => format!(
            "El agente se detuvo tras {n} iteraciones sin llegar a una respuesta. Prueba a dividir la petición en partes."
        )
        .into(),
        IterationLimit(n) => format!(
            "The agent stopped after {n} iterations without reaching an answer. Try splitting the request into parts."
        )
        .into(),
        TurnTimeout { secs } if es => {
            format!("La respuesta tardó más de {secs} s y se canceló. Inténtalo de nuevo.").into()
        }
        TurnTimeout { secs } => {
            format!("The answer took longer than {secs} s and was cancelled. Please try again.")
                .into()
        }
        TurnCancelled => fixed("Turno cancelado.", "Turn cancelled."),
        StorageUnavailable => fixed(
            "No se puede guardar la conversación ahora mismo. Inténtalo de nuevo en unos segundos.",
            "The conversation cannot be saved right now. Please try again in a few seconds.",
        ),
        Interrupted => fixed(
            "El servidor que respondía se detuvo antes de terminar. Vuelve a preguntar.",
            "The server answering stopped before it finished. Please ask again.",
        ),
        Internal => fixed(
            "Un error interno detuvo este turno; la conexión sigue abierta.",
            "An internal error stopped this turn; the connection is still open.",
        ),
        NothingToRedo => fixed(
            "No hay ninguna pregunta anterior que repetir.",
            "There is no earlier question to answer again.",
        ),
        ServerBusy => fixed(
            "El servidor está atendiendo demasiadas peticiones. Inténtalo de nuevo en unos segundos.",
            "The server is handling too many requests. Please try again in a few seconds.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_for_every_message() {
        let all = [
            Msg::Processing,
            Msg::Consulting("Bedrock"),
            Msg::ConsultingPlanner,
            Msg::ToolboxUnavailable("toolbox"),
            Msg::ToolTimeout {
                tool: "add",
                secs: 1.5,
            },
            Msg::LlmTimeout,
            Msg::LlmUnavailable("the stream was cut off"),
            Msg::LlmRefused("x"),
            Msg::LlmAccessDenied,
            Msg::LlmModelNotFound("m"),
            Msg::LlmThrottled,
            Msg::IterationLimit(3),
            Msg::TurnTimeout { secs: 2.0 },
            Msg::TurnCancelled,
            Msg::StorageUnavailable,
            Msg::Interrupted,
            Msg::Internal,
            Msg::NothingToRedo,
            Msg::ServerBusy,
        ];
        for msg in all {
            let (es, en) = (say(Lang::Es, msg.clone()), say(Lang::En, msg.clone()));
            assert!(!es.is_empty() && !en.is_empty(), "{msg:?}");
            assert_ne!(es, en, "{msg:?} is not translated");
        }
        assert_eq!(say(Lang::Es, Msg::Processing), "Procesando tu solicitud...");
    }
}
