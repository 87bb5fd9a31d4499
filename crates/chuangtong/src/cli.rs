//! Command line: `serve` plus the maintenance commands an operator needs
//! (migrate, audit verify, backup/restore, key generation, calendar years).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use secrecy::SecretString;

use crate::config::Settings;
use crate::startup::{self, Application};
use crate::storage;

#[derive(Parser, Debug)]
#[command(name = "chuangtong", version, about = "创通：双创示范基地一站式服务平台")]
struct Cli {
    /// sqlite: or postgres: URL (default: SQLite under --data-dir)
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    database_url: Option<String>,
    /// Folder for the SQLite database, the master key file and backups
    #[arg(long, env = "CHUANGTONG_DATA_DIR", default_value = "data/runtime", global = true)]
    data_dir: PathBuf,
    /// Master key, 64 hex characters (default: <data-dir>/master.key)
    #[arg(long, env = "CHUANGTONG_MASTER_KEY", global = true, hide_env_values = true)]
    master_key: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Start the web server (creates the schema and, on first start, the demo data)
    Serve {
        #[arg(long, env = "CHUANGTONG_BIND", default_value = "127.0.0.1:8080")]
        bind: String,
        /// Do not load demo data on first start
        #[arg(long, env = "CHUANGTONG_NO_DEMO")]
        no_demo: bool,
        /// Password for every demo account (default: random, printed once)
        #[arg(long, env = "CHUANGTONG_DEMO_PASSWORD", hide_env_values = true)]
        demo_password: Option<String>,
        #[arg(long, env = "CHUANGTONG_SECURE_COOKIES")]
        secure_cookies: bool,
        /// SMTP relay for notification mail, smtp://host[:port] (default: inbox only)
        #[arg(long, env = "CHUANGTONG_SMTP_URL")]
        smtp_url: Option<String>,
        /// Sender of notification mail
        #[arg(long, env = "CHUANGTONG_SMTP_FROM", default_value = crate::config::DEFAULT_SMTP_FROM)]
        smtp_from: String,
        /// Virus scanner run on every uploaded document (the file's path is appended; non-zero exit refuses it)
        #[arg(long, env = "CHUANGTONG_VIRUS_SCAN_COMMAND")]
        virus_scan_command: Option<String>,
    },
    /// Apply pending schema migrations and exit
    Migrate,
    /// Audit log commands
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Write a consistent copy of the SQLite database (while running). For PostgreSQL use pg_dump.
    Backup { path: PathBuf },
    /// Replace the SQLite database with a backup (stop the server first)
    Restore {
        path: PathBuf,
        /// Overwrite an existing database
        #[arg(long)]
        force: bool,
    },
    /// Print a new random master key
    Keygen,
    /// Ledger commands
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Working-day calendar commands
    Calendar {
        #[command(subcommand)]
        command: CalendarCommand,
    },
    /// Run the time-driven work once, for cron: expire voucher batches past their validity (unused
    /// amounts back to the budget), auto-accept escrow milestones past their dispute clock, expire
    /// pending ledger transfers past their timeout. Safe to repeat and to run beside `serve`.
    Sweep,
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Recompute every audit chain; exit code 1 if any entry was edited, inserted or deleted
    Verify,
}

#[derive(Subcommand, Debug)]
enum LedgerCommand {
    /// Recompute every balance from the transfers; exit code 1 if anything does not reconcile
    Verify,
}

