import { assert, assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import type { VerdictDocument } from "../../lib/experiments/_verdicts.ts";
import {
  BEGIN,
  chooseFigures,
  claimItem,
  copyFigures,
  type DocRow,
  END,
  formatDuration,
  generatedRegion,
  groupRows,
  paperTableOf,
  replaceGenerated,
  type ResultsDoc,
  seedsToDecide,
} from "../../tools/results_doc.ts";

// The tool reads verdicts.json without importing lib/: this line fails to type-check when the
// document lib/experiments/_verdicts.ts writes no longer has the fields the tool reads.
const _schema: (d: VerdictDocument) => ResultsDoc = (d) => d;

const base: DocRow = {
  experiment: "01_reward_models",
  id: "",
  claim: "",
  metric: "PB F1 Avg. (%)",
  metric_key: "pb/rm_process/oracle/avg",
  kind: "claim",
  direction: "higher",
  n: 3,
  mean: 1,
  ci_low: -1,
  ci_high: 3,
  paper: 4,
  p: 0.2,
  q_bh: 0.3,
  outcome: "inconclusive",
  halves_flip: false,
  seeds_needed: 9,
};
const row = (r: Partial<DocRow>): DocRow => ({ ...base, ...r });

/** A hand-built verdicts.json: 2 baselines, 5 claims over 3 paper tables, 2 levels. */
const ROWS: DocRow[] = [
  row({
    kind: "baseline",
    id: "b1",
    claim: "IPVRM − random",
    outcome: "reproduced",
    paper: null,
    q_bh: 0.01,
  }),
  row({
    kind: "baseline",
    id: "b2",
    claim: "IPVRM − policy log-prob",
    paper: null,
    seeds_needed: 40,
  }),
  row({ id: "pb_dpo", claim: "IPVRM − DPO-RM", outcome: "reproduced", q_bh: 0.01, mean: 5 }),
  row({
    id: "bon_dpo",
    claim: "IPVRM − DPO-RM",
    metric: "BoN acc. Avg. (%)",
    metric_key: "bon/rm/avg",
    seeds_needed: 241,
  }),
  row({ id: "pb_iprm", claim: "IPVRM − Implicit PRM", outcome: "absent", seeds_needed: 4 }),
  row({
    experiment: "03_main_rl",
    id: "avg_distrl_vs_prime",
    claim: "DistRL − PRIME",
    metric: "avg@8 Avg. (%)",
    metric_key: "eval/avg/mean",
    outcome: "opposite",
    mean: -2.5,
    ci_low: -3,
    ci_high: -2,
    q_bh: 0.06,
    halves_flip: true,
  }),
  row({
    experiment: "03_main_rl",
    id: "t6_x",
    claim: "GRPO w/ IPVRM − GRPO w/ DPO-RM",
    metric: "avg@8 Avg. (%)",
    metric_key: "eval/avg/mean",
    seeds_needed: null,
    n: 1,
  }),
  row({
    experiment: "07_p_min",
    id: "p005:sftcand/size",
    kind: "level",
    claim: "P_min=0.05",
    metric: "candidate-set size (tokens)",
    metric_key: "sftcand/size",
    direction: null,
    mean: 1.144,
    ci_low: 1.13,
    ci_high: 1.15,
    paper: 1.54,
    outcome: null,
    seeds_needed: null,
  }),
  row({
    experiment: "07_p_min",
    id: "p010:sftcand/size",
    kind: "level",
    claim: "P_min=0.10",
    metric: "candidate-set size (tokens)",
    metric_key: "sftcand/size",
    direction: null,
    mean: 1.141,
    ci_low: 1.13,
    ci_high: 1.15,
    paper: 1.33,
    outcome: null,
    seeds_needed: null,
  }),
];

const DOC: ResultsDoc = {
  preset: "default",
  seeds: [1, 2, 3],
  halves: [[1, 2], [3]],
  seconds: 2166.2,
  counts: {
    rows: 7,
    claims: 5,
    baselines: 2,
    levels: 2,
    outcomes: { reproduced: 2, opposite: 1, absent: 1, inconclusive: 3 },
    decided: 4,
    decided_bh: 1,
    decided_bh_claims: 1,
    halves: { rows: 0, agree: 0, flipped: 0 },
    baselines_reproduced: 1,
  },
  rows: ROWS,
};

Deno.test("formatDuration() writes wall seconds as hours and minutes", () => {
  assertEquals(formatDuration(45), "45 s");
  assertEquals(formatDuration(2166.2), "36 min");
  assertEquals(formatDuration(3600), "1 h 00 min");
  assertEquals(formatDuration(9930), "2 h 46 min");
  assertEquals(formatDuration(NaN), "n/a");
});

Deno.test("paperTableOf() takes the row's own table, else the experiment's rule", () => {
  assertEquals(paperTableOf(ROWS[2]!).label, "Table 2"); // 01, pb/*
  assertEquals(paperTableOf(ROWS[3]!).label, "Table 1"); // 01, bon/*
  assertEquals(paperTableOf(ROWS[5]!).label, "Table 5"); // 03
  assertEquals(paperTableOf(ROWS[6]!).label, "Table 6"); // 03, t6_*
  assertEquals(paperTableOf(ROWS[7]!).label, "Table 11");
  assertEquals(paperTableOf(row({ table: 9 })).label, "Table 9");
  assertEquals(paperTableOf(row({ table: "Sec. 4.3.3" })).label, "Sec. 4.3.3");
  assertEquals(paperTableOf(row({ experiment: "42_new" })).label, "42_new");
});

Deno.test("groupRows() orders paper tables by number and keeps rows in file order", () => {
  const groups = groupRows(ROWS.filter((r) => r.kind === "claim"), paperTableOf);
  assertEquals(groups.map((g) => g.label), ["Table 1", "Table 2", "Table 5", "Table 6"]);
  assertEquals(groups[1]!.rows.map((r) => r.id), ["pb_dpo", "pb_iprm"]);
  assertEquals(groups[2]!.experiments, ["03_main_rl"]);
});

Deno.test("claimItem() shows n only when it differs from the run's seeds, and what is missing", () => {
  assertEquals(
    claimItem(ROWS[3]!, { seeds: 3 }),
    "IPVRM − DPO-RM, BoN acc. Avg. (%): +1 [-1, +3] (paper +4; needs 241 seeds)",
  );
  assertEquals(
    claimItem(ROWS[6]!, { seeds: 3 }),
    "GRPO w/ IPVRM − GRPO w/ DPO-RM, avg@8 Avg. (%): +1 [-1, +3] (n = 1; paper +4; seeds needed unknown (too few seeds for a spread))",
  );
  assertStringIncludes(
    claimItem(ROWS[5]!, { seeds: 3 }),
    "(paper +4; not after BH, q = 0.06; halves flip)",
  );
  assertStringIncludes(
    claimItem(row({ seeds_needed: 3 }), { seeds: 3 }),
    "needs more than its 3 seeds (the observed spread asks 3)",
  );
  assertStringIncludes(
    claimItem(row({ outcome: "reproduced", q_bh: 0.01, sd: 0 }), { seeds: 3 }),
    "(paper +4; zero spread: every seed gave the same difference)",
  );
  assertEquals(seedsToDecide(ROWS), 241);
});

Deno.test("generatedRegion() opens with the counts, then baselines, short answers, levels, figures", () => {
  const text = generatedRegion(DOC, {
    date: "2026-12-05",
    figures: [{
      experiment: "01_reward_models",
      name: "claims_pb_f1_avg",
      title: "PB F1 <b>[%]</b>",
      source: "x",
      bytes: 1,
    }],
  });
  assert(text.startsWith(BEGIN + "\n") && text.endsWith(END + "\n"), text);
  assertStringIncludes(
    text,
    "Preset `default`, seeds 1, 2, 3 (halves 1, 2 | 3), wall time 36 min, run of 2026-12-05.",
  );
  assertStringIncludes(text, "**4 of 7 rows decided** pooled (2 reproduced, 1 opposite, 1 absent");
  assertStringIncludes(text, "**1 after Benjamini-Hochberg** (1 of them claim rows)");
  assertStringIncludes(text, "halves agree on **0 of 0** decided rows with **0 flips**");
  const at = (s: string) => {
    const i = text.indexOf(s);
    assert(i >= 0, `missing ${JSON.stringify(s)} in\n${text}`);
    return i;
  };
  assert(at("### Can the testbed tell an RM from no RM?") < at("### Short answer per paper table"));
  assert(at("### Short answer per paper table") < at("### Levels beside the paper's"));
  assert(at("### Levels beside the paper's") < at("### Key figures"));
  // Baselines: grouped by experiment and metric, without the paper column.
  assertStringIncludes(text, "**01_reward_models · PB F1 Avg. (%)**");
  assertStringIncludes(text, "- decided for (1): IPVRM − random: +1 [-1, +3].");
  assertStringIncludes(
    text,
    "- still undecided (1): IPVRM − policy log-prob: +1 [-1, +3] (needs 40 seeds).",
  );
  // Claims: one block per paper table with its counts and the seeds the undecided need.
  assertStringIncludes(
    text,
    "**Table 2** (01_reward_models): 1 decided for, 1 absent at the paper's size.",
  );
  assertStringIncludes(
    text,
    "**Table 1** (01_reward_models): 1 still undecided; the undecided would need up to 241 seeds.",
  );
  assertStringIncludes(
    text,
    "- decided against (1): DistRL − PRIME, avg@8 Avg. (%): -2.5 [-3, -2]",
  );
  assertStringIncludes(text, "- absent at the paper's size (1): IPVRM − Implicit PRM, PB F1");
  assert(at("**Table 1**") < at("**Table 2**") && at("**Table 2**") < at("**Table 5**"));
  // Levels: one line per metric, arms with CIs beside the paper's level.
  assertStringIncludes(
    text,
    "| Table 11 | candidate-set size (tokens) | P_min=0.05: 1.14 [1.13, 1.15] (1.54); P_min=0.10: 1.14 [1.13, 1.15] (1.33) |",
  );
  // Figures: relative links to docs/figures, alt text without tags or brackets.
  assertStringIncludes(text, "**01_reward_models** (Table 1, Table 2)");
  assertStringIncludes(
    text,
    "![PB F1 (%)](figures/01_reward_models/claims_pb_f1_avg.svg)",
  );
  for (const bad of ["/work/", "/tmp/", "/home/"]) assert(!text.includes(bad), bad);
});

Deno.test("replaceGenerated() replaces only the marked region; the rest stays byte for byte", () => {
  const region = `${BEGIN}\nnew body\n${END}\n`;
  const before = "# Results: verdicts per paper table\r\n\n"; // odd bytes survive as they are
  const after = "\n## The verdict rule\n\ntrailing  spaces  \n\n\n| a |\n";
  const doc = `${before}${BEGIN}\nold body\nmore\n${END}\n${after}`;
  const out = replaceGenerated(doc, region);
  assertEquals(out, `${before}${region}${after}`);
  assert(out.startsWith(before) && out.endsWith(after));
  assertEquals(replaceGenerated(out, region), out, "idempotent");
  // First run: inserted after the title, one blank line on each side.
  const plain = "# Title\n\nIntro.\n";
  assertEquals(replaceGenerated(plain, region), `# Title\n\n${region}\nIntro.\n`);
  assertEquals(replaceGenerated("no title\n", region), `${region}\nno title\n`);
  assertThrows(() => replaceGenerated(`${END}\n${BEGIN}\n`, region), Error, "exactly one");
  assertThrows(() => replaceGenerated(doc, "no markers"), Error, "Invalid region");
});

Deno.test("chooseFigures() takes claims_* and headline SVGs under a byte cap; copyFigures() prunes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pvl_resultsdoc_" });
  try {
    const fig = `${dir}/figures`;
    const write = async (path: string, bytes: number) => {
      await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
      await Deno.writeTextFile(path, "x".repeat(bytes));
    };
    await write(`${fig}/01_reward_models/claims_pb.svg`, 100);
    await write(`${fig}/01_reward_models/claims_bon.svg`, 100);
    await write(`${fig}/01_reward_models/other.svg`, 100);
    await write(`${fig}/07_p_min/cand_size.svg`, 100);
    await write(`${fig}/_smoke/01_reward_models/claims_pb.svg`, 100);
    await Deno.writeTextFile(
      `${fig}/01_reward_models/claims_pb.json`,
      JSON.stringify({ layout: { title: { text: "PB title" } } }),
    );
    const { chosen, skipped } = await chooseFigures(fig, { maxBytes: 250 });
    assertEquals(chosen.map((f) => `${f.experiment}/${f.name}`), [
      "01_reward_models/claims_bon",
      "01_reward_models/claims_pb",
    ]);
    assertEquals(chosen[1]!.title, "PB title");
    assertEquals(skipped.length, 1);
    assertStringIncludes(skipped[0]!, "07_p_min/cand_size.svg");
    const dest = `${dir}/docs/figures`;
    await write(`${dest}/06_margin/stale.svg`, 10);
    const log = await copyFigures(chosen, dest);
    assert(
      log.some((l) => l.startsWith("removed") && l.endsWith("06_margin/stale.svg")),
      log.join("\n"),
    );
    assertEquals(
      [...Deno.readDirSync(`${dest}/01_reward_models`)].map((e) => e.name).sort(),
      ["claims_bon.svg", "claims_pb.svg"],
    );
    assertEquals((await chooseFigures(`${dir}/missing`)).chosen, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
