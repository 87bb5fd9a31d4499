//! Financing (金融服务): loan products with partner banks and risk pools
//! ([`loans`]), and the one-cost-one-subsidy register that caps the total
//! support any cost receives across programmes ([`support`]). Money moves
//! only through [`crate::ledger`].

pub mod loans;
pub mod pages;
pub mod routes;
pub mod support;
