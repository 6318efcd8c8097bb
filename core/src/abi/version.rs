//! WASM PVM versions (`/readonly/wasm_version`) and the protocol migrations that set them.

use core::fmt;

/// A version of the WASM PVM as octez names it (`Wasm_pvm_state.version`).
///
/// The version gates which host functions a kernel may import and the call-stack limit. Soru
/// implements the semantics of `2.0.0-r5` ([`PvmVersion::V5`]); later versions are recognised
/// (so protocol migrations are recorded faithfully) but their additions (the NDS host functions
/// of `2.0.0-r6`) are not provided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PvmVersion {
    /// `2.0.0`
    V0,
    /// `2.0.0-r1`: adds `store_delete_value`, `store_create`, `__internal_store_get_hash`.
    V1,
    /// `2.0.0-r2`: adds `store_exists`.
    V2,
    /// `2.0.0-r3`: adds the generic `reveal`.
    V3,
    /// `2.0.0-r4`
    V4,
    /// `2.0.0-r5`, the default.
    V5,
    /// `2.0.0-r6` (its NDS host functions are not implemented by Soru).
    V6,
}

impl PvmVersion {
    /// Every version, oldest first.
    pub const ALL: [PvmVersion; 7] = [
        PvmVersion::V0,
        PvmVersion::V1,
        PvmVersion::V2,
        PvmVersion::V3,
        PvmVersion::V4,
        PvmVersion::V5,
        PvmVersion::V6,
    ];

    /// The string stored (without length prefix) at `/readonly/wasm_version`.
    pub fn as_str(self) -> &'static str {
        match self {
            PvmVersion::V0 => "2.0.0",
            PvmVersion::V1 => "2.0.0-r1",
            PvmVersion::V2 => "2.0.0-r2",
            PvmVersion::V3 => "2.0.0-r3",
            PvmVersion::V4 => "2.0.0-r4",
            PvmVersion::V5 => "2.0.0-r5",
            PvmVersion::V6 => "2.0.0-r6",
        }
    }

    /// Parses the bytes stored at `/readonly/wasm_version`.
    pub fn from_bytes(bytes: &[u8]) -> Option<PvmVersion> {
        PvmVersion::ALL
            .into_iter()
            .find(|v| v.as_str().as_bytes() == bytes)
    }

    /// The version a `Protocol_migration` message installs (octez `version_for_protocol`), from
    /// the protocol name carried by the message; `None` for names octez does not recognise
    /// (such migrations leave the version unchanged).
    pub fn for_protocol(name: &[u8]) -> Option<PvmVersion> {
        Some(match name {
            b"nairobi_017" => PvmVersion::V1,
            b"oxford_018" => PvmVersion::V2,
            b"paris_019" | b"paris_020" => PvmVersion::V4,
            b"quebec_021" | b"r022_022" | b"s023_023" | b"t024_024" => PvmVersion::V5,
            b"u025_025" | b"alpha_current" => PvmVersion::V6,
            _ => return None,
        })
    }

    /// Maximum call-stack depth of `kernel_run` (octez `stack_size_limit`).
    pub fn stack_size_limit(self) -> usize {
        match self {
            PvmVersion::V0 => 300,
            _ => 60_000,
        }
    }
}

impl fmt::Display for PvmVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
