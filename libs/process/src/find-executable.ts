import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** The first executable `name` in $PATH's directories, then `extraDirs`; undefined if none. */
export function findExecutable(name: string, env: NodeJS.ProcessEnv = process.env, extraDirs: readonly string[] = []): string | undefined {
  for (const dir of [...(env["PATH"] ?? "").split(delimiter), ...extraDirs]) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}
