//! Reading typed values out of result rows, by column name.
//!
//! Every failure is a [`StorageError`]: a missing column or a value of the
//! wrong SQL type maps through [`error::map`](super::error::map) (kind
//! `Corrupt`), and a value of the right type that the crate's own parser
//! refuses (an id, a redirect URI, a hash of the wrong length) is `Corrupt`
//! too, naming the column and never the value.

use sqlx::postgres::{PgRow, Postgres};
use sqlx::{Decode, Row as _, Type};

use super::error;
use crate::credentials::keyring::CredentialHash;
use crate::storage::StorageError;

/// The value of `column`.
pub(super) fn get<'r, T>(row: &'r PgRow, column: &'static str) -> Result<T, StorageError>
where
    T: Decode<'r, Postgres> + Type<Postgres>,
{
    row.try_get(column).map_err(error::map)
}

/// The text of `column`, parsed by `parse`.
pub(super) fn parsed<T, E>(
    row: &PgRow,
    column: &'static str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, StorageError> {
    parse(get::<&str>(row, column)?).map_err(|_| error::corrupt(column, "does not parse"))
}

/// The texts of the array `column`, each parsed by `parse`.
pub(super) fn parsed_each<T, E>(
    row: &PgRow,
    column: &'static str,
    mut parse: impl FnMut(&str) -> Result<T, E>,
) -> Result<Vec<T>, StorageError> {
    get::<Vec<String>>(row, column)?
        .iter()
        .map(|text| parse(text))
        .collect::<Result<_, E>>()
        .map_err(|_| error::corrupt(column, "an element does not parse"))
}

/// The credential hash in the `bytea` column `column`, `None` when NULL.
pub(super) fn hash(
    row: &PgRow,
    column: &'static str,
) -> Result<Option<CredentialHash>, StorageError> {
    get::<Option<&[u8]>>(row, column)?
        .map(|bytes| {
            <[u8; 32]>::try_from(bytes)
                .map(CredentialHash::from_bytes)
                .map_err(|_| error::corrupt(column, "a hash is 32 bytes"))
        })
        .transpose()
}

/// The bytes of a hash, to bind.
pub(super) fn hash_param(hash: &CredentialHash) -> &[u8] {
    hash.as_bytes().as_slice()
}

/// The JSON document in the `jsonb` column `column`, selected as text
/// (`column::text AS column`, which needs no sqlx JSON support), `None`
/// when NULL.
pub(super) fn json<T: serde::de::DeserializeOwned>(
    row: &PgRow,
    column: &'static str,
) -> Result<Option<T>, StorageError> {
    get::<Option<&str>>(row, column)?
        .map(|text| {
            serde_json::from_str(text).map_err(|_| error::corrupt(column, "does not deserialize"))
        })
        .transpose()
}

/// A value as JSON text, to bind where the statement casts it to `jsonb`.
pub(super) fn json_param<T: serde::Serialize>(value: &T) -> Result<String, StorageError> {
    serde_json::to_string(value)
        .map_err(|e| StorageError::with_source(crate::storage::StorageErrorKind::Other, e))
}

/// A statement with its bound parameters, as the modules build them.
pub(super) type PgQuery<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;
