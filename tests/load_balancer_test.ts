// RemoteDataset behind Debian's nginx: the config docs/scaling.md shows, a
// round-robin upstream over three data hosts in child processes, on free
// loopback ports. Skipped, saying why, where nginx cannot be had.

import assert from "node:assert/strict";
import { RemoteDataset } from "../remote.ts";
import { within } from "./_helpers.ts";
import { startHosts } from "./fixtures/child_hosts.ts";
import { findNginx, startNginx } from "./fixtures/nginx.ts";
import { type HostBatch, HostData } from "./fixtures/remote_host.ts";

/** The `http` body of docs/scaling.md's config, for these hosts and this port. */
async function documentedConfig(hosts: string[]): Promise<(port: number) => string> {
  const page = await Deno.readTextFile(new URL("../docs/scaling.md", import.meta.url));
  const config = /```nginx\n([\s\S]*?)```/.exec(page)?.[1];
  assert.ok(config, "docs/scaling.md shows an nginx config");
  const servers = config.match(/server 127\.0\.0\.1:\d+/g) ?? [];
  assert.equal(servers.length, hosts.length, "one upstream server per host");
  let next = 0;
  const upstream = config.replace(
    /server 127\.0\.0\.1:\d+/g,
    () => `server ${new URL(hosts[next++]!).host}`,
  );
  return (port) => upstream.replace(/listen 127\.0\.0\.1:\d+;/, `listen 127.0.0.1:${port};`);
}

/** Reads an epoch through `remote`; kills `victim` once `killAt` batches have arrived. */
async function readEpoch(
  remote: RemoteDataset<HostBatch>,
  options: { epoch: number; seed: number },
  kill?: { at: number; victim: Deno.ChildProcess },
): Promise<HostBatch[]> {
  const read: HostBatch[] = [];
  for await (const batch of remote.epoch({ ...options, shuffle: true })) {
    read.push(batch);
    if (read.length === kill?.at) kill.victim.kill("SIGKILL");
  }
  return read;
}

/** What a local epoch of the hosts' dataset gives, batch by batch. */
async function localEpoch(length: number, options: { epoch: number; seed: number }) {
  await using local = new HostData(length);
  return await Array.fromAsync(local.epoch({ ...options, shuffle: true }));
}

/** Debian's nginx, or undefined after saying why the test is skipped. */
async function nginxOrSkip(t: Deno.TestContext): Promise<string | undefined> {
  const nginx = await findNginx();
  if (!nginx) {
    console.warn("Skipped: no nginx on this machine (apt-get install nginx)");
    await t.step({ name: "skipped: no nginx", ignore: true, fn: () => {} });
  }
  return nginx;
}

Deno.test("RemoteDataset reads full epochs through nginx in front of three hosts, losing and repeating nothing when one is killed", async (t) => {
  const nginx = await nginxOrSkip(t);
  if (!nginx) return;
  const length = 60;
  const args = ["--length", String(length), "--delay", "5"];
  await using hosts = await startHosts(args, args, args);
  const balancer = await startNginx(nginx, await documentedConfig(hosts.urls));
  try {
    await using remote = await RemoteDataset.connect<HostBatch>({
      hosts: [balancer.url],
      workers: 6,
    });
    assert.equal(remote.length, length);
    await t.step("a whole epoch, in order", async () => {
      const options = { epoch: 1, seed: 7 };
      const read = await within(readEpoch(remote, options), 30_000);
      assert.deepEqual(read, await localEpoch(length, options));
    });
    await t.step("a host killed mid-epoch", async () => {
      const options = { epoch: 2, seed: 7 };
      const victim = hosts.hosts[1]!.child;
      const read = await within(readEpoch(remote, options, { at: 15, victim }), 30_000);
      assert.deepEqual(read, await localEpoch(length, options));
      assert.equal(new Set(read.map((batch) => batch.index[0])).size, length, "each batch once");
      assert.equal((await within(victim.status)).signal, "SIGKILL", "the host was killed");
    });
  } finally {
    await balancer.stop();
  }
});

Deno.test("RemoteDataset reads a full epoch through nginx from hosts at their limit: their 503s pass through, and nginx keeps every host", async (t) => {
  const nginx = await nginxOrSkip(t);
  if (!nginx) return;
  const length = 60;
  const args = ["--length", String(length), "--delay", "5", "--max-concurrent", "2"];
  await using hosts = await startHosts(args, args, args);
  const balancer = await startNginx(nginx, await documentedConfig(hosts.urls));
  try {
    // 8 in flight against 3 × 2 places: some requests meet a full host.
    await using remote = await RemoteDataset.connect<HostBatch>({
      hosts: [balancer.url],
      workers: 8,
    });
    const options = { epoch: 1, seed: 3 };
    const read = await within(readEpoch(remote, options), 60_000);
    assert.deepEqual(read, await localEpoch(length, options));
    const refused = await Promise.all(hosts.urls.map(async (url) => {
      const metrics = await (await fetch(`${url}/metrics`)).text();
      return Number(/^pydataset_refused_requests_total (\d+)$/m.exec(metrics)?.[1]);
    }));
    assert.ok(refused.some((count) => count > 0), `some request met a full host: ${refused}`);
    // nginx took no host out for its 503s: no 502 (no live upstream) in a burst.
    const statuses = await Promise.all(Array.from({ length: 6 }, async (_, index) => {
      const response = await fetch(`${balancer.url}/batch?index=${index}&seed=1`);
      await response.body?.cancel();
      return response.status;
    }));
    assert.ok(!statuses.includes(502), `nginx answered: ${statuses}`);
  } finally {
    await balancer.stop();
  }
});
