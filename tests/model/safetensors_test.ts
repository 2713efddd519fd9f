import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import {
  decodeSafetensors,
  encodeSafetensors,
  readSafetensorsFile,
  SafetensorsError,
  type STensor,
  writeSafetensorsFile,
} from "../../lib/model/safetensors.ts";

/** The bytes behind a typed array, for bit-exact comparison (NaN payloads, -0). */
function bytesOf(a: STensor["data"]): number[] {
  return Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
}

function assertSameTensors(got: Record<string, STensor>, want: Record<string, STensor>): void {
  assertEquals(Object.keys(got).sort(), Object.keys(want).sort());
  for (const [name, w] of Object.entries(want)) {
    const g = got[name]!;
    assertEquals(g.dtype, w.dtype, `${name}: dtype`);
    assertEquals(g.shape, w.shape, `${name}: shape`);
    assertEquals(g.data.constructor, w.data.constructor, `${name}: array type`);
    assertEquals(bytesOf(g.data), bytesOf(w.data), `${name}: bytes`);
  }
}

const nanWithPayload = new Float32Array(new Uint32Array([0x7fc00123]).buffer)[0]!;

const ALL: Record<string, STensor> = {
  "f32.matrix": {
    dtype: "F32",
    shape: [2, 3],
    data: new Float32Array([1, -0, 1.5, Infinity, nanWithPayload, 3e-45]),
  },
  "f32.scalar": { dtype: "F32", shape: [], data: new Float32Array([0.1]) },
  "f32.empty": { dtype: "F32", shape: [0], data: new Float32Array(0) },
  "i32.vec": { dtype: "I32", shape: [3], data: new Int32Array([-2147483648, 0, 2147483647]) },
  "i32.empty2d": { dtype: "I32", shape: [2, 0], data: new Int32Array(0) },
  "i64.vec": {
    dtype: "I64",
    shape: [3],
    data: new BigInt64Array([-(2n ** 63n), 1n, 2n ** 63n - 1n]),
  },
  "i64.scalar": { dtype: "I64", shape: [], data: new BigInt64Array([-5n]) },
  "f64.cube": {
    dtype: "F64",
    shape: [1, 1, 3],
    data: new Float64Array([Math.PI, -0, Number.MIN_VALUE]),
  },
  "f64.empty": { dtype: "F64", shape: [0, 4], data: new Float64Array(0) },
};

Deno.test("encode/decode round-trips every dtype bit-exactly, empties and scalars included", async (t) => {
  for (const [name, tensor] of Object.entries(ALL)) {
    await t.step(`${name} alone`, () => {
      const { tensors, metadata } = decodeSafetensors(encodeSafetensors({ [name]: tensor }));
      assertSameTensors(tensors, { [name]: tensor });
      assertEquals(metadata, {});
    });
  }
  await t.step("all together, with metadata", () => {
    const meta = { format: "pt", step: "12", note: "ünïcode ✓" };
    const bytes = encodeSafetensors(ALL, meta);
    const { tensors, metadata } = decodeSafetensors(bytes);
    assertSameTensors(tensors, ALL);
    assertEquals(metadata, meta);
  });
  await t.step("decoded arrays are aligned copies that survive the source bytes", () => {
    // f32.scalar then i64 after an odd F32 count: an unaligned offset in the buffer.
    const bytes = encodeSafetensors({
      a: { dtype: "F32", shape: [1], data: new Float32Array([1]) },
      b: { dtype: "F64", shape: [1], data: new Float64Array([2]) },
    });
    const { tensors } = decodeSafetensors(bytes);
    bytes.fill(0);
    assertEquals(tensors.b!.data.byteOffset, 0);
    assertEquals(tensors.b!.data[0], 2);
    assertEquals(tensors.a!.data[0], 1);
  });
  await t.step("a subarray view with a byteOffset decodes the same", () => {
    const bytes = encodeSafetensors(ALL);
    const padded = new Uint8Array(bytes.length + 3);
    padded.set(bytes, 3);
    assertSameTensors(decodeSafetensors(padded.subarray(3)).tensors, ALL);
  });
});

// {"__metadata__":{"format":"pt"},"a":{..F32 [2]..},"b":{..I32 []..}} is 138 bytes,
// padded with 6 spaces to 144 = 0x90; then a = [1.5, -2] and b = -7, little-endian.
const HEADER =
  '{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
  '"b":{"dtype":"I32","shape":[],"data_offsets":[8,12]}}      ';
