//! The local planner: the default "LLM", a deterministic planner with no model and no
//! network. It reads arithmetic requests in Spanish or English, plans them as a chain
//! of tool calls (one per loop iteration, each able to use earlier results) and
//! answers in the user's language. Its commands (`/tools`, `/call`) reach any tool.

mod commands;
mod parse;

use async_trait::async_trait;
use protocol::Args;
use serde_json::{Number, Value};

use self::parse::{Expr, Op, Unplanned, parse};
use super::{
    ChatMessage, Llm, LlmError, LlmInfo, LlmReply, LlmRequest, TextSink, ToolCall, ToolOutcome,
};
use crate::lang::{Lang, detect};

/// The default LLM provider. See the module documentation.
#[derive(Debug, Clone)]
pub struct LocalPlanner {
    info: LlmInfo,
}

impl Default for LocalPlanner {
    fn default() -> Self {
        Self {
            info: LlmInfo {
                provider: "local".into(),
                model: "planner".into(),
                label: "Local planner".into(),
            },
        }
    }
}

/// One tool call of a plan; operands are literals or the results of earlier steps.
#[derive(Debug, Clone, PartialEq)]
struct Step {
    op: Op,
    a: Operand,
    b: Operand,
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Literal(Number),
    Step(usize),
}

/// Flattens the expression into steps in evaluation order (left operand first).
fn linearize(expr: &Expr, steps: &mut Vec<Step>) -> Operand {
    match expr {
        Expr::Num(n) => Operand::Literal(n.clone()),
        Expr::Bin(op, left, right) => {
            let a = linearize(left, steps);
            let b = linearize(right, steps);
            steps.push(Step { op: *op, a, b });
            Operand::Step(steps.len() - 1)
        }
    }
}

/// A tool result read back as a number, kept integral when it is ("15", not 15.0).
fn result_number(text: &str) -> Option<Number> {
    let text = text.trim();
    text.parse::<i64>()
        .ok()
        .map(Number::from)
        .or_else(|| text.parse::<f64>().ok().and_then(Number::from_f64))
}

/// The last successful result of an earlier turn, which a request may continue from.
fn previous_result(history: &[ChatMessage]) -> Option<Number> {
    history.iter().rev().find_map(|message| match message {
        ChatMessage::ToolResults(outcomes) => outcomes
            .iter()
            .rev()
            .find(|o| !o.is_error)
            .and_then(|o| result_number(&o.content)),
        _ => None,
    })
}

#[async_trait]
impl Llm for LocalPlanner {
    fn info(&self) -> &LlmInfo {
        &self.info
    }

    fn consulting(&self, lang: Lang) -> String {
        crate::texts::say(lang, crate::texts::Msg::ConsultingPlanner).into_owned()
    }

    async fn complete(
        &self,
        request: LlmRequest<'_>,
        _stream: &mut dyn TextSink,
    ) -> Result<LlmReply, LlmError> {
        Ok(plan_next(request))
    }
}

