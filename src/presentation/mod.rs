//! How the hosted pages look and speak, as configuration: the host's brand
//! and the theme computed from it ([`brand`]), the message catalogues, the
//! page language and a session's `locale` check ([`i18n`]).
//!
//! The configuration, the builder and the Connect sessions read these, so
//! they sit below them; the rendering (the HTML pages) stays in
//! `http::ui`, which reads them too. Public through [`crate::http`]
//! (`Brand`, `Messages`).

pub(crate) mod brand;
pub(crate) mod i18n;
