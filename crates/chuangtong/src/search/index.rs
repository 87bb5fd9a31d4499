//! One base's in-memory tantivy index: build it from documents, query it.
//!
//! This file knows nothing about the database or the web (it depends only on
//! tantivy and jieba), so the indexing benchmark can include it as is.
//!
//! Why in RAM: the database is the source of truth and the index a cache that
//! any process rebuilds in milliseconds, so there is no index directory to
//! back up, share between processes or repair after a crash.

use std::ops::Range;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, STORED, STRING};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::{LowerCaser, RemoveLongFilter, TextAnalyzer, TokenStream, Tokenizer};
use tantivy::{Index, IndexReader, ReloadPolicy, TantivyDocument, Term};
use tantivy_jieba::JiebaTokenizer;

/// The tokenizer name registered on every index.
const JIEBA: &str = "jieba";
/// Longest snippet, in characters.
const SNIPPET_CHARS: usize = 120;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Policy,
    Service,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Policy => "policy",
            Kind::Service => "service",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "policy" => Some(Kind::Policy),
            "service" => Some(Kind::Service),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::Policy => "政策",
            Kind::Service => "服务",
        }
    }
}

/// What gets indexed for one policy or service.
#[derive(Clone, Debug)]
pub struct Doc {
    pub base_id: String,
    pub kind: Kind,
    pub id: String,
    pub title: String,
    /// Full text, required documents, condition labels; description for a service.
    pub body: String,
    /// Issuer and document number; provider and category for a service.
    pub meta: String,
    /// Exact-match filter values ("" when not applicable).
    pub issuer: String,
    pub category: String,
    pub no_application: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Filters {
    pub kind: Option<Kind>,
    pub issuer: Option<String>,
    pub category: Option<String>,
    pub no_application: Option<bool>,
}

/// A hit before the database re-check: `snippet` with byte ranges to highlight.
#[derive(Clone, Debug)]
pub struct RawHit {
    pub kind: Kind,
    pub id: String,
    pub title: String,
    pub score: f32,
    pub snippet: String,
    pub highlights: Vec<Range<usize>>,
}

#[derive(Clone, Copy)]
struct Fields {
    ord: Field,
    base_id: Field,
    kind: Field,
    issuer: Field,
    category: Field,
    no_app: Field,
    title: Field,
    body: Field,
    meta: Field,
}

pub struct BaseIndex {
    docs: Vec<Doc>,
    index: Index,
    reader: IndexReader,
    f: Fields,
}

impl std::fmt::Debug for BaseIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BaseIndex").field("docs", &self.docs.len()).finish()
    }
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    // Frequencies are enough for BM25; snippets re-tokenize the text, so no positions.
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(JIEBA)
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let f = Fields {
        ord: b.add_u64_field("ord", STORED),
        base_id: b.add_text_field("base_id", STRING),
        kind: b.add_text_field("kind", STRING),
        issuer: b.add_text_field("issuer", STRING),
        category: b.add_text_field("category", STRING),
        no_app: b.add_text_field("no_application", STRING),
        title: b.add_text_field("title", text.clone()),
        body: b.add_text_field("body", text.clone()),
        meta: b.add_text_field("meta", text),
    };
    (b.build(), f)
}

/// Dictionary words only (no HMM guessing of unknown words): several times
/// faster, and index and query cut the same way.
fn jieba(search_mode: bool) -> JiebaTokenizer {
    let mut t = JiebaTokenizer::with_search_mode(search_mode);
    t.set_hmm(false);
    t
}

/// Index-time analyzer: jieba's search mode also emits the shorter words
/// inside a long one (孵化载体认定奖励 → 孵化, 载体, 认定, 奖励), so a query
/// for any of them matches; Latin letters are lower-cased.
fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(jieba(true))
        .filter(RemoveLongFilter::limit(64))
        .filter(LowerCaser)
        .build()
}

