//! Preimages read from a directory, laid out as octez's `--preimage-dir`: one file per preimage,
//! named by the lowercase hex of its 33-byte reveal hash (`00` = BLAKE2b-256 tag, then the
//! digest), holding the raw preimage bytes. Every file is hash-checked before use. A missing
//! preimage can be fetched from a preimages endpoint (octez's `--pre-images-endpoint`: `GET
//! <url>/<hash hex>`, natively), checked against its hash and cached in the directory.

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
    /// The preimages endpoint did not give the preimage.
    #[error("preimage {hash}: {url}: {reason}")]
    #[cfg_attr(target_family = "wasm", allow(dead_code))]
    Fetch {
        /// The hash in hex.
        hash: String,
        /// The URL asked.
        url: String,
        /// What went wrong (HTTP status, size, hash).
        reason: String,
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
    endpoint: Option<String>,
    error: Option<PreimageError>,
}

impl PreimageDir {
    /// Serves preimages from `dir` (or only the well-known empty preimage when `None`).
    pub(crate) fn new(dir: Option<&Path>) -> Self {
        Self {
            dir: dir.map(Path::to_path_buf),
            endpoint: None,
            error: None,
        }
    }

    /// Also fetches missing preimages from `endpoint` (`GET <endpoint>/<hash hex>`), caching
    /// them in the directory once their hash is checked.
    #[cfg(not(target_family = "wasm"))]
    pub(crate) fn with_endpoint(mut self, endpoint: Option<&str>) -> Self {
        self.endpoint = endpoint.map(|e| e.trim_end_matches('/').to_string());
        self
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
        let size = match std::fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.endpoint.is_some() => {
                return self.fetch(hash, &path);
            }
            Err(e) => return Err(io(e)),
        };
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

impl PreimageDir {
    /// Fetches `hash` from the endpoint, checks it and caches it at `path`.
    #[cfg(not(target_family = "wasm"))]
    fn fetch(&self, hash: &[u8], path: &Path) -> Result<Vec<u8>, PreimageError> {
        use std::io::Read;
        let hex_hash = hex::encode(hash);
        let url = format!(
            "{}/{hex_hash}",
            self.endpoint.as_deref().unwrap_or_default()
        );
        let fail = |reason: String| PreimageError::Fetch {
            hash: hex_hash.clone(),
            url: url.clone(),
            reason,
        };
        let response = ureq::get(&url)
            .timeout(std::time::Duration::from_secs(30))
            .call()
            .map_err(|e| match e {
                ureq::Error::Status(code, _) => fail(format!("HTTP {code}")),
                other => fail(other.to_string()),
            })?;
        let mut data = Vec::new();
        response
            .into_reader()
            .take(MAX_PREIMAGE_SIZE as u64 + 1)
            .read_to_end(&mut data)
            .map_err(|e| fail(e.to_string()))?;
        if data.len() > MAX_PREIMAGE_SIZE {
            return Err(fail(format!(
                "more than the {MAX_PREIMAGE_SIZE}-byte limit of a preimage"
            )));
        }
        let actual = preimage_hash(&data);
        if actual != hash {
            return Err(fail(format!(
                "the answer's BLAKE2b-256 hash is {}",
                hex::encode(actual)
            )));
        }
        let partial = path.with_extension("partial");
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        std::fs::write(&partial, &data)
            .and_then(|()| std::fs::rename(&partial, path))
            .map_err(|e| fail(format!("caching it at {}: {e}", path.display())))?;
        Ok(data)
    }

    #[cfg(target_family = "wasm")]
    fn fetch(&self, hash: &[u8], path: &Path) -> Result<Vec<u8>, PreimageError> {
        let _ = path;
        Err(PreimageError::NoDirectory {
            hash: hex::encode(hash),
        })
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

    /// Serves `answers` (status, body) to successive requests on a loopback port.
    #[cfg(not(target_family = "wasm"))]
    fn serve(answers: Vec<(u16, Vec<u8>)>) -> String {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for (status, body) in answers {
                let (mut s, _) = listener.accept().unwrap();
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes());
                let _ = s.write_all(&body);
            }
        });
        format!("http://{addr}/preimages/")
    }

    #[cfg(not(target_family = "wasm"))]
    #[test]
    fn missing_preimages_are_fetched_checked_and_cached() {
        let dir = scratch_dir("endpoint");
        let good = b"a preimage".to_vec();
        let hash = preimage_hash(&good);
        let url = serve(vec![
            (200, b"not it".to_vec()),
            (404, vec![]),
            (200, good.clone()),
        ]);
        let source = PreimageDir::new(Some(&dir)).with_endpoint(Some(&url));
        let e = source.get(&hash).unwrap_err().to_string();
        assert!(e.contains("the answer's BLAKE2b-256 hash is"), "{e}");
        assert!(
            e.contains(&format!("/preimages/{}", hex::encode(hash))),
            "{e}"
        );
        let e = source.get(&hash).unwrap_err().to_string();
        assert!(e.contains("HTTP 404"), "{e}");
        assert_eq!(source.get(&hash).unwrap(), good);
        // Cached: the next read needs no server.
        assert_eq!(std::fs::read(dir.join(hex::encode(hash))).unwrap(), good);
        assert_eq!(source.get(&hash).unwrap(), good);
        std::fs::remove_dir_all(&dir).unwrap();
    }

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
