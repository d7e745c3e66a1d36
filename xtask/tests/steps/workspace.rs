//! Checks on this workspace itself: its settings load, and the release test build
//! reuses what the server's release build compiled.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use xtask::config::SiteConfig;
use xtask::process::Cmd;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn this_workspaces_site_settings_load_and_point_at_real_files() {
    let root = workspace_root();
    let c = SiteConfig::load(&root).unwrap();
    assert_eq!(c.workspace_root, root);
    assert_eq!(
        (c.lib.name.as_str(), c.bin.name.as_str()),
        ("frontend", "server")
    );
    assert!(
        c.style_file.as_ref().unwrap().is_file(),
        "{:?}",
        c.style_file
    );
    assert!(
        c.assets_dir.as_ref().unwrap().is_dir(),
        "{:?}",
        c.assets_dir
    );
    // The name plain cargo builds get from .cargo/config.toml must be the site's.
    let cargo_config = std::fs::read_to_string(root.join(".cargo/config.toml")).unwrap();
    assert!(
        cargo_config.contains(&format!("LEPTOS_OUTPUT_NAME = \"{}\"", c.output_name)),
        "set LEPTOS_OUTPUT_NAME = {:?} in .cargo/config.toml",
        c.output_name
    );
}

/// Package ("name version") -> the feature sets it is compiled with (one per
/// host/target variant), from `cargo tree` output in the format `{p} [{f}]`.
fn feature_sets(tree: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut sets: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in tree.lines().map(|l| l.trim_end_matches(" (*)")) {
        let (Some(open), Some(name)) = (line.rfind(" ["), line.split_whitespace().nth(1)) else {
            continue;
        };
        let package = format!("{} {name}", line.split_whitespace().next().unwrap_or(""));
        let features = line[open + 2..].trim_end_matches(']').to_owned();
        sets.entry(package).or_default().insert(features);
    }
    sets
}

fn tree(args: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let out = Cmd::cargo()
        .args(["tree", "--prefix=none", "--format={p} [{f}]"])
        .args(args.iter().copied())
        .current_dir(workspace_root())
        .output()
        .unwrap();
    feature_sets(&out)
}

/// `cargo test --release` (the default members, with dev-dependencies) must compile
/// every crate of `cargo build --release -p server` (`cargo xtask site`) with the same
/// features; otherwise it compiles that crate and everything above it a second time.
/// A dev-dependency that enables an extra feature of a shared crate is the usual
/// cause: enable that feature in a normal dependency too.
#[test]
fn the_test_build_compiles_the_servers_crates_with_the_same_features() {
    let c = SiteConfig::load(&workspace_root()).unwrap();
    let mut server_args = vec!["--edges=normal,build", "--package", c.bin.name.as_str()];
    if !c.bin.default_features {
        server_args.push("--no-default-features");
    }
    let server = tree(&server_args);
    let tests = tree(&[]);
    assert!(
        server.len() > 100,
        "cargo tree listed {} packages",
        server.len()
    );
    let differing: Vec<String> = server
        .iter()
        .filter(|(package, features)| tests.get(*package).is_none_or(|t| !features.is_subset(t)))
        .map(|(package, features)| {
            format!(
                "{package}: server build [{}], test build [{}]",
                features.iter().cloned().collect::<Vec<_>>().join("] ["),
                tests
                    .get(package)
                    .map(|t| t.iter().cloned().collect::<Vec<_>>().join("] ["))
                    .unwrap_or_default()
            )
        })
        .collect();
    assert!(
        differing.is_empty(),
        "cargo test --release would compile these crates again with other features:\n{}",
        differing.join("\n")
    );
}

#[test]
fn feature_sets_reads_cargo_tree_lines() {
    let sets = feature_sets(
        "app v0.1.0 (/ws/app) [ssr]\nsyn v2.0.1 [full]\nsyn v2.0.1 [full] (*)\nsyn v2.0.1 [derive]\n",
    );
    assert_eq!(sets["app v0.1.0"], BTreeSet::from(["ssr".to_owned()]));
    assert_eq!(
        sets["syn v2.0.1"],
        BTreeSet::from(["derive".to_owned(), "full".to_owned()])
    );
}
