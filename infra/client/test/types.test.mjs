// The app's TypeScript types come from the committed OpenAPI document
// (infra/openapi/openapi.json, itself generated from the Go types): they must
// be current, and they must type-check where they are used the way the
// app's hooks use supabase.functions.invoke (types/app.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const run = (args) => spawnSync(process.execPath, args, { cwd: root, encoding: "utf8" });

test("types/functions.d.ts is generated from the committed OpenAPI document", () => {
  const out = join(mkdtempSync(join(tmpdir(), "types-")), "functions.d.ts");
  const gen = run(["node_modules/openapi-typescript/bin/cli.js", "../openapi/openapi.json", "--default-non-nullable", "false", "-o", out]);
  assert.equal(gen.status, 0, gen.stderr);
  assert.equal(readFileSync(out, "utf8"), readFileSync(join(root, "types/functions.d.ts"), "utf8"),
    "stale: run `npm run types --prefix infra/client`");
});

test("the generated types type-check as the app uses them", () => {
  const tsc = run(["node_modules/typescript/bin/tsc", "-p", "types/tsconfig.json"]);
  assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
});
