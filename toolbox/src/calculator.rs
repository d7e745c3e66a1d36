//! The arithmetic tools and the MCP server handler that exposes them.
//!
//! Each tool answers with its result as text (`"15"`, the contract of the original
//! system) and as `structuredContent` (`{"result": 15}`) matching its declared
//! `outputSchema`. All four are annotated read-only, so hosts run them without asking.

use std::sync::{Arc, OnceLock};

use protocol::format_number;
use rmcp::{
    ServerHandler,
    handler::server::{common::schema_for_type, router::tool::ToolRouter},
    model::{
        CallToolResult, ContentBlock, Implementation, JsonObject, ServerCapabilities, ServerConfig,
    },
    tool, tool_handler, tool_router,
};
use serde_json::{Number, Value, json};

/// The two operands every arithmetic tool takes. Only used to generate the tools'
/// input JSON Schema: arguments are validated by hand so that a bad call becomes a
/// tool error the model can read and correct, not a protocol error.
#[derive(schemars::JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct Operands {
    /// The first operand.
    a: f64,
    /// The second operand.
    b: f64,
}

fn operands_schema() -> Arc<JsonObject> {
    static SCHEMA: OnceLock<Arc<JsonObject>> = OnceLock::new();
    SCHEMA.get_or_init(schema_for_type::<Operands>).clone()
}

/// What every arithmetic tool returns as `structuredContent`. Only used for the
/// tools' output JSON Schema.
#[derive(schemars::JsonSchema)]
#[allow(dead_code)]
struct Outcome {
    /// The result of the operation.
    result: f64,
}

fn outcome_schema() -> Arc<JsonObject> {
    static SCHEMA: OnceLock<Arc<JsonObject>> = OnceLock::new();
    SCHEMA.get_or_init(schema_for_type::<Outcome>).clone()
}

/// A result as text and as structured content; a failure as a tool error.
fn answer(outcome: Result<f64, String>) -> CallToolResult {
    match outcome {
        Ok(value) => {
            // Whole numbers stay integers in JSON too (`15`, not `15.0`).
            let number = format_number(value)
                .parse::<i64>()
                .map(Number::from)
                .ok()
                .or_else(|| Number::from_f64(value))
                .map_or(Value::Null, Value::Number);
            let mut result =
                CallToolResult::success(vec![ContentBlock::text(format_number(value))]);
            result.structured_content = Some(json!({ "result": number }));
            result
        }
        Err(message) => CallToolResult::error(vec![ContentBlock::text(message)]),
    }
}

/// An arithmetic operation on two numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Add,
    Subtract,
    Multiply,
    Divide,
}

impl Operation {
    /// Applies the operation, refusing results that are not finite numbers.
    pub fn apply(self, a: f64, b: f64) -> Result<f64, String> {
        let value = match self {
            Self::Add => a + b,
            Self::Subtract => a - b,
            Self::Multiply => a * b,
            Self::Divide if b == 0.0 => {
                return Err("division by zero: the divisor b must not be 0".to_owned());
            }
            Self::Divide => a / b,
        };
        if value.is_finite() {
            Ok(value)
        } else {
            Err(format!(
                "the result of {} is too large to represent as a finite number",
                self.verb()
            ))
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Self::Add => "the addition",
            Self::Subtract => "the subtraction",
            Self::Multiply => "the multiplication",
            Self::Divide => "the division",
        }
    }
}

/// Validates `{a, b}` and computes the operation, or explains what is wrong.
fn evaluate(operation: Operation, args: &JsonObject) -> Result<f64, String> {
    if let Some(unexpected) = args.keys().find(|key| *key != "a" && *key != "b") {
        return Err(format!(
            "unexpected argument \"{unexpected}\": this tool takes exactly two numbers, \"a\" and \"b\""
        ));
    }
    let a = operand(args, "a")?;
    let b = operand(args, "b")?;
    operation.apply(a, b)
}

