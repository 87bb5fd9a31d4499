//! One error type for every handler. Its variant decides the HTTP status;
//! field errors are data (field, stable code, Chinese message); internal errors
//! are logged with an id and shown to the user only as that id.

use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chuangtong_domain::Coded;
use serde::Serialize;

/// A problem with one input field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    /// Stable machine-readable code, e.g. `uscc.check_char`.
    pub code: String,
    /// Chinese message for people.
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, code: &str, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }

    /// From a domain validation error.
    pub fn from_coded(field: &str, err: &dyn Coded) -> FieldError {
        FieldError::new(field, err.code(), err.to_string())
    }
}

/// Collects field errors while a form is parsed, so the user sees all of them at once.
#[derive(Default, Debug)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    /// Runs a parser; on error records it under `field` and returns None.
    pub fn take<T, E: Coded>(&mut self, field: &str, r: Result<T, E>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(FieldError::from_coded(field, &e));
                None
            }
        }
    }

    pub fn push(&mut self, field: &str, code: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, code, message));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Err(AppError::Validation)` if anything was recorded.
    pub fn into_result(self) -> Result<(), AppError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self.0))
        }
    }

    pub fn message_for(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|e| e.field == field).map(|e| e.message.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("输入有误")]
    Validation(Vec<FieldError>),
    #[error("请先登录")]
    Unauthenticated,
    #[error("无权访问")]
    Forbidden,
    #[error("未找到")]
    NotFound,
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// A refusal with its own status, e.g. 401 for a wrong password, 423 for a locked account.
    #[error("{message}")]
    Rejected {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
    #[error("{message}")]
    TooManyRequests {
        code: &'static str,
        message: String,
        retry_after_secs: u64,
    },
    #[error("数据库暂不可用")]
    Unavailable,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                tracing::error!(error = %e, "database unavailable");
                AppError::Unavailable
            }
            other => AppError::Internal(other.into()),
        }
    }
}

impl AppError {
    /// 409: the request is well-formed but the current state refuses it
    /// (sold out, wrong order state, already settled…).
    pub fn refused(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn rejected(status: StatusCode, code: &'static str, message: impl Into<String>) -> AppError {
        AppError::Rejected {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn field(field: &str, code: &str, message: impl Into<String>) -> AppError {
        AppError::Validation(vec![FieldError::new(field, code, message)])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::Rejected { status, .. } => *status,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppError::Validation(_) => "validation",
            AppError::Unauthenticated => "unauthenticated",
            AppError::Forbidden => "forbidden",
            AppError::NotFound => "not_found",
            AppError::Conflict { code, .. } => code,
            AppError::Rejected { code, .. } => code,
            AppError::TooManyRequests { code, .. } => code,
            AppError::Unavailable => "unavailable",
            AppError::Internal(_) => "internal",
        }
    }

    /// Logs an internal error once and returns the id shown to the user.
    fn log_internal(&self) -> Option<String> {
        if let AppError::Internal(err) = self {
            let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
            tracing::error!(error_id = %id, error = ?err, "internal error");
            Some(id)
        } else {
            None
        }
    }

    fn user_message(&self, error_id: Option<&str>) -> String {
        match (self, error_id) {
            (AppError::Internal(_), Some(id)) => format!("系统内部错误，请联系管理员并提供错误编号 {id}"),
            _ => self.to_string(),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_id: Option<String>,
}

/// JSON rendering, used by the API.
impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let error_id = self.log_internal();
        let fields = match &self {
            AppError::Validation(f) => f.clone(),
            _ => Vec::new(),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().to_string(),
                message: self.user_message(error_id.as_deref()),
                fields,
                error_id,
            },
        };
        let mut resp = (self.status(), axum::Json(body)).into_response();
        if let AppError::TooManyRequests { retry_after_secs, .. } = self {
            resp.headers_mut().insert(header::RETRY_AFTER, retry_after_secs.into());
        }
        resp
    }
}

/// HTML rendering of the same errors, used by page handlers.
#[derive(Debug)]
pub struct PageError(pub AppError);

impl<E: Into<AppError>> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let err = self.0;
        if matches!(err, AppError::Unauthenticated) {
            return Redirect::to("/login").into_response();
        }
        let error_id = err.log_internal();
        let page = crate::web::pages::ErrorPage {
            nav: crate::web::pages::Nav::anonymous(),
            status: err.status().as_u16(),
            code: err.code().to_string(),
            message: err.user_message(error_id.as_deref()),
            fields: match &err {
                AppError::Validation(f) => f.clone(),
                _ => Vec::new(),
            },
        };
        (err.status(), Html(crate::web::pages::render(&page))).into_response()
    }
}

pub type ApiResult<T> = Result<T, AppError>;
pub type PageResult<T> = Result<T, PageError>;
