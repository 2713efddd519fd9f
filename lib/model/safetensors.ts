/**
 * Reads and writes the huggingface safetensors format
 * (https://github.com/huggingface/safetensors, "Format" in its README):
 *
 * ```
 * [8 bytes: N, u64 little-endian][N bytes: UTF-8 JSON header, space-padded][byte buffer]
 * header = { NAME: { "dtype": "F32", "shape": [2, 3], "data_offsets": [BEGIN, END] }, ...,
 *            "__metadata__": { KEY: "string value", ... } }
 * ```
 *
 * Offsets are relative to the start of the byte buffer; data is little-endian,
 * row-major. We write tensors in name order, pad the header with spaces to a
 * multiple of 8 (so the buffer starts 8-aligned), and decode with the reference
 * reader's checks: the tensors must tile the buffer exactly (no overlap, no gap, no
 * trailing bytes). Decoded arrays are copies with their own aligned buffers, so
 * they are safe to keep after the file bytes are dropped.
 *
 * Only the dtypes this project stores are supported: F32, I32, I64, F64.
 * @module
 */

/** Thrown for a malformed file or an invalid tensor; the message names the source and the check. */
export class SafetensorsError extends Error {
  override name = "SafetensorsError";
}

/** One tensor: dtype, row-major shape (`[]` for a scalar) and its data. */
export interface STensor {
  /** Element type, as spelled in safetensors headers. */
  dtype: "F32" | "I32" | "I64" | "F64";
  /** Dimensions; the data holds their product of elements (1 for `[]`). */
  shape: number[];
  /** Row-major data; its array type must match `dtype`. */
  data: Float32Array | Int32Array | BigInt64Array | Float64Array;
}

type DType = STensor["dtype"];
type TypedCtor =
  | Float32ArrayConstructor
  | Int32ArrayConstructor
  | BigInt64ArrayConstructor
  | Float64ArrayConstructor;

const DTYPES = {
  F32: { bytes: 4, ctor: Float32Array, array: "Float32Array" },
  I32: { bytes: 4, ctor: Int32Array, array: "Int32Array" },
  I64: { bytes: 8, ctor: BigInt64Array, array: "BigInt64Array" },
  F64: { bytes: 8, ctor: Float64Array, array: "Float64Array" },
} as const satisfies Record<DType, { bytes: number; ctor: TypedCtor; array: string }>;

const DTYPE_NAMES = Object.keys(DTYPES).join(", ");
const METADATA_KEY = "__metadata__";
/** The reference reader refuses headers above 100 MB; so do we. */
export const MAX_HEADER_BYTES = 100_000_000;
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Serialises tensors (and optional string metadata) to safetensors bytes.
 *
 * Tensors are laid out in name order; the header is padded with spaces to a
 * multiple of 8. Throws {@linkcode SafetensorsError} naming the tensor when a dtype is
 * unknown, the array type does not match the dtype, a shape is not a list of whole
 * numbers >= 0, or the element count differs from the shape's product; and for a
 * metadata value that is not a string or a tensor named `__metadata__`.
 *
 * @example
 * ```ts
 * import { decodeSafetensors, encodeSafetensors } from "./safetensors.ts";
 * import { assertEquals } from "@std/assert";
 * const w = { dtype: "F32" as const, shape: [2], data: new Float32Array([1, 2]) };
 * const { tensors } = decodeSafetensors(encodeSafetensors({ w }));
 * assertEquals(tensors.w?.shape, [2]);
 * assertEquals(tensors.w?.data, new Float32Array([1, 2]));
 * ```
 */
export function encodeSafetensors(
  tensors: Record<string, STensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  if (tensors === null || typeof tensors !== "object") {
    throw new SafetensorsError(
      `Invalid tensors: expected an object of name -> tensor, got ${tensors}`,
    );
  }
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    const meta = checkMetadata(metadata, "Invalid metadata");
    if (Object.keys(meta).length > 0) header[METADATA_KEY] = meta;
  }
  let offset = 0;
  const layout: Array<{ t: STensor; begin: number }> = [];
  for (const name of names) {
    if (name === METADATA_KEY) {
      throw new SafetensorsError(`Invalid tensor name "${METADATA_KEY}": reserved for metadata`);
    }
    const t = tensors[name]!;
    checkTensor(t, name);
    const nbytes = t.data.length * DTYPES[t.dtype].bytes;
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + nbytes] };
    layout.push({ t, begin: offset });
    offset += nbytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLen = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLen + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  const base = 8 + headerLen;
  for (const { t, begin } of layout) {
    const src = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    out.set(src, base + begin);
    if (!LITTLE_ENDIAN_HOST) {
      swapBytes(out.subarray(base + begin, base + begin + src.length), DTYPES[t.dtype].bytes);
    }
  }
  return out;
}

