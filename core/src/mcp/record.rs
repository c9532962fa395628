//! The revision a server was last spoken to in, remembered per resource so the next run
//! starts there (and re-probes if it no longer works).

use super::session::Chosen;
use super::version::Era;

/// The format version of [`ProtocolRecord`].
pub const PROTOCOL_RECORD_VERSION: u32 = 1;

/// The storage key for a resource's remembered revision.
pub fn protocol_key(resource: &str) -> String {
    format!("protocol:{resource}")
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolRecord {
    pub version: u32,
    pub resource: String,
    pub era: Era,
    pub protocol_version: String,
    /// Seconds since the Unix epoch.
    pub chosen_at: u64,
}

crate::json_struct!(ProtocolRecord {
    version,
    resource,
    era,
    protocol_version,
    chosen_at,
});

impl ProtocolRecord {
    pub fn chosen(&self) -> Option<Chosen> {
        (self.version == PROTOCOL_RECORD_VERSION).then(|| Chosen {
            era: self.era,
            version: self.protocol_version.clone(),
        })
    }
}
