//! Building the application: connect, migrate, load demo data, bind. Tests go
//! through exactly this path with port 0 and read the real port back.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::config::Settings;
use crate::storage::{self, Db};
use crate::web::{self, AppState};

pub struct Application {
    pub state: AppState,
    listener: TcpListener,
    pub port: u16,
    /// Demo accounts created on this start (empty if the data already existed).
    pub demo_accounts: Vec<crate::demo::DemoAccount>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(&settings.bind).await?;
        Self::build_with_listener(settings, listener).await
    }

    pub async fn build_with_listener(settings: Settings, listener: TcpListener) -> anyhow::Result<Application> {
        let state = prepare(settings).await?;
        let demo_accounts = if state.settings.demo {
            crate::demo::load_if_empty(&state).await?
        } else {
            Vec::new()
        };
        let port = listener.local_addr()?.port();
        Ok(Application {
            state,
            listener,
            port,
            demo_accounts,
        })
    }

    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let app = web::router(self.state.clone());
        let sweeper = tokio::spawn(expire_pending_transfers(self.state.clone()));
        let mailer = crate::notify::mail::spawn(&self.state)?;
        axum::serve(
            self.listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await?;
        sweeper.abort();
        if let Some(m) = mailer {
            m.abort();
        }
        self.state.db.close().await;
        Ok(())
    }
}

/// Expires pending ledger transfers whose time is up. Every process runs it;
/// each expiry is conditional on the transfer still being pending, so they
/// never double up.
async fn expire_pending_transfers(state: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(15));
    loop {
        tick.tick().await;
        match crate::ledger::expire_due(&state.db, &state.keys).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "expired pending ledger transfers"),
            Err(e) => tracing::warn!(error = %e, "ledger expiry sweep failed"),
        }
    }
}

/// Connects and migrates; shared by `serve` and the maintenance commands.
pub async fn prepare(settings: Settings) -> anyhow::Result<AppState> {
    let keys = settings.load_keys()?;
    let db = Db::connect(&settings.database_url).await?;
    let applied = storage::migrate(&db).await?;
    if !applied.is_empty() {
        tracing::info!(?applied, "applied migrations");
    }
    Ok(AppState {
        db,
        keys: Arc::new(keys),
        settings: Arc::new(settings),
        search: Default::default(),
        claim_desks: Default::default(),
        credentials: Default::default(),
    })
}
