//! wasm-bindgen shell (filled by the wasm issue).
