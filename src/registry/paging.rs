//! The page of a listing: what a list method takes ([`PageRequest`]) and
//! returns ([`Paged`]).

use serde::{Deserialize, Serialize};

use crate::error::{FieldError, Problem};

/// Which page of a listing: `page` 1–1000 (default 1), `perPage` 1–100
/// (default 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageRequest {
    /// 1–1000.
    #[serde(default = "PageRequest::default_page")]
    pub page: u32,
    /// 1–100.
    #[serde(default = "PageRequest::default_per_page")]
    pub per_page: u32,
}

impl PageRequest {
    /// The largest page number.
    pub const MAX_PAGE: u32 = 1000;
    /// The largest page size.
    pub const MAX_PER_PAGE: u32 = 100;

    fn default_page() -> u32 {
        1
    }

    fn default_per_page() -> u32 {
        10
    }

    /// Page `page` of `per_page` items.
    pub fn new(page: u32, per_page: u32) -> Self {
        Self { page, per_page }
    }

    /// Checks the bounds and returns the offset of the page's first item.
    ///
    /// # Errors
    ///
    /// A [`FieldError`] naming `page` or `perPage` when out of range.
    pub fn offset(&self) -> Result<u64, FieldError> {
        if !(1..=Self::MAX_PAGE).contains(&self.page) {
            return Err(FieldError::new(
                "page",
                Problem::OutOfRange {
                    min: 1,
                    max: Self::MAX_PAGE.into(),
                },
            ));
        }
        if !(1..=Self::MAX_PER_PAGE).contains(&self.per_page) {
            return Err(FieldError::new(
                "perPage",
                Problem::OutOfRange {
                    min: 1,
                    max: Self::MAX_PER_PAGE.into(),
                },
            ));
        }
        Ok(u64::from(self.page - 1) * u64::from(self.per_page))
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self::new(1, 10)
    }
}

/// One page of a listing: `{ "data": [...], "meta": { "total", "page", "perPage" } }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Paged<T> {
    /// The items on this page.
    pub data: Vec<T>,
    /// Where the page stands.
    pub meta: PageMeta,
}

impl<T> Paged<T> {
    pub(crate) fn new(data: Vec<T>, total: u64, request: PageRequest) -> Self {
        Self {
            data,
            meta: PageMeta {
                total,
                page: request.page,
                per_page: request.per_page,
            },
        }
    }
}

/// The position of a [`Paged`] list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PageMeta {
    /// How many items there are in all.
    pub total: u64,
    /// This page's number.
    pub page: u32,
    /// The page size asked for.
    pub per_page: u32,
}
