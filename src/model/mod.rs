//! Plain values: ids, scopes, redirect URIs, origins, timestamps, and the
//! random source ids and secrets are drawn from. No flows, no storage, no I/O
//! besides the system random source.

pub(crate) mod app;
pub(crate) mod connect;
pub(crate) mod ids;
pub(crate) mod origin;
pub(crate) mod random;
pub(crate) mod redirect;
pub(crate) mod scope;
pub(crate) mod timestamp;