#[derive(Subcommand, Debug)]
enum CalendarCommand {
    /// Add (or replace) a year's holiday arrangement from a JSON file like data/holidays/2026.json
    AddYear { file: PathBuf },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::telemetry::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("无法启动运行时: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("错误: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let database_url = cli
        .database_url
        .clone()
        .unwrap_or_else(|| Settings::default_database_url(&cli.data_dir));
    let mut settings = Settings {
        database_url,
        data_dir: cli.data_dir.clone(),
        bind: "127.0.0.1:8080".into(),
        demo: true,
        demo_password: None,
        secure_cookies: false,
        master_key: cli.master_key.clone().map(SecretString::from),
        smtp_url: None,
        smtp_from: crate::config::DEFAULT_SMTP_FROM.into(),
        virus_scan_command: None,
    };
    match cli.command {
        Command::Serve {
            bind,
            no_demo,
            demo_password,
            secure_cookies,
            smtp_url,
            smtp_from,
            virus_scan_command,
        } => {
            settings.bind = bind;
            settings.demo = !no_demo;
            settings.demo_password = demo_password.map(SecretString::from);
            settings.secure_cookies = secure_cookies;
            settings.smtp_url = smtp_url;
            settings.smtp_from = smtp_from;
            settings.virus_scan_command = virus_scan_command.filter(|c| !c.trim().is_empty());
            serve(settings).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let state = startup::prepare(settings).await?;
            println!("数据库已是最新版本: {:?}", storage::migrate::applied(&state.db).await?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let state = startup::prepare(settings).await?;
            let report = crate::audit::verify(&state.db, &state.keys).await?;
            println!("审计链 {} 条，日志 {} 条", report.chains, report.entries);
            if report.ok() {
                println!("校验通过：未发现篡改、插入或删除");
                Ok(ExitCode::SUCCESS)
            } else {
                for p in &report.problems {
                    println!("  ✗ {p}");
                }
                println!("校验失败：发现 {} 处问题", report.problems.len());
                Ok(ExitCode::from(1))
            }
        }
        Command::Ledger {
            command: LedgerCommand::Verify,
        } => {
            let state = startup::prepare(settings).await?;
            let r = crate::ledger::verify(&state.db).await?;
            println!(
                "账户 {} 个，转账 {} 笔；借方已入账合计 {} 分，贷方已入账合计 {} 分",
                r.accounts, r.transfers, r.debits_posted, r.credits_posted
            );
            if r.ok() {
                println!("对账通过：余额与转账记录一致，借贷平衡，无透支");
                Ok(ExitCode::SUCCESS)
            } else {
                for p in &r.problems {
                    println!("  ✗ {p}");
                }
                println!("对账失败：发现 {} 处问题", r.problems.len());
                Ok(ExitCode::from(1))
            }
        }
        Command::Backup { path } => {
            let state = startup::prepare(settings).await?;
            crate::backup::backup(&state.db, &path).await?;
            println!("已备份到 {}", path.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore { path, force } => {
            crate::backup::restore(&settings.database_url, &path, force).await?;
            println!("已从 {} 恢复；建议运行 chuangtong audit verify", path.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Sweep => {
            let state = startup::prepare(settings).await?;
            let bases: Vec<(String, String)> = sqlx::query_as("SELECT id, code FROM bases ORDER BY code")
                .fetch_all(state.db.pool())
                .await?;
            let mut accepted = 0;
            for (id, code) in &bases {
                crate::voucher::expiry::sweep_due(&state, id)
                    .await
                    .map_err(|e| anyhow::anyhow!("{code}: voucher expiry: {e}"))?;
                accepted += crate::voucher::escrow::auto_accept_due(&state, id)
                    .await
                    .map_err(|e| anyhow::anyhow!("{code}: milestones: {e}"))?;
            }
            let expired = crate::ledger::expire_due(&state.db, &state.keys)
                .await
                .map_err(|e| anyhow::anyhow!("ledger: {e}"))?;
            println!(
                "已处理 {} 个基地：到期创新券已退回预算；超过异议期的里程碑自动验收 {accepted} 个；过期的待处理转账 {expired} 笔",
                bases.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Keygen => {
            println!("{}", crate::crypto::Keys::generate_hex());
            Ok(ExitCode::SUCCESS)
        }
        Command::Calendar {
            command: CalendarCommand::AddYear { file },
        } => {
            let state = startup::prepare(settings).await?;
            let json = std::fs::read_to_string(&file).with_context(|| format!("read {}", file.display()))?;
            let year = crate::calendar::add_year(&state, &crate::audit::Actor::system("cli"), &json)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("已录入{year}年节假日安排");
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    if !settings.database_url.starts_with("sqlite:") && settings.master_key.is_none() {
        tracing::warn!("PostgreSQL without CHUANGTONG_MASTER_KEY: every process must share the same key file");
    }
    let app = Application::build(settings).await?;
    let host = app
        .state
        .settings
        .bind
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or("127.0.0.1")
        .replace("0.0.0.0", "127.0.0.1");
    let url = format!("http://{host}:{}", app.port);
    if !app.demo_accounts.is_empty() {
        println!("\n已载入演示数据（28个首批双创示范基地，含标注为“模拟”的合成数据）。演示账户：");
        println!("  {:<22} {:<12} {:<20} 密码", "用户名", "角色", "基地");
        for a in &app.demo_accounts {
            println!(
                "  {:<22} {:<12} {:<20} {}",
                a.username, a.role_label, a.base_name, a.password
            );
        }
        println!();
    }
    println!("创通已启动: {url}  (Ctrl-C 停止)");
    tracing::info!(port = app.port, database = %storage::redact(&app.state.settings.database_url), "listening");
    app.run_until(shutdown_signal()).await
}

async fn shutdown_signal() {
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutting down");
}