/// The words of a user query: jieba's precise mode (each word once, which the
/// index's search mode also produced), lower-cased, without punctuation or spaces.
pub fn query_tokens(q: &str) -> Vec<String> {
    let mut tok = jieba(false);
    let mut stream = tok.token_stream(q);
    let mut out: Vec<String> = Vec::new();
    while stream.advance() {
        let t = stream.token().text.to_lowercase();
        if t.chars().any(char::is_alphanumeric) && t.len() <= 64 && !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

impl BaseIndex {
    /// Builds the index of one base from its documents.
    pub fn build(docs: Vec<Doc>) -> tantivy::Result<BaseIndex> {
        let (schema, f) = schema();
        let index = Index::create_in_ram(schema);
        index.tokenizers().register(JIEBA, analyzer());
        {
            // One thread: the machine's other core serves requests; 10,000
            // documents still index in well under a second.
            let mut writer = index.writer_with_num_threads::<TantivyDocument>(1, 64 << 20)?;
            for (ord, d) in docs.iter().enumerate() {
                let mut doc = TantivyDocument::new();
                doc.add_u64(f.ord, ord as u64);
                doc.add_text(f.base_id, &d.base_id);
                doc.add_text(f.kind, d.kind.as_str());
                doc.add_text(f.issuer, &d.issuer);
                doc.add_text(f.category, &d.category);
                doc.add_text(f.no_app, if d.no_application { "1" } else { "0" });
                doc.add_text(f.title, &d.title);
                doc.add_text(f.body, &d.body);
                doc.add_text(f.meta, &d.meta);
                writer.add_document(doc)?;
            }
            writer.commit()?;
            writer.wait_merging_threads()?;
        }
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        Ok(BaseIndex { docs, index, reader, f })
    }

    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Every word must occur (in the title, the text or the issuer/provider),
    /// unless `any_word`; the base and the filters are required terms, so a
    /// hit can only ever be a document of `base_id`.
    pub fn search(
        &self,
        base_id: &str,
        words: &[String],
        filters: &Filters,
        any_word: bool,
        limit: usize,
    ) -> tantivy::Result<Vec<RawHit>> {
        let f = self.f;
        let term = |field: Field, value: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, value),
                IndexRecordOption::WithFreqs,
            ))
        };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, term(f.base_id, base_id))];
        if let Some(k) = filters.kind {
            clauses.push((Occur::Must, term(f.kind, k.as_str())));
        }
        if let Some(i) = &filters.issuer {
            clauses.push((Occur::Must, term(f.issuer, i)));
        }
        if let Some(c) = &filters.category {
            clauses.push((Occur::Must, term(f.category, c)));
        }
        if let Some(n) = filters.no_application {
            clauses.push((Occur::Must, term(f.no_app, if n { "1" } else { "0" })));
        }
        let mut text: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for w in words {
            let any_field: Box<dyn Query> = Box::new(BooleanQuery::new(vec![
                (Occur::Should, Box::new(BoostQuery::new(term(f.title, w), 3.0))),
                (Occur::Should, term(f.body, w)),
                (Occur::Should, Box::new(BoostQuery::new(term(f.meta, w), 1.5))),
            ]));
            text.push((if any_word { Occur::Should } else { Occur::Must }, any_field));
        }
        clauses.push((Occur::Must, Box::new(BooleanQuery::new(text))));
        let query = BooleanQuery::new(clauses);

        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(limit.max(1)).order_by_score())?;
        let mut body_snippets = SnippetGenerator::create(&searcher, &query, f.body)?;
        body_snippets.set_max_num_chars(SNIPPET_CHARS);
        let mut meta_snippets = SnippetGenerator::create(&searcher, &query, f.meta)?;
        meta_snippets.set_max_num_chars(SNIPPET_CHARS);
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let stored: TantivyDocument = searcher.doc(addr)?;
            let Some(ord) = stored.get_first(f.ord).and_then(|v| v.as_u64()) else {
                continue;
            };
            let d = &self.docs[ord as usize];
            // The text's best passage; else the issuer/provider line; else the text's start.
            let mut s = body_snippets.snippet(&d.body);
            if s.is_empty() {
                s = meta_snippets.snippet(&d.meta);
            }
            let (snippet, highlights) = if s.is_empty() {
                (d.body.chars().take(SNIPPET_CHARS).collect(), Vec::new())
            } else {
                (
                    s.fragment().to_string(),
                    tantivy::snippet::collapse_overlapped_ranges(s.highlighted()),
                )
            };
            hits.push(RawHit {
                kind: d.kind,
                id: d.id.clone(),
                title: d.title.clone(),
                score,
                snippet,
                highlights,
            });
        }
        Ok(hits)
    }

    /// The tantivy index (for tests that look inside).
    pub fn index(&self) -> &Index {
        &self.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(kind: Kind, id: &str, title: &str, body: &str) -> Doc {
        Doc {
            base_id: "b1".into(),
            kind,
            id: id.into(),
            title: title.into(),
            body: body.into(),
            meta: "福州市财政局".into(),
            issuer: "福州市财政局".into(),
            category: String::new(),
            no_application: false,
        }
    }

    #[test]
    fn chinese_words_inside_longer_titles_are_found() {
        let idx = BaseIndex::build(vec![
            doc(
                Kind::Policy,
                "p1",
                "园区企业房租补贴",
                "入驻园区的企业按实际租金给予补贴。",
            ),
            doc(Kind::Policy, "p2", "孵化载体认定奖励", "国家级孵化器奖励100万元。"),
            doc(Kind::Service, "s1", "技术检测服务包（基础）", "第三方检测报告。"),
        ])
        .unwrap();
        let find = |q: &str| {
            idx.search("b1", &query_tokens(q), &Filters::default(), false, 10)
                .unwrap()
                .into_iter()
                .map(|h| h.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(find("房租补贴"), ["p1"]);
        assert_eq!(find("孵化载体"), ["p2"]);
        assert_eq!(find("检测"), ["s1"]);
        assert!(find("财政局").len() == 3);
        // Another base's id never matches.
        assert!(idx
            .search("b2", &query_tokens("补贴"), &Filters::default(), false, 10)
            .unwrap()
            .is_empty());
        // Snippet highlights are byte ranges on the fragment.
        let h = &idx
            .search("b1", &query_tokens("租金"), &Filters::default(), false, 10)
            .unwrap()[0];
        assert_eq!(&h.snippet[h.highlights[0].clone()], "租金");
    }

    #[test]
    fn punctuation_is_not_a_word() {
        assert!(query_tokens("  ，。！ ").is_empty());
        assert_eq!(query_tokens("SBIR 补贴"), ["sbir", "补贴"]);
    }
}
