//! policy-bench: evaluates the 200 variants of the neutral policy benchmark
//! (shared/bench/policy/POLICIES.md) through the chuangtong rules engine.
//!
//! ```text
//! cargo run --release -p chuangtong-rules --bin policy-bench -- \
//!     --spec policies.json --data enterprises.csv --out results.csv \
//!     [--emit-dir DIR] [--threads N] [--repeat K] [--calculator-runs R]
//! ```
//!
//! Every variant is translated into rules-language source from one template file per template
//! (`policies/bench/<template>.rules`): the variant's parameter values replace the template's
//! `param` defaults, and region / industry filters become extra `require`s. The sources are
//! written to `--emit-dir` (default `target/policy-bench-rules`), compiled, and evaluated by the
//! batch path of the engine — no Rust code per template or variant.
//!
//! Timings go to stderr as `name=value` lines, like the Python runners; the last line is
//! `compute_seconds=…` (best of `--repeat` runs; compiling the batch program, evaluating, and
//! allocating the results are inside the timed phase; CSV parsing and writing are not).
//!
//! The 政策计算器 path is timed too: `R` times (default 1000) one enterprise (cycling through the
//! first 1000 rows) is evaluated against all variants with explanations
//! (`Policy::evaluate` + `Outcome::explain_zh`) on one thread; p50 and p99 are printed.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Instant;

use chuangtong_rules::batch::{BatchInput, BatchProgram, Column};
use chuangtong_rules::{compile, money_literal, FactSchema, ParamOverrides, Policy, Value};
use serde_json::Value as J;

const TEMPLATES: &[(&str, &str)] = &[
    (
        "tax_credit_line",
        include_str!("../../policies/bench/tax_credit_line.rules"),
    ),
    (
        "youth_startup_loan",
        include_str!("../../policies/bench/youth_startup_loan.rules"),
    ),
    (
        "carrier_award",
        include_str!("../../policies/bench/carrier_award.rules"),
    ),
    ("rent_subsidy", include_str!("../../policies/bench/rent_subsidy.rules")),
    (
        "innovation_voucher",
        include_str!("../../policies/bench/innovation_voucher.rules"),
    ),
    ("rd_subsidy", include_str!("../../policies/bench/rd_subsidy.rules")),
    (
        "patent_subsidy",
        include_str!("../../policies/bench/patent_subsidy.rules"),
    ),
    (
        "high_tech_award",
        include_str!("../../policies/bench/high_tech_award.rules"),
    ),
    ("talent_award", include_str!("../../policies/bench/talent_award.rules")),
    ("fee_waiver", include_str!("../../policies/bench/fee_waiver.rules")),
];

fn die(msg: &str) -> ! {
    eprintln!("policy-bench: {msg}");
    std::process::exit(2)
}

fn quote(s: &str) -> String {
    format!("\"{s}\"")
}

