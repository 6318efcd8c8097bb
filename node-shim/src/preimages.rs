//! Preimages read from a directory, laid out as octez's `--preimage-dir`: one file per preimage,
//! named by the lowercase hex of its 33-byte reveal hash (`00` = BLAKE2b-256 tag, then the
//! digest), holding the raw preimage bytes. Every file is hash-checked before use.

use std::path::{Path, PathBuf};

use soru_core::abi::MAX_INPUT_OUTPUT_SIZE as MAX_PREIMAGE_SIZE;

use soru_core::reveal::{
    preimage_hash, Reveal, RevealRequest, BLAKE2B_HASH_TAG, PREIMAGE_HASH_SIZE,
};

/// Why a preimage could not be provided.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PreimageError {
    /// The requested hash is not 33 bytes long.
    #[error("reveal hash {hash} is {len} bytes long, expected 33")]
    BadHashLength {
        /// The hash in hex.
        hash: String,
        /// Its length.
        len: usize,
    },
    /// A reveal this command cannot serve (e.g. DAL pages).
    #[error("the kernel requested an unsupported reveal (payload {payload})")]
    Unsupported {
        /// The raw reveal payload in hex.
        payload: String,
    },
    /// The requested hash has a scheme tag other than BLAKE2b (`00`).
    #[error(
        "reveal hash {hash} has unknown scheme tag {tag:#04x} (only 0x00, BLAKE2b-256, exists)"
    )]
    UnknownScheme {
        /// The hash in hex.
        hash: String,
        /// The tag byte.
        tag: u8,
    },
    /// No directory was given and the kernel asked for a preimage.
    #[error("the kernel requested preimage {hash} but no --preimage-dir was given")]
    NoDirectory {
        /// The hash in hex.
        hash: String,
    },
    /// The preimage file is missing or unreadable.
    #[error("preimage {hash}: cannot read {path}: {source}")]
    Io {
        /// The hash in hex.
        hash: String,
        /// The file that was expected.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is larger than a preimage can be (octez's rollup node refuses it too; a reveal
    /// returns at most 4096 bytes).
    #[error("preimage file {path} is {size} bytes, more than the {MAX_PREIMAGE_SIZE}-byte limit of a preimage")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
    /// The file's content does not hash to its name.
    #[error("preimage file {path} does not match its name: its BLAKE2b-256 hash is {actual}")]
    HashMismatch {
        /// The file.
        path: PathBuf,
        /// The hash of its content (33-byte form, hex).
        actual: String,
    },
}

/// A source of preimages backed by an optional directory.
///
/// As a [`Reveal`] it answers preimage requests; when it cannot, it returns `None` (the PVM
/// then suspends) and keeps the reason for [`PreimageDir::take_error`].
#[derive(Debug)]
pub(crate) struct PreimageDir {
    dir: Option<PathBuf>,
    error: Option<PreimageError>,
}

impl PreimageDir {
    /// Serves preimages from `dir` (or only the well-known empty preimage when `None`).
    pub(crate) fn new(dir: Option<&Path>) -> Self {
        Self {
            dir: dir.map(Path::to_path_buf),
            error: None,
        }
    }

    /// Like [`PreimageDir::new`], but first checks that `dir` is a readable directory, so a
    /// typo is reported before the kernel runs rather than at its first reveal.
    pub(crate) fn open(dir: Option<&Path>) -> Result<Self, String> {
        if let Some(d) = dir {
            std::fs::read_dir(d).map_err(|e| format!("--preimage-dir {}: {e}", d.display()))?;
        }
        Ok(Self::new(dir))
    }

    /// Why the last request could not be answered, if it could not.
    pub(crate) fn take_error(&mut self) -> Option<PreimageError> {
        self.error.take()
    }