/**
 * Parses safetensors bytes. `source` (a file path, default `"<bytes>"`) names the
 * input in every error.
 *
 * Checks, each a {@linkcode SafetensorsError} naming `source`: at least 8 bytes; the
 * header length within the file (and <= 100 MB); the header is UTF-8 JSON holding an
 * object; `__metadata__` maps strings to strings; every tensor has a supported
 * dtype, a shape of whole numbers >= 0, and `data_offsets` `[begin, end]` whose size
 * matches shape x dtype; the tensors tile the buffer exactly (nothing out of range or
 * truncated, no overlap, no gap, no trailing bytes).
 *
 * @example
 * ```ts
 * import { decodeSafetensors, SafetensorsError } from "./safetensors.ts";
 * import { assertThrows } from "@std/assert";
 * assertThrows(
 *   () => decodeSafetensors(new Uint8Array(3), "model.safetensors"),
 *   SafetensorsError,
 *   "Invalid safetensors file model.safetensors: file is 3 bytes",
 * );
 * ```
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  source = "<bytes>",
): { tensors: Record<string, STensor>; metadata: Record<string, string> } {
  const fail = (what: string): never => {
    throw new SafetensorsError(`Invalid safetensors file ${source}: ${what}`);
  };
  if (!(bytes instanceof Uint8Array)) fail(`expected a Uint8Array, got ${typeof bytes}`);
  if (bytes.length < 8) {
    fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length prefix`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  const available = bytes.length - 8;
  if (n64 > BigInt(available)) {
    fail(`header length ${n64} exceeds the file (${available} bytes after the 8-byte prefix)`);
  }
  const n = Number(n64);
  if (n > MAX_HEADER_BYTES) fail(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);

  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    return fail("header is not valid UTF-8");
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    fail(
      `header must be a JSON object, got ${Array.isArray(header) ? "an array" : String(header)}`,
    );
  }
  const entries = header as Record<string, unknown>;
  let metadata: Record<string, string> = {};
  if (METADATA_KEY in entries) {
    try {
      metadata = checkMetadata(entries[METADATA_KEY], METADATA_KEY);
    } catch (e) {
      fail((e as Error).message);
    }
  }

  const bufferStart = 8 + n;
  const bufferLen = bytes.length - bufferStart;
  const specs: Array<{ name: string; dtype: DType; shape: number[]; begin: number; end: number }> =
    [];
  for (const [name, raw] of Object.entries(entries)) {
    if (name === METADATA_KEY) continue;
    const where = `tensor "${name}"`;
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      fail(`${where}: expected an object {dtype, shape, data_offsets}, got ${JSON.stringify(raw)}`);
    }
    const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
    if (typeof dtype !== "string" || !(dtype in DTYPES)) {
      fail(`${where}: unsupported dtype ${JSON.stringify(dtype)}, expected one of ${DTYPE_NAMES}`);
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      fail(`${where}: shape must be a list of whole numbers >= 0, got ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      fail(
        `${where}: data_offsets must be [begin, end] whole numbers >= 0, got ${
          JSON.stringify(offsets)
        }`,
      );
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) fail(`${where}: data_offsets [${begin}, ${end}] end before begin`);
    const d = dtype as DType;
    const count = elementCount(shape as number[]);
    if (count === undefined) fail(`${where}: shape ${JSON.stringify(shape)} is too large`);
    const expected = count! * DTYPES[d].bytes;
    if (end - begin !== expected) {
      fail(
        `${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes, but shape ` +
          `${JSON.stringify(shape)} of ${d} needs ${expected}`,
      );
    }
    if (end > bufferLen) {
      fail(
        `${where}: data_offsets [${begin}, ${end}] out of range: the data buffer has ` +
          `${bufferLen} bytes (file truncated?)`,
      );
    }
    specs.push({ name, dtype: d, shape: [...(shape as number[])], begin, end });
  }

  // Tiling check, as the reference reader does: sorted by begin, each tensor starts
  // where the previous one ended, and the last one ends at the end of the file.
  const order = [...specs].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let prev = "";
  for (const s of order) {
    if (s.begin < cursor) {
      fail(
        `tensor "${s.name}" at [${s.begin}, ${s.end}] overlaps tensor "${prev}" (ends at ${cursor})`,
      );
    }
    if (s.begin > cursor) {
      fail(`gap of ${s.begin - cursor} bytes before tensor "${s.name}" at offset ${s.begin}`);
    }
    cursor = s.end;
    prev = s.name;
  }
  if (cursor !== bufferLen) {
    fail(`${bufferLen - cursor} trailing bytes after the last tensor (data ends at ${cursor})`);
  }

  const tensors: Record<string, STensor> = {};
  for (const s of specs) {
    // slice() copies into a fresh ArrayBuffer: aligned for any element size, and
    // independent of the file bytes.
    const copy = bytes.slice(bufferStart + s.begin, bufferStart + s.end);
    if (!LITTLE_ENDIAN_HOST) swapBytes(copy, DTYPES[s.dtype].bytes);
    const data = new DTYPES[s.dtype].ctor(copy.buffer) as STensor["data"];
    tensors[s.name] = { dtype: s.dtype, shape: s.shape, data };
  }
  return { tensors, metadata };
}

/**
 * Writes tensors to `path` atomically: the bytes go to a temporary file in the same
 * folder, which is flushed to disk (fsync, where the platform allows) and then
 * renamed over `path`. Readers see the old file or the new one, never a part. The
 * temporary file is removed if anything fails. Encoding errors are those of
 * {@linkcode encodeSafetensors}.
 */