fn operand(args: &JsonObject, name: &str) -> Result<f64, String> {
    match args.get(name) {
        None => Err(format!("missing required argument \"{name}\" (a number)")),
        Some(Value::Number(number)) => number
            .as_f64()
            .filter(|value| value.is_finite())
            .ok_or_else(|| format!("argument \"{name}\" is not a finite number")),
        Some(other) => Err(format!(
            "argument \"{name}\" must be a number, got {}",
            describe(other)
        )),
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(flag) => format!("the boolean {flag}"),
        Value::Number(number) => format!("the number {number}"),
        Value::String(text) if text.chars().count() <= 32 => format!("the string \"{text}\""),
        Value::String(_) => "a string".to_owned(),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// The MCP server handler: four arithmetic tools.
///
/// Cheap to clone: rmcp builds one handler per stateless request, so the tool router
/// is built once and shared.
#[derive(Clone)]
pub struct Calculator {
    tool_router: Arc<ToolRouter<Calculator>>,
}

impl Default for Calculator {
    fn default() -> Self {
        Self::new()
    }
}

impl Calculator {
    pub fn new() -> Self {
        Self {
            tool_router: Arc::new(Self::tool_router()),
        }
    }
}

#[tool_router]
impl Calculator {
    #[tool(
        description = "Add two numbers. Returns a + b.",
        input_schema = operands_schema(),
        output_schema = outcome_schema(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    fn add(&self, args: JsonObject) -> CallToolResult {
        answer(evaluate(Operation::Add, &args))
    }

    #[tool(
        description = "Subtract b from a. Returns a - b.",
        input_schema = operands_schema(),
        output_schema = outcome_schema(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    fn subtract(&self, args: JsonObject) -> CallToolResult {
        answer(evaluate(Operation::Subtract, &args))
    }

    #[tool(
        description = "Multiply two numbers. Returns a * b.",
        input_schema = operands_schema(),
        output_schema = outcome_schema(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    fn multiply(&self, args: JsonObject) -> CallToolResult {
        answer(evaluate(Operation::Multiply, &args))
    }

    #[tool(
        description = "Divide a by b. Returns a / b; b must not be zero.",
        input_schema = operands_schema(),
        output_schema = outcome_schema(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    fn divide(&self, args: JsonObject) -> CallToolResult {
        answer(evaluate(Operation::Divide, &args))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Calculator {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("toolstream-toolbox", env!("CARGO_PKG_VERSION"))
                    .with_title("toolstream MCP toolbox"),
            )
            .with_instructions("Arithmetic tools: add, subtract, multiply and divide two numbers.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(value: Value) -> JsonObject {
        value.as_object().cloned().expect("object")
    }

    fn text(operation: Operation, value: Value) -> Result<String, String> {
        evaluate(operation, &args(value)).map(format_number)
    }

    #[test]
    fn whole_results_print_without_fraction() {
        assert_eq!(
            text(Operation::Add, json!({"a": 10, "b": 5})),
            Ok("15".into())
        );
        assert_eq!(
            text(Operation::Divide, json!({"a": 10, "b": 4})),
            Ok("2.5".into())
        );
        assert_eq!(
            text(Operation::Subtract, json!({"a": 9, "b": 20})),
            Ok("-11".into())
        );
    }

    #[test]
    fn results_come_as_text_and_structured_content() {
        let result = answer(Ok(15.0));
        assert_eq!(result.content[0].as_text().unwrap().text, "15");
        assert_eq!(result.structured_content, Some(json!({"result": 15})));
        assert_eq!(
            answer(Ok(2.5)).structured_content,
            Some(json!({"result": 2.5}))
        );
        let failed = answer(Err("division by zero".into()));
        assert_eq!(failed.is_error, Some(true));
        assert_eq!(failed.structured_content, None);
        let schema = Value::Object((*outcome_schema()).clone());
        assert_eq!(schema["properties"]["result"]["type"], "number");
        assert_eq!(schema["required"], json!(["result"]));
    }

    #[test]
    fn bad_arguments_are_explained() {
        let err = evaluate(Operation::Add, &args(json!({"a": 1}))).unwrap_err();
        assert!(err.contains("missing required argument \"b\""), "{err}");
        let err = evaluate(Operation::Add, &args(json!({"a": "ten", "b": 1}))).unwrap_err();
        assert!(
            err.contains("must be a number, got the string \"ten\""),
            "{err}"
        );
        let err = evaluate(Operation::Add, &args(json!({"a": 1, "b": 2, "c": 3}))).unwrap_err();
        assert!(err.contains("unexpected argument \"c\""), "{err}");
    }

    #[test]
    fn overflow_and_division_by_zero_are_errors() {
        let err = evaluate(Operation::Multiply, &args(json!({"a": 1e308, "b": 10}))).unwrap_err();
        assert!(err.contains("too large"), "{err}");
        let err = evaluate(Operation::Divide, &args(json!({"a": 1, "b": 0}))).unwrap_err();
        assert!(err.contains("division by zero"), "{err}");
    }
}
