// useBackend selects wasm or cpu, ready to compute, and rejects other
// names. The other tfjs tests expect the cpu backend: every test here ends
// on it.

import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { useBackend } from "../tfjs.ts";

Deno.test("useBackend selects cpu without TensorFlow.js's tfjs-node banner", async () => {
  // First in this file: no tensor has been made on the cpu backend yet.
  const warn = console.warn;
  const warnings: string[] = [];
  console.warn = (...data: unknown[]) => void warnings.push(data.join(" "));
  try {
    await useBackend("cpu");
    assert.equal(tf.getBackend(), "cpu");
    const sum = tf.add(tf.tensor([1, 2]), 1);
    assert.deepEqual([...sum.dataSync()], [2, 3]);
    tf.dispose(sum);
  } finally {
    console.warn = warn;
  }
  assert.deepEqual(warnings.filter((text) => /tfjs-node/.test(text)), []);
  assert.equal(tf.env().getBool("PROD"), false, "production mode is turned back");
});

Deno.test("useBackend selects wasm, which computes, and back to cpu", async () => {
  try {
    await useBackend("wasm");
    assert.equal(tf.getBackend(), "wasm");
    const product = tf.tidy(() => tf.matMul(tf.ones([2, 3]), tf.tensor2d([[1], [2], [3]])));
    assert.deepEqual([...product.dataSync()], [6, 6]);
    tf.dispose(product);
    // Again: the backend is running, and is selected as it is.
    await useBackend("cpu");
    await useBackend("wasm");
    assert.equal(tf.getBackend(), "wasm");
  } finally {
    await useBackend("cpu");
  }
  assert.equal(tf.getBackend(), "cpu");
});

Deno.test("useBackend rejects a backend it does not know, naming it", async (t) => {
  for (const name of ["webgl", "WASM", undefined]) {
    await t.step(String(name), async () => {
      await assert.rejects(useBackend(name as never), (error) => {
        assert.ok(error instanceof TypeError, String(error));
        assert.match(
          error.message,
          new RegExp(
            `^Cannot use a TensorFlow.js backend as backend must be "wasm" or "cpu": current value is ${
              name === undefined ? "undefined" : `"${name}"`
            }$`,
          ),
        );
        return true;
      });
    });
  }
  assert.equal(tf.getBackend(), "cpu");
});
