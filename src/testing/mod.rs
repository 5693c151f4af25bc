//! Feature-gated helpers for other crates' tests: the storage conformance
//! suite (`conformance`) and the fuzz targets' property checks (`fuzzing`).

#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
