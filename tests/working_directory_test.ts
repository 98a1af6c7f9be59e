import assert from "node:assert/strict";
import { Numbers } from "./fixtures/numbers.ts";

// The attack itself (a worker past its guard moving the directory) is in
// scoped_permissions_test.ts. Here the move comes after the last batch
// arrived, when no worker message is left to notice it: the epoch's end must.
Deno.test("PyDataset fails an epoch whose working directory moved after its last batch came, and moves it back", async () => {
  await using dataset = new Numbers(3, {}, {
    useMultiprocessing: true,
    workers: 1,
    maxQueueSize: 4,
  });
  const reader = dataset.epoch().getReader();
  assert.equal((await reader.read()).done, false);
  for (let i = 0; i < 500 && dataset.stats?.batches !== 3; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal(dataset.stats?.batches, 3, "every batch was fetched before the move");
  const before = Deno.cwd();
  const elsewhere = await Deno.makeTempDir();
  try {
    Deno.chdir(elsewhere);
    assert.equal((await reader.read()).done, false);
    assert.equal((await reader.read()).done, false);
    await assert.rejects(
      reader.read(),
      (error: Error) => {
        assert.match(error.message, /A worker of Numbers moved the process's working directory/);
        assert.ok(error.message.includes(`from "${before}" to "${elsewhere}" (moved back)`));
        return true;
      },
    );
    assert.equal(Deno.cwd(), before);
  } finally {
    Deno.chdir(before);
    await Deno.remove(elsewhere);
  }
});
