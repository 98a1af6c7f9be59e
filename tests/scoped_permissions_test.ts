import assert from "node:assert/strict";
import { relative } from "node:path";
import { BatchError } from "../mod.ts";
import { Attacker } from "./fixtures/attacks.ts";
import { collect, waitFor, within } from "./_helpers.ts";

type Scope = "read" | "write" | "both";

interface Case {
  attack: string;
  scope: Scope;
  /** Symlinks to make, by path under the temporary folder: their targets as written. */
  links?: Record<string, string>;
  /** The folder to declare, under the temporary folder. */
  folder?: string;
  /** The one batch the attack may return, or what the epoch's error says. */
  outcome: string | RegExp;
}

const WRITE_LINK =
  /Cannot start workers for Attacker as ".*\/in\/[a-z/]+" is a symlink to ".*" in ".*\/in", a folder the workers may write, which may hold no symlink/;
const READ_LINK =
  /Cannot start workers for Attacker as ".*\/in\/[a-z.]+" is a symlink to "[^"]*" in ".*\/in", and it leads out of the folders the workers may read/;
const OUT = { "in/link": "../out.txt" };
const UP = { "in/up": ".." };

const CASES: Case[] = [
  { attack: "writeTextFile", scope: "both", links: OUT, outcome: WRITE_LINK },
  { attack: "writeTextFile", scope: "write", links: OUT, outcome: WRITE_LINK },
  { attack: "writeFileSync", scope: "write", links: OUT, outcome: WRITE_LINK },
  { attack: "openWriteOnly", scope: "write", links: OUT, outcome: WRITE_LINK },
  { attack: "copyFileOnto", scope: "both", links: OUT, outcome: WRITE_LINK },
  { attack: "chmod", scope: "write", links: OUT, outcome: WRITE_LINK },
  { attack: "utime", scope: "write", links: OUT, outcome: WRITE_LINK },
  { attack: "makeTempFile", scope: "write", links: UP, outcome: WRITE_LINK },
  { attack: "makeTempDir", scope: "both", links: UP, outcome: WRITE_LINK },
  { attack: "hardLink", scope: "both", links: UP, outcome: WRITE_LINK },
  { attack: "nodeFsWrite", scope: "both", links: OUT, outcome: WRITE_LINK },
  {
    attack: "swapWhileReading",
    scope: "both",
    links: { "in/link": "a.txt", "in/evil": "../out.txt" },
    outcome: WRITE_LINK,
  },
  // A link that leads inside until it is moved: no write folder may hold one.
  {
    attack: "moveRelativeLink",
    scope: "both",
    links: { "in/sub/link": "../a.txt" },
    outcome: WRITE_LINK,
  },
  {
    attack: "moveRelativeLink",
    scope: "write",
    links: { "in/sub/link": "../a.txt" },
    outcome: WRITE_LINK,
  },
  { attack: "readLink", scope: "read", links: OUT, outcome: READ_LINK },
  { attack: "readThroughFolderLink", scope: "read", links: UP, outcome: READ_LINK },
  { attack: "urlSubclass", scope: "read", links: OUT, outcome: READ_LINK },
  { attack: "fetchChangingObject", scope: "read", links: OUT, outcome: READ_LINK },
  {
    attack: "importJson",
    scope: "read",
    links: { "in/link.json": "../out.json" },
    outcome: READ_LINK,
  },
  {
    attack: "importText",
    scope: "read",
    links: { "in/link.txt": "../out.txt" },
    outcome: READ_LINK,
  },
  { attack: "nodeFsRead", scope: "read", links: OUT, outcome: READ_LINK },
  { attack: "nestedWorker", scope: "read", links: OUT, outcome: READ_LINK },
  // With no link to follow: what the worker's guard refuses, or reads as checked.
  { attack: "urlSubclassOut", scope: "read", outcome: "inside" },
  { attack: "fetchChangingObjectOut", scope: "read", outcome: "inside" },
  { attack: "nestedWorker", scope: "read", outcome: /A dataset's worker cannot start workers/ },
  { attack: "nodeWorker", scope: "read", outcome: /A dataset's worker cannot start workers/ },
  {
    attack: "nodeWorkerHasInstance",
    scope: "read",
    outcome: /A dataset's worker cannot start workers/,
  },
  { attack: "postNull", scope: "read", outcome: /A dataset's worker cannot call postMessage/ },
  // A folder declared through a link: the worker could remove or move the link.
  {
    attack: "removeRoot",
    scope: "write",
    links: { linked: "in" },
    folder: "linked",
    outcome:
      /Cannot start workers for Attacker as ".*\/linked", a folder the workers may write, is a symlink to ".*\/in": a worker could remove or move the link itself/,
  },
  {
    attack: "chdirRelative",
    scope: "read",
    outcome: /A dataset's worker cannot change the working directory/,
  },
  {
    attack: "nodeWorkerPastTheGuard",
    scope: "read",
    outcome:
      /A worker of Attacker moved the process's working directory from ".*" to ".*\/in" \(moved back\)/,
  },
  { attack: "readDotDot", scope: "read", outcome: /lacks read access to ".*\/out\.txt"/ },
  // Inside the folders, everything keeps working.
  { attack: "readInside", scope: "read", outcome: "inside" },
  { attack: "openInside", scope: "read", outcome: "inside" },
  { attack: "openWriteInside", scope: "write", outcome: "written" },
  { attack: "readInsideLink", scope: "read", links: { "in/alias": "a.txt" }, outcome: "inside" },
  {
    attack: "readRelativeInside",
    scope: "read",
    links: { "in/sub/link": "../a.txt" },
    outcome: "inside",
  },
  { attack: "writeInside", scope: "both", outcome: "written" },
];

/** What the attack must not change: the outside files, the folder's entries, the working directory. */
async function snapshot(dir: string): Promise<string> {
  const files = [];
  for (const name of ["out.txt", "out.json", "a.txt"]) {
    const { mode, mtime } = await Deno.stat(`${dir}/${name}`);
    files.push([name, await Deno.readTextFile(`${dir}/${name}`), mode, mtime?.getTime()]);
  }
  const entries = await Array.fromAsync(
    Deno.readDir(dir),
    (entry) => `${entry.name}${entry.isSymlink ? " (link)" : ""}`,
  );
  return JSON.stringify({ files, entries: entries.sort(), cwd: Deno.cwd() });
}

/** A temporary folder with the outside files, `in/` and the case's links. */
async function scene(links: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/out.txt`, "secret");
  await Deno.writeTextFile(`${dir}/out.json`, `{ "secret": true }`);
  await Deno.writeTextFile(`${dir}/a.txt`, "secret");
  await Deno.mkdir(`${dir}/in/sub`, { recursive: true });
  await Deno.writeTextFile(`${dir}/in/a.txt`, "inside");
  for (const [path, target] of Object.entries(links)) await Deno.symlink(target, `${dir}/${path}`);
  return dir;
}

function permissions(scope: Scope, folder: string): Deno.PermissionOptionsObject {
  return {
    read: scope === "write" ? false : [folder],
    write: scope === "read" ? false : [folder],
  };
}

/** The epoch's one batch, or the message of its error (and of the error's cause). */
async function attempt(dataset: Attacker): Promise<string> {
  try {
    return (await within(collect(dataset.epoch()))).join();
  } catch (error) {
    const cause = error instanceof BatchError ? `: ${(error.cause as Error).name}` : "";
    return `${(error as Error).message}${cause}`;
  }
}

Deno.test("PyDataset workers scoped to folders cannot read, change or create anything outside them", async (t) => {
  for (const { attack, scope, links = {}, folder = "in", outcome } of CASES) {
    const name = `${attack}, ${scope}${Object.keys(links).length ? ", with a link" : ""}`;
    await t.step(name, async () => {
      const dir = await scene(links);
      const cwd = Deno.cwd();
      try {
        const before = await snapshot(dir);
        await using dataset = new Attacker(attack, dir, {
          permissions: permissions(scope, `${dir}/${folder}`),
        });
        const result = await attempt(dataset);
        if (typeof outcome === "string") assert.equal(result, outcome);
        else assert.match(result, outcome);
        assert.ok(!result.includes("secret"), `the attack read an outside file: ${result}`);
        assert.equal(await snapshot(dir), before, "the outside files are as they were");
      } finally {
        // A failed case must not leave the next ones in another directory.
        if (Deno.cwd() !== cwd) Deno.chdir(cwd);
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
});

Deno.test("PyDataset names a path refused through .. or a symlink as given and as resolved", async () => {
  const dir = await scene({});
  try {
    const folder = `${dir}/in`;
    // Refused by Deno (no folder scoped), which names a relative path as given.
    await using unscoped = new Attacker("readGiven", dir, { permissions: "none" });
    unscoped.path = `${relative(Deno.cwd(), folder)}/../out.txt`;
    assert.equal(
      await attempt(unscoped),
      `Cannot get batch 0 of Attacker as its worker lacks read access to "${unscoped.path}" (that is "${dir}/out.txt"): add { read: ["${dir}/out.txt"] } to the dataset's permissions option (Requires read access to "${unscoped.path}", run again with the --allow-read flag): NotCapable`,
    );
    // Refused by the worker's guard, with a folder scoped.
    await using scoped = new Attacker("readDotDot", dir, { permissions: { read: [folder] } });
    assert.equal(
      await attempt(scoped),
      `Cannot get batch 0 of Attacker as its worker lacks read access to "${folder}/../out.txt" (that is "${dir}/out.txt"): add { read: ["${dir}/out.txt"] } to the dataset's permissions option (Requires read access to "${folder}/../out.txt" (that is "${dir}/out.txt", out of the folders the dataset's workers may read), run again with the --allow-read flag): NotCapable`,
    );
    // Another process makes a link once the epoch runs (after the folder
    // check): the worker's guard still refuses it, and says where it leads,
    // through fetch too, however the scheme is written.
    for (const how of ["readTextFile", "fetch FILE:", "fetch  file:"]) {
      await using late = new Attacker("lateLink", dir, { permissions: { read: [folder] } });
      late.path = how;
      const result = attempt(late);
      await waitFor(() => Atomics.load(late.waiting, 0) === 1, 10_000, "the worker waiting");
      await Deno.symlink("../out.txt", `${folder}/late`);
      assert.equal(
        await result,
        `Cannot get batch 0 of Attacker as its worker lacks read access to "${folder}/late" (that is "${dir}/out.txt"): add { read: ["${dir}/out.txt"] } to the dataset's permissions option (Requires read access to "${folder}/late" (that is "${dir}/out.txt", out of the folders the dataset's workers may read), run again with the --allow-read flag): NotCapable`,
        how,
      );
      await Deno.remove(`${folder}/late`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
