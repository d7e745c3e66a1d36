//! `${VAR}` expansion in `mcp.json` values, from a map of environment variables read
//! once at start-up (tests pass their own map).
//!
//! `${VAR}` is the variable's value; `${VAR:-default}` falls back to `default` when
//! the variable is unset or empty; `$$` is a literal `$`. Any other `$` stays as it is.

use std::collections::BTreeMap;

/// The environment a configuration is expanded against.
pub type Environment = BTreeMap<String, String>;

/// Why a value could not be expanded. Never carries a variable's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    #[error("environment variable {0} is not set (use ${{{0}:-default}} for a fallback)")]
    Unset(String),
    #[error("\"${{\" without a closing \"}}\"")]
    Unclosed,
    #[error("\"${{{0}}}\" is not a valid variable name")]
    BadName(String),
}

/// Expands `${VAR}` and `${VAR:-default}` in `text`.
pub fn expand(text: &str, env: &Environment) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').ok_or(ExpandError::Unclosed)?;
            let inner = &body[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (inner, None),
            };
            if !is_name(name) {
                return Err(ExpandError::BadName(inner.to_owned()));
            }
            match (env.get(name).filter(|v| !v.is_empty()), default) {
                (Some(value), _) => out.push_str(value),
                (None, Some(default)) => out.push_str(default),
                (None, None) => return Err(ExpandError::Unset(name.to_owned())),
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Environment {
        [("TOKEN", "s3cret"), ("EMPTY", "")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn variables_defaults_and_literals() {
        let env = env();
        assert_eq!(expand("Bearer ${TOKEN}", &env).unwrap(), "Bearer s3cret");
        assert_eq!(expand("${MISSING:-x}/${EMPTY:-y}", &env).unwrap(), "x/y");
        assert_eq!(
            expand("cost $5 and $$HOME", &env).unwrap(),
            "cost $5 and $HOME"
        );
        assert_eq!(expand("no vars", &env).unwrap(), "no vars");
        assert_eq!(expand("${TOKEN}${TOKEN}", &env).unwrap(), "s3crets3cret");
    }

    #[test]
    fn problems_name_the_variable_never_a_value() {
        let env = env();
        assert_eq!(
            expand("${NOPE}", &env),
            Err(ExpandError::Unset("NOPE".into()))
        );
        assert_eq!(expand("${TOKEN", &env), Err(ExpandError::Unclosed));
        assert_eq!(
            expand("${1X}", &env),
            Err(ExpandError::BadName("1X".into()))
        );
        let message = expand("${NOPE}", &env).unwrap_err().to_string();
        assert!(message.contains("NOPE") && !message.contains("s3cret"));
    }
}
