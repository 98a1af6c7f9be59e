/**
 * {@linkcode useBackend}: selects the TensorFlow.js backend to train on,
 * `wasm` or `cpu`, ready to use.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type * as Wasm from "@tensorflow/tfjs-backend-wasm";
import { describeError, show } from "../_describe.ts";

/** The TensorFlow.js backends that {@linkcode useBackend} selects. */
export type TfBackend = "wasm" | "cpu";

const BACKENDS: readonly TfBackend[] = ["wasm", "cpu"];

/** The wasm backend, the version of deno.json's import (which types it here). */
const WASM_PACKAGE: string = "npm:@tensorflow/tfjs-backend-wasm@4.22.0";

/**
 * Selects a TensorFlow.js backend and waits until it is ready:
 * `tf.setBackend(backend)`, then `tf.ready()`.
 *
 * - `"wasm"` loads `@tensorflow/tfjs-backend-wasm` (only then: loading it
 *   registers the backend, which would otherwise become the default) and
 *   points `setWasmPaths` at the folder of the installed package, which
 *   holds its `.wasm` files: the folder of what
 *   `import.meta.resolve("@tensorflow/tfjs-backend-wasm")` gives, in Deno
 *   the package in the npm cache (reading it needs read permission, e.g.
 *   `--allow-read`). Where that is not a `file:` or `http(s):` URL the
 *   package finds its files itself. In a browser, an import map must map
 *   `@tensorflow/tfjs-backend-wasm` (e.g. to the package on a CDN).
 * - `"cpu"` also keeps TensorFlow.js from printing, on the first tensor it
 *   makes, its banner that advises installing `tfjs-node` (which Deno
 *   cannot load): that first tensor is made here, in production mode
 *   (`PROD`), which is then turned back as it was, so other warnings of
 *   TensorFlow.js still show.
 *
 * Calling it again with another backend switches to it.
 *
 * @param backend `"wasm"` or `"cpu"`.
 * @returns A promise that resolves once the backend is ready.
 * @throws {TypeError} A `backend` other than `"wasm"` and `"cpu"`.
 * @throws {Error} When `@tensorflow/tfjs-backend-wasm` cannot be loaded,
 * or the backend fails to initialize (`tf.setBackend` returns false; the
 * backend printed why, such as missing read permission for its `.wasm`
 * files).
 *
 * @example Train on the cpu backend
 * ```ts
 * import { useBackend } from "@pydataset/pydataset/tfjs";
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 *
 * await useBackend("cpu");
 * assert.equal(tf.getBackend(), "cpu");
 * const sum = tf.add(tf.tensor([1, 2]), 1);
 * assert.deepEqual([...sum.dataSync()], [2, 3]);
 * sum.dispose();
 * ```
 *
 * @example Train on the wasm backend (needs read permission)
 * ```ts
 * import { useBackend } from "@pydataset/pydataset/tfjs";
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 *
 * await useBackend("wasm");
 * assert.equal(tf.getBackend(), "wasm");
 * const product = tf.tidy(() => tf.matMul(tf.ones([2, 3]), tf.ones([3, 1])));
 * assert.deepEqual([...product.dataSync()], [3, 3]);
 * product.dispose();
 * await useBackend("cpu");
 * ```
 */
export async function useBackend(backend: TfBackend): Promise<void> {
  if (!BACKENDS.includes(backend)) {
    throw new TypeError(
      `Cannot use a TensorFlow.js backend as backend must be "wasm" or "cpu": current value is ${
        show(backend)
      }`,
    );
  }
  if (backend === "wasm") await loadWasm();
  if (!(await tf.setBackend(backend))) {
    throw new Error(
      `Cannot use the TensorFlow.js backend "${backend}" as it failed to initialize: tf.setBackend returned false (see what it printed${
        backend === "wasm" ? "; reading the .wasm files needs read permission" : ""
      })`,
    );
  }
  await tf.ready();
  if (backend === "cpu") skipBanner();
}

/** Loads the wasm backend's package, and tells it where its files are, unless it is running. */
async function loadWasm(): Promise<void> {
  if (tf.findBackend("wasm")) return; // initialized: it has found its files
  let wasm: typeof Wasm;
  let resolved: string;
  try {
    // Not a literal, so that bundling ./tfjs leaves the package (and the
    // second copy of tfjs-core it would bring) out; a full npm: specifier,
    // which resolves without an import map, as once published to JSR.
    wasm = await import(WASM_PACKAGE);
    // Once it is loaded, Deno resolves an npm package to its file.
    resolved = import.meta.resolve(WASM_PACKAGE);
  } catch (error) {
    throw new Error(
      `Cannot use the TensorFlow.js backend "wasm" as @tensorflow/tfjs-backend-wasm cannot be loaded: ${
        describeError(error)
      }`,
      { cause: error },
    );
  }
  if (!/^(file|https?):/.test(resolved)) return;
  try {
    wasm.setWasmPaths(new URL(".", resolved).href);
  } catch {
    // It throws only after a failed initialization, which tf.setBackend
    // retries (and reports) with the paths set before.
  }
}

/**
 * Makes the cpu backend's first tensor in production mode, which keeps it
 * from printing its "running TensorFlow.js in Node.js" banner.
 */
function skipBanner(): void {
  const env = tf.env();
  const production = env.getBool("PROD");
  env.set("PROD", true);
  try {
    tf.scalar(0).dispose();
  } finally {
    env.set("PROD", production);
  }
}
