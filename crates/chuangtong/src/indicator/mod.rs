//! Indicators (指标): the numbers a base reports and is judged by — a
//! versioned catalogue (computed from live data or reported by hand),
//! targets with responsible units, a dashboard with server-rendered SVG
//! charts whose every figure drills down to its records, a comparison of the
//! 28 bases' reported figures (each linked to its line of the seed), the
//! 双创指数 with its history, and Excel/CSV import and export.
//!
//! Who may do what (checked in every handler through [`access`]):
//! - every member of a base sees its dashboard, catalogue, targets, values
//!   and index: these are the base's shared goals;
//! - drilling down to records follows the registry's rules (enterprise
//!   lists for admins, stewards and investors; people for admins and
//!   stewards; ledger transfers for admins only);
//! - base admins (and platform admins) define indicators, enter values, set
//!   targets, import files and close periods;
//! - the comparison of the seed's figures is open to every signed-in user
//!   (they are published reports); the index method page is public.

pub mod catalogue;
pub mod chart;
pub mod compute;
pub mod dashboard;
pub mod drill;
pub mod export;
pub mod import;
pub mod index;
pub mod lists;
pub mod measure;
pub mod pages;
pub mod period;
pub mod report;
pub mod routes;
pub mod seed;
pub mod snapshot;
pub mod targets;
pub mod values;

pub mod access {
    use crate::auth::{BaseScope, Role};
    use crate::web::error::AppError;

    pub fn view(_scope: &BaseScope) -> Result<(), AppError> {
        // Membership was checked by the BaseScope extractor.
        Ok(())
    }

    pub fn manage(scope: &BaseScope) -> Result<(), AppError> {
        scope.require(&[Role::BaseAdmin])
    }
}
