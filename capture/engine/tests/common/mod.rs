//! Helpers shared by the integration tests that need flows from the bundled captures.
#![allow(dead_code)]

pub mod flows;
