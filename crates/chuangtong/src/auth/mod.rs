//! Identity and access: accounts, roles, password hashing, sessions and API
//! tokens, login throttling and lockout, and the extractors every route uses.

pub mod extract;
pub mod login;
pub mod password;
pub mod resolver;
pub mod role;
pub mod routes;
pub mod session;
pub mod throttle;
pub mod users;

pub use extract::{BaseScope, CurrentUser, PageScope, PageUser};
pub use role::Role;
