//! The comparison of our site with cargo-leptos's.

use xtask::compare::{Listing, differences, listing};
use xtask::compress::{brotli, gzip};

use crate::helpers::TempDir;

const JS: &str = "pkg/app.js";

/// A site as precompression leaves it: each file with its .gz and .br.
fn site(files: &[(&str, &[u8])]) -> Listing {
    let mut out = Listing::new();
    for (path, bytes) in files {
        out.insert((*path).to_owned(), bytes.to_vec());
        out.insert(format!("{path}.gz"), gzip(bytes));
        out.insert(format!("{path}.br"), brotli(bytes));
    }
    out
}

#[test]
fn identical_sites_and_a_differently_minified_js_agree() {
    let ours = site(&[("pkg/app.wasm", b"wasm"), (JS, b"let a=1")]);
    let theirs = site(&[("pkg/app.wasm", b"wasm"), (JS, b"let b=1")]);
    assert_eq!(differences(&ours, &theirs, JS), Vec::<String>::new());
}

#[test]
fn missing_extra_and_different_files_are_each_reported() {
    let ours = site(&[("pkg/app.wasm", b"wasm"), ("extra.txt", b"x"), (JS, b"j")]);
    let theirs = site(&[
        ("pkg/app.wasm", b"WASM"),
        ("favicon.svg", b"<svg/>"),
        (JS, b"j"),
    ]);
    let problems = differences(&ours, &theirs, JS).join("\n");
    assert!(problems.contains("extra.txt: only in ours"), "{problems}");
    assert!(
        problems.contains("favicon.svg: only in cargo-leptos's"),
        "{problems}"
    );
    assert!(
        problems.contains("pkg/app.wasm: 4 bytes here, 4 in cargo-leptos's"),
        "{problems}"
    );
    assert!(problems.contains("pkg/app.wasm.br: "), "{problems}");
}

#[test]
fn a_compressed_file_that_is_not_its_sibling_is_reported() {
    let mut ours = site(&[(JS, b"j")]);
    ours.insert(format!("{JS}.gz"), gzip(b"something else"));
    ours.insert("lonely.css.br".into(), brotli(b"x"));
    let theirs = ours.clone();
    let problems = differences(&ours, &theirs, JS).join("\n");
    assert!(
        problems.contains("pkg/app.js.gz (ours): is not pkg/app.js compressed"),
        "{problems}"
    );
    assert!(
        problems.contains("lonely.css.br (ours): no lonely.css next to it"),
        "{problems}"
    );
}

#[test]
fn an_unminified_js_is_reported() {
    let ours = site(&[(JS, &[b'x'; 1200])]);
    let theirs = site(&[(JS, &[b'y'; 1000])]);
    let problems = differences(&ours, &theirs, JS).join("\n");
    assert!(problems.contains("is it minified?"), "{problems}");
}

#[test]
fn listing_reads_nested_files_with_relative_paths() {
    let dir = TempDir::new();
    dir.write("a.txt", "a");
    dir.write("pkg/b.js", "b");
    let l = listing(dir.path()).unwrap();
    assert_eq!(l.keys().collect::<Vec<_>>(), ["a.txt", "pkg/b.js"]);
}
