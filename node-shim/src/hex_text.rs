//! Hex text as users paste it: whitespace and line breaks anywhere, an optional `0x` prefix.

use std::path::Path;

pub(crate) use soru_core::encoding::hex_text::{decode, looks_like_hex, HexTextError};

/// Why a "file or hex" argument could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BytesArgError {
    /// The argument names a file that could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file holds text that is not valid hex.
    #[error("{path} holds text that is not valid hex: {source}")]
    BadHexFile {
        /// The file.
        path: String,
        /// What is wrong with the hex.
        source: HexTextError,
    },
    /// The argument is neither an existing file nor valid hex.
    #[error("{shown:?} is neither an existing file nor valid hex ({source})")]
    NotFileNorHex {
        /// The argument, shortened for display.
        shown: String,
        /// What is wrong with it as hex.
        source: HexTextError,
    },
}

/// Reads bytes given either as a path (hex text or raw binary content) or as hex text itself.
///
/// A file whose content is valid UTF-8 and looks like hex (hex digits and whitespace, with an
/// optional `0x`) is decoded as hex; any other content is taken as raw bytes.
pub(crate) fn read_bytes_arg(arg: &str) -> Result<Vec<u8>, BytesArgError> {
    let path = Path::new(arg);
    if path.is_file() {
        let content = std::fs::read(path).map_err(|source| BytesArgError::Io {
            path: arg.to_owned(),
            source,
        })?;
        return match std::str::from_utf8(&content) {
            Ok(text) if looks_like_hex(text) => {
                decode(text).map_err(|source| BytesArgError::BadHexFile {
                    path: arg.to_owned(),
                    source,
                })
            }
            _ => Ok(content),
        };
    }
    decode(arg).map_err(|source| BytesArgError::NotFileNorHex {
        shown: shorten(arg),
        source,
    })
}

/// Keeps error messages readable when a user pastes kilobytes of hex.
fn shorten(arg: &str) -> String {
    const MAX: usize = 40;
    if arg.chars().count() <= MAX {
        arg.to_owned()
    } else {
        let head: String = arg.chars().take(MAX).collect();
        format!("{head}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_or_hex() {
        let dir = std::env::temp_dir().join(format!("soru-hex-text-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let hex_file = dir.join("proof.hex");
        std::fs::write(&hex_file, "0a0b\n0c\n").unwrap();
        let bin_file = dir.join("proof.bin");
        std::fs::write(&bin_file, [0x03, 0x00, 0xff]).unwrap();
        assert_eq!(
            read_bytes_arg(hex_file.to_str().unwrap()).unwrap(),
            [10, 11, 12]
        );
        assert_eq!(
            read_bytes_arg(bin_file.to_str().unwrap()).unwrap(),
            [3, 0, 255]
        );
        assert_eq!(read_bytes_arg("0a0b").unwrap(), [10, 11]);
        let err = read_bytes_arg("/no/such/proof").unwrap_err().to_string();
        assert!(
            err.contains("neither an existing file nor valid hex"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
