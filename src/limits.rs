//! Every bound and default the crate enforces, in one place: input sizes
//! (`MAX_*`, `MIN_*`) and the defaults of the backends and adapters
//! (`DEFAULT_*`).
//!
//! Each is defined beside the code that enforces it; this module only
//! gathers them, so a host can check an input before sending it, or size a
//! form field, without hunting through the modules.

// Connect sessions and connections.
pub use crate::connect::input::{
    MAX_FILTERS_BYTES, MAX_REFERENCE_ID_CHARS, MAX_TAG_CHARS, MAX_TAGS,
};
pub use crate::connect::publishable_keys::MAX_PUBLISHABLE_KEYS_PER_APP;
// Requests and values.
pub use crate::config::MAX_BODY_BYTES;
pub use crate::model::origin::MAX_ORIGIN_LEN;
pub use crate::model::scope::{MAX_SCOPE_LEN, MAX_SCOPES};
pub use crate::oauth::authorize::MAX_STATE_LEN;
// Apps and admin keys.
pub use crate::registry::admin_keys::{MAX_EXTERNAL_ADMIN_KEY_LEN, MIN_EXTERNAL_ADMIN_KEY_LEN};
pub use crate::registry::apps::{
    MAX_ALLOWED_ORIGINS, MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS, MAX_REDIRECT_URIS,
};
// Webhooks.
pub use crate::webhooks::api::{MAX_WEBHOOK_ENDPOINTS_PER_APP, MAX_WEBHOOK_URL_LEN};
#[cfg(feature = "webhooks")]
#[cfg_attr(docsrs, doc(cfg(feature = "webhooks")))]
pub use crate::webhooks::sender::{DEFAULT_WEBHOOK_TIMEOUT, MAX_WEBHOOK_RESPONSE_BYTES};
// The PostgreSQL backend.
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use crate::storage::postgres::{
    DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_MIGRATION_TIMEOUT,
    DEFAULT_OPERATION_TIMEOUT, DEFAULT_PING_IDLE_AFTER,
};
// The framework adapters.
#[cfg(any(feature = "axum", feature = "actix"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "axum", feature = "actix"))))]
pub use crate::adapter::DEFAULT_BODY_TIMEOUT;
