//! The assets directory copied into the site root, as cargo-leptos copies it.

use xtask::assets::copy_assets;

use crate::helpers::TempDir;

#[test]
fn assets_are_copied_into_the_site_root_with_their_folders() {
    let dir = TempDir::new();
    dir.write("public/favicon.svg", "<svg/>");
    dir.write("public/img/logo.png", [1, 2, 3]);
    let site = dir.path().join("site");
    copy_assets(&dir.path().join("public"), &site, "pkg").unwrap();
    assert_eq!(std::fs::read(site.join("favicon.svg")).unwrap(), b"<svg/>");
    assert_eq!(std::fs::read(site.join("img/logo.png")).unwrap(), [1, 2, 3]);
}

#[test]
fn paths_the_build_writes_itself_are_refused_in_assets() {
    for reserved in ["index.html", "pkg/app.js"] {
        let dir = TempDir::new();
        dir.write(&format!("public/{reserved}"), "x");
        let err = copy_assets(&dir.path().join("public"), &dir.path().join("site"), "pkg")
            .unwrap_err()
            .to_string();
        assert!(err.contains("is reserved"), "{reserved}: {err}");
    }
}

#[test]
fn a_missing_assets_dir_is_not_an_error() {
    let dir = TempDir::new();
    copy_assets(&dir.path().join("nothing"), &dir.path().join("site"), "pkg").unwrap();
}