/// Decides the next move from the conversation alone, so the planner keeps no state.
fn plan_next(request: LlmRequest<'_>) -> LlmReply {
    let messages = request.messages;
    let last_user = messages
        .iter()
        .enumerate()
        .rev()
        .find_map(|(at, m)| match m {
            ChatMessage::User(text) => Some((at, text)),
            _ => None,
        });
    let Some((user_at, text)) = last_user else {
        return LlmReply::text(answers::not_understood(crate::lang::DEFAULT));
    };
    let lang = detect(text);
    if let Some(reply) = commands::plan(text, &messages[user_at + 1..], request.tools, lang) {
        return reply;
    }
    let previous = previous_result(&messages[..user_at]);
    let expr = match parse(text, previous.as_ref()) {
        Ok(expr) => expr,
        Err(why) => return LlmReply::text(answers::unplanned(lang, why)),
    };
    let mut steps = Vec::new();
    linearize(&expr, &mut steps);
    if steps.is_empty() {
        return LlmReply::text(answers::unplanned(lang, Unplanned::NotUnderstood));
    }

    let results: Vec<&ToolOutcome> = messages[user_at + 1..]
        .iter()
        .filter_map(|m| match m {
            ChatMessage::ToolResults(outcomes) => Some(outcomes.iter()),
            _ => None,
        })
        .flatten()
        .collect();
    if let Some(failed) = results.iter().find(|r| r.is_error) {
        if failed.denied {
            return LlmReply::text(answers::declined(lang, &failed.name));
        }
        return LlmReply::text(answers::tool_failed(lang, &failed.name, &failed.content));
    }
    let values: Option<Vec<Number>> = results.iter().map(|r| result_number(&r.content)).collect();
    let Some(values) = values else {
        return LlmReply::text(answers::unreadable(lang));
    };

    let Some(step) = steps.get(values.len()) else {
        return LlmReply::text(answers::done(lang, &expr, &steps, &values));
    };
    if !request.tools.iter().any(|t| t.name == step.op.tool()) {
        return LlmReply::text(answers::missing_tool(lang, step.op.tool()));
    }
    let value = |operand: &Operand| match operand {
        Operand::Literal(n) => Value::Number(n.clone()),
        Operand::Step(i) => Value::Number(values[*i].clone()),
    };
    let mut args = Args::new();
    args.insert("a".into(), value(&step.a));
    args.insert("b".into(), value(&step.b));
    LlmReply {
        text: String::new(),
        tool_calls: vec![ToolCall::new(
            format!("call_{}", values.len()),
            step.op.tool(),
            args,
        )],
        usage: None,
    }
}

/// What the planner says, in both languages.
mod answers {
    use serde_json::Number;

    use super::{Expr, Op, Operand, Step, Unplanned};
    use crate::lang::Lang;

    fn operand(operand: &Operand, values: &[Number]) -> String {
        match operand {
            Operand::Literal(n) => n.to_string(),
            Operand::Step(i) => values[*i].to_string(),
        }
    }

    pub fn done(lang: Lang, expr: &Expr, steps: &[Step], values: &[Number]) -> String {
        let result = values.last().map(Number::to_string).unwrap_or_default();
        if let [step] = steps {
            let (a, b) = (operand(&step.a, values), operand(&step.b, values));
            return match (lang, step.op) {
                (Lang::Es, Op::Add) => format!("La suma de {a} y {b} es {result}."),
                (Lang::Es, Op::Subtract) => format!("La resta de {a} menos {b} es {result}."),
                (Lang::Es, Op::Multiply) => format!("El producto de {a} por {b} es {result}."),
                (Lang::Es, Op::Divide) => format!("La división de {a} entre {b} es {result}."),
                (Lang::En, Op::Add) => format!("The sum of {a} and {b} is {result}."),
                (Lang::En, Op::Subtract) => format!("{a} minus {b} is {result}."),
                (Lang::En, Op::Multiply) => format!("The product of {a} and {b} is {result}."),
                (Lang::En, Op::Divide) => format!("{a} divided by {b} is {result}."),
            };
        }
        let worked: Vec<String> = steps
            .iter()
            .zip(values)
            .map(|(step, value)| {
                format!(
                    "{} {} {} = {value}",
                    operand(&step.a, values),
                    step.op.symbol(),
                    operand(&step.b, values)
                )
            })
            .collect();
        match lang {
            Lang::Es => format!(
                "El resultado de {expr} es {result} ({}).",
                worked.join("; ")
            ),
            Lang::En => format!("The result of {expr} is {result} ({}).", worked.join("; ")),
        }
    }

    pub fn tool_failed(lang: Lang, tool: &str, error: &str) -> String {
        match lang {
            Lang::Es => format!(
                "No pude completar el cálculo: la herramienta {tool} respondió con un error: {error}"
            ),
            Lang::En => format!(
                "I couldn't complete the calculation: the {tool} tool returned an error: {error}"
            ),
        }
    }

