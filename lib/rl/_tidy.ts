/**
 * `tf.tidy` for records whose fields may be `null` or plain numbers (tfjs walks them at run
 * time, its `TensorContainer` type does not admit `null`): every tensor reachable from the
 * result is kept, every other tensor made inside `fn` is disposed.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** {@linkcode tf.tidy} typed for records with `null` fields. */
export function tidyRecord<T>(fn: () => T): T {
  return tf.tidy(fn as unknown as () => tf.TensorContainer) as unknown as T;
}
