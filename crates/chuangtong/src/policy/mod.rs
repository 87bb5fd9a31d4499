//! Policies as rules (政策库): the library with versioned rules, the facts
//! enterprises are judged on, and the answers — 政策计算器, 精准推送, budget
//! simulation and 免申即享 grants — all given by the `chuangtong-rules`
//! engine, each with its explanation.

pub mod facts;
pub mod judge;
pub mod library;
pub mod pages;
pub mod routes;
