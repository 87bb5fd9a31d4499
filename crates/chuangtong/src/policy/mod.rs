//! Policies as rules (政策库): the library with versioned rules, the facts
//! enterprises are judged on, and the answers — 政策计算器, 精准推送, budget
//! simulation and 免申即享 grants — all given by the `chuangtong-rules`
//! engine, each with its explanation. Before publishing, 影响预览 shows
//! what a policy or a changed version does to the base's registry; when a
//! version is corrected, 补发与追回 recomputes every grant and application it
//! affects from what [`answer`] kept with them.

pub mod answer;
pub mod correction;
pub mod facts;
pub mod impact;
pub mod judge;
pub mod library;
pub mod pages;
pub mod params;
pub mod push;
pub mod routes;
pub mod settlement;
pub mod size;
