//! Reading fields out of JSON values: each reader gives `None` for a value of the
//! wrong shape, so a decoder built from them refuses what serde would refuse.

use protocol::{ErrorCode, Usage};
use serde_json::{Map, Value};

pub(crate) type Object = Map<String, Value>;

/// A required field, converted.
pub(crate) fn take<T>(
    o: &mut Object,
    key: &str,
    convert: impl FnOnce(Value) -> Option<T>,
) -> Option<T> {
    convert(o.remove(key)?)
}

pub(crate) fn take_string(o: &mut Object, key: &str) -> Option<String> {
    take(o, key, string)
}

/// An optional field: absent or `null` is `Some(None)`; present but wrong is `None`.
pub(crate) fn optional<T>(
    o: &mut Object,
    key: &str,
    convert: impl FnOnce(Value) -> Option<T>,
) -> Option<Option<T>> {
    match o.remove(key) {
        None | Some(Value::Null) => Some(None),
        Some(value) => convert(value).map(Some),
    }
}

pub(crate) fn string(value: Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s),
        _ => None,
    }
}

pub(crate) fn u64_of(value: Value) -> Option<u64> {
    value.as_u64()
}

pub(crate) fn object(value: Value) -> Option<Object> {
    match value {
        Value::Object(o) => Some(o),
        _ => None,
    }
}

pub(crate) fn list<T>(value: Value, item: impl Fn(Value) -> Option<T>) -> Option<Vec<T>> {
    match value {
        Value::Array(items) => items.into_iter().map(item).collect(),
        _ => None,
    }
}

pub(crate) fn usage(value: Value) -> Option<Usage> {
    let mut o = object(value)?;
    Some(Usage {
        input_tokens: take(&mut o, "input_tokens", u64_of)?,
        output_tokens: take(&mut o, "output_tokens", u64_of)?,
        cost_usd: optional(&mut o, "cost_usd", |v| v.as_f64())?,
    })
}

/// Error codes by their wire names; codes from newer servers are `Unknown`.
pub(crate) fn error_code(value: Value) -> Option<ErrorCode> {
    use ErrorCode::*;
    Some(match value.as_str()? {
        "invalid_json" => InvalidJson,
        "invalid_message" => InvalidMessage,
        "too_large" => TooLarge,
        "rate_limited" => RateLimited,
        "busy" => Busy,
        "toolbox_unavailable" => ToolboxUnavailable,
        "llm_unavailable" => LlmUnavailable,
        "timeout" => Timeout,
        "cancelled" => Cancelled,
        "iteration_limit" => IterationLimit,
        "session_expired" => SessionExpired,
        "resume_gap" => ResumeGap,
        "unauthorized" => Unauthorized,
        "interrupted" => Interrupted,
        "storage_unavailable" => StorageUnavailable,
        "internal" => Internal,
        _ => Unknown,
    })
}
