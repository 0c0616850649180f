// Parse AsyncAPI documents with the official parser; print each one's diagnostics as JSON.
// Usage: node validate.mjs FILE...  (severity 0 is an error, 1 a warning, 2 information, 3 a hint)
import { readFileSync } from 'node:fs';
import { Parser } from '@asyncapi/parser';

const parser = new Parser();
const results = [];
for (const file of process.argv.slice(2)) {
  const { document, diagnostics } = await parser.parse(readFileSync(file, 'utf8'), { source: file });
  results.push({
    file,
    parsed: document !== undefined,
    diagnostics: diagnostics.map((d) => ({
      severity: d.severity,
      code: String(d.code),
      message: d.message,
      path: d.path.join('/'),
    })),
  });
}
process.stdout.write(JSON.stringify(results));