fn text_of(v: &J) -> String {
    match v {
        J::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A JSON parameter value rendered as a literal of the declared type.
fn literal(ty: &str, v: &J) -> Result<String, String> {
    let int = |v: &J| v.as_i64().ok_or_else(|| format!("expected an integer, got {v}"));
    Ok(match ty {
        "int" => int(v)?.to_string(),
        "money" => money_literal(int(v)?),
        "rate" => format!("{}bp", int(v)?),
        "set[text]" => {
            let items = v.as_array().ok_or("expected a list")?;
            format!(
                "{{{}}}",
                items.iter().map(|x| quote(&text_of(x))).collect::<Vec<_>>().join(", ")
            )
        }
        t if t.starts_with("table[text -> ") => {
            let inner = t.trim_start_matches("table[text -> ").trim_end_matches(']');
            let obj = v.as_object().ok_or("expected an object")?;
            let mut parts = Vec::new();
            for (k, x) in obj {
                parts.push(format!("{}: {}", quote(k), literal(inner, x)?));
            }
            format!("{{{}}}", parts.join(", "))
        }
        other => return Err(format!("unsupported parameter type {other}")),
    })
}

/// The rules source of one variant: the template with the variant's parameter values and filters.
fn variant_source(template: &str, v: &J) -> Result<String, String> {
    let id = v["id"].as_str().ok_or("variant without id")?;
    let name = v["name_zh"].as_str().unwrap_or(id);
    let params = v["params"].as_object().ok_or("variant without params")?;
    let mut out = String::new();
    let mut seen = 0usize;
    for line in template.lines() {
        if line.starts_with("policy ") {
            out.push_str(&format!("policy {id} {}\n", quote(name)));
        } else if let Some(rest) = line.strip_prefix("param ") {
            let (pname, rest) = rest.split_once(':').ok_or("bad param line")?;
            let (ty, _) = rest.split_once(" = ").ok_or("bad param line")?;
            let (pname, ty) = (pname.trim(), ty.trim());
            let value = params
                .get(pname)
                .ok_or_else(|| format!("{id}: no value for param {pname}"))?;
            out.push_str(&format!("param {pname}: {ty} = {}\n", literal(ty, value)?));
            seen += 1;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if seen != params.len() {
        return Err(format!(
            "{id}: the template declares {seen} params, the variant has {}",
            params.len()
        ));
    }
    if let Some(regions) = v["region_filter"].as_array() {
        let items: Vec<String> = regions.iter().map(|x| quote(&text_of(x))).collect();
        out.push_str(&format!(
            "\n# 适用地区\nrequire \"所在地在适用范围内\": 所在地 in {{{}}}\n",
            items.join(", ")
        ));
    }
    if let Some(inds) = v["industry_filter"].as_array() {
        let items: Vec<String> = inds.iter().map(|x| quote(&text_of(x))).collect();
        out.push_str(&format!(
            "\n# 适用行业\nrequire \"行业门类在适用范围内\": 行业门类 in {{{}}}\n",
            items.join(", ")
        ));
    }
    Ok(out)
}

struct TextCol {
    codes: Vec<u8>,
    dict: Vec<String>,
    index: BTreeMap<Vec<u8>, u8>,
}

impl TextCol {
    fn new(rows: usize) -> TextCol {
        TextCol {
            codes: Vec::with_capacity(rows),
            dict: Vec::new(),
            index: BTreeMap::new(),
        }
    }
    fn push(&mut self, s: &[u8]) {
        let code = match self.index.get(s) {
            Some(c) => *c,
            None => {
                if self.dict.len() >= 256 {
                    die("more than 256 distinct values in a text column");
                }
                let c = self.dict.len() as u8;
                self.dict.push(String::from_utf8_lossy(s).into_owned());
                self.index.insert(s.to_vec(), c);
                c
            }
        };
        self.codes.push(code);
    }
}

fn parse_int(s: &[u8]) -> i64 {
    let mut v: i64 = 0;
    if s.is_empty() {
        die("empty integer field");
    }
    for &c in s {
        if !c.is_ascii_digit() {
            die(&format!("bad integer field {:?}", String::from_utf8_lossy(s)));
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add((c - b'0') as i64))
            .unwrap_or_else(|| die("integer overflow"));
    }
    v
}

const COLUMNS: &[&str] = &[
    "id",
    "uscc",
    "region_code",
    "industry",
    "founded_year",
    "employees",
    "revenue_fen",
    "tax_paid_fen",
    "rd_expense_fen",
    "invention_patents",
    "is_high_tech",
    "controller_age",
    "controller_category",
    "is_individual_business",
    "carrier_level",
    "in_carrier",
    "rent_paid_fen",
    "credit_grade",
    "blacklisted",
    "talent_level",
];

/// Reads the enterprise CSV (POLICIES.md §2) into columns.
fn read_csv(path: &str, schema: &FactSchema, eval_year: i64) -> (Vec<i64>, BatchInput) {
    let data = std::fs::read(path).unwrap_or_else(|e| die(&format!("{path}: {e}")));
    let mut lines = data.split(|b| *b == b'\n').filter(|l| !l.is_empty());
    let header = lines.next().unwrap_or_else(|| die("empty CSV"));
    let header: Vec<&[u8]> = header.split(|b| *b == b',').collect();
    if header.len() != COLUMNS.len() || header.iter().zip(COLUMNS).any(|(h, c)| *h != c.as_bytes()) {
        die("unexpected CSV header");
    }
    let rows_est = data.iter().filter(|b| **b == b'\n').count();
    let kinds: Vec<u8> = COLUMNS
        .iter()
        .map(|c| match *c {
            "id" => b'n',
            "uscc" => b'-',
            "region_code" | "industry" | "controller_category" | "carrier_level" | "credit_grade" | "talent_level" => {
                b't'
            }
            "is_high_tech" | "is_individual_business" | "in_carrier" | "blacklisted" => b'b',
            _ => b'i',
        })
        .collect();
    let mut ints: Vec<Vec<i64>> = (0..COLUMNS.len()).map(|_| Vec::new()).collect();
    let mut bools: Vec<Vec<bool>> = (0..COLUMNS.len()).map(|_| Vec::new()).collect();
    let mut texts: Vec<TextCol> = (0..COLUMNS.len()).map(|_| TextCol::new(0)).collect();
    for (k, kind) in kinds.iter().enumerate() {
        match kind {
            b'n' | b'i' => ints[k].reserve(rows_est),
            b'b' => bools[k].reserve(rows_est),
            b't' => texts[k] = TextCol::new(rows_est),
            _ => {}
        }
    }
    let mut rows = 0usize;
    for line in lines {
        let mut n = 0usize;
        for (k, f) in line.split(|b| *b == b',').enumerate() {
            if k >= COLUMNS.len() {
                die("too many fields");
            }
            match kinds[k] {
                b'n' | b'i' => ints[k].push(parse_int(f)),
                b'b' => bools[k].push(match f {
                    b"0" => false,
                    b"1" => true,
                    _ => die("bad boolean field"),
                }),
                b't' => texts[k].push(f),
                _ => {}
            }
            n += 1;
        }
        if n != COLUMNS.len() {
            die(&format!("row {} has {n} fields", rows + 1));
        }
        rows += 1;
    }
    let mut input = BatchInput::new(rows);
    let mut ids = Vec::new();
    for (k, name) in COLUMNS.iter().enumerate() {
        let col = match kinds[k] {
            b'n' => {
                ids = std::mem::take(&mut ints[k]);
                continue;
            }
            b'-' => continue,
            b'i' => Column::Int(std::mem::take(&mut ints[k])),
            b'b' => Column::Bool(std::mem::take(&mut bools[k])),
            _ => {
                let t = std::mem::replace(&mut texts[k], TextCol::new(0));
                Column::Text {
                    codes: t.codes,
                    dict: t.dict,
                }
            }
        };
        input.insert(schema, name, col).unwrap_or_else(|e| die(&e.to_string()));
    }
    input
        .insert(schema, "eval_year", Column::Const(Value::Int(eval_year)))
        .unwrap_or_else(|e| die(&e.to_string()));
    (ids, input)
}

/// CPU seconds used so far by the whole process (all threads, including finished ones), from
/// `/proc/self/stat` (utime + stime, in USER_HZ = 100 ticks per second); None off Linux.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    // fields 14 and 15 of proc(5); `rest` starts at field 3
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

fn push_int(buf: &mut Vec<u8>, mut v: i64) {
    if v < 0 {
        buf.push(b'-');
        v = -v;
    }
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut opt: BTreeMap<String, String> = BTreeMap::new();
    let mut i = 1;
    while i < args.len() {
        let k = args[i].trim_start_matches("--").to_string();
        let v = args
            .get(i + 1)
            .cloned()
            .unwrap_or_else(|| die(&format!("--{k} needs a value")));
        opt.insert(k, v);
        i += 2;
    }
    let need = |k: &str| {
        opt.get(k).cloned().unwrap_or_else(|| die(&format!("missing --{k} (usage: --spec policies.json --data enterprises.csv --out results.csv [--emit-dir DIR] [--threads N] [--repeat K] [--calculator-runs R])")))
    };
    let (spec_path, data_path, out_path) = (need("spec"), need("data"), need("out"));
    let emit_dir = opt
        .get("emit-dir")
        .cloned()
        .unwrap_or_else(|| "target/policy-bench-rules".into());
    let threads: usize = opt
        .get("threads")
        .map(|t| t.parse().unwrap_or_else(|_| die("bad --threads")))
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let calc_runs: usize = opt
        .get("calculator-runs")
        .map(|t| t.parse().unwrap_or_else(|_| die("bad --calculator-runs")))
        .unwrap_or(1000);
    let repeat: usize = opt
        .get("repeat")
        .map(|t| t.parse().unwrap_or_else(|_| die("bad --repeat")))
        .unwrap_or(1)
        .max(1);

    // Load: spec + CSV (not timed as compute).
    let t0 = Instant::now();
    let spec: J =
        serde_json::from_slice(&std::fs::read(&spec_path).unwrap_or_else(|e| die(&format!("{spec_path}: {e}"))))
            .unwrap_or_else(|e| die(&format!("{spec_path}: {e}")));
    let eval_year = spec["eval_year"]
        .as_i64()
        .unwrap_or_else(|| die("spec without eval_year"));
    let schema = FactSchema::enterprise();
    let (ids, input) = read_csv(&data_path, &schema, eval_year);
    let load = t0.elapsed().as_secs_f64();

    // Setup: translate every variant into rules source, save it, compile it.
    let t0 = Instant::now();
    let mut globals = ParamOverrides::new();
    globals.insert(
        "小微企业从业人数上限",
        Value::Int(
            spec["small_micro"]["employees_lt"]
                .as_i64()
                .unwrap_or_else(|| die("spec without small_micro")),
        ),
    );
    globals.insert(
        "小微企业营业收入上限",
        Value::Money(
            spec["small_micro"]["revenue_fen_lt"]
                .as_i64()
                .unwrap_or_else(|| die("spec without small_micro")),
        ),
    );
    let variants = spec["variants"]
        .as_array()
        .unwrap_or_else(|| die("spec without variants"));
    std::fs::create_dir_all(&emit_dir).unwrap_or_else(|e| die(&format!("{emit_dir}: {e}")));
    let mut policies: Vec<(Policy, ParamOverrides)> = Vec::new();
    let mut vids = Vec::new();
    for v in variants {
        let id = v["id"]
            .as_str()
            .unwrap_or_else(|| die("variant without id"))
            .to_string();
        let tname = v["template"]
            .as_str()
            .unwrap_or_else(|| die("variant without template"));
        let template = TEMPLATES
            .iter()
            .find(|(n, _)| *n == tname)
            .map(|(_, s)| *s)
            .unwrap_or_else(|| die(&format!("unknown template {tname}")));
        let src = variant_source(template, v).unwrap_or_else(|e| die(&e));
        std::fs::write(format!("{emit_dir}/{id}_{tname}.rules"), &src).unwrap_or_else(|e| die(&e.to_string()));
        let p = compile(&src, &schema).unwrap_or_else(|es| {
            die(&format!(
                "{id}: {}",
                es.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ")
            ))
        });
        policies.push((p, globals.clone()));
        vids.push(id);
    }
    let setup = t0.elapsed().as_secs_f64();

    // Compute (timed): compile the batch program and evaluate.
    let mut runs = Vec::new();
    let mut cpu_runs = Vec::new();
    let mut result = None;
    let mut nodes = 0;
    let mut scalar = Vec::new();
    let mut plans: BTreeMap<&str, usize> = BTreeMap::new();
    for _ in 0..repeat {
        drop(result.take());
        let c0 = process_cpu_seconds();
        let t0 = Instant::now();
        let prog = BatchProgram::compile(&policies, &input)
            .unwrap_or_else(|es| die(&es.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ")));
        let r = prog.run(&input, threads);
        runs.push(t0.elapsed().as_secs_f64());
        if let (Some(c0), Some(c1)) = (c0, process_cpu_seconds()) {
            cpu_runs.push(c1 - c0);
        }
        nodes = prog.node_count();
        scalar = prog.scalar_policies().iter().map(|s| s.to_string()).collect();
        plans = BTreeMap::new();
        for i in 0..policies.len() {
            *plans.entry(prog.amount_plan(i)).or_insert(0usize) += 1;
        }
        result = Some(r);
    }
    let result = result.unwrap_or_default();
    let compute = runs.iter().cloned().fold(f64::INFINITY, f64::min);

    // Write (not timed as compute).
    let t0 = Instant::now();
    let errors: usize = result.policies.iter().map(|p| p.errors.len()).sum();
    let f = std::fs::File::create(&out_path).unwrap_or_else(|e| die(&format!("{out_path}: {e}")));
    let mut w = std::io::BufWriter::with_capacity(1 << 22, f);
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
    buf.extend_from_slice(b"id");
    for id in &vids {
        buf.extend_from_slice(format!(",{id}_ok,{id}_amt").as_bytes());
    }
    buf.push(b'\n');
    let mut cursors = vec![0usize; result.policies.len()];
    for (row, id) in ids.iter().enumerate() {
        push_int(&mut buf, *id);
        for (p, cur) in result.policies.iter().zip(cursors.iter_mut()) {
            if p.is_ok(row) {
                buf.extend_from_slice(b",1,");
                push_int(&mut buf, p.amounts.get(row, *cur));
                *cur += 1;
            } else {
                buf.extend_from_slice(b",0,0");
            }
        }
        buf.push(b'\n');
        if buf.len() > (1 << 20) {
            w.write_all(&buf).unwrap_or_else(|e| die(&e.to_string()));
            buf.clear();
        }
    }
    w.write_all(&buf).unwrap_or_else(|e| die(&e.to_string()));
    w.flush().unwrap_or_else(|e| die(&e.to_string()));
    let write = t0.elapsed().as_secs_f64();

    // The 政策计算器 path: all variants with explanations for one enterprise, one thread; the
    // enterprise cycles through the first rows (facts are built outside the timed part).
    let calc_runs = if input.rows() == 0 { 0 } else { calc_runs };
    let mut calc: Vec<f64> = Vec::with_capacity(calc_runs);
    let mut lines = 0usize;
    for run in 0..calc_runs {
        let facts = input.row_facts(run % input.rows().min(1000));
        let t0 = Instant::now();
        for (p, ov) in &policies {
            lines += p.evaluate(&facts, ov).explain_zh().len();
        }
        calc.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    std::hint::black_box(lines);
    calc.sort_by(|a, b| a.total_cmp(b));
    let pct = |q: f64| -> f64 {
        if calc.is_empty() {
            return f64::NAN;
        }
        calc[((calc.len() as f64 * q).ceil() as usize).clamp(1, calc.len()) - 1]
    };
    let calc_mean = calc.iter().sum::<f64>() / calc.len().max(1) as f64;

    let n = input.rows();
    eprintln!("engine=chuangtong-rules-{}", env!("CARGO_PKG_VERSION"));
    eprintln!("rows={n} variants={}", vids.len());
    eprintln!("threads={threads}");
    eprintln!("batch_nodes={nodes} scalar_policies={}", scalar.len());
    eprintln!(
        "amount_plans={}",
        plans
            .iter()
            .map(|(k, n)| format!("{k}:{n}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    eprintln!("emitted_sources={emit_dir}");
    eprintln!("load_seconds={load:.3}");
    eprintln!("setup_seconds={setup:.3}");
    if repeat > 1 {
        eprintln!(
            "compute_runs_seconds={}",
            runs.iter().map(|r| format!("{r:.3}")).collect::<Vec<_>>().join(",")
        );
    }
    if !cpu_runs.is_empty() {
        // CPU of both threads together, 10 ms resolution: the mean over the runs is the figure
        eprintln!(
            "compute_cpu_seconds_mean={:.3} (all threads, {} runs, 10 ms ticks)",
            cpu_runs.iter().sum::<f64>() / cpu_runs.len() as f64,
            cpu_runs.len()
        );
    }
    eprintln!("write_seconds={write:.3}");
    eprintln!(
        "calculator_ms_p50={:.3} calculator_ms_p99={:.3} calculator_ms_mean={calc_mean:.3} calculator_runs={} \
         (one enterprise, all {} variants with explanations, one thread)",
        pct(0.50),
        pct(0.99),
        calc.len(),
        vids.len()
    );
    eprintln!("evaluation_errors={errors}");
    eprintln!("rows_per_second={:.0}", n as f64 / compute);
    eprintln!("compute_seconds={compute:.3}");
    if errors > 0 {
        std::process::exit(1);
    }
}
