//! The storage conformance suite against the in-memory backend.

use oauth_connect::MemoryStore;

oauth_connect::storage_conformance_tests!(async { MemoryStore::new() });