    pub fn declined(lang: Lang, tool: &str) -> String {
        match lang {
            Lang::Es => {
                format!("No hice el cálculo: rechazaste la llamada a la herramienta {tool}.")
            }
            Lang::En => {
                format!("I didn't do the calculation: you declined the call to the {tool} tool.")
            }
        }
    }

    pub fn unreadable(lang: Lang) -> String {
        match lang {
            Lang::Es => "No pude completar el cálculo: una herramienta devolvió un resultado que no es un número.".into(),
            Lang::En => "I couldn't complete the calculation: a tool returned something that is not a number.".into(),
        }
    }

    pub fn missing_tool(lang: Lang, tool: &str) -> String {
        match lang {
            Lang::Es => {
                format!("No puedo calcularlo: el toolbox no ofrece la herramienta «{tool}».")
            }
            Lang::En => format!("I can't compute that: the toolbox has no “{tool}” tool."),
        }
    }

    pub fn not_understood(lang: Lang) -> String {
        match lang {
            Lang::Es => "No sé resolver eso. Soy un planificador local, no un modelo de lenguaje: entiendo operaciones aritméticas (sumar, restar, multiplicar y dividir). Prueba con «Suma 10 y 5», «Divide 10 entre 4» o «(10 + 5) * 3».".into(),
            Lang::En => "I can't help with that. I'm a local planner, not a language model: I understand arithmetic (add, subtract, multiply and divide). Try “add 2 and 3”, “what is 12 divided by 4” or “(10 + 5) * 3”.".into(),
        }
    }

    pub fn unplanned(lang: Lang, why: Unplanned) -> String {
        match (lang, why) {
            (Lang::Es, Unplanned::Greeting) => "¡Hola! Soy el planificador local de toolstream: sumo, resto, multiplico y divido con las herramientas del toolbox. Prueba con «Suma 10 y 5» o «(10 + 5) * 3».".into(),
            (Lang::En, Unplanned::Greeting) => "Hello! I'm toolstream's local planner: I add, subtract, multiply and divide with the toolbox's tools. Try “add 2 and 3” or “(10 + 5) * 3”.".into(),
            (Lang::Es, Unplanned::NeedsTwoNumbers(op)) => format!(
                "Para {} necesito dos números, por ejemplo «{}».",
                match op { Op::Add => "sumar", Op::Subtract => "restar", Op::Multiply => "multiplicar", Op::Divide => "dividir" },
                match op { Op::Add => "Suma 10 y 5", Op::Subtract => "Resta 9 de 20", Op::Multiply => "Multiplica 6 por 7", Op::Divide => "Divide 10 entre 4" },
            ),
            (Lang::En, Unplanned::NeedsTwoNumbers(op)) => format!(
                "To {} I need two numbers, for example “{}”.",
                match op { Op::Add => "add", Op::Subtract => "subtract", Op::Multiply => "multiply", Op::Divide => "divide" },
                match op { Op::Add => "add 2 and 3", Op::Subtract => "subtract 3 from 10", Op::Multiply => "multiply 6 by 7", Op::Divide => "divide 12 by 4" },
            ),
            (lang, Unplanned::NotUnderstood) => not_understood(lang),
            (Lang::Es, Unplanned::TooComplex) => format!(
                "Es demasiado para mí: calculo hasta {} operaciones con hasta {} niveles de paréntesis. Prueba a dividir la petición en partes.",
                super::parse::MAX_OPERATIONS, super::parse::MAX_NESTING
            ),
            (Lang::En, Unplanned::TooComplex) => format!(
                "That is too much for me: I compute up to {} operations with up to {} levels of parentheses. Try splitting the request into parts.",
                super::parse::MAX_OPERATIONS, super::parse::MAX_NESTING
            ),
        }
    }
}
