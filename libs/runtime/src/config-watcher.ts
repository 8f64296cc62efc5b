import { watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import { ConfigError, loadConfig, type Config } from "@tiermesh/config";

export interface ConfigWatcherOptions {
  file: string;
  /** Receives every valid new config. */
  onConfig: (config: Config) => void;
  /** Receives the error of a config that was refused; the running config stays. */
  onRefused: (err: ConfigError) => void;
  /** Delay that coalesces the bursts of events editors cause. */
  debounceMs?: number;
}

/**
 * Re-reads the config file when it changes or on SIGHUP. Watches the directory, so
 * editors and tools that replace the file (write + rename) are seen too.
 */
export class ConfigWatcher {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly onHup = () => this.reload();

  constructor(private readonly options: ConfigWatcherOptions) {}

  start(): void {
    const name = basename(this.options.file);
    this.watcher = watch(dirname(this.options.file), (_event, changed) => {
      if (changed !== null && changed !== name) return;
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => this.reload(), this.options.debounceMs ?? 100);
    });
    process.on("SIGHUP", this.onHup);
  }

  /** Loads the file now; applies it when valid. */
  reload(): void {
    let config: Config;
    try {
      config = loadConfig(this.options.file);
    } catch (cause) {
      if (cause instanceof ConfigError) return this.options.onRefused(cause);
      throw cause;
    }
    this.options.onConfig(config);
  }

  stop(): void {
    this.watcher?.close();
    if (this.timer) clearTimeout(this.timer);
    process.off("SIGHUP", this.onHup);
  }
}
