//! Integration tests: the real server over HTTP, on SQLite and PostgreSQL.

mod helpers;

mod application;
mod audit;
mod auth;
mod browser;
mod calendar;
mod crash;
mod demo;
mod flash_claim;
mod indicator;
mod ledger;
mod platform;
mod policy;
mod policy_impact;
mod registry;
mod search;
mod tenancy;
mod voucher;
mod voucher_oversight;
