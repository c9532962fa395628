//! Storage capabilities. (The keyring and file stores arrive with the CLI.)

use mcp_auth_core::HostError;
use std::collections::HashMap;
use std::sync::Mutex;

/// Records in memory: gone when the process ends.
#[derive(Default)]
pub struct MemoryStore {
    map: Mutex<HashMap<String, String>>,
}

impl MemoryStore {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
    pub fn load(&self, key: &str) -> Result<Option<String>, HostError> {
        Ok(self.map().get(key).cloned())
    }
    pub fn save(&self, key: &str, value: &str) -> Result<(), HostError> {
        self.map().insert(key.to_string(), value.to_string());
        Ok(())
    }
    pub fn remove(&self, key: &str) -> Result<(), HostError> {
        self.map().remove(key);
        Ok(())
    }
    pub fn keys(&self) -> Vec<String> {
        self.map().keys().cloned().collect()
    }
}
