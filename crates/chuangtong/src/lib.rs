//! chuangtong (创通): one platform for a 双创 demonstration base.
//!
//! Layers depend one way: `chuangtong_domain` (pure types, no I/O) ←
//! [`storage`] ← capability folders ([`tenancy`], [`registry`], [`auth`],
//! [`audit`], [`calendar`], …, each with its service functions and its
//! `routes`) ← [`web`] (router, errors, pages) ← [`cli`].

pub mod application;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod calendar;
pub mod cli;
pub mod coalesce;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod financing;
pub mod indicator;
pub mod ledger;
pub mod notify;
pub mod policy;
pub mod registry;
pub mod search;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod tenancy;
pub mod ticket;
pub mod voucher;
pub mod web;

/// A new time-ordered id (UUIDv7) as text, the primary key of every table.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
