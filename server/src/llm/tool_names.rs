//! Tool names as model APIs accept them. MCP allows names that Bedrock and OpenAI
//! reject (dots, slashes, spaces, more than 64 characters); both want
//! `[a-zA-Z0-9_-]{1,64}`. Names are mapped deterministically and uniquely on the way
//! out and mapped back when the model calls a tool.

use std::collections::HashMap;

/// The longest name the model APIs accept.
const MAX_LEN: usize = 64;

/// Whether `name` is acceptable to the model APIs as it is.
pub fn is_valid(name: &str) -> bool {
    (1..=MAX_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The model-facing name of one tool, computed from the name alone: valid names stay
/// as they are; others get their invalid characters replaced by `_`, are cut to fit,
/// and end with a hash of the original, so two names that only differ in replaced
/// characters still differ.
pub fn model_name(name: &str) -> String {
    if is_valid(name) {
        return name.to_owned();
    }
    let hash = format!("{:08x}", fnv1a(name.as_bytes()) as u32);
    let keep = MAX_LEN - hash.len() - 1;
    let mut base: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(keep)
        .collect();
    if base.is_empty() {
        base.push_str("tool");
    }
    format!("{base}_{hash}")
}

/// A 64-bit FNV-1a hash: stable across runs and platforms, unlike `DefaultHasher`.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The mapping for one model call, both ways.
#[derive(Debug, Clone, Default)]
pub struct ToolNames {
    to_model: HashMap<String, String>,
    to_tool: HashMap<String, String>,
}

impl ToolNames {
    /// Maps every name in `names` (the toolbox's tools first, then names found in the
    /// conversation). Names are taken in order; in the unlikely event that a mapped
    /// name is taken already, a counter makes it unique.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut map = Self::default();
        for name in names {
            if map.to_model.contains_key(name) {
                continue;
            }
            let mut candidate = model_name(name);
            let mut n = 2;
            while map.to_tool.contains_key(&candidate) {
                let suffix = format!("-{n}");
                let base: String = candidate
                    .chars()
                    .take(MAX_LEN - suffix.len())
                    .collect::<String>()
                    .trim_end_matches(|c: char| c.is_ascii_digit() || c == '-')
                    .to_owned();
                candidate = format!("{base}{suffix}");
                n += 1;
            }
            map.to_tool.insert(candidate.clone(), name.to_owned());
            map.to_model.insert(name.to_owned(), candidate);
        }
        map
    }

    /// The model-facing name of a tool.
    pub fn to_model(&self, tool: &str) -> String {
        self.to_model
            .get(tool)
            .cloned()
            .unwrap_or_else(|| model_name(tool))
    }

    /// The toolbox name for a name the model used; unknown names pass through, so
    /// the toolbox answers them with its "unknown tool" error, which the model sees.
    pub fn to_tool(&self, model: &str) -> String {
        self.to_tool
            .get(model)
            .cloned()
            .unwrap_or_else(|| model.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_are_kept() {
        for name in ["add", "get_weather", "a-b", &"x".repeat(64)] {
            assert_eq!(model_name(name), name);
        }
    }

    #[test]
    fn invalid_names_are_mapped_into_the_allowed_alphabet() {
        for name in [
            "math.add",
            "files/read",
            "with space",
            "ñandú",
            "",
            &"y".repeat(65),
            &"z.".repeat(100),
        ] {
            let mapped = model_name(name);
            assert!(is_valid(&mapped), "{name:?} -> {mapped:?}");
            assert_eq!(mapped, model_name(name), "deterministic");
        }
        assert!(model_name("math.add").starts_with("math_add_"));
    }

    #[test]
    fn names_differing_only_in_replaced_characters_stay_distinct() {
        assert_ne!(model_name("a.b"), model_name("a/b"));
        let names = ToolNames::new(["a.b", "a/b", "a_b"]);
        let mapped: std::collections::HashSet<_> =
            ["a.b", "a/b", "a_b"].map(|n| names.to_model(n)).into();
        assert_eq!(mapped.len(), 3);
    }

    #[test]
    fn collisions_get_a_counter_and_map_back() {
        // A tool whose valid name is exactly what another name maps to.
        let taken = model_name("math.add");
        let names = ToolNames::new([taken.as_str(), "math.add"]);
        let second = names.to_model("math.add");
        assert_ne!(second, taken);
        assert!(is_valid(&second), "{second}");
        assert_eq!(names.to_tool(&second), "math.add");
        assert_eq!(names.to_tool(&taken), taken);
    }

    #[test]
    fn unknown_model_names_pass_through() {
        let names = ToolNames::new(["add"]);
        assert_eq!(names.to_tool("add"), "add");
        assert_eq!(names.to_tool("made_up"), "made_up");
    }
}