export async function writeSafetensorsFile(
  path: string,
  tensors: Record<string, STensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  if (typeof path !== "string" || path === "") {
    throw new SafetensorsError(`Invalid path: expected a file path, got ${JSON.stringify(path)}`);
  }
  const bytes = encodeSafetensors(tensors, metadata);
  const slash = path.lastIndexOf("/");
  const dir = slash >= 0 ? path.slice(0, slash) || "/" : ".";
  const base = slash >= 0 ? path.slice(slash + 1) : path;
  const tmp = `${dir === "/" ? "" : dir}/.${base}.${Deno.pid}.${
    crypto.randomUUID().slice(0, 8)
  }.tmp`;
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(tmp, { write: true, createNew: true });
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    try {
      await file.syncData();
    } catch { /* fsync unsupported here (some virtual file systems): rename is still atomic */ }
    file.close();
    file = undefined;
    await Deno.rename(tmp, path);
  } catch (e) {
    try {
      file?.close();
    } catch { /* already closed */ }
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  // Persist the rename itself where directories can be fsync'ed (Linux).
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch { /* not supported on this platform */ }
}

/**
 * Reads and decodes a safetensors file. I/O errors are Deno's (they name the path);
 * format errors are {@linkcode SafetensorsError}s naming `path`.
 */
export async function readSafetensorsFile(
  path: string,
): Promise<{ tensors: Record<string, STensor>; metadata: Record<string, string> }> {
  return decodeSafetensors(await Deno.readFile(path), path);
}

function checkTensor(t: STensor, name: string): void {
  const where = `tensor "${name}"`;
  if (t === null || typeof t !== "object") {
    throw new SafetensorsError(`Invalid ${where}: expected {dtype, shape, data}, got ${t}`);
  }
  if (typeof t.dtype !== "string" || !(t.dtype in DTYPES)) {
    throw new SafetensorsError(
      `Invalid ${where}: unsupported dtype ${
        JSON.stringify(t.dtype)
      }, expected one of ${DTYPE_NAMES}`,
    );
  }
  const spec = DTYPES[t.dtype];
  if (!(t.data instanceof spec.ctor)) {
    const got = (t.data as { constructor?: { name?: string } } | null)?.constructor?.name ??
      String(t.data);
    throw new SafetensorsError(
      `Invalid ${where}: dtype ${t.dtype} needs a ${spec.array}, got ${got}`,
    );
  }
  if (!Array.isArray(t.shape) || !t.shape.every(isCount)) {
    throw new SafetensorsError(
      `Invalid ${where}: shape must be a list of whole numbers >= 0, got ${
        JSON.stringify(t.shape)
      }`,
    );
  }
  const count = elementCount(t.shape);
  if (count !== t.data.length) {
    if (count === undefined) {
      throw new SafetensorsError(`Invalid ${where}: shape ${JSON.stringify(t.shape)} is too large`);
    }
    throw new SafetensorsError(
      `Invalid ${where}: shape ${JSON.stringify(t.shape)} holds ${count} elements, ` +
        `but data has ${t.data.length}`,
    );
  }
}

function checkMetadata(meta: unknown, what: string): Record<string, string> {
  if (meta === null || typeof meta !== "object" || Array.isArray(meta)) {
    throw new SafetensorsError(
      `${what}: expected an object of string values, got ${JSON.stringify(meta)}`,
    );
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) {
    if (typeof v !== "string") {
      throw new SafetensorsError(
        `${what}: value for key "${k}" must be a string, got ${JSON.stringify(v)}`,
      );
    }
    out[k] = v;
  }
  return out;
}

function isCount(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}

/** Product of the dimensions, or undefined when it is not a safe integer. */
function elementCount(shape: readonly number[]): number | undefined {
  let n = 1;
  for (const d of shape) n *= d;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Reverses each `width`-byte group in place (big-endian hosts only). */
function swapBytes(b: Uint8Array, width: number): void {
  for (let i = 0; i < b.length; i += width) b.subarray(i, i + width).reverse();
}