    /// The preimage of `hash`, checked against it.
    ///
    /// The preimage of the empty string (octez's `well_known_reveal_hash`) needs no file.
    pub(crate) fn get(&self, hash: &[u8]) -> Result<Vec<u8>, PreimageError> {
        let hex_hash = hex::encode(hash);
        if hash.len() != PREIMAGE_HASH_SIZE {
            return Err(PreimageError::BadHashLength {
                hash: hex_hash,
                len: hash.len(),
            });
        }
        if hash[0] != BLAKE2B_HASH_TAG {
            return Err(PreimageError::UnknownScheme {
                hash: hex_hash,
                tag: hash[0],
            });
        }
        if hash == preimage_hash(&[]) {
            return Ok(Vec::new());
        }
        let Some(dir) = &self.dir else {
            return Err(PreimageError::NoDirectory { hash: hex_hash });
        };
        let path = dir.join(&hex_hash);
        let io = |source| PreimageError::Io {
            hash: hex_hash.clone(),
            path: path.clone(),
            source,
        };
        // Check the size before reading: a huge file is refused without loading it.
        let size = std::fs::metadata(&path).map_err(io)?.len();
        if size > MAX_PREIMAGE_SIZE as u64 {
            return Err(PreimageError::TooLarge { path, size });
        }
        let data = std::fs::read(&path).map_err(io)?;
        let actual = preimage_hash(&data);
        if actual != hash {
            return Err(PreimageError::HashMismatch {
                path,
                actual: hex::encode(actual),
            });
        }
        Ok(data)
    }
}

impl Reveal for PreimageDir {
    fn reveal(&mut self, request: &RevealRequest) -> Option<Vec<u8>> {
        let answer = match request {
            RevealRequest::Preimage(hash) => self.get(hash),
            // The PVM answers metadata requests itself; anything else is not ours to serve.
            other => Err(PreimageError::Unsupported {
                payload: hex::encode(other.payload()),
            }),
        };
        match answer {
            Ok(data) => Some(data),
            Err(e) => {
                self.error = Some(e);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("soru-preimages-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn well_known_hash_matches_octez() {
        // octez: Sc_rollup_reveal_hash.well_known_reveal_hash = hash_string [""] (BLAKE2b-256).
        assert_eq!(
            hex::encode(preimage_hash(b"")),
            "000e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8"
        );
        assert_eq!(
            PreimageDir::new(None).get(&preimage_hash(b"")).unwrap(),
            b""
        );
    }

    #[test]
    fn reads_and_checks_files() {
        let dir = scratch_dir("ok");
        let data = b"a preimage".to_vec();
        let hash = preimage_hash(&data);
        std::fs::write(dir.join(hex::encode(hash)), &data).unwrap();
        let source = PreimageDir::new(Some(&dir));
        assert_eq!(source.get(&hash).unwrap(), data);

        let forged = preimage_hash(b"something else");
        std::fs::write(dir.join(hex::encode(forged)), &data).unwrap();
        let err = source.get(&forged).unwrap_err().to_string();
        assert!(err.contains("does not match its name"), "{err}");

        let big = vec![7u8; MAX_PREIMAGE_SIZE + 1];
        let big_hash = preimage_hash(&big);
        std::fs::write(dir.join(hex::encode(big_hash)), &big).unwrap();
        let err = source.get(&big_hash).unwrap_err().to_string();
        assert!(
            err.contains("4097 bytes, more than the 4096-byte limit"),
            "{err}"
        );
        let page = vec![7u8; MAX_PREIMAGE_SIZE];
        let page_hash = preimage_hash(&page);
        std::fs::write(dir.join(hex::encode(page_hash)), &page).unwrap();
        assert_eq!(source.get(&page_hash).unwrap(), page);

        let missing = preimage_hash(b"missing");
        let err = source.get(&missing).unwrap_err().to_string();
        assert!(err.contains(&hex::encode(missing)), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_directory_is_reported_at_start() {
        let err = PreimageDir::open(Some(Path::new("/no/such/preimages"))).unwrap_err();
        assert!(
            err.starts_with("--preimage-dir /no/such/preimages: "),
            "{err}"
        );
        let file = scratch_dir("file").join("f");
        std::fs::write(&file, b"").unwrap();
        assert!(PreimageDir::open(Some(&file)).is_err());
        assert!(PreimageDir::open(None).is_ok());
    }

    #[test]
    fn rejects_malformed_hashes() {
        let source = PreimageDir::new(None);
        assert!(matches!(
            source.get(&[0; 32]),
            Err(PreimageError::BadHashLength { len: 32, .. })
        ));
        assert!(matches!(
            source.get(&[1; 33]),
            Err(PreimageError::UnknownScheme { tag: 1, .. })
        ));
        assert!(matches!(
            source.get(&preimage_hash(b"x")),
            Err(PreimageError::NoDirectory { .. })
        ));
    }
}
