//! A kernel as the browser receives it: a file's name and bytes (picker, drop or example).
//!
//! The format is chosen by extension (`.wasm`, `.wat`/`.wast`, `.hex`) and, for other names,
//! by content: the wasm header, hex text, or WebAssembly text. The PVM validates the module.

use soru_core::encoding::hex_text::{self, HexTextError};

/// The WebAssembly binary header: magic `\0asm` and version 1.
const WASM_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

/// Why a dropped or picked file is not a kernel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelFileError {
    /// WAT text that does not parse (the message carries line and column).
    #[error("kernel {name}: invalid WebAssembly text: {message}")]
    Wat {
        /// The file name.
        name: String,
        /// The parser's message.
        message: String,
    },
    /// Hex text that does not decode.
    #[error("kernel {name}: invalid hex: {source}")]
    Hex {
        /// The file name.
        name: String,
        /// What is wrong with the hex.
        source: HexTextError,
    },
    /// Text formats that are not UTF-8.
    #[error("kernel {name}: not UTF-8 text")]
    NotText {
        /// The file name.
        name: String,
    },
    /// Bytes that do not start with the wasm header.
    #[error("kernel {name}: not a WebAssembly binary (it does not start with \\0asm version 1)")]
    NotWasm {
        /// The file name.
        name: String,
    },
    /// An empty file.
    #[error("kernel {name}: the file is empty")]
    Empty {
        /// The file name.
        name: String,
    },
}

fn text<'a>(name: &str, bytes: &'a [u8]) -> Result<&'a str, KernelFileError> {
    core::str::from_utf8(bytes).map_err(|_| KernelFileError::NotText { name: name.into() })
}

fn from_wat(name: &str, bytes: &[u8]) -> Result<Vec<u8>, KernelFileError> {
    wat::parse_str(text(name, bytes)?).map_err(|e| KernelFileError::Wat {
        name: name.into(),
        message: e.to_string(),
    })
}

fn checked_wasm(name: &str, bytes: Vec<u8>) -> Result<Vec<u8>, KernelFileError> {
    if bytes.starts_with(&WASM_HEADER) {
        Ok(bytes)
    } else {
        Err(KernelFileError::NotWasm { name: name.into() })
    }
}

/// The wasm module bytes of a kernel file named `name`.
pub fn load(name: &str, bytes: &[u8]) -> Result<Vec<u8>, KernelFileError> {
    if bytes.is_empty() {
        return Err(KernelFileError::Empty { name: name.into() });
    }
    let extension = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let hex = |bytes: &[u8]| {
        let decoded =
            hex_text::decode(text(name, bytes)?).map_err(|source| KernelFileError::Hex {
                name: name.into(),
                source,
            })?;
        checked_wasm(name, decoded)
    };
    match extension.as_str() {
        "wasm" => checked_wasm(name, bytes.to_vec()),
        "wat" | "wast" => from_wat(name, bytes),
        "hex" => hex(bytes),
        _ if bytes.starts_with(&WASM_HEADER) => Ok(bytes.to_vec()),
        _ if core::str::from_utf8(bytes).is_ok_and(hex_text::looks_like_hex) => hex(bytes),
        _ => from_wat(name, bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_gives_the_same_module() {
        let wasm = wat::parse_str("(module)").unwrap();
        let hex = hex::encode(&wasm);
        assert_eq!(load("k.wasm", &wasm).unwrap(), wasm);
        assert_eq!(load("k.wat", b"(module)").unwrap(), wasm);
        assert_eq!(load("k.hex", hex.as_bytes()).unwrap(), wasm);
        assert_eq!(load("dropped", &wasm).unwrap(), wasm);
        assert_eq!(load("dropped", hex.as_bytes()).unwrap(), wasm);
        assert_eq!(load("dropped", b"(module)").unwrap(), wasm);
    }

    #[test]
    fn errors_name_the_file_and_the_problem() {
        let e = load("k.wat", b"(module (func $f (unknown)))")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("kernel k.wat: invalid WebAssembly text"),
            "{e}"
        );
        let e = load("k.hex", b"0061736d0g").unwrap_err().to_string();
        assert_eq!(
            e,
            "kernel k.hex: invalid hex: invalid hex character 'g' at character 9"
        );
        assert!(matches!(
            load("k.wasm", b"MZ"),
            Err(KernelFileError::NotWasm { .. })
        ));
        assert!(matches!(
            load("k.wasm", b""),
            Err(KernelFileError::Empty { .. })
        ));
    }
}
