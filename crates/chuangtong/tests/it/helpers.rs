//! One harness for every integration test: builds the real application
//! (the same `Application::build_with_listener` path as `serve`) on a fresh
//! database, with the demo bases and accounts loaded, on a random port.
//!
//! Every test runs twice through the `both!` macro: on a temporary SQLite
//! file and on PostgreSQL in a schema of its own (created here, dropped when
//! the test ends), so runs never collide. PostgreSQL is found through
//! `CHUANGTONG_TEST_PG` (default `postgres://postgres@127.0.0.1:5432/test`);
//! if it is not reachable the PostgreSQL tests fail — they are never skipped.

use std::sync::Arc;

use chuangtong::config::Settings;
use chuangtong::startup::Application;
use chuangtong::storage::Db;
use chuangtong::web::AppState;
use reqwest::{Client, Response, StatusCode};
use secrecy::SecretString;
use serde_json::{json, Value};

pub const DEMO_PASSWORD: &str = "demo-pass-2026";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn pg_admin_url() -> String {
    std::env::var("CHUANGTONG_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A fresh database; keeps the SQLite temp dir alive or drops the PG schema at the end.
pub struct TestDb {
    pub url: String,
    #[allow(dead_code)]
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
    schema: Option<String>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/test.db?mode=rwc", dir.path().display());
                TestDb {
                    url,
                    backend,
                    _dir: Some(dir),
                    schema: None,
                }
            }
            Backend::Postgres => {
                let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
                let admin = Db::connect(&pg_admin_url())
                    .await
                    .expect("PostgreSQL reachable for tests (CHUANGTONG_TEST_PG)");
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(admin.pool())
                    .await
                    .expect("create schema");
                admin.close().await;
                let sep = if pg_admin_url().contains('?') { '&' } else { '?' };
                let url = format!("{}{sep}options=-c%20search_path%3D{schema}", pg_admin_url());
                TestDb {
                    url,
                    backend,
                    _dir: None,
                    schema: Some(schema),
                }
            }
        }
    }

    pub async fn drop_schema(&self) {
        if let Some(schema) = &self.schema {
            if let Ok(admin) = Db::connect(&pg_admin_url()).await {
                let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                    .execute(admin.pool())
                    .await;
                admin.close().await;
            }
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub state: AppState,
    pub db: Arc<TestDb>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

pub fn settings(db: &TestDb) -> Settings {
    let mut s = Settings::for_tests(&db.url);
    s.demo = true;
    s.demo_password = Some(SecretString::from(DEMO_PASSWORD));
    s
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        let db = Arc::new(TestDb::new(backend).await);
        Self::spawn_on(db).await
    }

    /// A second application (another "process") on the same database.
    pub async fn spawn_on(db: Arc<TestDb>) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let app = Application::build_with_listener(settings(&db), listener)
            .await
            .expect("application builds");
        let address = format!("http://127.0.0.1:{}", app.port);
        let state = app.state.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            app.run_until(async {
                let _ = rx.await;
            })
            .await
            .expect("server runs");
        });
        TestApp {
            address,
            state,
            db,
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    pub async fn finish(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
        if Arc::strong_count(&self.db) == 1 {
            self.db.drop_schema().await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A client without cookies, for bearer-token API calls.
    pub fn client(&self) -> Client {
        Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// A browser-like client: keeps cookies, does not follow redirects.
    pub fn browser(&self) -> Client {
        Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// Logs in through the API and returns an authenticated API handle.
    pub async fn api_as(&self, username: &str) -> Api {
        let resp = self
            .client()
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({ "username": username, "password": DEMO_PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "login as {username}");
        let body: Value = resp.json().await.unwrap();
        Api {
            app_url: self.address.clone(),
            token: body["token"].as_str().unwrap().to_string(),
            client: self.client(),
        }
    }

    /// Logs in through the login form; returns a cookie-carrying client.
    pub async fn browser_as(&self, username: &str) -> Client {
        let b = self.browser();
        let resp = b
            .post(self.url("/login"))
            .form(&[("username", username), ("password", DEMO_PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "form login as {username}");
        b
    }

    /// A page's HTML as `username` sees it, logged in through the form.
    pub async fn page_as(&self, username: &str, path: &str) -> String {
        let b = self.browser_as(username).await;
        b.get(self.url(path)).send().await.unwrap().text().await.unwrap()
    }

    /// Creates an account in base R08 with `role`, acting for `subject` (a
    /// registry record id), with the demo password. Not logged in.
    pub async fn add_member(&self, username: &str, role: chuangtong::auth::Role, subject: Option<&str>) {
        static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let hash = HASH.get_or_init(|| chuangtong::auth::password::hash_blocking(DEMO_PASSWORD).unwrap());
        let base_id = self.text("SELECT id FROM bases WHERE code = 'R08'").await;
        let actor = chuangtong::audit::Actor::system("test");
        let mut tx = self.state.db.begin().await.unwrap();
        let user = chuangtong::auth::users::create(
            &mut tx,
            &self.state.keys,
            &actor,
            chuangtong::auth::users::NewUser {
                username,
                display_name: username,
                password_hash: hash,
                platform_admin: false,
                phone: None,
            },
        )
        .await
        .unwrap();
        chuangtong::auth::users::add_membership(&mut tx, &self.state.keys, &actor, &user, &base_id, role, subject)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }

    pub async fn scalar(&self, sql: &str) -> i64 {
        use sqlx::Row;
        sqlx::query(sql)
            .fetch_one(self.state.db.pool())
            .await
            .unwrap()
            .get::<i64, _>(0)
    }

    pub async fn text(&self, sql: &str) -> String {
        use sqlx::Row;
        sqlx::query(sql)
            .fetch_one(self.state.db.pool())
            .await
            .unwrap()
            .get::<String, _>(0)
    }
}

pub struct Api {
    pub app_url: String,
    pub token: String,
    pub client: Client,
}

impl Api {
    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(format!("{}{}", self.app_url, path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(format!("{}{}", self.app_url, path))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.json().await.unwrap()
    }
}

/// The CSRF token of a rendered page (the first `_csrf` field).
pub fn csrf_of(html: &str) -> String {
    html.split("name=\"_csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

/// Field codes of a 422 response, in order.
pub async fn field_codes(resp: Response) -> Vec<(String, String)> {
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = resp.json().await.unwrap();
    body["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap().to_string(),
                f["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Declares a test that runs once on SQLite and once on PostgreSQL:
/// `both!(name);` wraps `async fn name(app: &TestApp)` of the same module.
#[macro_export]
macro_rules! both {
    ($name:ident) => {
        pub mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite).await;
                super::$name(&app).await;
                app.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres).await;
                super::$name(&app).await;
                app.finish().await;
            }
        }
    };
}
