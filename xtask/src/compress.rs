//! Precompression as `cargo leptos build --release --precompress` does it
//! (`ext/compress.rs` in cargo-leptos 0.3.10): every file under the site root, at any
//! depth and whatever its size, gets a gzip sibling `<file>.gz` and a brotli sibling
//! `<file>.br`; files already ending in `.gz` or `.br` are left alone. Brotli uses the
//! same crate and settings (quality 11, window 22); gzip uses the best level and no
//! timestamp, so the output is reproducible. The server's `ServeDir` with
//! `precompressed_br()` and `precompressed_gzip()` then serves them.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Compresses every file under `root`; returns how many files were compressed.
pub fn precompress(root: &Path) -> Result<usize> {
    let mut files = Vec::new();
    collect(root, &mut files)?;
    // One thread per file: the WASM dominates, and its brotli pass takes a second or two.
    crate::parallel::for_each(&files, |file| compress_file(file))?;
    Ok(files.len())
}

/// Whether the file is one `precompress` compresses (not itself a compressed sibling).
pub fn is_compressible(path: &Path) -> bool {
    !matches!(path.extension().and_then(|e| e.to_str()), Some("gz" | "br"))
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(Error::io("read", dir))?;
    for entry in entries {
        let path = entry.map_err(Error::io("read", dir))?.path();
        if path.is_dir() {
            collect(&path, files)?;
        } else if is_compressible(&path) {
            files.push(path);
        }
    }
    Ok(())
}

fn compress_file(path: &Path) -> Result<()> {
    let data = std::fs::read(path).map_err(Error::io("read", path))?;
    let write = |suffix: &str, bytes: Vec<u8>| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        std::fs::write(&name, bytes).map_err(Error::io("write", PathBuf::from(name)))
    };
    write(".gz", gzip(&data))?;
    write(".br", brotli(&data))
}

/// gzip at the best level, with no file name or modification time in the header.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

/// brotli with the crate's default parameters, as cargo-leptos calls it.
pub fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams::default();
    // Reading from a slice and writing into a Vec cannot fail.
    let _ = brotli::BrotliCompress(&mut &data[..], &mut out, &params);
    out
}
