// Renders every formula of `infonce explain --format markdown` with KaTeX
// and fails on the first one KaTeX refuses. Run by .ci/run after
// `cargo test` (which builds target/debug/infonce):
//
//   npm ci --prefix tests/katex && (cd tests/katex && npm test)
//
// It checks the committed golden files and the walkthrough of other inputs
// (every layout, overflow into log form, long vectors, both languages).

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import katex from "katex";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const bin = join(root, "target", "debug", "infonce");

// The math of a Markdown page: `$$...$$` display blocks first, then `$...$`
// inline spans outside code spans.
export function formulas(md) {
  const out = [];
  const rest = md.replace(/\$\$([\s\S]*?)\$\$/g, (_, tex) => {
    out.push({ tex: tex.trim(), display: true });
    return " ";
  });
  for (const line of rest.split("\n")) {
    const noCode = line.replace(/`[^`]*`/g, " ");
    for (const m of noCode.matchAll(/\$([^$\n]+)\$/g)) {
      out.push({ tex: m[1], display: false });
    }
  }
  return out;
}

function check(name, md) {
  const all = formulas(md);
  assert.ok(all.length > 10, `${name}: only ${all.length} formulas found`);
  for (const { tex, display } of all) {
    try {
      katex.renderToString(tex, {
        displayMode: display,
        throwOnError: true,
        strict: (code) => (code === "unicodeTextInMathMode" ? "ignore" : "error"),
      });
    } catch (e) {
      assert.fail(`${name}: KaTeX refuses ${JSON.stringify(tex)}: ${e.message}`);
    }
  }
  return all.length;
}

function explain(args) {
  return execFileSync(bin, ["explain", "--format", "markdown", ...args], {
    cwd: root,
    encoding: "utf8",
  });
}

test("formula extraction finds display and inline math", () => {
  const f = formulas("a $x$ b `$no$`\n$$\\frac{1}{2}$$\n");
  assert.deepEqual(f, [
    { tex: "\\frac{1}{2}", display: true },
    { tex: "x", display: false },
  ]);
});

test("KaTeX refuses a broken formula", () => {
  assert.throws(() => check("broken", "$$\\frac{1}{$$\n".repeat(11)));
});

test("golden Markdown files render", () => {
  const dir = join(root, "tests", "golden", "explain");
  const files = readdirSync(dir).filter((f) => f.endsWith(".md"));
  assert.ok(files.length >= 2);
  for (const f of files) check(f, readFileSync(join(dir, f), "utf8"));
});

test("walkthroughs of other inputs render", () => {
  const dir = mkdtempSync(join(tmpdir(), "infonce-katex-"));
  // Queries and keys, and pairs: small text files.
  const rows = (n, d, seed) =>
    Array.from({ length: n }, (_, i) =>
      Array.from({ length: d }, (_, j) => (Math.sin(seed * 7 + i * 3.1 + j * 1.7) * 2).toFixed(3)).join(","),
    ).join("\n") + "\n";
  writeFileSync(join(dir, "q.csv"), rows(5, 3, 1));
  writeFileSync(join(dir, "k.csv"), rows(5, 3, 2));
  writeFileSync(join(dir, "e.csv"), rows(8, 12, 3));
  writeFileSync(join(dir, "p.csv"), "0,1\n0,2\n3,4\n");
  const cases = [
    ["--anchor", "2"],
    ["--lang", "en+zh"],
    ["fixtures/large_dot.npy", "--sim", "dot", "--tau", "1e-3", "--max-terms", "2"],
    ["fixtures/twoview_f32.npy", "--anchor", "3", "--max-terms", "3"],
    [join(dir, "q.csv"), "--keys", join(dir, "k.csv"), "--symmetric", "--anchor", "1", "--direction", "key-to-query"],
    [join(dir, "e.csv"), "--pairs", join(dir, "p.csv"), "--symmetric", "--anchor", "0"],
    [join(dir, "e.csv"), "--sim", "dot", "--tau", "0.05"],
    ["fixtures/large_dot.npy", "--sim", "dot", "--tau", "1e-3", "--max-terms", "2", "--decoupled"],
    ["fixtures/neg_queries.npy", "--keys", "fixtures/neg_keys.npy", "--negatives", "fixtures/neg_per_anchor.npy", "--no-in-batch", "--decoupled"],
    ["fixtures/neg_views.npy", "--negatives", "fixtures/neg_shared.npy", "--decoupled", "--max-terms", "3"],
    ["fixtures/labels_emb.npy", "--labels", "fixtures/labels.npy", "--negatives", "fixtures/neg_shared.npy", "--max-terms", "3"],
    ["fixtures/labels_emb.npy", "--labels", "fixtures/labels.npy", "--multi-positive", "pairwise", "--anchor", "2"],
  ];
  let n = 0;
  for (const c of cases) {
    for (const lang of ["en", "zh"]) {
      const args = c.includes("--lang") ? c : [...c, "--lang", lang];
      n += check(args.join(" "), explain(args));
    }
  }
  assert.ok(n > 100);
});
