//! The management API: OAuth apps and their secrets, and workspace admin
//! keys.

pub(crate) mod admin_keys;
pub(crate) mod apps;
