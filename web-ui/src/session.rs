//! The playground session kept across reloads (local storage) and shared as a URL: the kernel,
//! the inputs and the position (the debugger commands that changed the session so far, replayed
//! on load).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// The local-storage key of the session.
pub const STORAGE_KEY: &str = "soru.playground.session";
/// The URL fragment parameter that carries a shared session (`#session=...`).
pub const FRAGMENT_KEY: &str = "session";
/// Longest shareable fragment: larger sessions stay in local storage only (browsers and chat
/// tools cut long URLs).
pub const MAX_SHARE_CHARS: usize = 16 * 1024;

/// A playground session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The kernel's file name (decides its format).
    pub kernel_name: String,
    /// The kernel file's bytes, base64url.
    pub kernel: String,
    /// The inputs JSON as typed.
    pub inputs: String,
    /// The state-changing debugger commands run since the kernel was loaded (see
    /// [`crate::engine::changes_state`]).
    pub commands: Vec<String>,
}

/// Why a stored or shared session could not be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The fragment or stored text is not base64url.
    #[error("the shared session is not base64url text: {0}")]
    Base64(String),
    /// The decoded text is not a session.
    #[error("the session is not valid: {0}")]
    Json(String),
    /// The kernel bytes inside are not base64url.
    #[error("the session's kernel is not base64url: {0}")]
    Kernel(String),
}

impl Session {
    /// A session for a kernel file.
    pub fn new(kernel_name: &str, kernel_file: &[u8], inputs: &str) -> Session {
        Session {
            kernel_name: kernel_name.into(),
            kernel: URL_SAFE_NO_PAD.encode(kernel_file),
            inputs: inputs.into(),
            commands: Vec::new(),
        }
    }

    /// The kernel file's bytes.
    pub fn kernel_file(&self) -> Result<Vec<u8>, SessionError> {
        URL_SAFE_NO_PAD
            .decode(&self.kernel)
            .map_err(|e| SessionError::Kernel(e.to_string()))
    }

    /// The JSON kept in local storage.
    pub fn to_storage(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads the JSON kept in local storage.
    pub fn from_storage(text: &str) -> Result<Session, SessionError> {
        serde_json::from_str(text).map_err(|e| SessionError::Json(e.to_string()))
    }

    /// The URL fragment value, or `None` when the session is too large to share.
    pub fn to_fragment(&self) -> Option<String> {
        let f = URL_SAFE_NO_PAD.encode(self.to_storage());
        (f.len() + FRAGMENT_KEY.len() + 2 <= MAX_SHARE_CHARS).then_some(f)
    }

    /// Reads a fragment value made by [`Session::to_fragment`].
    pub fn from_fragment(fragment: &str) -> Result<Session, SessionError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(fragment.trim())
            .map_err(|e| SessionError::Base64(e.to_string()))?;
        let text = String::from_utf8(bytes).map_err(|e| SessionError::Json(e.to_string()))?;
        Session::from_storage(&text)
    }
}

/// The value of `key` in a URL fragment such as `#page=verify&session=...`.
pub fn fragment_param<'a>(fragment: &'a str, key: &str) -> Option<&'a str> {
    fragment
        .trim_start_matches('#')
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_storage_and_url() {
        let mut s = Session::new("echo.wat", b"(module)", "[[]]");
        s.commands = vec!["step tick".into(), "step inbox".into()];
        assert_eq!(Session::from_storage(&s.to_storage()).unwrap(), s);
        let f = s.to_fragment().unwrap();
        assert!(f
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(Session::from_fragment(&f).unwrap(), s);
        assert_eq!(s.kernel_file().unwrap(), b"(module)");
    }

    #[test]
    fn large_sessions_are_not_shared() {
        let s = Session::new("big.wasm", &vec![7u8; MAX_SHARE_CHARS], "[]");
        assert_eq!(s.to_fragment(), None);
    }

    #[test]
    fn damaged_fragments_are_errors() {
        assert!(matches!(
            Session::from_fragment("!!"),
            Err(SessionError::Base64(_))
        ));
        let not_json = URL_SAFE_NO_PAD.encode("{");
        assert!(matches!(
            Session::from_fragment(&not_json),
            Err(SessionError::Json(_))
        ));
    }

    #[test]
    fn reads_fragment_parameters() {
        assert_eq!(
            fragment_param("#page=verify&session=abc", "session"),
            Some("abc")
        );
        assert_eq!(fragment_param("#page=verify", "page"), Some("verify"));
        assert_eq!(fragment_param("", "page"), None);
    }
}
