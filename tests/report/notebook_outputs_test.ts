import { assertEquals, assertThrows } from "@std/assert";
import {
  absolutePaths,
  formatNotebook,
  mergeOutputs,
  type Notebook,
  scrubText,
  scrubValue,
} from "../../tools/notebook_outputs.ts";

const opts = { roots: ["/work/main", "/tmp/pvl_nb.x1/"], home: "/root" };

Deno.test("scrubText() replaces repo roots by '.', $HOME by '~' and drops plot-id timestamps", () => {
  assertEquals(scrubText("file:///work/main/lib/a.ts:3:5", opts), "./lib/a.ts:3:5");
  assertEquals(scrubText("/tmp/pvl_nb.x1/notebooks/x.ipynb", opts), "./notebooks/x.ipynb");
  assertEquals(scrubText("cache in /root/.cache/pvl", opts), "cache in ~/.cache/pvl");
  assertEquals(
    scrubText('<div id="pvl-fig-m3x9k2-7">..getElementById("pvl-fig-m3x9k2-7")', opts),
    '<div id="pvl-fig-7">..getElementById("pvl-fig-7")',
  );
  // Roots inside $HOME: the root wins (longest first, before $HOME).
  assertEquals(scrubText("/root/repo/lib", { roots: ["/root/repo"], home: "/root" }), "./lib");
  assertEquals(scrubText("a / b", { roots: ["/"], home: "/" }), "a / b", "'/' is no root");
});

Deno.test("scrubValue() scrubs every string in nested outputs, keys untouched", () => {
  assertEquals(
    scrubValue({ "/work/main": ["/work/main/x", 1, null, { t: "/root/y" }] }, opts),
    { "/work/main": ["./x", 1, null, { t: "~/y" }] },
  );
  assertEquals(absolutePaths("at /work/x and file:///y"), ["/work/", "file:///"]);
});

const committed: Notebook = {
  cells: [
    { cell_type: "markdown", id: "m", metadata: {}, source: ["# T\n"] },
    {
      cell_type: "code",
      id: "c",
      metadata: { tags: ["keep"] },
      execution_count: null,
      outputs: [],
      source: ["1 + 1"],
    },
  ],
  metadata: { kernelspec: { name: "deno" } },
  nbformat: 4,
  nbformat_minor: 5,
};

const executed: Notebook = {
  cells: [
    { cell_type: "markdown", id: "zz", metadata: {}, source: "# T\n" },
    {
      cell_type: "code",
      id: "yy",
      metadata: { execution: { "iopub.execute_input": "2026-12-05T12:00:00Z" } },
      execution_count: 1,
      outputs: [{ output_type: "stream", name: "stdout", text: ["read /work/main/results\n"] }],
      source: "1 + 1",
    },
  ],
  metadata: { kernelspec: { name: "deno" }, language_info: { version: "6.0.3" } },
  nbformat: 4,
  nbformat_minor: 5,
};

Deno.test("mergeOutputs() takes outputs and counts only; ids, metadata and timestamps stay out", () => {
  const merged = mergeOutputs(committed, executed, opts);
  assertEquals(merged.metadata, committed.metadata);
  assertEquals(merged.cells[0], committed.cells[0]);
  assertEquals(merged.cells[1], {
    ...committed.cells[1]!,
    execution_count: 1,
    outputs: [{ output_type: "stream", name: "stdout", text: ["read ./results\n"] }],
  });
  // Key order kept, so the committed file's diff shows the outputs only.
  assertEquals(Object.keys(merged.cells[1]!), Object.keys(committed.cells[1]!));
  assertEquals(formatNotebook(merged).endsWith("}\n"), true);
  assertEquals(formatNotebook(merged).split("\n")[1], ' "cells": [');
});

Deno.test("mergeOutputs() refuses an executed notebook whose cells do not line up", () => {
  assertThrows(
    () => mergeOutputs(committed, { ...executed, cells: executed.cells.slice(1) }, opts),
    Error,
    "1 cells, the committed one has 2",
  );
  const edited = structuredClone(executed);
  edited.cells[1]!.source = "2 + 2";
  assertThrows(() => mergeOutputs(committed, edited, opts), Error, "cell 1 differs");
});
