//! Chinese full-text search over a base's published policies and the service
//! supermarket's services (tantivy with the jieba tokenizer).
//!
//! - [`index`]: one base's in-memory index (build, query, snippets); no I/O.
//! - [`source`]: what is indexed, the staleness stamp (a per-base generation
//!   bumped in the writers' transactions, plus counts), the re-check of hits.
//! - [`routes`]: `GET /api/v1/bases/{base}/search` and the page `/b/{base}/search`.
//!
//! The database is the truth and each process's index a cache: before a
//! query the process reads the base's stamp (one small SQL statement) and
//! rebuilds the base's index if it was built from another stamp. Several
//! processes therefore never answer from an index older than the last
//! committed change. Tenancy is enforced three times: one index per base, a
//! required `base_id` term in every query, and the re-check of each hit's
//! base in the database before it is returned.

pub mod index;
pub mod routes;
pub mod source;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::storage::time;
use crate::web::error::{AppError, FieldErrors};
use crate::web::AppState;
pub use index::{Filters, Kind};
pub use source::bump;

/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 100;
/// Hits returned at most.
pub const MAX_HITS: usize = 50;

/// The per-process cache of base indexes, kept in [`AppState`].
#[derive(Default)]
pub struct Indexes {
    by_base: Mutex<HashMap<String, (source::Stamp, Arc<index::BaseIndex>)>>,
}

impl std::fmt::Debug for Indexes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.by_base.lock().map(|m| m.len()).unwrap_or(0);
        f.debug_struct("Indexes").field("bases", &n).finish()
    }
}

