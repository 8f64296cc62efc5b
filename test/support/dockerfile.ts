/** One instruction of a Dockerfile: its keyword, its flags (`--from=build`) and its arguments. */
export interface DockerInstruction {
  line: number;
  keyword: string;
  flags: Record<string, string>;
  args: string[];
}

/**
 * The instructions of a Dockerfile: comments and blank lines dropped, lines continued with a
 * trailing backslash joined, arguments in shell form (split on spaces) or exec form (a JSON
 * array). Enough for COPY, ADD, WORKDIR and friends; heredocs and parser directives are not read.
 */
export function parseDockerfile(text: string): DockerInstruction[] {
  const instructions: DockerInstruction[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let line = lines[i]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    while (line.endsWith("\\") && i + 1 < lines.length) {
      const next = lines[++i]!.trim();
      line = line.slice(0, -1).trimEnd() + (next.startsWith("#") ? "" : ` ${next}`);
    }
    const [keyword = "", ...words] = line.split(/\s+/);
    const flags: Record<string, string> = {};
    while (words[0]?.startsWith("--")) {
      const [name, value = ""] = words.shift()!.slice(2).split("=");
      flags[name!] = value;
    }
    const rest = words.join(" ");
    const args = rest.startsWith("[") ? (JSON.parse(rest) as string[]) : words;
    instructions.push({ line: start, keyword: keyword.toUpperCase(), flags, args });
  }
  return instructions;
}
