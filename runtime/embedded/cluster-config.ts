// The config directory of one cluster. nats-server resolves `include` relative to the including
// file (absolute include paths do not work in 2.9), so files generated per cluster (TLS today) can
// only be included if the template sits next to them: NatsCluster copies the template and the files
// it includes into `<cluster dir>/config/` and writes the generated includes there.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/** The file names a template may include that are found next to it, one level at a time. */
const includesOf = (file: string): string[] =>
  [...readFileSync(file, "utf8").matchAll(/^\s*include\s+["']?([^"'\s;]+)["']?/gm)].map((m) => m[1] as string);

/**
 * Writes `<dir>/<template name>` (a copy), every file it includes from the template's folder (copies,
 * recursively), and the `generated` includes (name → content, which win over copies). Returns the path
 * of the config to run.
 */
export const writeConfigDirectory = (template: string, dir: string, generated: Readonly<Record<string, string>>): string => {
  mkdirSync(dir, { recursive: true });
  const source = dirname(template);
  const copied = new Set<string>();
  const copy = (name: string): void => {
    if (copied.has(name) || name in generated) return;
    copied.add(name);
    const from = join(source, name);
    if (!existsSync(from)) return; // nats-server reports the missing include by name
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    copyFileSync(from, join(dir, name));
    for (const included of includesOf(from)) copy(included);
  };
  copy(basename(template));
  for (const [name, content] of Object.entries(generated)) writeFileSync(join(dir, name), content, { mode: 0o600 });
  return join(dir, basename(template));
};