const HAND_BUILT = new Uint8Array([
  ...[144, 0, 0, 0, 0, 0, 0, 0],
  ...new TextEncoder().encode(HEADER),
  ...[0, 0, 192, 63], // 1.5f
  ...[0, 0, 0, 192], // -2.0f
  ...[249, 255, 255, 255], // -7
]);

Deno.test("a hand-built file decodes to the values written byte by byte", () => {
  assertEquals(HEADER.length, 144);
  const { tensors, metadata } = decodeSafetensors(HAND_BUILT, "hand.safetensors");
  assertEquals(metadata, { format: "pt" });
  assertEquals(tensors.a!.dtype, "F32");
  assertEquals(tensors.a!.shape, [2]);
  assertEquals(tensors.a!.data, new Float32Array([1.5, -2]));
  assertEquals(tensors.b!.dtype, "I32");
  assertEquals(tensors.b!.shape, []);
  assertEquals(tensors.b!.data, new Int32Array([-7]));
});

Deno.test("encode writes exactly the reference layout: name order, space padding to 8", () => {
  const bytes = encodeSafetensors({
    b: { dtype: "I32", shape: [], data: new Int32Array([-7]) },
    a: { dtype: "F32", shape: [2], data: new Float32Array([1.5, -2]) },
  }, { format: "pt" });
  assertEquals(Array.from(bytes), Array.from(HAND_BUILT));
});

