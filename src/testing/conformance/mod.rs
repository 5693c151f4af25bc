//! The storage conformance suite: the behaviour every backend must show,
//! written once, generic over the storage traits.
//!
//! Each check is a public `async fn` taking the store in an `Arc`; each uses
//! workspaces of its own, so all of them can share one store (a database that
//! is not emptied between checks is fine). The
//! [`storage_conformance_tests!`](crate::storage_conformance_tests) macro
//! turns the whole list into one `#[test]` per check, each on a tokio
//! runtime this crate brings (your crate needs no tokio for it):
//!
//! ```text
//! oauth_connect::storage_conformance_tests!(async { my_backend::connect().await });
//! ```
//!
//! The checks panic (through `assert!`) on the first violation, naming the
//! rule; they are tests, not library code. They sit one file per storage
//! trait (the grant store's by concern: sessions, codes, tokens, grants),
//! with the shared records in `fixtures.rs`; a test of the crate
//! (`tests/conformance_memory.rs`) fails when a check is missing from the
//! macro's list.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cloned_ref_to_slice_refs,
    missing_docs
)]

/// Generates one `#[test]` per conformance check, each running on a
/// multi-threaded tokio runtime of its own ([`run`]). `$make` is an
/// expression of a future that yields a fresh (or shared) store; it is
/// evaluated once per test, inside that runtime (a `return` in it ends the
/// test, passing: a way to skip when a database is not configured). The
/// crate using the macro needs no tokio of its own: the runtime comes from
/// this crate's `conformance` feature.
#[cfg_attr(docsrs, doc(cfg(feature = "conformance")))]
#[macro_export]
macro_rules! storage_conformance_tests {
    ($make:expr) => {
        $crate::storage_conformance_tests!(@each $make;
            apps_insert_and_get,
            apps_insert_conflicts,
            apps_list_pages_in_stable_order,
            apps_list_total_stays_exact_under_concurrent_inserts_and_deletes,
            apps_update_changes_only_given_fields,
            apps_delete_removes_everything,
            apps_rotate_secret_with_and_without_grace,
            apps_rotate_secret_refuses_stale_expectation,
            apps_concurrent_rotations_have_one_winner,
            apps_are_isolated_between_workspaces,
            sessions_complete_once,
            sessions_pushed_must_be_opened_in_time,
            sessions_pushed_by_one_requester_keep_the_newest,
            sessions_pushed_concurrently_never_exceed_the_bound,
            sessions_expired_cannot_complete,
            sessions_concurrent_completions_have_one_winner,
            sessions_keep_response_mode_and_embed,
            codes_redeem_once_and_write_tokens,
            prefetch_reads_agree_with_single_reads,
            codes_inserted_with_their_grant_in_one_step,
            codes_expired_are_not_redeemed,
            codes_concurrent_redemptions_have_one_winner,
            grants_revocation_hides_codes_and_tokens,
            grants_revocation_takes_the_connection_and_its_keys,
            refresh_reuse_revokes_the_connection_and_its_keys,
            refresh_rotation_and_reuse_detection,
            refresh_replay_within_threshold_writes_nothing,
            refresh_replay_after_the_successor_was_used_is_reuse,
            codes_replay_revokes_grant_key_and_connection_at_once,
            codes_redeemed_survive_purge_until_their_grant_expires,
            refresh_concurrent_rotations_have_one_winner,
            refresh_expired_or_access_tokens_do_not_rotate,
            tokens_revoke_single_access_token,
            purge_removes_only_expired_records,
            purge_removes_grants_whose_code_expired_unredeemed,
            purge_honours_the_revoked_grant_retention,
            apps_delete_cascades_to_grants,
            apps_deleted_get_no_new_sessions_or_grants,
            connect_approval_writes_customer_connection_and_key,
            connect_update_mode_replaces_the_grant_in_place,
            connect_customer_reference_conflict_writes_nothing,
            connect_concurrent_approvals_have_one_winner,
            customers_list_and_delete_revokes_everything,
            connect_steps_advance_by_compare_and_swap,
            connect_linked_accounts_are_separate_connections,
            connect_update_mode_keeps_tags_and_revokes_old_keys,
            connect_update_mode_caps_tags_at_the_approvals_max,
            customers_belong_to_their_app,
            connect_browser_created_approvals_never_update,
            connections_attach_to_a_customer_of_their_app,
            connections_concurrent_attachments_have_one_winner,
            connections_list_and_get_filter,
            connections_tag_edits_apply_atomically,
            connections_revoke_cascades_once,
            connections_revoke_only_their_own_keys,
            scoped_keys_insert_list_and_revoke,
            scoped_keys_insert_only_under_a_live_connection,
            scoped_keys_minted_during_a_revocation_die_with_it,
            scoped_keys_read_revoked_with_their_grant,
            apps_delete_cascades_to_connections_and_keys,
            admin_keys_insert_find_delete,
            admin_keys_insert_conflicts,
            admin_keys_unknown_hash_is_absent,
            apps_allowed_origins_are_stored_and_looked_up,
            publishable_keys_insert_find_list_revoke,
            publishable_keys_are_bounded_per_app,
            publishable_keys_concurrent_inserts_respect_the_bound,
            apps_delete_cascades_to_publishable_keys,
            rate_limits_count_in_fixed_windows,
            rate_limits_concurrent_counts_are_each_counted_once,
            rate_limits_refund_takes_back_one_in_its_window,
            rate_limits_purge_removes_only_ended_windows,
            webhooks_outbox_is_written_with_the_change,
            webhooks_claims_never_overlap,
            webhooks_attempts_are_recorded_and_retried,
            webhooks_endpoints_belong_to_their_app,
        );
    };
    (@each $make:expr; $($check:ident),+ $(,)?) => {
        $(
            #[test]
            fn $check() {
                $crate::conformance::run(async {
                    let store = ::std::sync::Arc::new($make.await);
                    $crate::conformance::$check(store).await;
                });
            }
        )+
    };
}

/// Runs one check to completion on a fresh multi-threaded tokio runtime
/// (two workers, I/O and timers enabled), as
/// [`storage_conformance_tests!`](crate::storage_conformance_tests) does
/// for each check; call it to run a check from a plain `#[test]`.
pub fn run<F: std::future::Future<Output = ()>>(check: F) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime for the conformance suite")
        .block_on(check);
}

mod admin_keys;
mod apps;
mod codes;
mod connect;
mod connections;
mod customers;
mod faulty;
mod fixtures;
mod grants;
mod publishable_keys;
mod rate_limits;
mod scoped_keys;
mod sessions;
mod tokens;
mod webhooks;

pub use admin_keys::*;
pub use apps::*;
pub use codes::*;
pub use connect::*;
pub use connections::*;
pub use customers::*;
pub use faulty::*;
pub use fixtures::*;
pub use grants::*;
pub use publishable_keys::*;
pub use rate_limits::*;
pub use scoped_keys::*;
pub use sessions::*;
pub use tokens::*;
pub use webhooks::*;

use fixtures::{base_time, rng};
