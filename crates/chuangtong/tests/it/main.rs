//! Integration tests: the real server over HTTP, on SQLite and PostgreSQL.

mod helpers;

mod application;
mod application_documents;
mod application_review;
mod audit;
mod auth;
mod browser;
mod calendar;
mod crash;
mod demo;
mod financing;
mod flash_claim;
mod indicator;
mod ledger;
mod notify;
mod platform;
mod policy;
mod policy_impact;
mod programme_payouts;
mod registry;
mod search;
mod tenancy;
mod ticket;
mod voucher;
mod voucher_escrow;
mod voucher_oversight;