/** A file made of a header object and raw buffer bytes, for corrupt-input tests. */
function fileWith(header: unknown, buffer: number[] = [], rawHeader?: string): Uint8Array {
  const json = new TextEncoder().encode(rawHeader ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + buffer.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(buffer, 8 + json.length);
  return out;
}

/** `bytes` with the byte at `index` replaced. */
function withByte(bytes: Uint8Array, index: number, value: number): Uint8Array {
  bytes[index] = value;
  return bytes;
}

const F32_2 = { dtype: "F32", shape: [2], data_offsets: [0, 8] };

Deno.test("decode rejects malformed files with the source and the problem", async (t) => {
  const cases: Array<[string, Uint8Array, string]> = [
    [
      "shorter than 8 bytes",
      new Uint8Array(5),
      "file is 5 bytes, shorter than the 8-byte header length prefix",
    ],
    [
      "header length beyond the file",
      HAND_BUILT.slice(0, 100),
      "header length 144 exceeds the file (92 bytes",
    ],
    ["invalid JSON", fileWith(null, [], '{"a": {"dtype": "F32",'), "header is not valid JSON"],
    [
      "invalid UTF-8",
      withByte(fileWith(null, [], '{"a":1}'), 12, 0xff),
      "header is not valid UTF-8",
    ],
    ["JSON that is not an object", fileWith([1, 2]), "header must be a JSON object, got an array"],
    [
      "unknown dtype",
      fileWith({ a: { ...F32_2, dtype: "F16" } }, new Array(8).fill(0)),
      'tensor "a": unsupported dtype "F16", expected one of F32, I32, I64, F64',
    ],
    [
      "negative dimension",
      fileWith({ a: { ...F32_2, shape: [-2] } }, new Array(8).fill(0)),
      'tensor "a": shape must be a list of whole numbers >= 0, got [-2]',
    ],
    [
      "bad data_offsets",
      fileWith({ a: { ...F32_2, data_offsets: [0] } }, new Array(8).fill(0)),
      'tensor "a": data_offsets must be [begin, end]',
    ],
    [
      "shape/offset size mismatch",
      fileWith({ a: { ...F32_2, shape: [3] } }, new Array(8).fill(0)),
      'tensor "a": data_offsets [0, 8] span 8 bytes, but shape [3] of F32 needs 12',
    ],
    [
      "offsets out of range",
      fileWith({ a: { ...F32_2, data_offsets: [8, 16] } }, new Array(8).fill(0)),
      'tensor "a": data_offsets [8, 16] out of range: the data buffer has 8 bytes',
    ],
    [
      "overlapping tensors",
      fileWith({ a: F32_2, b: { ...F32_2, data_offsets: [4, 12] } }, new Array(12).fill(0)),
      'tensor "b" at [4, 12] overlaps tensor "a" (ends at 8)',
    ],
    [
      "a gap",
      fileWith({ a: { ...F32_2, data_offsets: [4, 12] } }, new Array(12).fill(0)),
      'gap of 4 bytes before tensor "a"',
    ],
    [
      "trailing bytes",
      fileWith({ a: F32_2 }, new Array(10).fill(0)),
      "2 trailing bytes after the last tensor",
    ],
    [
      "metadata value not a string",
      fileWith({ __metadata__: { step: 3 } }),
      '__metadata__: value for key "step" must be a string, got 3',
    ],
    [
      "metadata not an object",
      fileWith({ __metadata__: "x" }),
      '__metadata__: expected an object of string values, got "x"',
    ],
  ];
  for (const [what, bytes, message] of cases) {
    await t.step(what, () => {
      const e = assertThrows(() => decodeSafetensors(bytes, "bad.safetensors"), SafetensorsError);
      assertStringIncludes(e.message, "Invalid safetensors file bad.safetensors: ");
      assertStringIncludes(e.message, message);
    });
  }
});

Deno.test("a truncated file fails clearly, naming the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pvl-st-" });
  try {
    const path = `${dir}/model.safetensors`;
    const full = encodeSafetensors(ALL);
    await Deno.writeFile(path, full.slice(0, full.length - 5));
    const e = await assertRejects(() => readSafetensorsFile(path), SafetensorsError);
    assertStringIncludes(e.message, `Invalid safetensors file ${path}: `);
    assertStringIncludes(e.message, "out of range");
    assertStringIncludes(e.message, "file truncated?");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a corrupted header fails clearly, naming the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pvl-st-" });
  try {
    const path = `${dir}/model.safetensors`;
    const bytes = encodeSafetensors(ALL);
    bytes[8] = "[".charCodeAt(0); // the header's opening brace
    await Deno.writeFile(path, bytes);
    const e = await assertRejects(() => readSafetensorsFile(path), SafetensorsError);
    assertStringIncludes(e.message, `Invalid safetensors file ${path}: header is not valid JSON`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("encode rejects tensors that do not match their dtype or shape", async (t) => {
  const cases: Array<[string, Record<string, STensor>, string]> = [
    [
      "array type vs dtype",
      { w: { dtype: "F32", shape: [2], data: new Float64Array(2) } },
      'Invalid tensor "w": dtype F32 needs a Float32Array, got Float64Array',
    ],
    [
      "unknown dtype",
      { w: { dtype: "F16" as "F32", shape: [2], data: new Float32Array(2) } },
      'Invalid tensor "w": unsupported dtype "F16"',
    ],
    [
      "element count vs shape",
      { w: { dtype: "I32", shape: [2, 2], data: new Int32Array(3) } },
      'Invalid tensor "w": shape [2,2] holds 4 elements, but data has 3',
    ],
    [
      "scalar with two values",
      { s: { dtype: "F64", shape: [], data: new Float64Array(2) } },
      'Invalid tensor "s": shape [] holds 1 elements, but data has 2',
    ],
    [
      "fractional dimension",
      { w: { dtype: "F32", shape: [1.5], data: new Float32Array(1) } },
      'Invalid tensor "w": shape must be a list of whole numbers >= 0, got [1.5]',
    ],
    [
      "reserved name",
      { __metadata__: { dtype: "F32", shape: [], data: new Float32Array(1) } },
      'Invalid tensor name "__metadata__"',
    ],
  ];
  for (const [what, tensors, message] of cases) {
    await t.step(what, () => {
      assertThrows(() => encodeSafetensors(tensors), SafetensorsError, message);
    });
  }
  await t.step("metadata values must be strings", () => {
    assertThrows(
      () => encodeSafetensors({}, { step: 3 } as unknown as Record<string, string>),
      SafetensorsError,
      'Invalid metadata: value for key "step" must be a string, got 3',
    );
  });
});

Deno.test("writeSafetensorsFile() is atomic: it replaces the file and leaves no temp file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pvl-st-" });
  try {
    const path = `${dir}/ckpt.safetensors`;
    await writeSafetensorsFile(path, { a: ALL["f32.matrix"]! }, { step: "1" });
    await writeSafetensorsFile(path, ALL, { step: "2" });
    const entries = [];
    for await (const e of Deno.readDir(dir)) entries.push(e.name);
    assertEquals(entries, ["ckpt.safetensors"]);
    const { tensors, metadata } = await readSafetensorsFile(path);
    assertSameTensors(tensors, ALL);
    assertEquals(metadata, { step: "2" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeSafetensorsFile() leaves the old file and no temp file when encoding fails", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pvl-st-" });
  try {
    const path = `${dir}/ckpt.safetensors`;
    await writeSafetensorsFile(path, ALL);
    const bad = { w: { dtype: "F32", shape: [3], data: new Float32Array(2) } } as Record<
      string,
      STensor
    >;
    await assertRejects(() => writeSafetensorsFile(path, bad), SafetensorsError, 'tensor "w"');
    await assertRejects(
      () => writeSafetensorsFile(`${dir}/missing/x.safetensors`, ALL),
      Deno.errors.NotFound,
    );
    const entries = [];
    for await (const e of Deno.readDir(dir)) entries.push(e.name);
    assertEquals(entries, ["ckpt.safetensors"]);
    assertSameTensors((await readSafetensorsFile(path)).tensors, ALL);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// Cross-check with the reference implementation (huggingface `safetensors` for
// Python, numpy API). Debian bookworm has no python3-safetensors package and PyPI is
// not reachable from our machines, so this is skipped here; it runs wherever
// `python3 -c "import safetensors.numpy"` works.
const PYTHON_REASON = pythonSafetensorsMissing();
if (PYTHON_REASON) console.log(`safetensors python cross-check skipped: ${PYTHON_REASON}`);

function pythonSafetensorsMissing(): string | undefined {
  try {
    const r = new Deno.Command("python3", {
      args: ["-c", "import numpy, safetensors.numpy"],
      stdout: "null",
      stderr: "piped",
    }).outputSync();
    if (r.success) return undefined;
    const lines = new TextDecoder().decode(r.stderr).trim().split("\n");
    return `python3 cannot import safetensors.numpy (${lines[lines.length - 1]})`;
  } catch (e) {
    return `python3 not runnable (${(e as Error).message})`;
  }
}

const PY_CHECK = `
import json, sys
import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file
src, dst = sys.argv[1], sys.argv[2]
loaded = load_file(src)
with safe_open(src, framework="numpy") as f:
    meta = f.metadata()
out = {k: {"dtype": str(v.dtype), "shape": list(v.shape), "hex": v.astype(v.dtype.newbyteorder("<")).tobytes().hex()} for k, v in loaded.items()}
save_file({
    "x": np.array([[1.5, -2.0, 0.25]], dtype=np.float32),
    "y": np.array([-(2**63), 7], dtype=np.int64),
    "z": np.array(3.0, dtype=np.float64),
    "w": np.zeros((0, 2), dtype=np.int32),
}, dst, metadata={"who": "python"})
print(json.dumps({"tensors": out, "metadata": meta}))
`;

Deno.test({
  name: "files agree with the python reference implementation both ways",
  ignore: PYTHON_REASON !== undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "pvl-st-py-" });
    try {
      const ours = `${dir}/ours.safetensors`;
      const theirs = `${dir}/theirs.safetensors`;
      await writeSafetensorsFile(ours, ALL, { who: "deno" });
      const r = await new Deno.Command("python3", { args: ["-c", PY_CHECK, ours, theirs] })
        .output();
      assert(r.success, new TextDecoder().decode(r.stderr));
      const py = JSON.parse(new TextDecoder().decode(r.stdout)) as {
        tensors: Record<string, { dtype: string; shape: number[]; hex: string }>;
        metadata: Record<string, string>;
      };
      assertEquals(py.metadata, { who: "deno" });
      const npType = { F32: "float32", I32: "int32", I64: "int64", F64: "float64" } as const;
      for (const [name, t] of Object.entries(ALL)) {
        const p = py.tensors[name]!;
        assertEquals(p.dtype, npType[t.dtype], `${name}: dtype`);
        assertEquals(p.shape, t.shape, `${name}: shape`);
        const hex = bytesOf(t.data).map((b) => b.toString(16).padStart(2, "0")).join("");
        assertEquals(p.hex, hex, `${name}: bytes`);
      }
      const back = await readSafetensorsFile(theirs);
      assertEquals(back.metadata, { who: "python" });
      assertSameTensors(back.tensors, {
        x: { dtype: "F32", shape: [1, 3], data: new Float32Array([1.5, -2, 0.25]) },
        y: { dtype: "I64", shape: [2], data: new BigInt64Array([-(2n ** 63n), 7n]) },
        z: { dtype: "F64", shape: [], data: new Float64Array([3]) },
        w: { dtype: "I32", shape: [0, 2], data: new Int32Array(0) },
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
