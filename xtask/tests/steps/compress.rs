//! Precompression as `cargo leptos build --release --precompress` does it.

use std::io::Read;

use xtask::compress;

use crate::helpers::TempDir;

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(bytes, 4096)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn every_file_at_any_depth_gets_gz_and_br_siblings_that_decompress_to_it() {
    let dir = TempDir::new();
    let big = "body { color: red }\n".repeat(2000);
    dir.write("favicon.svg", "<svg/>");
    dir.write("pkg/toolstream.css", &big);
    dir.write("pkg/deep/snippet.js", "export const x = 1;");
    dir.write("empty.txt", "");
    assert_eq!(compress::precompress(dir.path()).unwrap(), 4);
    for (rel, want) in [
        ("favicon.svg", "<svg/>"),
        ("pkg/toolstream.css", big.as_str()),
        ("pkg/deep/snippet.js", "export const x = 1;"),
        ("empty.txt", ""),
    ] {
        let gz = std::fs::read(dir.path().join(format!("{rel}.gz"))).unwrap();
        let br = std::fs::read(dir.path().join(format!("{rel}.br"))).unwrap();
        assert_eq!(gunzip(&gz), want.as_bytes(), "{rel}.gz");
        assert_eq!(unbrotli(&br), want.as_bytes(), "{rel}.br");
    }
    let css_br = std::fs::metadata(dir.path().join("pkg/toolstream.css.br")).unwrap();
    assert!(
        css_br.len() < 200,
        "repetitive CSS compresses: {} bytes",
        css_br.len()
    );
}

#[test]
fn compressed_files_are_not_compressed_again() {
    let dir = TempDir::new();
    dir.write("a.js", "let a;");
    dir.write("old.js.gz", "not really gzip");
    dir.write("old.js.br", "not really brotli");
    assert_eq!(compress::precompress(dir.path()).unwrap(), 1);
    assert!(!dir.path().join("old.js.gz.gz").exists());
    assert!(!dir.path().join("old.js.br.br").exists());
    assert!(!compress::is_compressible(std::path::Path::new(
        "x.wasm.br"
    )));
    assert!(compress::is_compressible(std::path::Path::new("x.wasm")));
}

#[test]
fn gzip_output_is_reproducible() {
    let data = b"the same input, twice".repeat(50);
    assert_eq!(compress::gzip(&data), compress::gzip(&data));
    assert_eq!(compress::brotli(&data), compress::brotli(&data));
}