impl Indexes {
    /// The base's index as of the database's current stamp, rebuilt if stale.
    /// The stamp is read before the documents, so an index is never older
    /// than its stamp; a change in between only causes one more rebuild.
    pub async fn current(&self, state: &AppState, base_id: &str) -> Result<Arc<index::BaseIndex>, AppError> {
        let today = time::today();
        let stamp = source::stamp(&state.db, base_id, today).await?;
        if let Some((s, idx)) = self.by_base.lock().expect("search cache").get(base_id) {
            if *s == stamp {
                return Ok(idx.clone());
            }
        }
        let docs = source::documents(state, base_id, today).await?;
        let started = std::time::Instant::now();
        let built = tokio::task::spawn_blocking(move || index::BaseIndex::build(docs))
            .await
            .map_err(|e| AppError::Internal(anyhow::anyhow!("search index build: {e}")))?
            .map_err(|e| AppError::Internal(anyhow::anyhow!("search index build: {e}")))?;
        tracing::debug!(
            base_id,
            docs = built.len(),
            ms = started.elapsed().as_millis() as u64,
            "search index built"
        );
        let built = Arc::new(built);
        self.by_base
            .lock()
            .expect("search cache")
            .insert(base_id.to_string(), (stamp, built.clone()));
        Ok(built)
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Hit {
    /// policy | service
    pub kind: String,
    pub id: String,
    pub title: String,
    /// The best passage, plain text
    pub snippet: String,
    /// The same passage as HTML: text escaped, matched words in `<b>`
    pub snippet_html: String,
    pub score: f32,
    #[serde(skip)]
    pub parts: Vec<Part>,
}

/// A piece of a snippet for the page, which escapes `text` itself.
#[derive(Clone, Debug)]
pub struct Part {
    pub text: String,
    pub hit: bool,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Results {
    pub query: String,
    /// The words the query was cut into
    pub words: Vec<String>,
    /// true when no document had every word and the hits have some of them
    pub any_word: bool,
    pub hits: Vec<Hit>,
}

/// Validated search input (raw strings from a form or a query string).
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::IntoParams)]
pub struct SearchParams {
    /// The words to find (Chinese needs no spaces)
    pub q: Option<String>,
    /// policy | service
    pub kind: Option<String>,
    /// 发文机关, exact
    pub issuer: Option<String>,
    /// 服务类别, exact
    pub category: Option<String>,
    /// true: only 免申即享 policies
    pub no_application: Option<String>,
}

fn nonblank(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn parse(p: &SearchParams) -> Result<(String, Vec<String>, Filters), AppError> {
    let mut e = FieldErrors::default();
    let q = p.q.as_deref().unwrap_or("").trim().to_string();
    let words = index::query_tokens(&q);
    if q.chars().count() > MAX_QUERY_CHARS {
        e.push(
            "q",
            "search.query_too_long",
            format!("检索词不能超过{MAX_QUERY_CHARS}个字"),
        );
    } else if words.is_empty() {
        e.push("q", "search.empty_query", "请输入检索词");
    }
    let kind = match nonblank(&p.kind) {
        None => None,
        Some(k) => {
            let parsed = Kind::parse(&k);
            if parsed.is_none() {
                e.push("kind", "search.kind", "类型应为 policy（政策）或 service（服务）");
            }
            parsed
        }
    };
    let no_application = match nonblank(&p.no_application).as_deref() {
        None => None,
        Some("true" | "1" | "on") => Some(true),
        Some("false" | "0") => Some(false),
        Some(_) => {
            e.push(
                "no_application",
                "search.no_application",
                "免申即享筛选应为 true 或 false",
            );
            None
        }
    };
    e.into_result()?;
    let filters = Filters {
        kind,
        issuer: nonblank(&p.issuer),
        category: nonblank(&p.category),
        no_application,
    };
    Ok((q, words, filters))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Cuts a snippet at its highlight ranges (byte offsets on char boundaries).
fn parts(snippet: &str, highlights: &[std::ops::Range<usize>]) -> Vec<Part> {
    let mut out = Vec::new();
    let mut at = 0;
    // Adjacent words (孵化|载体) become one highlight.
    let mut merged: Vec<std::ops::Range<usize>> = Vec::new();
    for r in highlights {
        match merged.last_mut() {
            Some(last) if last.end == r.start => last.end = r.end,
            _ => merged.push(r.clone()),
        }
    }
    for r in &merged {
        let (Some(before), Some(word)) = (snippet.get(at..r.start), snippet.get(r.clone())) else {
            continue;
        };
        if !before.is_empty() {
            out.push(Part {
                text: before.to_string(),
                hit: false,
            });
        }
        out.push(Part {
            text: word.to_string(),
            hit: true,
        });
        at = r.end;
    }
    if let Some(rest) = snippet.get(at..).filter(|s| !s.is_empty()) {
        out.push(Part {
            text: rest.to_string(),
            hit: false,
        });
    }
    out
}

/// Searches the caller's base. Every word must match; if nothing does, the
/// hits with any word are returned (flagged `any_word`).
pub async fn search(state: &AppState, base_id: &str, p: &SearchParams) -> Result<Results, AppError> {
    let (query, words, filters) = parse(p)?;
    let idx = state.search.current(state, base_id).await?;
    let run = |any_word: bool| {
        idx.search(base_id, &words, &filters, any_word, MAX_HITS)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("search: {e}")))
    };
    let mut any_word = false;
    let mut raw = run(false)?;
    if raw.is_empty() && words.len() > 1 {
        any_word = true;
        raw = run(true)?;
    }
    // Re-check in the database: same base, still published / still active.
    let mut visible = Vec::new();
    for kind in [Kind::Policy, Kind::Service] {
        let ids: Vec<&str> = raw.iter().filter(|h| h.kind == kind).map(|h| h.id.as_str()).collect();
        visible.extend(source::still_visible(&state.db, base_id, kind, &ids).await?);
    }
    let hits = raw
        .into_iter()
        .filter(|h| visible.contains(&h.id))
        .map(|h| {
            let parts = parts(&h.snippet, &h.highlights);
            let snippet_html = parts
                .iter()
                .map(|p| {
                    if p.hit {
                        format!("<b>{}</b>", html_escape(&p.text))
                    } else {
                        html_escape(&p.text)
                    }
                })
                .collect();
            Hit {
                kind: h.kind.as_str().to_string(),
                id: h.id,
                title: h.title,
                snippet: h.snippet,
                snippet_html,
                score: h.score,
                parts,
            }
        })
        .collect();
    Ok(Results {
        query,
        words,
        any_word,
        hits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_parts_and_html_escape_everything() {
        let s = "<script>房租</script>补贴";
        let hit = 8..14;
        let p = parts(s, std::slice::from_ref(&hit));
        assert_eq!(p.len(), 3);
        assert!(p[1].hit && p[1].text == "房租");
        assert_eq!(html_escape("<b>&\""), "&lt;b&gt;&amp;&quot;");
    }

    #[test]
    fn an_empty_query_is_a_field_error() {
        for q in [None, Some(""), Some("  ，。")] {
            let p = SearchParams {
                q: q.map(str::to_string),
                ..Default::default()
            };
            match parse(&p) {
                Err(AppError::Validation(f)) => assert_eq!(f[0].code, "search.empty_query"),
                other => panic!("{other:?}"),
            }
        }
    }
}
