//! Configuration. Every setting is a command-line flag with an environment
//! variable behind it:
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `DATABASE_URL` | `sqlite://<data-dir>/chuangtong.db?mode=rwc` | `sqlite:` or `postgres:` URL |
//! | `CHUANGTONG_DATA_DIR` | `./data/runtime` | SQLite file, master key file, backups |
//! | `CHUANGTONG_MASTER_KEY` | read from `<data-dir>/master.key`, created on first start | 64 hex chars; derives the SM4 and HMAC-SM3 keys. All processes on one database need the same key. |
//! | `CHUANGTONG_BIND` | `127.0.0.1:8080` | listen address (`serve`) |
//! | `CHUANGTONG_DEMO` | `true` | load the demo bases and accounts on first start |
//! | `CHUANGTONG_DEMO_PASSWORD` | random, printed once | password of every demo account |
//! | `CHUANGTONG_SECURE_COOKIES` | `false` | mark cookies `Secure` (set when served over HTTPS) |
//! | `CHUANGTONG_SMTP_URL` | unset | `smtp://host[:port]` relay for notification mail; unset: inbox only |
//! | `CHUANGTONG_SMTP_FROM` | `chuangtong <noreply@localhost>` | sender of notification mail |
//! | `CHUANGTONG_VIRUS_SCAN_COMMAND` | unset | scanner run on every uploaded document, e.g. `clamdscan --no-summary`; the file's path is appended; non-zero exit refuses the upload |
//! | `RUST_LOG` | `info` | log filter; `CHUANGTONG_LOG_JSON=1` logs JSON lines |

use std::path::{Path, PathBuf};

use anyhow::Context;
use secrecy::SecretString;

use crate::crypto::Keys;

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub data_dir: PathBuf,
    pub bind: String,
    pub demo: bool,
    pub demo_password: Option<SecretString>,
    pub secure_cookies: bool,
    /// Master key in hex. `None` means: read or create `<data_dir>/master.key`.
    pub master_key: Option<SecretString>,
    /// SMTP relay for notification mail (`smtp://host[:port]`); `None`: no mail is delivered.
    pub smtp_url: Option<String>,
    pub smtp_from: String,
    /// Virus scanner for uploaded documents (program and arguments, no shell); `None`: no scan.
    pub virus_scan_command: Option<String>,
}

pub const DEFAULT_SMTP_FROM: &str = "chuangtong <noreply@localhost>";

impl Settings {
    pub fn default_database_url(data_dir: &Path) -> String {
        format!("sqlite://{}/chuangtong.db?mode=rwc", data_dir.display())
    }

    /// Settings for tests: a given database, a fixed key, no demo data.
    pub fn for_tests(database_url: &str) -> Settings {
        Settings {
            database_url: database_url.to_string(),
            data_dir: std::env::temp_dir(),
            bind: "127.0.0.1:0".into(),
            demo: false,
            demo_password: None,
            secure_cookies: false,
            master_key: Some(SecretString::from("7".repeat(64))),
            smtp_url: None,
            smtp_from: DEFAULT_SMTP_FROM.into(),
            virus_scan_command: None,
        }
    }

    /// Loads the master key from the setting, else from the key file, creating
    /// it (mode 0600) on first start so a demo needs no setup.
    pub fn load_keys(&self) -> anyhow::Result<Keys> {
        use secrecy::ExposeSecret;
        if let Some(k) = &self.master_key {
            return Keys::from_hex(k.expose_secret()).context("CHUANGTONG_MASTER_KEY");
        }
        let path = self.data_dir.join("master.key");
        if !path.exists() {
            std::fs::create_dir_all(&self.data_dir)?;
            write_private(&path, &Keys::generate_hex())?;
            tracing::warn!(
                path = %path.display(),
                "created a new master key; back it up: without it encrypted personal data cannot be read"
            );
        }
        let hex_key = std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
        Keys::from_hex(&hex_key).with_context(|| format!("master key in {}", path.display()))
    }
}

fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).with_context(|| format!("create {}", path.display()))?;
    f.write_all(content.as_bytes())?;
    f.sync_all()?;
    Ok(())
}
