#!/usr/bin/env python3
"""Check data/demo/bases.json against the verbatim seed data/seed/first-28-bases.txt.

Usage: python3 data/demo/check_bases.py [bases.json] [seed.txt]
Exits non-zero (AssertionError) on the first inconsistency; prints a summary on success.
Stdlib only.
"""
import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
BASES = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "bases.json"
SEED = Path(sys.argv[2]) if len(sys.argv) > 2 else HERE.parent / "seed" / "first-28-bases.txt"

KINDS = {"region": ("R", 17), "university": ("U", 4), "enterprise": ("E", 7)}
KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")
VALUE_RE = re.compile(r"^\d+(\.\d+)?$")
CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
             "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}


def cn_to_int(s):
    """Convert a simple Chinese numeral (e.g. 十二, 三百五十) to int, or None."""
    if not s or any(c not in CN_DIGITS and c not in CN_UNITS for c in s):
        return None
    total, section, digit = 0, 0, 0
    for c in s:
        if c in CN_DIGITS:
            digit = CN_DIGITS[c]
        else:
            unit = CN_UNITS[c]
            if unit == 10000:
                section = (section + digit) * unit
                total += section
                section = 0
            else:
                section += (digit or 1) * unit
            digit = 0
    return total + section + digit


def standalone(token, text):
    """True if token occurs in text not glued to further digits (so '68' does not match '1,680')."""
    if token and token[0].isdigit():
        pat = r"(?<![\d.,])" + re.escape(token) + r"(?![\d]|[.,]\d)"
        return re.search(pat, text) is not None
    return token in text


def main():
    lines = SEED.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    n_lines = len(lines)
    bases = json.loads(BASES.read_text(encoding="utf-8"))

    assert isinstance(bases, list), "bases.json must be a JSON array"
    assert len(bases) == 28, f"expected 28 bases, got {len(bases)}"

    codes = [b["code"] for b in bases]
    assert len(set(codes)) == 28, f"duplicate codes: {[c for c, n in Counter(codes).items() if n > 1]}"

    kinds = Counter(b["kind"] for b in bases)
    assert kinds == Counter({k: n for k, (_, n) in KINDS.items()}), f"kind counts wrong: {dict(kinds)}"

    # codes numbered in seed order within each kind
    seen_per_kind = Counter()
    for b in bases:
        assert b["kind"] in KINDS, f"{b['code']}: bad kind {b['kind']!r}"
        prefix, _ = KINDS[b["kind"]]
        seen_per_kind[b["kind"]] += 1
        want = f"{prefix}{seen_per_kind[b['kind']]:02d}"
        assert b["code"] == want, f"code {b['code']} should be {want} (seed order within kind)"
        for field in ("name", "province", "city", "region_code", "seed_lines", "indicators"):
            assert field in b, f"{b['code']}: missing field {field}"
        assert isinstance(b["name"], str) and b["name"], f"{b['code']}: empty name"
        rc = b["region_code"]
        assert rc is None or re.fullmatch(r"\d{6}", rc), f"{b['code']}: bad region_code {rc!r}"
        if b["kind"] != "region":
            assert rc is None, f"{b['code']}: region_code only for region bases"

    # seed_lines ordered and non-overlapping
    prev_end = 0
    for b in bases:
        a, z = b["seed_lines"]
        assert 1 <= a <= z <= n_lines, f"{b['code']}: seed_lines {a}-{z} outside 1-{n_lines}"
        assert a > prev_end, f"{b['code']}: seed_lines start {a} overlaps/precedes previous end {prev_end}"
        assert b["name"][:2] in "".join(lines[a - 1:a + 1]), f"{b['code']}: report heading at line {a} does not mention {b['name']!r}"
        prev_end = z

    total = 0
    n_written = 0
    for b in bases:
        a, z = b["seed_lines"]
        keys = Counter()
        for ind in b["indicators"]:
            total += 1
            where = f"{b['code']} line {ind.get('line')} key {ind.get('key')}"
            for field in ("key", "name", "value", "unit", "period", "line", "quote"):
                assert field in ind and ind[field] not in (None, ""), f"{where}: missing/empty {field}"
            assert KEY_RE.match(ind["key"]), f"{where}: key not snake_case"
            keys[ind["key"]] += 1
            assert VALUE_RE.match(ind["value"]), f"{where}: value {ind['value']!r} is not a decimal string"
            ln = ind["line"]
            assert isinstance(ln, int) and a <= ln <= z, f"{where}: line outside base range {a}-{z}"
            q = ind["quote"]
            assert 10 <= len(q) <= 80, f"{where}: quote length {len(q)} not in 10..80"
            assert q in lines[ln - 1], f"{where}: quote {q!r} is not a substring of seed line {ln}"
            if "value_as_written" in ind:
                n_written += 1
                w = ind["value_as_written"]
                assert standalone(w, q), f"{where}: quote does not contain value_as_written {w!r}"
                norm = w.replace(",", "")
                if not VALUE_RE.match(norm):
                    conv = cn_to_int(w)
                    assert conv is not None, f"{where}: cannot interpret value_as_written {w!r}"
                    norm = str(conv)
                assert float(norm) == float(ind["value"]), f"{where}: value_as_written {w!r} != value {ind['value']!r}"
            else:
                assert standalone(ind["value"], q), (
                    f"{where}: quote {q!r} does not contain value {ind['value']!r} as written "
                    "(add value_as_written if the seed uses commas or Chinese digits)")
        dup = [k for k, n in keys.items() if n > 1]
        assert not dup, f"{b['code']}: duplicate indicator keys {dup}"

    per_kind = Counter()
    for b in bases:
        per_kind[b["kind"]] += len(b["indicators"])
    print(f"OK: {len(bases)} bases ({dict(kinds)}), {total} indicators "
          f"(per kind: {dict(per_kind)}), {n_written} with value_as_written; seed {n_lines} lines")
    for b in bases:
        print(f"  {b['code']} {b['name']} lines {b['seed_lines'][0]}-{b['seed_lines'][1]}: {len(b['indicators'])} indicators")


if __name__ == "__main__":
    main()
