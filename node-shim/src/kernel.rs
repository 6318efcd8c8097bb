//! Loading a kernel from a file: `.wasm` binary, `.wat`/`.wast` text, or `.hex` text.

use std::path::Path;

use crate::hex_text::{self, HexTextError};

/// Why a kernel file could not be turned into wasm bytes.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KernelFileError {
    /// The file could not be read.
    #[error("cannot read kernel {path}: {source}")]
    Io {
        /// The kernel file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The extension is none of the supported ones.
    #[error("kernel {path}: unsupported extension (expected .wasm, .wat, .wast or .hex)")]
    UnknownExtension {
        /// The kernel file.
        path: String,
    },
    /// WAT text that does not parse (the message carries line and column).
    #[error("kernel {path}: invalid WebAssembly text: {message}")]
    Wat {
        /// The kernel file.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// A `.hex` file whose content is not hex.
    #[error("kernel {path}: invalid hex: {source}")]
    Hex {
        /// The kernel file.
        path: String,
        /// What is wrong with the hex.
        source: HexTextError,
    },
    /// A `.hex` or `.wat` file that is not UTF-8 text.
    #[error("kernel {path}: not UTF-8 text")]
    NotText {
        /// The kernel file.
        path: String,
    },
    /// Bytes that do not start with the wasm magic number and version.
    #[error("kernel {path}: not a WebAssembly binary (it does not start with \\0asm version 1)")]
    NotWasm {
        /// The kernel file.
        path: String,
    },
}

/// The WebAssembly binary header: magic `\0asm` and version 1.
const WASM_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

/// Reads a kernel file and returns the wasm module bytes, choosing the format by extension.
///
/// Only the format is checked here; the PVM validates the module itself.
pub(crate) fn load(path: &Path) -> Result<Vec<u8>, KernelFileError> {
    let shown = path.display().to_string();
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let content = std::fs::read(path).map_err(|source| KernelFileError::Io {
        path: shown.clone(),
        source,
    })?;
    let bytes = match extension.as_deref() {
        Some("wasm") => content,
        Some("wat" | "wast") => {
            let text = std::str::from_utf8(&content).map_err(|_| KernelFileError::NotText {
                path: shown.clone(),
            })?;
            wat::parse_str(text).map_err(|e| KernelFileError::Wat {
                path: shown.clone(),
                message: e.to_string(),
            })?
        }
        Some("hex") => {
            let text = std::str::from_utf8(&content).map_err(|_| KernelFileError::NotText {
                path: shown.clone(),
            })?;
            hex_text::decode(text).map_err(|source| KernelFileError::Hex {
                path: shown.clone(),
                source,
            })?
        }
        _ => return Err(KernelFileError::UnknownExtension { path: shown }),
    };
    if !bytes.starts_with(&WASM_HEADER) {
        return Err(KernelFileError::NotWasm { path: shown });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODULE_WAT: &str =
        r#"(module (memory (export "memory") 1) (func (export "kernel_run")))"#;

    fn scratch(name: &str, content: &[u8]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("soru-kernel-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    #[test]
    fn the_three_formats_give_the_same_module() {
        let wasm = wat::parse_str(MODULE_WAT).unwrap();
        let from_wat = load(&scratch("k.wat", MODULE_WAT.as_bytes())).unwrap();
        let from_wasm = load(&scratch("k.wasm", &wasm)).unwrap();
        let spaced_hex: String = hex::encode(&wasm)
            .as_bytes()
            .chunks(16)
            .map(|c| format!("{}\n", std::str::from_utf8(c).unwrap()))
            .collect();
        let from_hex = load(&scratch("k.hex", spaced_hex.as_bytes())).unwrap();
        assert_eq!(from_wat, wasm);
        assert_eq!(from_wasm, wasm);
        assert_eq!(from_hex, wasm);
    }

    #[test]
    fn errors_name_the_file_and_the_problem() {
        let err = load(&scratch(
            "bad.wat",
            b"(module (func (export \"x\") (i32.bogus)))",
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("bad.wat") && err.contains("invalid WebAssembly text"),
            "{err}"
        );
        let err = load(&scratch("bad.hex", b"00 61 7x"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad.hex") && err.contains("'x'"), "{err}");
        let err = load(&scratch("bad.wasm", b"\x7fELF...."))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a WebAssembly binary"), "{err}");
        let err = load(&scratch("k.txt", b"")).unwrap_err().to_string();
        assert!(err.contains("unsupported extension"), "{err}");
        let err = load(Path::new("/no/such/kernel.wasm"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cannot read kernel /no/such/kernel.wasm"),
            "{err}"
        );
    }
}
