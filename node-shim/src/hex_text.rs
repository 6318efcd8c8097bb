//! Hex text as users paste it: whitespace and line breaks anywhere, an optional `0x` prefix.

use std::path::Path;

pub(crate) use soru_core::encoding::hex_text::{decode, HexTextError};

/// `bytes` as lowercase hex, written into one buffer: `hex::encode` builds its string a `char`
/// at a time, which was a tenth of the node's store writer while catching up.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut digits = vec![0u8; 2 * bytes.len()];
    hex::encode_to_slice(bytes, &mut digits).expect("twice the length");
    String::from_utf8(digits).expect("hex digits are ASCII")
}

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
    /// The argument names a directory.
    #[error("{path} is a directory, not a file")]
    Directory {
        /// The directory.
        path: String,
    },
    /// The argument looks like a path (it has a `/` or a `.`) but nothing exists there.
    #[error("no such file {path}")]
    NoSuchFile {
        /// The path.
        path: String,
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
/// A file whose content is text (valid UTF-8 without control characters other than
/// whitespace) is decoded as hex, so one bad character is reported with its position instead of
/// the whole text being taken as raw bytes; any other content (binary proofs start with control
/// bytes) is taken as raw bytes.
pub(crate) fn read_bytes_arg(arg: &str) -> Result<Vec<u8>, BytesArgError> {
    let path = Path::new(arg);
    if path.is_dir() {
        return Err(BytesArgError::Directory {
            path: arg.to_owned(),
        });
    }
    if path.is_file() {
        let content = std::fs::read(path).map_err(|source| BytesArgError::Io {
            path: arg.to_owned(),
            source,
        })?;
        return match std::str::from_utf8(&content) {
            Ok(text) if is_text(text) => decode(text).map_err(|source| BytesArgError::BadHexFile {
                path: arg.to_owned(),
                source,
            }),
            _ => Ok(content),
        };
    }
    decode(arg).map_err(|source| {
        if arg.contains(['/', '\\', '.']) {
            BytesArgError::NoSuchFile { path: shorten(arg) }
        } else {
            BytesArgError::NotFileNorHex {
                shown: shorten(arg),
                source,
            }
        }
    })
}

/// True when the text has no control characters other than whitespace: what a user would
/// write or paste as hex (and what no binary proof, which starts with `0x03`, looks like).
fn is_text(text: &str) -> bool {
    text.chars()
        .all(|c| !c.is_control() || c.is_ascii_whitespace())
}

/// Keeps error messages readable when a user pastes kilobytes of hex.
pub(crate) fn shorten(arg: &str) -> String {
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
    fn encodes_lowercase_and_round_trips() {
        assert_eq!(encode(&[]), "");
        assert_eq!(encode(&[0x00, 0xab, 0x7f, 0xff]), "00ab7fff");
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(encode(&all), hex::encode(&all));
        assert_eq!(decode(&encode(&all)).unwrap(), all);
    }

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
        assert_eq!(err, "no such file /no/such/proof");
        let err = read_bytes_arg("0a0q").unwrap_err().to_string();
        assert!(
            err.contains("neither an existing file nor valid hex"),
            "{err}"
        );
        // One bad character in a hex file is reported where it is, not read as raw bytes.
        let typo = dir.join("typo.hex");
        std::fs::write(&typo, "0a0b\n0c0x\n").unwrap();
        let err = read_bytes_arg(typo.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("not valid hex") && err.contains("'x' at character 8"),
            "{err}"
        );
        let err = read_bytes_arg(dir.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.ends_with("is a directory, not a file"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
