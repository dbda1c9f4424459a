//! The one integration-test binary: real `pgroster` runs against throwaway PostgreSQL clusters.
//!
//! `harness` starts the clusters and scenario dirs; every other module is a group of scenarios.
//! Run against another PostgreSQL major with `PGROSTER_PG_BIN=$(scripts/pg-bin.sh 18) cargo test`.
#![allow(clippy::unwrap_used)]

mod cli_behaviour;
mod harness;
mod harness_selftest;
mod loop_and_passwords;
mod privileges;
mod tls;
