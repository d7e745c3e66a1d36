//! The names the model and the UI see: a tool keeps its server's name for it when no
//! other server offers the same one; when two (or more) do, each becomes
//! `<server>__<tool>`. Names are worked out over every server whose tools are known,
//! reachable now or not, so that a server going away does not rename the others.

use std::collections::{HashMap, HashSet};

/// The separator between a server's name and its tool's in a qualified name.
pub const SEPARATOR: &str = "__";

/// Exposed names for `servers`, each given as (server, its tool names), in the same
/// shape. Every exposed name is unique.
pub fn exposed_names(servers: &[(&str, Vec<&str>)]) -> Vec<Vec<String>> {
    let mut offered: HashMap<&str, usize> = HashMap::new();
    for (_, tools) in servers {
        let unique: HashSet<&str> = tools.iter().copied().collect();
        for tool in unique {
            *offered.entry(tool).or_default() += 1;
        }
    }
    let mut taken: HashSet<String> = HashSet::new();
    servers
        .iter()
        .map(|(server, tools)| {
            tools
                .iter()
                .map(|tool| {
                    let base = if offered.get(tool).copied().unwrap_or(0) > 1 {
                        format!("{server}{SEPARATOR}{tool}")
                    } else {
                        (*tool).to_owned()
                    };
                    // A server listing one name twice, or a tool already named like
                    // `other__tool`, would still clash: number the later ones.
                    let mut name = base.clone();
                    let mut n = 2;
                    while !taken.insert(name.clone()) {
                        name = format!("{base}_{n}");
                        n += 1;
                    }
                    name
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_stay_and_shared_ones_are_qualified_on_both_sides() {
        let names = exposed_names(&[
            ("calc_a", vec!["add", "divide"]),
            ("calc_b", vec!["add"]),
            ("everything", vec!["echo"]),
        ]);
        assert_eq!(
            names,
            [
                vec!["calc_a__add", "divide"],
                vec!["calc_b__add"],
                vec!["echo"],
            ]
        );
    }

    #[test]
    fn leftover_clashes_are_numbered() {
        let names = exposed_names(&[("a", vec!["x", "x"]), ("b", vec!["a__y"]), ("a2", vec![])]);
        assert_eq!(names, [vec!["x", "x_2"], vec!["a__y"], vec![]]);
        let names = exposed_names(&[("a", vec!["y", "a__y"]), ("c", vec!["y"])]);
        assert_eq!(names, [vec!["a__y", "a__y_2"], vec!["c__y"]]);
    }
}
