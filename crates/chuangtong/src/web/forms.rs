//! Small helpers shared by HTML form handlers.

use serde::Deserialize;

/// Only the CSRF token, for forms that post nothing else (logout).
#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(rename = "_csrf", default)]
    pub csrf: String,
}

/// `Set-Cookie` value for the session cookie: HttpOnly, SameSite=Lax, path /.
pub fn session_cookie(token: &str, secure: bool, max_age_secs: i64) -> String {
    let mut c = cookie::Cookie::build((crate::auth::session::SESSION_COOKIE, token.to_string()))
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .path("/")
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(max_age_secs))
        .build();
    if max_age_secs == 0 {
        c.make_removal();
    }
    c.to_string()
}

/// `Json<T>` whose rejection is our error shape (field `body`, code
/// `body.invalid`) instead of axum's plain-text message.
pub struct ApiJson<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for ApiJson<T>
where
    axum::Json<T>: axum::extract::FromRequest<S, Rejection = axum::extract::rejection::JsonRejection>,
    S: Send + Sync,
{
    type Rejection = crate::web::error::AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(crate::web::error::AppError::field(
                "body",
                "body.invalid",
                format!("请求体格式错误（应为JSON且包含必填字段）：{}", rejection.body_text()),
            )),
        }
    }
}
